"""Pure label handling: vocabulary, validation, encoding, class weights."""

from __future__ import annotations

from collections import Counter
from typing import Any


def as_label_list(value: Any, multi_label: bool, separator: str) -> list[str]:
    """The label(s) of one row as strings."""
    if value is None:
        return []
    if multi_label:
        if isinstance(value, str):
            return [p.strip() for p in value.split(separator) if p.strip()]
        if isinstance(value, (list, tuple)):
            return [str(v) for v in value]
    return [str(value)] if str(value).strip() != "" else []


def _sort_key(label: str) -> tuple:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def vocabulary(values: list[Any], multi_label: bool, separator: str) -> list[str]:
    """Sorted distinct labels (numeric labels in numeric order)."""
    seen = {lab for v in values for lab in as_label_list(v, multi_label, separator)}
    return sorted(seen, key=_sort_key)


def problem(value: Any, labels: list[str], multi_label: bool, separator: str) -> str | None:
    """Why a row's label is invalid, or None."""
    found = as_label_list(value, multi_label, separator)
    if not found and not multi_label:
        return "missing label"
    unknown = [lab for lab in found if lab not in labels]
    if unknown:
        shown = ", ".join(labels[:10]) + (", ..." if len(labels) > 10 else "")
        return f"label '{unknown[0]}' never occurs in the training split (known: {shown})"
    return None


def encode(value: Any, labels: list[str], multi_label: bool, separator: str) -> Any:
    """Class index, or a multi-hot list for multi-label."""
    index = {lab: i for i, lab in enumerate(labels)}
    found = as_label_list(value, multi_label, separator)
    if not multi_label:
        return index[found[0]]
    hot = [0.0] * len(labels)
    for lab in found:
        hot[index[lab]] = 1.0
    return hot


def balanced_weights(
    values: list[Any], labels: list[str], multi_label: bool, separator: str
) -> list[float]:
    """Inverse-frequency weights, normalised to mean 1."""
    counts = Counter(lab for v in values for lab in as_label_list(v, multi_label, separator))
    raw = [1.0 / max(counts[lab], 1) for lab in labels]
    mean = sum(raw) / len(raw)
    return [w / mean for w in raw]
