"""From predictions to metrics with intervals, paired comparisons and plain verdicts.

Task-agnostic: the head's ``score`` turns a list of predictions into metrics, and
everything here works on whatever metrics it returns. Comparisons are paired: both
systems are scored on the same resampled examples.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ftcore.api import Monitor
from ftcore_evaluation import stats
from ftcore_evaluation.stats import Interval

LOWER_IS_BETTER = ("loss", "mse", "mae", "rmse", "error", "perplexity", "ece", "wer", "cer")


@dataclass(frozen=True)
class Bootstrap:
    """Resample count, interval level and seed (from the recipe's ``evaluation:``)."""

    samples: int = 1000
    confidence: float = 0.95
    seed: int = 0

    @property
    def alpha(self) -> float:
        return 1.0 - self.confidence

    def to_dict(self) -> dict[str, Any]:
        return {"samples": self.samples, "confidence": self.confidence, "seed": self.seed}


def higher_is_better(metric: str, monitor: Monitor | None) -> bool:
    """The head's mode for its monitored metric; else lower is better for loss-like names."""
    if monitor is not None and monitor.metric.split("/")[-1] == metric:
        return monitor.mode == "max"
    return not any(word in metric.lower() for word in LOWER_IS_BETTER)


def primary_metric(metrics: list[str], monitor: Monitor | None) -> str:
    """The head's monitored metric (``val/accuracy`` -> ``accuracy``), else the first."""
    name = monitor.metric.split("/")[-1] if monitor is not None else ""
    return name if name in metrics else metrics[0]


@dataclass
class Scored:
    """Point metrics, per-resample draws and intervals of several systems on one test set."""

    points: dict[str, dict[str, float]] = field(default_factory=dict)
    draws: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    intervals: dict[str, dict[str, Interval]] = field(default_factory=dict)


def score_systems(
    score: Callable[[list[dict]], dict[str, float]], systems: dict[str, list[dict]], boot: Bootstrap
) -> Scored:
    """Score every system on the same resamples (so differences are paired)."""
    sizes = {len(preds) for preds in systems.values()}
    if len(sizes) != 1:
        raise ValueError(f"systems have different numbers of predictions: {sorted(sizes)}")
    n = sizes.pop()
    indices = stats.resample_indices(n, boot.samples, boot.seed) if boot.samples else None
    out = Scored()
    for name, preds in systems.items():
        out.points[name] = score(preds)
        out.draws[name] = stats.score_draws(score, preds, indices) if indices is not None else {}
        out.intervals[name] = stats.intervals(out.points[name], out.draws[name], boot.confidence)
    return out


def correctness(score: Callable[[list[dict]], dict[str, float]], preds: list[dict]) -> Any:
    """Per-example 0/1 correctness from the head's ``accuracy``, or None if not binary."""
    values = [score([p]).get("accuracy") for p in preds]
    if not values or any(v not in (0.0, 1.0) for v in values):
        return None
    return np.asarray(values, dtype=bool)


def compare(
    scored: Scored,
    a: str,
    b: str,
    monitor: Monitor | None,
    boot: Bootstrap,
    correct: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Paired comparison ``a - b``: difference intervals, McNemar, verdict on the primary."""
    diffs = stats.difference_intervals(
        scored.points[a], scored.points[b], scored.draws[a], scored.draws[b], boot.confidence
    )
    metric = primary_metric(list(diffs), monitor)
    test = None
    if correct and correct.get(a) is not None and correct.get(b) is not None:
        test = stats.mcnemar(correct[a], correct[b])
    significant, text = verdict(
        metric, diffs[metric], higher_is_better(metric, monitor), test, boot, a, b
    )
    return {
        "a": a,
        "b": b,
        "primary_metric": metric,
        "differences": {m: i.to_dict() for m, i in diffs.items()},
        "significant_metrics": {m: i.excludes(0.0) for m, i in diffs.items()},
        "mcnemar": test,
        "significant": significant,
        "verdict": text,
    }


def fmt(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.4f}"


def fmt_interval(i: Interval | dict) -> str:
    i = i if isinstance(i, Interval) else Interval(*(_nan(i[k]) for k in ("value", "low", "high")))
    if math.isnan(i.low):
        return fmt(i.value)
    return f"{fmt(i.value)} [{fmt(i.low)}, {fmt(i.high)}]"


def fmt_difference(i: Interval | dict) -> str:
    i = i if isinstance(i, Interval) else Interval(*(_nan(i[k]) for k in ("value", "low", "high")))
    if math.isnan(i.low):
        return f"{i.value:+.4f}"
    return f"{i.value:+.4f} [{i.low:+.4f}, {i.high:+.4f}]"


def _nan(x: float | None) -> float:
    return math.nan if x is None else float(x)


def verdict(
    metric: str,
    diff: Interval,
    higher: bool,
    test: dict[str, Any] | None,
    boot: Bootstrap,
    a: str,
    b: str,
) -> tuple[bool | None, str]:
    """Is ``a`` significantly better than ``b``? In one plain sentence."""
    level = f"{boot.confidence:.0%}"
    shown = f"{metric} {fmt_difference(diff)} ({a} − {b}, paired bootstrap {level} CI)"
    if math.isnan(diff.low):
        return None, f"{shown}: no interval was computed (bootstrap_samples=0), so no verdict."
    better = diff.value > 0 if higher else diff.value < 0
    mc = ""
    if test is not None:
        mc = f"; McNemar's test ({test['method']}) p = {test['p_value']:.3g}"
    agree = test is None or test["p_value"] < boot.alpha
    if diff.excludes(0.0) and agree:
        word = "better" if better else "worse"
        return better, (
            f"{a[:1].upper()}{a[1:]} is significantly {word} than {b}: {shown}{mc}. "
            f"The interval excludes 0 at the {level} level."
        )
    why = "the interval includes 0" if not diff.excludes(0.0) else "McNemar's test disagrees"
    return False, (
        f"The difference between {a} and {b} is not statistically significant at the "
        f"{level} level ({why}): {shown}{mc}."
    )


def best_baseline(scored: Scored, names: list[str], metric: str, higher: bool) -> str:
    """The strongest baseline on ``metric``: the one fine-tuning has to beat."""
    pick = max if higher else min
    return pick(
        names, key=lambda n: scored.points[n].get(metric, -math.inf if higher else math.inf)
    )


def forgetting(
    before: dict[str, Any], after: dict[str, Any], boot: Bootstrap
) -> dict[str, dict[str, Any]]:
    """Before vs after per reference score: intervals, paired change, verdict."""
    out = {}
    for name, first in before.items():
        if name not in after:
            continue
        vb = np.asarray(first["values"], dtype=float)
        va = np.asarray(after[name]["values"], dtype=float)
        samples = boot.samples if len(vb) else 0
        idx = stats.resample_indices(len(vb), samples, boot.seed)
        change = stats.mean_difference_interval(va, vb, idx, boot.confidence)
        higher = bool(first.get("higher_is_better", True))
        out[name] = {
            "description": first.get("description", ""),
            "higher_is_better": higher,
            "examples": int(len(vb)),
            "before": stats.mean_interval(vb, idx, boot.confidence).to_dict(),
            "after": stats.mean_interval(va, idx, boot.confidence).to_dict(),
            "change": change.to_dict(),
            **_forgot(name, change, higher, boot),
        }
    return out


def _forgot(name: str, change: Interval, higher: bool, boot: Bootstrap) -> dict[str, Any]:
    level = f"{boot.confidence:.0%}"
    shown = f"{name}: change {fmt_difference(change)} (fine-tuned − pretrained, {level} CI)"
    if math.isnan(change.low):
        return {"forgot": None, "verdict": f"{shown}; no interval, so no verdict."}
    worse = change.value < 0 if higher else change.value > 0
    if change.excludes(0.0) and worse:
        return {"forgot": True, "verdict": f"Significant forgetting. {shown}."}
    if change.excludes(0.0):
        return {"forgot": False, "verdict": f"No forgetting; the backbone got better. {shown}."}
    return {"forgot": False, "verdict": f"No significant forgetting. {shown}."}
