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


def is_conversation(value: object) -> bool:
    """A chat conversation: a list of ``{"role": str, "content": str}`` messages."""
    return isinstance(value, list) and all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
        for m in value
    )


def normalized(value: object, clean: Callable[[str], str]) -> object:
    """``clean`` applied to a text, or to the content of every message of a conversation."""
    if isinstance(value, str):
        return clean(value)
    if is_conversation(value):
        return [{**m, "content": clean(m["content"])} for m in value]  # type: ignore[union-attr]
    return value
