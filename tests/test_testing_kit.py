"""The testing kit itself: tiny models for each head, tiny datasets, run_recipe, helpers."""

from __future__ import annotations

import importlib.util
import math

import pytest
from ftcore_devkit.testing import (
    assert_same_training_state,
    build_hooks,
    make_generation_rows,
    make_regression_rows,
    save_tiny_bert,
    tiny_splits,
)

import ftcore


def needs(module: str):
    return pytest.mark.skipif(importlib.util.find_spec(module) is None, reason=f"no {module}")


def test_tiny_causal_lm_loads_chats_and_generates(tiny_causal_lm_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_causal_lm_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_causal_lm_dir)
    assert model.config.model_type == "llama" and model.config.num_hidden_layers == 2
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Tom has 3 apples."}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert prompt == "<|im_start|>user\nTom has 3 apples.<|im_end|>\n<|im_start|>assistant\n"
    ids = tokenizer(prompt, return_tensors="pt")
    text = "Tom has 3 apples and buys 4 more."
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text  # byte-level: lossless
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=3, do_sample=False, pad_token_id=0)
    assert out.shape[1] == ids["input_ids"].shape[1] + 3


def test_tiny_bert_without_the_minilm_package(tmp_path, monkeypatch):
    import ftcore_devkit.testing as kit

    monkeypatch.setattr(kit, "_bert_tokenizer", kit.tiny_wordpiece_tokenizer)
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = save_tiny_bert(tmp_path / "bert")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    ids = tokenizer(tiny_splits()["train"][0]["text"])["input_ids"]
    assert tokenizer.unk_token_id not in ids  # the tiny datasets' words are all known
    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=2)
    assert model.config.vocab_size == len(tokenizer)


def test_tiny_rows_for_each_head(tiny_rows, tiny_regression_rows, tiny_generation_rows):
    assert [len(tiny_rows[s]) for s in ("train", "validation", "test")] == [64, 16, 16]
    assert all(isinstance(r["label"], float) for r in tiny_regression_rows["train"])
    row = make_generation_rows(1)[0]
    assert row["response"].endswith(f"#### {row['answer']}")
    assert make_regression_rows(4) == make_regression_rows(4)  # seeded


def test_run_recipe_result_and_separate_run_dirs(run_recipe):
    first, second = run_recipe(), run_recipe(overrides=["seed=1"])
    assert first.run_dir.name == "run" and second.run_dir.name == "run-2"
    assert first.test == first.summary["test"] and "test/accuracy" in first.test
    assert first.run.trainer.global_step == 8 and first.run.module is not None


def test_installed_plugin_passed_again_is_registered_once():
    import ftcore_classification.plugin as classification

    hooks = build_hooks([classification])  # autoloaded through its entry point, and passed
    assert hooks.names("head").count("classification") == 1
    assert not hooks.conflicts()


@needs("ftcore_regression")
def test_run_recipe_for_regression(run_recipe):
    result = run_recipe(task="regression", overrides=["optim.lr=3e-3", "trainer.max_epochs=2"])
    assert math.isfinite(result.test["test/loss"]) and result.recipe.task == "regression"


@needs("ftcore_generation")
def test_run_recipe_for_generation(run_recipe):
    result = run_recipe(task="generation")
    assert result.recipe.task == "generation" and math.isfinite(result.test["test/loss"])
    assert (result.run_dir / "model" / "model.safetensors").is_file()


class RunningLoss:
    """A stateful strategy for the resume test: its callback keeps the number of optimiser
    steps and the sum of the training losses, saved in checkpoints (``state_dict``) and
    restored on resume; each run's final state lands in ``finals``."""

    def __init__(self) -> None:
        self.finals: list[dict] = []

    @ftcore.hookimpl
    def ftcore_lightning_callbacks(self, recipe, run):
        import lightning as L

        finals = self.finals

        class _RunningLoss(L.Callback):
            def __init__(self) -> None:
                self.state = {"steps": 0, "loss_sum": 0.0}

            def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
                self.state["steps"] += 1
                self.state["loss_sum"] += float(outputs["loss"])

            def on_train_end(self, trainer, module):
                finals.append(dict(self.state))

            def state_dict(self):
                return dict(self.state)

            def load_state_dict(self, state_dict):
                self.state = dict(state_dict)

        return [_RunningLoss()]


RESUME = ["trainer.max_epochs=2", "checkpoint.every_n_steps=2", "optim.warmup_steps=3"]


@pytest.mark.parametrize("crash_step", [5, 11])
def test_crash_at_step_then_resume_recipe_equals_an_uninterrupted_run(
    run_recipe, resume_recipe, crash_step
):
    strategy = RunningLoss()
    reference = run_recipe(RESUME, plugins=[strategy])
    crashed = run_recipe(RESUME, plugins=[strategy], crash_at_step=crash_step)
    assert crashed.crashed_at == crash_step and crashed.summary == {}
    assert crashed.run_dir != reference.run_dir
    assert len(strategy.finals) == 1  # the crashed run never reached its end
    resumed = resume_recipe(crashed.run_dir, plugins=[strategy])

    assert resumed.run_dir == crashed.run_dir
    assert_same_training_state(reference.run_dir, resumed.run_dir)  # weights, Adam moments
    assert resumed.test == reference.test and resumed.validation == reference.validation
    assert resumed.summary["steps_trained"] == reference.summary["steps_trained"] == 16
    assert strategy.finals[1] == strategy.finals[0]  # the callback state came back too


def test_crash_after_the_last_step_is_a_test_error(run_recipe):
    with pytest.raises(AssertionError, match="finished before that training step"):
        run_recipe(["trainer.max_epochs=1"], crash_at_step=100)
