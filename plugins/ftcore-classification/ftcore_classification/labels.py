"""Pure label handling: vocabulary, validation, encoding, class weights."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

_SCALAR = (str, int, float, bool)


def missing(value: Any) -> bool:
    """No label: null, or a NaN (how pandas and Parquet write an empty cell)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def as_label_list(value: Any, multi_label: bool, separator: str) -> list[str]:
    """The label(s) of one row as strings; [] for a missing label or one that is not a
    class name (a list in single-label data, a mapping: see :func:`problem`)."""
    if missing(value):
        return []
    if multi_label:
        if isinstance(value, str):
            return [p.strip() for p in value.split(separator) if p.strip()]
        if isinstance(value, (list, tuple)):
            if all(isinstance(v, _SCALAR) and not missing(v) for v in value):
                return [str(v) for v in value]
            return []
    if not isinstance(value, _SCALAR):
        return []
    return [str(value)] if str(value).strip() != "" else []


def _shape_problem(value: Any, multi_label: bool) -> str | None:
    """Why a label value has the wrong shape for the head (a list, a mapping...), or None."""
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    if isinstance(value, (list, tuple)) and not multi_label:
        return (
            f"label is a list ({shown}), not one class name; give one label per row, or "
            f"set head.multi_label=true"
        )
    if isinstance(value, (list, tuple)) and not as_label_list(value, True, "") and value:
        return f"label list {shown} holds a value that is not a class name (or a null)"
    if isinstance(value, (list, tuple)):
        return None
    if not missing(value) and not isinstance(value, _SCALAR):
        return f"label is a {type(value).__name__} ({shown}), not a class name"
    return None


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
    shape = _shape_problem(value, multi_label)
    if shape:
        return shape
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
