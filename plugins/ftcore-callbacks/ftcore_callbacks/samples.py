"""Pure helpers of the sample_predictions callback: when to log, and the Markdown table."""

from __future__ import annotations

import json
from typing import Any


def due(epoch: int, every_n_epochs: int, last_logged_epoch: int) -> bool:
    """Whether epoch ``epoch`` (0-based) logs: every n-th epoch, never twice (resume)."""
    return (epoch + 1) % every_n_epochs == 0 and epoch > last_logged_epoch


def shorten(value: Any, max_chars: int) -> str:
    """One table cell: text as is, anything else as compact JSON; cut to ``max_chars``."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def shown_prediction(prediction: dict) -> Any:
    """The part of a decoded prediction worth a glance: its label, answer or text."""
    for key in ("label", "labels", "value", "values", "generated", "answer"):
        if key in prediction:
            return prediction[key]
    return prediction


def markdown_table(samples: list[dict], max_chars: int) -> str:
    """A Markdown table of ``{"text", "target", "prediction"}`` samples (TensorBoard text)."""
    lines = ["| # | text | target | prediction |", "|---|---|---|---|"]
    for i, sample in enumerate(samples):
        cells = [sample["text"], sample["target"], shown_prediction(sample["prediction"])]
        lines.append(f"| {i} | " + " | ".join(shorten(c, max_chars) for c in cells) + " |")
    return "\n".join(lines)
