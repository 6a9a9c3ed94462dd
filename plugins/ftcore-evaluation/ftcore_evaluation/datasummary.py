"""What the data looks like: split sizes, label balance, duplicates, leakage, lengths."""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

from ftcore.api import markdown_escape, markdown_table

MAX_CLASSES = 50


def text_of(row: dict, key: str = "text") -> str:
    value = row.get(key, row.get("prompt", row.get("text", "")))
    return value if isinstance(value, str) else str(value)


def normalised(text: str) -> str:
    """Lower case, whitespace collapsed: two rows equal under this are duplicates."""
    return re.sub(r"\s+", " ", text.lower()).strip()


def _label_key(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "|".join(map(str, value))
    return str(value)


def _numeric(values: list[Any]) -> bool:
    """Regression targets: all numbers, and either non-integers or too many to be classes."""
    if not values or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    ):
        return False
    return len(set(values)) > MAX_CLASSES or any(float(v) != int(v) for v in values)


def _stats(numbers: list[float]) -> dict[str, float]:
    mean = sum(numbers) / len(numbers)
    std = math.sqrt(sum((x - mean) ** 2 for x in numbers) / len(numbers))
    return {"mean": mean, "std": std, "min": min(numbers), "max": max(numbers)}


def label_balance(rows: dict[str, list[dict]]) -> dict[str, Any]:
    """Per split: label counts (discrete labels) or mean/std/min/max (numeric targets)."""
    values = {
        s: [r.get("label") for r in found if r.get("label") is not None]
        for s, found in rows.items()
    }
    if _numeric([v for found in values.values() for v in found]):
        return {s: _stats(found) for s, found in values.items() if found}
    counts = {s: Counter(_label_key(v) for v in found) for s, found in values.items() if found}
    if any(len(c) > MAX_CLASSES for c in counts.values()):
        return {}
    return {s: dict(sorted(c.items())) for s, c in counts.items()}


def duplicates(rows: dict[str, list[dict]], key: str = "text") -> dict[str, Any]:
    """Duplicate texts within the training split, and test/validation texts seen in training."""
    train = [normalised(text_of(r, key)) for r in rows.get("train", [])]
    seen = set(train)
    out: dict[str, Any] = {"train_duplicates": len(train) - len(seen)}
    for split in ("validation", "test"):
        texts = [normalised(text_of(r, key)) for r in rows.get(split, [])]
        shared = sum(t in seen for t in texts)
        out[f"{split}_in_train"] = shared
        out[f"{split}_in_train_share"] = shared / len(texts) if texts else 0.0
    return out


def token_lengths(tokenizer: Any, texts: list[str]) -> list[int]:
    """Token counts without truncation (special tokens included)."""
    lengths = []
    for start in range(0, len(texts), 1000):
        encoded = tokenizer(texts[start : start + 1000], truncation=False)["input_ids"]
        lengths.extend(len(ids) for ids in encoded)
    return lengths


def length_summary(lengths: list[int], max_length: int) -> dict[str, Any]:
    import numpy as np

    if not lengths:
        return {}
    q = np.percentile(lengths, [5, 25, 50, 75, 95])
    return {
        "min": int(min(lengths)),
        "p5": float(q[0]),
        "p25": float(q[1]),
        "median": float(q[2]),
        "p75": float(q[3]),
        "p95": float(q[4]),
        "max": int(max(lengths)),
        "max_length": int(max_length),
        "truncated_share": float(np.mean(np.asarray(lengths) > max_length)),
    }


def summary(data: Any, tokenizer: Any = None, max_length: int = 0) -> dict[str, Any]:
    """Everything above for prepared data (``ftcore.data.prepare.PreparedData``)."""
    key = data.info.extra.get("text_key", "text")
    out = {
        "rows": {s: len(r) for s, r in data.rows.items()},
        "dropped": dict(data.dropped),
        "drop_reasons": list(data.drop_reasons)[:10],
        "labels": label_balance(data.rows),
        "duplicates": duplicates(data.rows, key),
    }
    if tokenizer is not None:
        texts = [text_of(r, key) for r in data.rows["train"]]
        out["token_lengths"] = length_summary(token_lengths(tokenizer, texts), max_length)
    return out


def markdown(facts: dict[str, Any]) -> str:
    """The data summary as Markdown."""
    rows = facts["rows"]
    dropped = facts.get("dropped", {})
    parts = [
        markdown_table(
            ["split", "rows", "dropped as invalid"],
            [[s, n, dropped.get(s, 0)] for s, n in rows.items()],
        )
    ]
    parts += [f"- {markdown_escape(r)}" for r in facts.get("drop_reasons", [])[:5]]
    parts.append(_balance(facts.get("labels", {})))
    dup = facts.get("duplicates")
    if dup:
        parts.append(
            f"Duplicate texts in train: {dup['train_duplicates']}. Test texts also in train "
            f"(leakage): {dup['test_in_train']} ({dup['test_in_train_share']:.1%}); validation: "
            f"{dup['validation_in_train']} ({dup['validation_in_train_share']:.1%})."
        )
    lengths = facts.get("token_lengths")
    if lengths:
        parts.append(
            f"Training texts in tokens: median {lengths['median']:.0f}, 95th percentile "
            f"{lengths['p95']:.0f}, max {lengths['max']}; {lengths['truncated_share']:.1%} "
            f"are longer than max_length={lengths['max_length']} and get truncated."
        )
    return "\n\n".join(p for p in parts if p)


def _balance(labels: dict[str, Any]) -> str:
    if not labels:
        return ""
    first = next(iter(labels.values()))
    if "mean" in first and "std" in first:
        rows = [
            [s, f"{v['mean']:.3f}", f"{v['std']:.3f}", f"{v['min']:.3f}", f"{v['max']:.3f}"]
            for s, v in labels.items()
        ]
        return "Targets:\n\n" + markdown_table(["split", "mean", "std", "min", "max"], rows)
    names = sorted({n for counts in labels.values() for n in counts})
    rows = []
    for name in names:
        cells = []
        for counts in labels.values():
            total = sum(counts.values()) or 1
            cells.append(f"{counts.get(name, 0)} ({counts.get(name, 0) / total:.0%})")
        rows.append([markdown_escape(name, 60), *cells])
    return "Label balance:\n\n" + markdown_table(["label", *labels], rows)
