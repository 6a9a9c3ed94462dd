"""GGUF round trips of tiny random Llama folders: weights, logits, greedy generation and
tokenizer back through transformers' GGUF loader; llama.cpp's layout in the file."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from ftcore_devkit.testing import save_tiny_bert
from ftcore_export import llama, vocab
from ftcore_export.gguf_file import export_gguf
from gguf import GGMLQuantizationType, GGUFReader, TokenType
from gguf_helpers import PROMPTS, greedy, load_folder, load_gguf, prompt_ids, save_tiny_llama
from transformers import LlamaForSequenceClassification

from ftcore.errors import UserError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def export(folder, tmp_path, dtype="f32", name="model.gguf"):
    """Export ``folder`` into a folder of its own (as ``ftcore export`` does by default)."""
    out = tmp_path / "gguf" / name
    out.parent.mkdir(exist_ok=True)
    export_gguf(folder, out, dtype=dtype, name="tiny", task="generation")
    return out


def fields(path) -> dict:
    reader = GGUFReader(path)
    return {key: field.contents() for key, field in reader.fields.items()}


def tensors(path) -> dict:
    return {t.name: t for t in GGUFReader(path).tensors}


@pytest.mark.parametrize("tie", [True, False], ids=["tied", "untied"])
def test_f32_round_trip_gives_the_same_weights_logits_and_generation(tmp_path, tie):
    folder = save_tiny_llama(tmp_path / "model", tie=tie)
    path = export(folder, tmp_path)
    assert ("output.weight" in tensors(path)) is not tie  # tied: llama.cpp reuses token_embd
    (model, tokenizer), (back, _) = load_folder(folder), load_gguf(path)
    assert back.config.tie_word_embeddings is tie
    theirs, ours = back.state_dict(), model.state_dict()
    assert theirs.keys() == ours.keys()
    for name, weight in ours.items():
        assert torch.equal(theirs[name], weight), name  # f32: bit for bit
    inputs = prompt_ids(tokenizer, PROMPTS[0])
    with torch.no_grad():
        torch.testing.assert_close(back(**inputs).logits, model(**inputs).logits)
    expected = [greedy(model, tokenizer, prompt, 20) for prompt in PROMPTS]
    assert max(len(set(ids)) for ids in expected) > 3  # varied, not one token repeated
    assert [greedy(back, tokenizer, prompt, 20) for prompt in PROMPTS] == expected


def test_tokenizer_read_back_from_the_file_equals_the_run_tokenizer(tmp_path):
    folder = save_tiny_llama(tmp_path / "model")
    path = export(folder, tmp_path)
    (_, tokenizer), (_, back) = load_folder(folder), load_gguf(path)
    for name in ("bos_token", "eos_token", "pad_token", "unk_token"):
        assert getattr(back, name) == getattr(tokenizer, name), name
    assert back.chat_template == tokenizer.chat_template
    texts = [*PROMPTS, "  two spaces,\nnew line 1234 <|im_end|> x", "ünïcödé — ok"]
    for text in texts:
        ids = tokenizer(text)["input_ids"]
        assert back(text)["input_ids"] == ids, text
        assert back.decode(ids, skip_special_tokens=True) == tokenizer.decode(
            ids, skip_special_tokens=True
        )
    for prompt in PROMPTS:
        assert prompt_ids(back, prompt)["input_ids"].tolist() == (
            prompt_ids(tokenizer, prompt)["input_ids"].tolist()
        )


def test_file_holds_llama_cpp_hyperparameters_vocabulary_and_permuted_q_k(tmp_path):
    folder = save_tiny_llama(tmp_path / "model")
    path = export(folder, tmp_path)
    model, tokenizer = load_folder(folder)
    config, kv = model.config, fields(path)
    expected = {
        "general.architecture": "llama",
        "general.name": "tiny",
        "general.file_type": 0,  # ALL_F32
        "llama.context_length": 256,
        "llama.embedding_length": 32,
        "llama.block_count": 2,
        "llama.feed_forward_length": 64,
        "llama.attention.head_count": 4,
        "llama.attention.head_count_kv": 2,
        "llama.rope.dimension_count": 8,
        "llama.vocab_size": len(tokenizer),
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": "gpt-2",
        "tokenizer.ggml.bos_token_id": tokenizer.bos_token_id,
        "tokenizer.ggml.eos_token_id": tokenizer.eos_token_id,
        "tokenizer.ggml.padding_token_id": tokenizer.pad_token_id,
        "tokenizer.ggml.add_bos_token": False,
        "tokenizer.ggml.add_eos_token": False,
    }
    assert {k: kv[k] for k in expected} == expected
    assert kv["llama.rope.freq_base"] == pytest.approx(config.rope_parameters["rope_theta"])
    assert kv["llama.attention.layer_norm_rms_epsilon"] == pytest.approx(config.rms_norm_eps)
    tokens, types = kv["tokenizer.ggml.tokens"], kv["tokenizer.ggml.token_type"]
    assert tokens[:4] == ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>"]
    assert types[:4] == [TokenType.CONTROL] * 4 and set(types[4:]) == {TokenType.NORMAL}
    assert len(kv["tokenizer.ggml.merges"]) > 100
    stored = tensors(path)
    q = model.model.layers[0].self_attn.q_proj.weight.detach()
    k = model.model.layers[0].self_attn.k_proj.weight.detach()
    q_file = np.asarray(stored["blk.0.attn_q.weight"].data)
    k_file = np.asarray(stored["blk.0.attn_k.weight"].data)
    assert np.array_equal(q_file, llama.permute(q, 4).numpy())
    assert np.array_equal(k_file, llama.permute(k, 2).numpy())
    assert not np.array_equal(q_file, q.numpy())  # the permutation moved rows


def test_f16_rounds_matrices_and_keeps_norms_f32(tmp_path):
    folder = save_tiny_llama(tmp_path / "model", tie=False)
    f32, f16 = export(folder, tmp_path), export(folder, tmp_path, "f16", "half.gguf")
    assert fields(f16)["general.file_type"] == 1  # MOSTLY_F16
    kinds = {name: (t.tensor_type, len(t.shape)) for name, t in tensors(f16).items()}
    for name, (kind, dims) in kinds.items():
        wanted = GGMLQuantizationType.F16 if dims == 2 else GGMLQuantizationType.F32
        assert kind == wanted, name
    assert f16.stat().st_size < 0.6 * f32.stat().st_size
    model, _ = load_folder(folder)
    back, _ = load_gguf(f16)
    theirs = back.state_dict()
    for name, weight in model.state_dict().items():
        rounded = weight if weight.dim() == 1 else weight.half().float()
        assert torch.equal(theirs[name].float(), rounded), name


def test_embedding_rows_without_a_token_become_unused_pad_tokens(tmp_path):
    folder = save_tiny_llama(tmp_path / "model", extra_vocab=8)
    path = export(folder, tmp_path)
    model, tokenizer = load_folder(folder)
    kv = fields(path)
    size = len(tokenizer)
    assert kv["tokenizer.ggml.tokens"][size:] == [f"[PAD{i}]" for i in range(size, size + 8)]
    assert kv["tokenizer.ggml.token_type"][size:] == [TokenType.UNUSED] * 8
    back, back_tokenizer = load_gguf(path)
    assert back.config.vocab_size == size + 8
    assert torch.equal(back.lm_head.weight, model.lm_head.weight)
    assert back_tokenizer(PROMPTS[0])["input_ids"] == tokenizer(PROMPTS[0])["input_ids"]


def test_models_other_than_a_plain_llama_causal_lm_are_refused(tmp_path):
    classifier = tmp_path / "classifier"
    save_tiny_llama(classifier)
    LlamaForSequenceClassification.from_pretrained(classifier, num_labels=2).save_pretrained(
        classifier
    )
    biased = save_tiny_llama(tmp_path / "biased", attention_bias=True)
    bert = save_tiny_bert(tmp_path / "bert")
    cases = {
        classifier: "this run's model is LlamaForSequenceClassification (task: generation)",
        biased: "uses attention_bias=true",
        bert: "this run's model is BertModel",
    }
    for folder, message in cases.items():
        with pytest.raises(UserError, match=re.escape(message)) as caught:
            export(folder, tmp_path)
        assert "\n" not in str(caught.value) and "LlamaForCausalLM" in str(caught.value)
    assert not any((tmp_path / "gguf").iterdir())  # nothing written, no temporary file left


@pytest.mark.parametrize(
    ("model", "pre", "normalizer", "problem"),
    [
        ({"type": "BPE"}, {"type": "ByteLevel", "add_prefix_space": False}, None, None),
        ({"type": "BPE"}, {"type": "ByteLevel"}, None, None),  # use_regex defaults to true
        ({"type": "WordPiece"}, {"type": "BertPreTokenizer"}, None, "model WordPiece"),
        ({"type": "BPE", "byte_fallback": True}, None, None, "byte fallback"),
        ({"type": "BPE"}, {"type": "ByteLevel"}, {"type": "NFC"}, "normalizer NFC"),
        (
            {"type": "BPE"},
            {"type": "ByteLevel", "add_prefix_space": True},
            None,
            "pre-tokenizer ByteLevel",
        ),
        (
            {"type": "BPE"},
            {
                "type": "Sequence",
                "pretokenizers": [{"type": "Digits"}, {"type": "ByteLevel"}],
            },
            None,
            "pre-tokenizer Digits+ByteLevel",
        ),
    ],
)
def test_tokenizer_layouts(model, pre, normalizer, problem):
    assert vocab.layout_problem(model, pre, normalizer) == problem


def test_damaged_model_folder_is_one_line(tmp_path):
    folder = save_tiny_llama(tmp_path / "model")
    weights = folder / "model.safetensors"
    whole = weights.read_bytes()
    weights.write_bytes(whole[: len(whole) // 2])  # a truncated copy
    with pytest.raises(UserError, match="cannot be read .*restore the folder") as caught:
        export(folder, tmp_path)
    assert "\n" not in str(caught.value)
    weights.write_bytes(whole)
    (folder / "config.json").unlink()
    with pytest.raises(UserError, match="cannot be read"):
        export(folder, tmp_path)
    assert not any((tmp_path / "gguf").iterdir())
