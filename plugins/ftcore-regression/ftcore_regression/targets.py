"""Pure target handling: parsing, row problems, and the training split's statistics."""

from __future__ import annotations

import math
from typing import Any


class TargetError(ValueError):
    """A label that is not a valid regression target (the message says why)."""


def _number(value: Any) -> float:
    if isinstance(value, bool) or value is None:
        raise TargetError(f"target {value!r} is not a number")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise TargetError(f"target {_show(value)} is not a number") from None
    if not math.isfinite(number):
        raise TargetError(f"target {_show(value)} is not a finite number")
    return number


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse(value: Any, separator: str = "|") -> list[float]:
    """The target(s) of one label as floats: a number, a numeric string, or a list of them."""
    if isinstance(value, str) and separator and separator in value:
        value = value.split(separator)
    if isinstance(value, (list, tuple)):
        if not value:
            raise TargetError("target list is empty")
        return [_number(v) for v in value]
    return [_number(value)]


def problem(value: Any, num_targets: int, separator: str = "|") -> str | None:
    """Why a row's label is not a valid target, or None."""
    if value is None:
        return "missing target 'label' (regression needs a number)"
    try:
        found = parse(value, separator)
    except TargetError as exc:
        return f"{exc}; regression needs a number (or a list of numbers) in 'label'"
    if len(found) != num_targets:
        return f"expected {num_targets} target(s), got {len(found)}"
    return None


def infer_count(values: list[Any], separator: str = "|") -> int:
    """Targets per label: the length of the first parseable label (1 if none parses)."""
    for value in values:
        try:
            return len(parse(value, separator))
        except TargetError:
            continue
    return 1


def statistics(values: list[Any], num_targets: int, separator: str = "|") -> dict[str, list]:
    """Per-target mean and population standard deviation (0 replaced by 1) of valid labels."""
    rows = []
    for value in values:
        try:
            parsed = parse(value, separator)
        except TargetError:
            continue
        if len(parsed) == num_targets:
            rows.append(parsed)
    if not rows:
        return {"mean": [0.0] * num_targets, "std": [1.0] * num_targets, "count": 0}
    mean = [sum(col) / len(rows) for col in zip(*rows)]
    var = [sum((x - m) ** 2 for x in col) / len(rows) for col, m in zip(zip(*rows), mean)]
    std = [math.sqrt(v) if v > 0 else 1.0 for v in var]
    return {"mean": mean, "std": std, "count": len(rows)}
