"""The projected fine-tuned score: the frozen probe's score, calibrated on measured runs.

A linear probe on the pretrained model's frozen features and full fine-tuning of the same
model rank tasks alike (Kornblith et al., CVPR 2019; You et al., ICML 2021, where LogME
is checked against fine-tuned accuracy the same way). What the probe leaves unexplained
shrinks by a fairly steady factor when the whole model is fine-tuned:

    gap(fine-tuned) = r * gap(probe),   gap = 1 - accuracy,  or 1 - pearson^2 (regression)

``r`` is calibrated on the recipes in :data:`REFERENCES`: each row pairs the probe's
score from ``ftcore assess RECIPE`` (default budget) with the test score of the full
``ftcore run RECIPE``. The probe is scored out-of-fold (5 folds) on the quality step's
sample of training rows (sized by the budget: 730 to 2,761 rows in our measurements), not on
the smaller holdout: on rotten_tomatoes the two halves of the validation split gave the
same probe 0.738 and 0.775, too noisy a base to project from. The data being assessed is
never part of its own calibration (its rows are left out), so the figures in
``docs/assess.md`` are out-of-sample. The interval combines the probe's bootstrap draws
with the spread of ``log r`` across the references (a Student-t predictive draw).
Metrics without references (perplexity, a custom head's metric) fall back to the
learning curve's power law.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ftcore_evaluation import stats
from ftcore_evaluation.scoring import Bootstrap

# The metrics with references: the out-of-fold probe of `ftcore assess`'s quality step
# (logistic regression for single-label classification, ridge for regression).
PROBES = {"accuracy": "logistic probe", "pearson": "ridge probe"}


@dataclass(frozen=True)
class Reference:
    """One measured pair: the probe in ``ftcore assess`` and the full run's test score."""

    recipe: str
    data: str
    metric: str
    probe: float  # the out-of-fold probe's score in `ftcore assess RECIPE`
    finetuned: float  # the full run's test score

    @property
    def log_ratio(self) -> float:
        return math.log(gap(self.finetuned, self.metric) / gap(self.probe, self.metric))


# Measured on 2 CPU cores on 2026-12-06: `probe` from `ftcore assess RECIPE` (budget 180 s,
# assessment.json: quality.probe.value), `finetuned` from `ftcore run RECIPE` (the test
# score of the README's results table, from runs of that day for the last four). The last
# three were measured as out-of-sample checks of the first four before joining them
# (`python -m bench.projection`); see docs/assess.md, "Measured on our recipes".
REFERENCES: tuple[Reference, ...] = (
    Reference("sentiment-rotten-tomatoes", "rotten_tomatoes", "accuracy", 0.723651, 0.8345),
    Reference("topic-bbc-news", "bbc_news", "accuracy", 0.956389, 0.969),
    Reference("sentiment-intensity-vader", "vader_movie", "pearson", 0.656774, 0.828),
    Reference("sentiment-intensity-amazon", "vader_amazon", "pearson", 0.693439, 0.8695),
    Reference("sentiment-intensity-tweets", "vader_tweets", "pearson", 0.804434, 0.9246),
    Reference("sentiment-intensity-nyt", "vader_nyt", "pearson", 0.626341, 0.7378),
    Reference("debate-speaker-side", "debates_2016", "accuracy", 0.565753, 0.692),
)


def gap(value: float | np.ndarray, metric: str) -> Any:
    """What the metric leaves to gain: error rate, or unexplained variance for Pearson."""
    if metric == "pearson":
        return 1.0 - np.clip(value, 0.0, 1.0) ** 2
    return 1.0 - np.clip(value, 0.0, 1.0)


def from_gap(found: float | np.ndarray, metric: str) -> Any:
    left = np.clip(1.0 - np.asarray(found, dtype=float), 0.0, 1.0)
    return np.sqrt(left) if metric == "pearson" else left


def references_for(metric: str, data: str, found: tuple[Reference, ...] = REFERENCES) -> list:
    """The references a projection may use: any metric with a probe, never the same data."""
    return [r for r in found if r.data != data and r.metric in PROBES]


def calibrated(
    probe: dict[str, Any],
    draws: np.ndarray,
    data: str,
    rows: int,
    boot: Bootstrap,
    found: tuple[Reference, ...] = REFERENCES,
) -> dict[str, Any]:
    """The projected full-run score with its interval, from the out-of-fold probe's
    ``probe`` (``{"metric", "value", ...}``) and its bootstrap ``draws``; ``{}`` when it
    cannot be calibrated (a metric without references, or fewer than two references on
    other data)."""
    metric = probe.get("metric", "")
    if metric not in PROBES or probe.get("value") is None:
        return {}
    refs = references_for(metric, data, found)
    if len(refs) < 2:
        return {}
    logs = np.array([r.log_ratio for r in refs])
    mean, spread = float(logs.mean()), float(logs.std(ddof=1))
    value = float(from_gap(math.exp(mean) * gap(probe["value"], metric), metric))
    out: dict[str, Any] = {
        "method": "calibrated probe",
        "metric": metric,
        "higher": True,
        "probe": probe,
        "ratio": round(math.exp(mean), 4),
        "log_ratio_sd": round(spread, 4),
        "references": [r.recipe for r in refs],
        "draws": {},
    }
    low = high = math.nan
    if np.size(draws):
        rng = np.random.default_rng(boot.seed)
        scale = spread * math.sqrt(1.0 + 1.0 / len(refs))
        ratios = np.exp(mean + scale * rng.standard_t(len(refs) - 1, size=np.size(draws)))
        out["draws"]["full"] = from_gap(ratios * gap(np.asarray(draws), metric), metric)
        low, high = stats.percentile_interval(out["draws"]["full"], boot.confidence)
    out["full"] = {"rows": rows, **stats.Interval(value, low, high).to_dict()}
    return out
