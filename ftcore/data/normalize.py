"""Text normalisation steps named in ``data.normalize``."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

_SPACES = re.compile(r"\s+")

STEPS: dict[str, Callable[[str], str]] = {
    "lowercase": str.lower,
    "whitespace": lambda text: _SPACES.sub(" ", text).strip(),
    "nfc": lambda text: unicodedata.normalize("NFC", text),
}


def normalizer(steps: list[str]) -> Callable[[str], str]:
    """One function applying ``steps`` in order."""
    funcs = [STEPS[str(getattr(s, "value", s))] for s in steps]

    def apply(text: str) -> str:
        for func in funcs:
            text = func(text)
        return text

    return apply
