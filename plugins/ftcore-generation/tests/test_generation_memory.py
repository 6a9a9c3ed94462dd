"""The memory levers of causal-LM training: chunked loss, activation checkpointing, dtype."""

from __future__ import annotations

import pytest
import torch
from ftcore_devkit.testing import MemoryDataset, build_hooks, execute_recipe
from ftcore_generation import modeling
from generation_helpers import generation_recipe, instruction_splits
from transformers import AutoModelForCausalLM

from ftcore.model_memory import return_freed_memory


def _labels(batch: int, length: int, vocab: int) -> torch.Tensor:
    labels = torch.randint(0, vocab, (batch, length))
    labels[0, :5] = -100  # a prompt
    labels[1, 7:] = -100  # padding
    return labels


@pytest.mark.parametrize("chunk", [1, 3, 1024])
def test_chunked_loss_equals_full_logits_loss_and_gradients(chunk):
    torch.manual_seed(0)
    vocab, width = 50, 16
    layer = torch.nn.Linear(width, vocab, bias=True)
    hidden = torch.randn(3, 12, width, requires_grad=True)
    labels = _labels(3, 12, vocab)

    full, count = modeling.token_nll(layer(hidden), labels)
    full.sum().backward()
    expected = (hidden.grad.clone(), layer.weight.grad.clone(), layer.bias.grad.clone())
    hidden.grad = layer.weight.grad = layer.bias.grad = None

    chunked, chunked_count = modeling.chunked_token_nll(hidden, layer, labels, chunk=chunk)
    chunked.sum().backward()
    torch.testing.assert_close(chunked, full)
    assert chunked_count.tolist() == count.tolist()
    for got, want in zip((hidden.grad, layer.weight.grad, layer.bias.grad), expected):
        torch.testing.assert_close(got, want)


def test_sequence_nll_on_a_llama_equals_the_full_logits(tiny_llama_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir)
    assert modeling.output_layer(model) is model.lm_head
    ids = torch.randint(0, model.config.vocab_size, (2, 10))
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids.clone()}
    batch["labels"][:, :4] = -100
    with torch.no_grad():
        chunked = modeling.sequence_nll(model, batch)
        full = modeling.sequence_nll(model, batch, chunked=False)
        reference = model(input_ids=ids, labels=batch["labels"]).loss
    torch.testing.assert_close(chunked[0], full[0])
    torch.testing.assert_close(chunked[0].sum() / chunked[1].sum(), reference)


def test_models_that_scale_their_logits_keep_the_full_logits(tiny_llama_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir)
    model.config.final_logit_softcapping = 30.0
    assert modeling.output_layer(model) is None


def _run(model_dir, out, overrides):
    recipe = generation_recipe(model_dir, eval_generate_limit=0, baseline_eval=False)
    hooks = build_hooks([MemoryDataset(instruction_splits())])
    return execute_recipe(recipe, out, overrides, hooks=hooks)


def test_gradient_checkpointing_trains_the_same_model(tmp_path, tiny_llama_dir):
    steps = ["trainer.max_steps=2"]
    plain = _run(tiny_llama_dir, tmp_path / "plain", steps)
    checkpointed = _run(
        tiny_llama_dir, tmp_path / "gc", [*steps, "model.gradient_checkpointing=true"]
    )
    layers = checkpointed.run.module.model.model.layers
    assert all(layer.gradient_checkpointing for layer in layers)
    a = plain.run.module.model.state_dict()
    b = checkpointed.run.module.model.state_dict()
    for name in a:
        torch.testing.assert_close(a[name], b[name], msg=name)
    assert plain.summary["test"]["test/loss"] == pytest.approx(
        checkpointed.summary["test"]["test/loss"], rel=1e-5
    )


def test_bfloat16_weights(tmp_path, tiny_llama_dir):
    result = _run(
        tiny_llama_dir, tmp_path / "bf16", ["trainer.max_steps=1", "model.dtype=bfloat16"]
    )
    dtypes = {p.dtype for p in result.run.module.model.parameters()}
    assert dtypes == {torch.bfloat16}
    assert result.summary["test"]["test/loss"] > 0


def test_allocator_setting_follows_checkpointing_and_yields_to_the_environment(monkeypatch):
    import platform

    from omegaconf import OmegaConf

    checkpointed = OmegaConf.create({"model": {"gradient_checkpointing": True}})
    plain = OmegaConf.create({"model": {"gradient_checkpointing": False}})
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.delenv("FTCORE_MALLOC", raising=False)
    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert return_freed_memory(checkpointed) is glibc
    assert return_freed_memory(plain) is False
    monkeypatch.setenv("FTCORE_MALLOC", "mmap")
    assert return_freed_memory(plain) is glibc
    monkeypatch.setenv("FTCORE_MALLOC", "glibc")
    assert return_freed_memory(checkpointed) is False
    monkeypatch.delenv("FTCORE_MALLOC")
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    assert return_freed_memory(checkpointed) is False
