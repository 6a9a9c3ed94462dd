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

Where the assessment's learning curve has a run that learned (it beat the trivial
baseline), the projection also uses what fine-tuning did on *this* data: the largest short
run's gap on the holdout, relative to the frozen probe's gap on the same holdout rows, and
a power law for the rows the short run did not see:

    gap(fine-tuned) = gap(probe) * [gap(short run) / gap(holdout probe)] * (n / N) ** e

``n`` is the short run's training rows, ``N`` the full run's, and the exponent ``e`` is
calibrated on the references the same way (its mean; its spread, with a Student-t draw,
goes into the interval next to the bootstrap draws of the three scores). This removes the
largest error of the probe alone: the factor fine-tuning applies to the probe's gap
differs from task to task (0.43 to 0.95 on our recipes), and a short run on the task
itself shows which end a task is at. Without such a run (no budget left, or ``--models``,
where candidates only get a timing run) the probe alone is used.

Every reference is a MiniLM run. Another model fine-tunes differently from the same probe
(SmolLM2's factor was 0.37 to 1.28 times MiniLM's on the 8 recipes both were run on), so its
probe-alone projection multiplies the factor by its own offset, ``r(model) / r(MiniLM)``,
measured on recipes fine-tuned with both (:data:`PAIRED_RUNS`, never the data assessed),
with the offset's spread drawn into the interval as a second Student-t. A model without
two such recipes borrows MiniLM's factor as it is, and says so (``calibration``).

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


# The two calibrated methods: the probe alone, and the probe with a short run on the data.
PROBE_ONLY, WITH_SHORT_RUN = "calibrated probe", "probe and short run"
CALIBRATED = (PROBE_ONLY, WITH_SHORT_RUN)
# Fewer holdout rows make the short run's gap relative to the probe's too noisy to use
# (our references had 84 to 640).
MIN_SHORT_RUN_HOLDOUT = 50


@dataclass(frozen=True)
class ShortRun:
    """The largest learning-curve run of an assessment that learned, and the frozen probe
    scored on the same holdout rows."""

    score: float  # the short fine-tune's score on the holdout
    holdout_probe: float  # the probe baseline's score on the same holdout
    rows: int  # the short run's training rows
    train_rows: int  # the full run's training rows

    def relative_gap(self, metric: str) -> float:
        return float(gap(self.score, metric) / gap(self.holdout_probe, metric))


@dataclass(frozen=True)
class Reference:
    """One measured pair: the probe in ``ftcore assess`` and the full run's test score."""

    recipe: str
    data: str
    metric: str
    probe: float  # the out-of-fold probe's score in `ftcore assess RECIPE`
    finetuned: float  # the full run's test score
    short: ShortRun | None = None  # the same assessment's largest learning-curve run
    model: str = "minilm"  # the model fine-tuned (every row of REFERENCES: its recipe's own)
    overrides: str = ""  # the run's KEY=VALUE overrides of the recipe ("": as it ships)

    @property
    def log_ratio(self) -> float:
        return math.log(gap(self.finetuned, self.metric) / gap(self.probe, self.metric))

    @property
    def exponent(self) -> float | None:
        """``e`` of the module docstring's formula, solved for this reference (None without
        a short run on fewer rows than the full run)."""
        if self.short is None or self.short.rows >= self.short.train_rows:
            return None
        more = math.log(self.short.train_rows / self.short.rows)
        return (math.log(self.short.relative_gap(self.metric)) - self.log_ratio) / more


# Measured on 2 CPU cores on 2026-12-06: `probe` and `short` from one `ftcore assess RECIPE`
# each (budget 180 s; assessment.json: quality.probe.value, the last learning_curve point
# and the baselines' probe on the same holdout), all seven with one command
# (`python -m bench.projection --assess-only --out DIR RECIPE...`); `finetuned` from
# `ftcore run RECIPE` (the test score of the README's results table). The tweets, NYT and
# debate rows were first measured as out-of-sample checks of the first four before joining
# them; see docs/assess.md, "Measured on our recipes".
REFERENCES: tuple[Reference, ...] = (
    Reference(
        "sentiment-rotten-tomatoes",
        "rotten_tomatoes",
        "accuracy",
        0.710883,
        0.8345,
        ShortRun(0.845313, 0.789062, 1280, 10246),
    ),
    Reference(
        "topic-bbc-news",
        "bbc_news",
        "accuracy",
        0.967213,
        0.969,
        ShortRun(0.927928, 0.936937, 256, 1779),
    ),
    Reference(
        "sentiment-intensity-vader",
        "vader_movie",
        "pearson",
        0.669041,
        0.828,
        ShortRun(0.678291, 0.634034, 1056, 8483),
    ),
    Reference(
        "sentiment-intensity-amazon",
        "vader_amazon",
        "pearson",
        0.704578,
        0.8695,
        ShortRun(0.830023, 0.728383, 1024, 2966),
    ),
    Reference(
        "sentiment-intensity-tweets",
        "vader_tweets",
        "pearson",
        0.811673,
        0.9246,
        ShortRun(0.92016, 0.820338, 1024, 3360),
    ),
    Reference(
        "sentiment-intensity-nyt",
        "vader_nyt",
        "pearson",
        0.613705,
        0.7378,
        ShortRun(0.655195, 0.562515, 1024, 4152),
    ),
    Reference(
        "debate-speaker-side",
        "debates_2016",
        "accuracy",
        0.565753,
        0.692,
        ShortRun(0.630952, 0.619048, 256, 730),
    ),
)


# The model of every row of REFERENCES: other models are projected with its factor times
# their own offset from it, measured on recipes both were fine-tuned on (PAIRED_RUNS).
REFERENCE_MODEL = "minilm"

# Both bundled models fine-tuned on the same recipe (with the same overrides), on 2 CPU
# cores, 2026-12-06/07: `probe` is the ranking's probe of one `ftcore assess RECIPE
# --models minilm,smollm2-135m` (both models' probes on the same number of rows;
# assessment.json: ranking[].projected.probe) and `finetuned` the test score of `ftcore run
# RECIPE model.name=MODEL`, all from `python -m bench.projection --models
# minilm,smollm2-135m` (commands and tables in docs/assess.md, "Model choice, measured").
# The first four pairs' assessments predate `projected.probe`: their probes are recovered
# from the recorded projection (bench/results/2026-12-07-model-choice*.json), which is the
# probe's gap times the calibration's ratio; each is a whole number of correct rows
# (57/99, 50/99, 66/126, 75/126, 176/256, 192/256) for the accuracy probes.
_SHORT = "data.limit_train=600,trainer.max_epochs=1"
_400 = "data.limit_train=400,head.standardize=false"  # a regression head on SmolLM2 needs it


def _both(recipe: str, data: str, metric: str, overrides: str, *scores: tuple) -> tuple:
    """The runs of one recipe with MiniLM and with SmolLM2: (probe, fine-tuned) each."""
    models = (REFERENCE_MODEL, "smollm2-135m")
    return tuple(
        Reference(recipe, data, metric, probe, tuned, None, model, overrides)
        for model, (probe, tuned) in zip(models, scores)
    )


PAIRED_RUNS: tuple[Reference, ...] = (
    *_both(
        "debate-speaker-side",
        "debates_2016",
        "accuracy",
        "",
        (57 / 99, 0.691964),
        (50 / 99, 0.696429),
    ),
    *_both(
        "convention-party",
        "conventions_2012",
        "accuracy",
        "data.limit_train=400",
        (66 / 126, 0.665535),
        (75 / 126, 0.636672),
    ),
    *_both(
        "sentiment-rotten-tomatoes",
        "rotten_tomatoes",
        "accuracy",
        _SHORT,
        (176 / 256, 0.578),
        (192 / 256, 0.813),
    ),
    *_both(
        "sentiment-intensity-amazon",
        "vader_amazon",
        "pearson",
        f"{_SHORT},head.standardize=false",
        (0.62702, 0.617),
        (0.481243, 0.691),
    ),
    *_both(
        "sentiment-intensity-tweets",
        "vader_tweets",
        "pearson",
        _400,
        (0.706032, 0.802201),
        (0.606281, 0.794743),
    ),
    *_both(
        "sentiment-rotten-tomatoes",
        "rotten_tomatoes",
        "accuracy",
        "data.limit_train=400",
        (159 / 222, 0.584699),
        (152 / 222, 0.831382),
    ),
    *_both(
        "sentiment-intensity-nyt",
        "vader_nyt",
        "pearson",
        _400,
        (0.542151, 0.533565),
        (0.494366, 0.697544),
    ),
    *_both(
        "sentiment-intensity-vader",
        "vader_movie",
        "pearson",
        _400,
        (0.595408, 0.598296),
        (0.715828, 0.75053),
    ),
)


def reference_models(found: tuple[Reference, ...] = REFERENCES) -> set[str]:
    """The models whose full runs calibrate the projection."""
    return {r.model for r in found}


def model_offsets(
    model: str, data: str, found: tuple[Reference, ...] = PAIRED_RUNS
) -> tuple[np.ndarray, list[str]]:
    """``log r(model) - log r(REFERENCE_MODEL)`` on every recipe both were fine-tuned on,
    never on ``data``, and those recipes (``RECIPE@OVERRIDES``)."""
    runs: dict[str, dict[str, Reference]] = {}
    for r in found:
        if r.data != data and r.metric in PROBES:
            runs.setdefault(f"{r.recipe}@{r.overrides}".rstrip("@"), {})[r.model] = r
    both = {k: v for k, v in runs.items() if model in v and REFERENCE_MODEL in v}
    offsets = [v[model].log_ratio - v[REFERENCE_MODEL].log_ratio for v in both.values()]
    return np.array(offsets, dtype=float), list(both)


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


def predictive(values: np.ndarray, size: int, seed: int) -> np.ndarray:
    """``size`` draws of the next reference's value: the references' mean plus their
    spread times a Student t (the predictive distribution of one more reference)."""
    scale = float(values.std(ddof=1)) * math.sqrt(1.0 + 1.0 / len(values))
    t = np.random.default_rng(seed).standard_t(len(values) - 1, size=size)
    return float(values.mean()) + scale * t


def finish(out: dict[str, Any], value: float, rows: int, boot: Bootstrap) -> dict[str, Any]:
    """Add ``full``: the projected ``value`` with the interval of ``out["draws"]["full"]``."""
    low = high = math.nan
    if "full" in out["draws"]:
        low, high = stats.percentile_interval(out["draws"]["full"], boot.confidence)
    out["full"] = {"rows": rows, **stats.Interval(value, low, high).to_dict()}
    return out


def calibrated(
    probe: dict[str, Any],
    draws: np.ndarray,
    data: str,
    rows: int,
    boot: Bootstrap,
    found: tuple[Reference, ...] = REFERENCES,
    model: str = REFERENCE_MODEL,
    paired: tuple[Reference, ...] | None = None,
) -> dict[str, Any]:
    """The projected full-run score with its interval, from the out-of-fold probe's
    ``probe`` (``{"metric", "value", ...}``) and its bootstrap ``draws``; ``{}`` when it
    cannot be calibrated (a metric without references, or fewer than two references on
    other data).

    ``calibration`` says how ``model``'s factor was found: ``"own runs"`` (a model of the
    references), ``"paired runs"`` (the references' factor times the model's offset from
    their model, :func:`model_offsets`, on at least two recipes of other data; the offset's
    spread goes into the interval with its own draws) or ``"borrowed"`` (the references'
    factor as it is: nothing measured says how this model's fine-tuning differs).
    ``paired``: the paired runs (default :data:`PAIRED_RUNS`)."""
    metric = probe.get("metric", "")
    if metric not in PROBES or probe.get("value") is None:
        return {}
    refs = references_for(metric, data, found)
    if len(refs) < 2:
        return {}
    logs = np.array([r.log_ratio for r in refs])
    mean, spread = float(logs.mean()), float(logs.std(ddof=1))
    offsets, recipes = model_offsets(model, data, PAIRED_RUNS if paired is None else paired)
    own = model in reference_models(found)
    calibration = "own runs" if own else "paired runs" if len(offsets) >= 2 else "borrowed"
    shift = float(offsets.mean()) if calibration == "paired runs" else 0.0
    value = float(from_gap(math.exp(mean + shift) * gap(probe["value"], metric), metric))
    out: dict[str, Any] = {
        "method": PROBE_ONLY,
        "metric": metric,
        "higher": True,
        "probe": probe,
        "ratio": round(math.exp(mean + shift), 4),
        "log_ratio_sd": round(spread, 4),
        "references": [r.recipe for r in refs],
        "calibration": calibration,
        "draws": {},
    }
    if calibration == "paired runs":
        out["model_offset"] = {
            "mean": round(shift, 4),
            "sd": round(float(offsets.std(ddof=1)), 4),
            "recipes": recipes,
        }
    if np.size(draws):
        logs_drawn = predictive(logs, np.size(draws), boot.seed)
        if calibration == "paired runs":
            logs_drawn = logs_drawn + predictive(offsets, np.size(draws), boot.seed + 1)
        ratios = np.exp(logs_drawn)
        out["draws"]["full"] = from_gap(ratios * gap(np.asarray(draws), metric), metric)
    return finish(out, value, rows, boot)


# What the probe-alone projection says of its factor (the short run measures its own).
OWN = ("ratio", "calibration", "model_offset")


def with_short_run(
    probe: dict[str, Any],
    draws: np.ndarray,
    short: dict[str, Any],
    data: str,
    rows: int,
    boot: Bootstrap,
    found: tuple[Reference, ...] = REFERENCES,
    model: str = REFERENCE_MODEL,
) -> dict[str, Any]:
    """The projection from the probe and this data's largest short run (module docstring).

    ``short``: ``{"score", "holdout_probe", "rows", "holdout_rows"}`` (with fewer than
    :data:`MIN_SHORT_RUN_HOLDOUT` holdout rows it is not used) and, for the interval,
    ``"score_draws"`` and ``"holdout_probe_draws"`` (bootstrap draws on the same resampled
    holdout rows). Falls back to :func:`calibrated` (the probe alone) without a short run,
    or with fewer than two references that have one; ``{}`` as that does. ``model``: the
    model assessed (for the probe alone; the short run is its own)."""
    alone = calibrated(probe, draws, data, rows, boot, found, model)
    metric = alone.get("metric", "")
    refs = [r for r in references_for(metric, data, found) if r.exponent is not None]
    holdout = int(short.get("holdout_rows", MIN_SHORT_RUN_HOLDOUT)) if short else 0
    if not alone or holdout < MIN_SHORT_RUN_HOLDOUT or len(refs) < 2:
        return alone
    held = ShortRun(short["score"], short["holdout_probe"], int(short["rows"]), rows)
    if gap(held.holdout_probe, metric) <= 0 or gap(held.score, metric) <= 0:
        return alone  # a perfect score on the holdout: no gap to scale
    exponents = np.array([r.exponent for r in refs])
    mean, spread = float(exponents.mean()), float(exponents.std(ddof=1))
    seen = min(held.rows / max(rows, 1), 1.0)
    factor = held.relative_gap(metric) * seen**mean
    value = float(from_gap(factor * gap(probe["value"], metric), metric))
    out: dict[str, Any] = {
        **{k: v for k, v in alone.items() if k not in ("full", "draws", "references", *OWN)},
        "method": WITH_SHORT_RUN,
        "ratio": round(factor, 4),
        "exponent": round(mean, 4),
        "exponent_sd": round(spread, 4),
        "short": {
            "rows": held.rows,
            "score": held.score,
            "holdout_probe": held.holdout_probe,
            "relative_gap": round(held.relative_gap(metric), 4),
        },
        "references": [r.recipe for r in refs],
        "probe_only": {**alone["full"], **{k: alone[k] for k in OWN if k in alone}},
        "draws": {},
    }
    paired = [np.asarray(short.get(k, [])) for k in ("score_draws", "holdout_probe_draws")]
    if np.size(draws) and all(np.size(d) == np.size(draws) for d in paired):
        powers = predictive(exponents, np.size(draws), boot.seed)
        relative = gap(paired[0], metric) / np.maximum(gap(paired[1], metric), 1e-9)
        gaps = gap(np.asarray(draws), metric) * relative * seen**powers
        out["draws"]["full"] = from_gap(gaps, metric)
    return finish(out, value, rows, boot)
