"""head.format: chat: the chat template, and the loss on assistant turns only."""

from __future__ import annotations

import json

import pytest
from ftcore_devkit.testing import MemoryDataset, build_hooks, execute_recipe
from ftcore_generation.encoding import IGNORE, encode_chat
from ftcore_generation.schema import DataFormat, GenerationConfig
from generation_helpers import generation_recipe
from transformers import AutoTokenizer

from ftcore.errors import UserError
from ftcore.predict import Predictor

THREE_TURNS = [
    {"role": "system", "content": "You answer in one short sentence."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris is the capital of France."},
    {"role": "user", "content": "And of Italy?"},
    {"role": "assistant", "content": "Rome is the capital of Italy."},
    {"role": "user", "content": "Which of the two is older?"},
    {"role": "assistant", "content": "Rome is older, by several centuries."},
]
CHAT = GenerationConfig(format=DataFormat.chat, answer_key=None)


def _template_ids(tokenizer, messages) -> list[int]:
    found = tokenizer.apply_chat_template(messages, tokenize=True)
    return list(found["input_ids"] if hasattr(found, "keys") else found)


def _learned(tokenizer, feature) -> str:
    """The labelled tokens, decoded as runs (a run per stretch of consecutive labels)."""
    runs, current = [], []
    for token, label in zip(feature["input_ids"], feature["labels"]):
        if label == IGNORE:
            if current:
                runs.append(tokenizer.decode(current))
            current = []
        else:
            assert label == token
            current.append(token)
    if current:
        runs.append(tokenizer.decode(current))
    return runs


def test_three_turns_match_the_template_and_only_assistant_tokens_carry_loss(smol_tokenizer_dir):
    tokenizer = AutoTokenizer.from_pretrained(smol_tokenizer_dir)
    (feature,) = encode_chat([{"messages": THREE_TURNS}], tokenizer, 512, CHAT, None)
    assert feature["input_ids"] == _template_ids(tokenizer, THREE_TURNS)
    eos = tokenizer.eos_token
    answers = [m["content"] for m in THREE_TURNS if m["role"] == "assistant"]
    assert _learned(tokenizer, feature) == [a + eos for a in answers]
    # no token of the system prompt, a user turn or a role header carries loss
    labelled = [t for t, label in zip(feature["input_ids"], feature["labels"]) if label != IGNORE]
    counted = sum(len(tokenizer(a + eos, add_special_tokens=False)["input_ids"]) for a in answers)
    assert len(labelled) == counted
    for message in THREE_TURNS[:2] + THREE_TURNS[3:4] + THREE_TURNS[5:6]:
        assert message["content"] not in tokenizer.decode(labelled)
    # generation continues the conversation at the last assistant turn
    prompt = tokenizer.decode(feature["input_ids"][: feature["prompt_length"]])
    expected = tokenizer.apply_chat_template(
        THREE_TURNS[:-1], tokenize=False, add_generation_prompt=True
    )
    assert prompt == expected


def test_trl_prompt_completion_layout_learns_the_completion_only(smol_tokenizer_dir):
    tokenizer = AutoTokenizer.from_pretrained(smol_tokenizer_dir)
    options = GenerationConfig(format=DataFormat.chat, messages_key="prompt", answer_key=None)
    row = {"prompt": THREE_TURNS[:-1], "completion": THREE_TURNS[-1:]}
    (feature,) = encode_chat([row], tokenizer, 512, options, None)
    assert feature["input_ids"] == _template_ids(tokenizer, THREE_TURNS)
    assert _learned(tokenizer, feature) == [THREE_TURNS[-1]["content"] + tokenizer.eos_token]
    plain = {"prompt": "Say hello.", "completion": "Hello!"}  # strings: one turn each
    (feature,) = encode_chat([plain], tokenizer, 512, options, None)
    assert _learned(tokenizer, feature) == ["Hello!" + tokenizer.eos_token]


def test_a_template_less_tokenizer_is_a_clear_error(tiny_llama_minilm_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama_minilm_dir)
    with pytest.raises(UserError, match="chat template"):
        encode_chat([{"messages": THREE_TURNS}], tokenizer, 512, CHAT, None)


def _conversations(n: int, seed: int) -> list[dict]:
    rows = []
    for i in range(n):
        a, b = (i * 7 + seed) % 10, (i * 3 + seed) % 10
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": f"What is {a} plus {b}?"},
                    {"role": "assistant", "content": f"{a} plus {b} is {a + b}."},
                    {"role": "user", "content": "Double it."},
                    {"role": "assistant", "content": f"Doubled: {2 * (a + b)}."},
                ]
            }
        )
    return rows


def test_chat_run_trains_tests_and_predicts_conversations(tmp_path, tiny_llama_dir):
    splits = {"train": _conversations(16, 0), "validation": _conversations(4, 1)}
    splits["test"] = _conversations(4, 2)
    recipe = generation_recipe(tiny_llama_dir, fmt="chat", answer_key=None)
    recipe["data"]["max_length"] = 128
    hooks = build_hooks([MemoryDataset(splits)])
    result = execute_recipe(recipe, tmp_path / "run", [], hooks=hooks)
    assert {"test/loss", "test/perplexity"} <= set(result.summary["test"])
    baseline = json.loads((result.run_dir / "baseline.json").read_text())
    assert baseline["pretrained"]["val/perplexity"] > baseline["fine_tuned"]["val/perplexity"]
    predictor = Predictor(result.run_dir, result.hooks)
    history = splits["test"][0]["messages"][:3]
    (row,) = predictor.predict([{"messages": history}])
    assert isinstance(row["generated"], str)


def test_rows_without_an_assistant_turn_are_reported(tmp_path, tiny_llama_dir):
    splits = {"train": _conversations(8, 0), "validation": _conversations(2, 1)}
    splits["test"] = _conversations(2, 2)
    splits["train"][3] = {"messages": [{"role": "user", "content": "Hello?"}]}
    recipe = generation_recipe(tiny_llama_dir, fmt="chat", answer_key=None)
    hooks = build_hooks([MemoryDataset(splits)])
    with pytest.raises(UserError, match="row 4: no assistant message to learn from"):
        execute_recipe(recipe, tmp_path / "run", [], hooks=hooks)


def _reviews(n: int, seed: int) -> list[dict]:
    words = ["great", "dull", "moving", "awful", "fun", "boring"]
    return [
        {"text": f"A {words[(i + seed) % 6]} film.", "label": ["fresh", "rotten"][(i + seed) % 2]}
        for i in range(n)
    ]


def test_label_words_as_answers_are_checked_exactly(tmp_path, tiny_llama_dir):
    splits = {"train": _reviews(16, 0), "validation": _reviews(4, 1), "test": _reviews(6, 2)}
    head = {
        "prompt_key": "text",
        "response_key": "label",
        "answer_key": "label",
        "answer_match": "exact",
        "prompt_format": "Review: {prompt}\nFresh or rotten?",
        "eval_generate_limit": 6,
        "max_new_tokens": 3,
    }
    recipe = generation_recipe(tiny_llama_dir, **head)
    hooks = build_hooks([MemoryDataset(splits)])
    result = execute_recipe(recipe, tmp_path / "run", [], hooks=hooks)
    predictions = json.loads((result.run_dir / "predictions.json").read_text())
    assert [p["reference"] for p in predictions] == [r["label"] for r in splits["test"]]
    for p in predictions:
        assert p["correct"] == (p["answer"] == p["reference"])
        assert p["answer"] == " ".join(p["generated"].lower().split()).rstrip(".!?;:,").strip()
    share = sum(p["correct"] for p in predictions) / len(predictions)
    assert result.summary["test"]["test/answer_accuracy"] == pytest.approx(share)


def test_chat_rows_from_a_jsonl_file_in_both_layouts(tmp_path, tiny_llama_dir):
    rows = _conversations(20, 0)
    chat_file = tmp_path / "chat.jsonl"
    chat_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe = generation_recipe(tiny_llama_dir, fmt="chat", answer_key=None, baseline_eval=False)
    recipe["data"].update(
        source="jsonl",
        max_length=128,
        options={"path": str(chat_file), "text_column": "messages", "label_column": None},
    )
    result = execute_recipe(recipe, tmp_path / "chat-run", [], hooks=build_hooks())
    assert result.summary["test"]["test/loss"] > 0

    trl_file = tmp_path / "trl.jsonl"
    pairs = [{"prompt": r["messages"][:3], "completion": r["messages"][3:]} for r in rows]
    trl_file.write_text("".join(json.dumps(p) + "\n" for p in pairs))
    recipe["head"]["messages_key"] = "prompt"
    recipe["data"]["options"] = {"path": str(trl_file), "text_column": "prompt"}
    recipe["data"]["options"]["label_column"] = None
    result = execute_recipe(recipe, tmp_path / "trl-run", [], hooks=build_hooks())
    assert result.summary["test"]["test/loss"] > 0
