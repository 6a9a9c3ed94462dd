"""gsm8k answer extraction: the final number after ``####``."""

from __future__ import annotations

import math

from ftcore_generation.answers import extract_answer, is_correct, parse_number


def test_extract_final_number_after_last_marker():
    text = "She sells 9 eggs.\n9 * 2 = $18\n#### 18"
    assert extract_answer(text) == "18"
    assert extract_answer("#### 3 first\n#### 1,250 dollars.") == "1250"
    assert extract_answer("#### -4.5") == "-4.5"
    assert extract_answer("The answer is $18.") is None  # no marker: no answer
    assert extract_answer("#### none") is None


def test_parse_number():
    assert parse_number("1,250") == 1250.0
    assert parse_number("$7.50.") == 7.5
    assert math.isnan(parse_number("n/a"))


def test_exact_match_compares_numbers():
    assert is_correct("... #### 18", 18.0)
    assert is_correct("#### 18.0", 18.0)
    assert not is_correct("#### 17", 18.0)
    assert not is_correct("18", 18.0)
    assert is_correct("Answer: 5", 5.0, marker="Answer:")


def test_exact_answers_ignore_case_spaces_and_final_punctuation():
    from ftcore_generation.answers import answer_of, matches

    assert matches(" Fresh.\n", "fresh", "exact")
    assert matches("ROTTEN!", "rotten", "exact")
    assert not matches("fresh, I think", "fresh", "exact")
    assert not matches("The review is fresh", "fresh", "exact")
    assert answer_of("  Rotten. ", "exact") == "rotten"
    assert matches("so #### 12", "12", "number") and not matches("12", "12", "number")


def test_prompt_format_puts_the_prompt_inside_the_instruction(smol_tokenizer_dir):
    from ftcore_generation.encoding import Prompter
    from ftcore_generation.schema import GenerationConfig
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smol_tokenizer_dir)
    head = GenerationConfig(prompt_format="Review: {prompt}\nFresh or rotten?")
    prompter = Prompter.for_head(tokenizer, head)
    text = prompter.prompt("A fine film.")
    assert "Review: A fine film.\nFresh or rotten?" in text
    assert text.endswith("<|im_start|>assistant\n")
    plain = Prompter.for_head(
        tokenizer, GenerationConfig(prompt_format="Q: {prompt}", use_chat_template=False)
    )
    assert plain.prompt("hi") == "Q: hi\n"
