"""Tokenisation of prompt/response pairs and text blocks (no model needed)."""

from __future__ import annotations

import math

from ftcore_devkit.testing import minilm_tokenizer_dir
from ftcore_generation.encoding import (
    IGNORE,
    blocks,
    encode_instruction,
    encode_text,
    fit_pair,
    pack,
)
from ftcore_generation.schema import DataFormat, GenerationConfig
from transformers import AutoTokenizer

ROWS = [
    {"prompt": "What is 2 + 3?", "response": "2 + 3 = 5\n#### 5", "answer": "5"},
    {"prompt": "What is 4 + 4?", "response": "4 + 4 = 8\n#### 8", "answer": "8"},
]


def test_chat_template_prompt_tokens_carry_no_loss(smol_tokenizer_dir):
    tokenizer = AutoTokenizer.from_pretrained(smol_tokenizer_dir)
    features = encode_instruction(ROWS, tokenizer, 256, GenerationConfig(), "answer")
    for row, f in zip(ROWS, features):
        n = f["prompt_length"]
        assert f["labels"][:n] == [IGNORE] * n
        assert f["labels"][n:] == f["input_ids"][n:]
        prompt = tokenizer.decode(f["input_ids"][:n])
        assert prompt.startswith("<|im_start|>system") and prompt.endswith("assistant\n")
        assert row["prompt"] in prompt and row["response"] not in prompt
        # the response ends with the template's end-of-turn token, which stops generation
        assert tokenizer.decode(f["input_ids"][n:]) == row["response"] + "<|im_end|>"
        assert (
            f["input_ids"][:n]
            == tokenizer.apply_chat_template(
                [{"role": "user", "content": row["prompt"]}], add_generation_prompt=True
            )["input_ids"]
        )
    assert [f["answer"] for f in features] == [5.0, 8.0]


def test_system_prompt_and_rows_without_response(smol_tokenizer_dir):
    tokenizer = AutoTokenizer.from_pretrained(smol_tokenizer_dir)
    head = GenerationConfig(system_prompt="Solve it.")
    (f,) = encode_instruction([{"prompt": "Hi"}], tokenizer, 256, head, None)
    assert "Solve it." in tokenizer.decode(f["input_ids"])
    assert f["prompt_length"] == len(f["input_ids"]) and set(f["labels"]) == {IGNORE}
    assert math.isnan(f["answer"])


def test_without_chat_template_uses_prompt_template_and_sep():
    tokenizer = AutoTokenizer.from_pretrained(minilm_tokenizer_dir())
    head = GenerationConfig(prompt_template="Q: {prompt}\nA:")
    (f, _) = encode_instruction(ROWS, tokenizer, 64, head, "answer")
    n = f["prompt_length"]
    assert tokenizer.decode(f["input_ids"][:n]) == "q : what is 2 + 3? a :"
    assert f["labels"][:n] == [IGNORE] * n
    assert f["input_ids"][-1] == tokenizer.sep_token_id  # ends the response


def test_truncation_keeps_part_of_the_response():
    prompt, completion = list(range(100)), list(range(100, 140))
    p, c = fit_pair(prompt, completion, 64)
    assert len(p) + len(c) == 64 and len(c) == 16 and p[-1] == 99  # prompt cut on the left
    p, c = fit_pair(list(range(10)), completion, 64)
    assert p == list(range(10)) and c == completion


def test_blocks_and_packing_order():
    assert blocks(list(range(10)), 4) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert blocks(list(range(9)), 4) == [[0, 1, 2, 3], [4, 5, 6, 7]]  # 1-token tail dropped
    assert pack([[1, 2], [3, 4, 5], [6, 7, 8, 9], [10, 11]], 5) == [
        [[1, 2], [3, 4, 5]],
        [[6, 7, 8, 9]],
        [[10, 11]],
    ]


def test_text_format_blocks_and_packed_features(smol_tokenizer_dir):
    tokenizer = AutoTokenizer.from_pretrained(smol_tokenizer_dir)
    rows = [{"text": "To be, or not to be, that is the question."}, {"text": "Words, words."}]
    plain = encode_text(rows, tokenizer, 8, GenerationConfig(format=DataFormat.text))
    assert all(len(f["input_ids"]) <= 8 and "positions" not in f for f in plain)
    head = GenerationConfig(format=DataFormat.text, packing=True)
    packed = encode_text(rows, tokenizer, 64, head)
    assert len(packed) == 1
    (f,) = packed
    first, second = (tokenizer(r["text"])["input_ids"] for r in rows)
    assert f["input_ids"] == first + second
    assert f["positions"] == list(range(len(first))) + list(range(len(second)))
    # no target crosses the boundary: the second text's first token is not predicted
    assert f["labels"] == [IGNORE] + first[1:] + [IGNORE] + second[1:]
