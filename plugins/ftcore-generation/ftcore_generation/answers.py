"""Pure answer checking: the final number after a marker such as gsm8k's ``####``."""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


def parse_number(text: str) -> float:
    """``"1,250"`` -> 1250.0, ``"$7.50."`` -> 7.5; NaN when ``text`` holds no number."""
    found = _NUMBER.search(str(text))
    if found is None:
        return math.nan
    try:
        return float(Decimal(found.group().replace(",", "")))
    except InvalidOperation:
        return math.nan


def extract_answer(generated: str, marker: str = "####") -> str | None:
    """The number right after the last ``marker`` in ``generated`` (commas removed), or None.

    ``"... so 5 + 3 = 8.\\n#### 8"`` -> ``"8"``; text without the marker, or without a
    number after it, has no answer.
    """
    if marker not in generated:
        return None
    found = _NUMBER.search(generated.rsplit(marker, 1)[1])
    return found.group().replace(",", "") if found else None


def is_correct(generated: str, reference: float, marker: str = "####") -> bool:
    """Exact match of the extracted final number with the reference number."""
    answer = extract_answer(generated, marker)
    return answer is not None and parse_number(answer) == reference


def match_mode(head: object) -> str:
    """The head's ``answer_match`` as text ("number" when a caller passes no head)."""
    mode = getattr(head, "answer_match", "number")
    return str(getattr(mode, "value", mode))


def normalized_text(text: str) -> str:
    """Lower case, inner spaces collapsed, surrounding spaces and final punctuation gone."""
    return " ".join(str(text).lower().split()).rstrip(".!?;:,").strip()


def matches(generated: str, reference: str, mode: str, marker: str = "####") -> bool:
    """Whether ``generated`` answers ``reference``: ``exact`` text or ``number`` after marker."""
    if mode == "exact":
        return normalized_text(generated) == normalized_text(reference)
    return is_correct(generated, parse_number(reference), marker)


def answer_of(generated: str, mode: str, marker: str = "####") -> str | None:
    """The answer read from a generation: the normalised text, or the marked number."""
    return normalized_text(generated) if mode == "exact" else extract_answer(generated, marker)
