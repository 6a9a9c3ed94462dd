"""The training curves of a run (PNG figures from ``logs/metrics.csv``)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from ftcore.api import figure_png, pyplot

NOT_LOSS_TERMS = (
    "accuracy",
    "f1",
    "precision",
    "recall",
    "pearson",
    "spearman",
    "r2",
    "mae",
    "mse",
    "skipped",
    "batches",
    "perplexity",
    "grad_norm",
)


def read_metrics_csv(path: Path) -> list[dict[str, float]]:
    """Rows of Lightning's CSVLogger file with the empty cells left out."""
    if not path.is_file():
        return []
    rows = []
    with path.open(encoding="utf-8", newline="") as handle:
        for raw in csv.DictReader(handle):
            row = {}
            for key, value in raw.items():
                try:
                    row[key] = float(value)
                except (TypeError, ValueError):
                    continue
            rows.append(row)
    return rows


def series(rows: list[dict[str, float]], column: str) -> tuple[list[float], list[float]]:
    """(steps, values) of one column, in step order."""
    points = sorted((r["step"], r[column]) for r in rows if column in r and "step" in r)
    return [p[0] for p in points], [p[1] for p in points]


def columns(rows: list[dict[str, float]]) -> list[str]:
    return sorted({key for row in rows for key in row})


def event_steps(rows: list[dict[str, float]], column: str) -> list[float]:
    """Steps where a logged event column (e.g. unfrozen layers) changes value."""
    steps, values = series(rows, column)
    return [s for s, v, prev in zip(steps[1:], values[1:], values) if v != prev]


def _panel(ax: Any, rows: list[dict[str, float]], names: list[str], events: list[float]) -> None:
    for name in names:
        steps, values = series(rows, name)
        style = "-" if len(steps) > 12 else "o-"
        ax.plot(steps, values, style, label=name, markersize=3, linewidth=1.2)
    for step in events:
        ax.axvline(step, color="gray", linestyle=":", linewidth=1)
    ax.set_xlabel("optimiser step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def unfreeze_steps(run_dir: Path, rows: list[dict[str, float]]) -> list[float]:
    """Unfreezing events: steps where a logged column whose name mentions "unfreez"/"unfroz"
    changes, and the start steps in ``unfreeze_schedule.json`` (gradual unfreezing)."""
    names = columns(rows)
    found = {s for n in names if "unfr" in n.lower() for s in event_steps(rows, n)}
    return sorted(found | schedule_steps(run_dir / "unfreeze_schedule.json"))


def schedule_steps(schedule: Path) -> set[float]:
    """The groups' start steps in a gradual-unfreezing schedule file; none if the file is
    absent or not in that format (a list of ``{"start_step": N, ...}``)."""
    try:
        groups = json.loads(schedule.read_text(encoding="utf-8")) if schedule.is_file() else []
        return {float(g["start_step"]) for g in groups if g.get("start_step")}
    except (ValueError, TypeError, KeyError, AttributeError):
        return set()


def training_curves(run_dir: Path) -> dict[str, bytes]:
    """Losses (with regularisation terms), validation metrics, forgetting and learning rates
    from ``logs/metrics.csv``; dotted vertical lines mark unfreezing events."""
    rows = read_metrics_csv(run_dir / "logs" / "metrics.csv")
    names = columns(rows)
    events = unfreeze_steps(run_dir, rows)
    losses = [n for n in names if n.startswith("train/") and _is_term(n)]
    panels = {
        "losses.png": ("Losses", losses + [n for n in names if n == "val/loss"]),
        "validation_metrics.png": (
            "Validation metrics and forgetting",
            [n for n in names if n.startswith(("val/", "forgetting/")) and n != "val/loss"],
        ),
        "learning_rates.png": (
            "Learning rate per parameter group",
            [n for n in names if n.startswith("lr-")],
        ),
    }
    out = {}
    plt = pyplot()
    for file, (title, chosen) in panels.items():
        if not any(series(rows, n)[0] for n in chosen):
            continue
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        _panel(ax, rows, chosen, events)
        ax.set_title(title)
        if file == "learning_rates.png" and _positive(rows, chosen):
            ax.set_yscale("log")
        out[file] = figure_png(fig)
    return out


def _is_term(name: str) -> bool:
    """A training column that is a loss or loss term (not train/accuracy, not a counter)."""
    return not any(w in name for w in NOT_LOSS_TERMS)


def _positive(rows: list[dict[str, float]], names: list[str]) -> bool:
    values = [v for n in names for v in series(rows, n)[1]]
    return (
        bool(values)
        and min(values) > 0
        and max(values) / min(values) > 20
        and all(math.isfinite(v) for v in values)
    )
