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
