"""Task similarity: the language-model loss on the task's texts against a reference."""

from __future__ import annotations

import pytest
import torch
from ftcore_evaluation import similarity

TEXTS = ["the film was a delight", "a dull and lifeless plot", "one of the year's best"]


def test_causal_loss_is_the_mean_next_token_loss(tiny_causal_lm_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert similarity.head_kind(str(tiny_causal_lm_dir))[0] == "causal"
    model = AutoModelForCausalLM.from_pretrained(tiny_causal_lm_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_causal_lm_dir)
    ids = tokenizer(TEXTS[0], return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        expected = float(model(input_ids=ids, labels=ids).loss)
    found = similarity.token_loss(model, tokenizer, TEXTS[:1], "causal", 64, seed=0)
    assert found == pytest.approx(expected, rel=1e-5)
    # Padding a batch changes nothing: padded positions carry no loss.
    batch = similarity.token_loss(model, tokenizer, TEXTS, "causal", 64, seed=0)
    counts, total = 0, 0.0
    for text in TEXTS:
        ids = tokenizer(text, return_tensors="pt")["input_ids"]
        with torch.inference_mode():
            total += float(model(input_ids=ids, labels=ids).loss) * (ids.shape[1] - 1)
        counts += ids.shape[1] - 1
    assert batch == pytest.approx(total / counts, rel=1e-4)


def test_masked_lm_scores_masked_tokens_only_and_is_seeded(tmp_path, tiny_model_dir):
    from ftcore_devkit.testing import tiny_bert_config
    from transformers import AutoTokenizer, BertForMaskedLM

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    torch.manual_seed(0)
    config = tiny_bert_config(vocab_size=tokenizer.vocab_size, max_position_embeddings=128)
    BertForMaskedLM(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    assert similarity.head_kind(str(tmp_path))[0] == "masked"
    found = similarity.language_model_loss(str(tmp_path), TEXTS * 8, TEXTS[::-1] * 8, 32, seed=1)
    again = similarity.language_model_loss(str(tmp_path), TEXTS * 8, TEXTS[::-1] * 8, 32, seed=1)
    assert found["available"] and found["kind"] == "masked"
    assert found["task_loss"] == again["task_loss"] > 0  # the same masks for the same seed
    # A random model: about log(vocabulary) nats per token, on both sides.
    assert found["ratio"] == pytest.approx(1.0, abs=0.1)


def test_an_encoder_without_its_head_is_reported_not_scored(tiny_model_dir):
    found = similarity.language_model_loss(str(tiny_model_dir), TEXTS, TEXTS, 32, seed=0)
    assert found == {
        "available": False,
        "reason": "BertModel has no language-model head to score texts with",
    }
    assert "LogME is the similarity figure" in similarity.meaning(found, "bbc_news")


def test_meaning_says_what_the_ratio_means():
    close = {
        "available": True,
        "kind": "causal",
        "task_loss": 3.1,
        "reference_loss": 3.0,
        "ratio": 1.03,
    }
    far = {**close, "task_loss": 6.0, "ratio": 2.0}
    assert "look like what the model was trained on" in similarity.meaning(close, "bbc_news")
    assert "more to adapt" in similarity.meaning(far, "bbc_news")


def test_instruction_rows_are_scored_on_prompt_and_response():
    from ftcore_evaluation.quality import row_text

    assert row_text({"text": "plain"}) == "plain"
    assert row_text({"prompt": "2+2?", "response": "4"}) == "2+2?\n4"
    assert row_text({"label": 1.0}) is None
