"""Which parameters a penalty applies to: a pure function of names."""

from __future__ import annotations

import re

from ftcore.api import no_decay

KEYWORDS = ("all", "backbone", "head")


def select(
    names: list[str], backbone: set[str], apply_to: list[str], skip_bias_and_norm: bool
) -> list[str]:
    """The names (in model order) that any ``apply_to`` entry selects.

    Entries: ``all``; ``backbone`` (names in ``backbone``); ``head`` (the others); any
    other entry is a regular expression searched in the name. ``skip_bias_and_norm`` leaves
    out the names core exempts from weight decay (biases, normalisation weights).
    """
    patterns = [re.compile(a) for a in apply_to if a not in KEYWORDS]

    def chosen(name: str) -> bool:
        return (
            "all" in apply_to
            or ("backbone" in apply_to and name in backbone)
            or ("head" in apply_to and name not in backbone)
            or any(p.search(name) for p in patterns)
        )

    return [n for n in names if chosen(n) and not (skip_bias_and_norm and no_decay(n))]


def covered(apply_to: list[str]) -> set[str]:
    """The keyword parts (``backbone``, ``head``) an ``apply_to`` list certainly covers."""
    if "all" in apply_to:
        return {"backbone", "head"}
    return {a for a in apply_to if a in ("backbone", "head")}
