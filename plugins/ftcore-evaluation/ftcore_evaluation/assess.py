"""``ftcore assess RECIPE``: should I fine-tune? Data, baseline, projection, similarity, cost.

The test split is never scored: the validation split is cut in two (seeded); the first
half plays validation (the probe's regularisation is chosen on it) and the second half
plays test (baselines and learning-curve points are scored on it).

Core pieces are reused: ``ftcore.run.load_data`` and ``build_module``. The short
learning-curve runs use a lean Lightning Trainer (no checkpoints, loggers or per-epoch
validation, which would cost more than the short runs themselves) with the recipe's
strategy callbacks, precision, gradient clipping and accumulation.
"""

from __future__ import annotations

import copy
import gc
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np

from ftcore.api import evaluation_option
from ftcore_evaluation import datasummary, evaluate, quality, scoring, stats
from ftcore_evaluation.scoring import Bootstrap

MIN_POINT_ROWS = 64
MIN_PROBE_ROWS = 200
CALIBRATION_STEPS = 12
MIN_CALIBRATION_STEPS = 4  # the first two are warm-up and not timed


@dataclass
class Point:
    """One learning-curve run: training rows, steps, timings, metrics and their draws."""

    rows: int
    steps: int
    fit_seconds: float
    seconds_per_step: float
    eval_seconds: float
    metrics: dict[str, Any]
    draws: dict[str, np.ndarray] = field(repr=False, default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        keys = ("rows", "steps", "fit_seconds", "seconds_per_step", "eval_seconds", "metrics")
        return {k: getattr(self, k) for k in keys}


@dataclass
class Model:
    """Everything measured for one candidate model."""

    name: str
    info: Any
    data: dict[str, Any]
    sizes: dict[str, int]
    holdout: int
    baselines: scoring.Scored
    baseline_seconds: float
    cost: dict[str, Any] = field(default_factory=dict)
    curve: list[Point] = field(default_factory=list)
    seconds: float = 0.0
    monitor: Any = None  # the head's Monitor: its primary metric and direction
    quality: dict[str, Any] = field(default_factory=dict)  # LogME, label issues, thin spots
    samples: dict[str, Any] = field(default_factory=dict)  # rows each step used
    source: str = ""  # the recipe's data.source (a projection never calibrates on it)
    probe_draws: np.ndarray = field(repr=False, default_factory=lambda: np.array([]))
    # the probe's features and targets (quality.probe_on_fewer_rows; not written out)
    probe_sample: dict[str, Any] = field(repr=False, default_factory=dict)


# --- set-up ------------------------------------------------------------------------------


def holdout(run: Any, seed: int, limit: int | None = None) -> None:
    """Validation split -> (validation half, pseudo-test half); the real test is not used.
    ``limit``: at most that many rows in each half (a seeded sample)."""
    rows, features = run.data.rows["validation"], run.datamodule.features["validation"]
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    if limit is not None:
        order = order[: 2 * max(limit, 1)]
    half = max(1, len(order) // 2)
    first, second = order[:half], order[half:] or order[:half]
    run.data.rows["validation"] = [rows[i] for i in first]
    run.data.rows["test"] = [rows[i] for i in second]
    run.datamodule.features["validation"] = [features[i] for i in first]
    run.datamodule.features["test"] = [features[i] for i in second]


def prepare(recipe: Any, hooks: Any, work: Path) -> tuple[Any, dict[str, Any]]:
    """A Run with data loaded and the pretrained model built; the data summary (of the real
    splits). The validation split is halved by :func:`holdout` once the budget is known."""
    from ftcore.api import build_module, setup_run

    run = setup_run(recipe, hooks=hooks, run_dir=work, model=False, seed=False)
    facts = datasummary.summary(run.data, run.tokenizer, recipe.data.max_length)
    build_module(run)
    return run, facts


# --- the budget --------------------------------------------------------------------------------


@dataclass
class Budget:
    """How many rows each embedding step may use, from the measured embedding rate.

    ``share`` of the seconds go to embedding (the probe baseline's training and holdout
    rows, the quality sample); the rest to the learning curve or the cost calibration.
    """

    rate: float  # rows embedded per second (measured on the training texts)
    seconds: float  # this model's seconds, from now
    share: float = 0.35

    def rows(self) -> int:
        return max(MIN_PROBE_ROWS, int(self.rate * self.seconds * self.share))

    def sizes(self, train: int, validation: int) -> dict[str, int]:
        total = self.rows()
        return {
            "holdout": min(validation // 2 or 1, max(MIN_POINT_ROWS, int(0.2 * total))),
            "baseline_train": min(train, max(MIN_POINT_ROWS, int(0.4 * total))),
            "quality": min(train, max(MIN_POINT_ROWS, int(0.4 * total))),
        }


def embedding_rate(run: Any, base: Any, rows: int = 64) -> float:
    """Rows per second the pretrained model embeds (mean-pooled), on training texts."""
    from ftcore.api import mean_pooled_embeddings

    train = [r for r in run.data.rows["train"][:rows] if isinstance(r.get("text"), str)]
    if not train:
        return math.inf  # no text rows: nothing is embedded
    started = time.perf_counter()
    mean_pooled_embeddings(
        base,
        run.tokenizer,
        [r["text"] for r in train],
        run.recipe.data.max_length,
        run.recipe.data.eval_batch_size,
    )
    return len(train) / max(time.perf_counter() - started, 1e-6)


def set_evaluation_option(recipe: Any, key: str, value: Any) -> None:
    from omegaconf import OmegaConf, open_dict

    OmegaConf.set_readonly(recipe, False)
    with open_dict(recipe):
        OmegaConf.update(recipe, f"evaluation.{key}", value, force_add=True)


def parameters(model: Any) -> dict[str, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"total": int(total), "trainable": int(trainable)}


# --- short runs -----------------------------------------------------------------------------


class StepTimer(L.Callback):
    """Wall time of each training batch (the first two are warm-up and not counted) and of
    the test batches (loop set-up excluded)."""

    def __init__(self) -> None:
        self.durations: list[float] = []
        self.test_seconds = 0.0
        self._start = 0.0

    def on_train_batch_start(self, *args: Any) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, *args: Any) -> None:
        self.durations.append(time.perf_counter() - self._start)

    def on_test_batch_start(self, *args: Any) -> None:
        self._start = time.perf_counter()

    def on_test_batch_end(self, *args: Any) -> None:
        self.test_seconds += time.perf_counter() - self._start

    def per_batch(self) -> float:
        found = self.durations[2:] or self.durations
        return float(np.median(found)) if found else math.nan


def lean_trainer(run: Any, work: Path, max_steps: int = -1) -> tuple[L.Trainer, StepTimer]:
    recipe, t = run.recipe, run.recipe.trainer
    timer = StepTimer()
    trainer = L.Trainer(
        max_epochs=t.max_epochs,
        max_steps=max_steps if max_steps > 0 else t.max_steps,
        precision=t.precision,
        accelerator=t.accelerator,
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        gradient_clip_val=recipe.optim.grad_clip,
        accumulate_grad_batches=recipe.optim.accumulate,
        callbacks=[timer, *run.hooks.lightning_callbacks(recipe=recipe, run=run)],
        default_root_dir=work,
    )
    return trainer, timer


def subset_datamodule(run: Any, rows: int) -> Any:
    """The run's datamodule with a seeded subset of ``rows`` training examples."""
    from ftcore.api import data_module

    train = run.datamodule.features["train"]
    keep = sorted(random.Random(run.recipe.seed).sample(range(len(train)), min(rows, len(train))))
    return data_module(run, {**run.datamodule.features, "train": [train[i] for i in keep]})


def short_run(run: Any, base: Any, rows: int, work: Path, max_steps: int = -1) -> dict:
    """Fine-tune a copy of the pretrained model on ``rows`` examples; test on the holdout."""
    from ftcore.api import lightning_module

    module = lightning_module(run, copy.deepcopy(base))
    datamodule = subset_datamodule(run, rows)
    trainer, timer = lean_trainer(run, work, max_steps)
    started = time.perf_counter()
    trainer.fit(module, datamodule=datamodule)
    fit = time.perf_counter() - started
    trainer.test(module, datamodule=datamodule, verbose=False)
    return {
        "predictions": module.test_outputs,
        "steps": int(trainer.global_step),
        "fit_seconds": fit,
        "seconds_per_step": timer.per_batch() * run.recipe.optim.accumulate,
        "eval_seconds": timer.test_seconds,
    }


def steps_for(rows: int, recipe: Any) -> int:
    per_epoch = math.ceil(rows / recipe.data.batch_size / recipe.optim.accumulate)
    total = per_epoch * recipe.trainer.max_epochs
    return min(total, recipe.trainer.max_steps) if recipe.trainer.max_steps > 0 else total


def curve_sizes(n_train: int, batch_size: int) -> list[int]:
    """Doubling training-set sizes from about n/64 up to n/2 (at least two when possible)."""
    first = min(max(n_train // 64, 4 * batch_size, MIN_POINT_ROWS), max(n_train // 4, 2))
    sizes, size = [], first
    while size <= max(n_train // 2, first):
        sizes.append(size)
        size *= 2
    if len(sizes) < 2 and n_train > first:
        sizes.append(n_train)
    return sizes


# --- learning curve ------------------------------------------------------------------------


def learning_curve(
    run: Any,
    base: Any,
    score: Any,
    boot: Bootstrap,
    budget: float,
    work: Path,
    log: Any,
    rate: float | None = None,
) -> list[Point]:
    """Short runs on growing subsets, as many as fit in ``budget`` seconds (the first one
    too, estimated from ``rate``, rows embedded per second, when given)."""
    points: list[Point] = []
    holdout_rows = len(run.data.rows["test"])
    started = time.perf_counter()
    indices = stats.resample_indices(len(run.data.rows["test"]), boot.samples, boot.seed)
    for size in curve_sizes(len(run.data.rows["train"]), run.recipe.data.batch_size):
        steps = steps_for(size, run.recipe)
        left = budget - (time.perf_counter() - started)
        if points:
            last = points[-1]
            expected = 1.15 * steps * last.fit_seconds / max(last.steps, 1) + last.eval_seconds
        else:  # a training step costs about three forward passes (forward + backward)
            per_row = 1.0 / rate if rate else 0.0
            expected = per_row * (3 * steps * run.recipe.data.batch_size + holdout_rows)
        if expected > left:
            log(f"learning curve: {size} rows would take ~{expected:.0f} s, {left:.0f} s left")
            break
        log(f"learning curve: fine-tuning on {size} rows ({steps} steps)")
        done = short_run(run, base, size, work)
        preds = done.pop("predictions")
        draws = stats.score_draws(score, preds, indices) if boot.samples else {}
        found = stats.intervals(score(preds), draws, boot.confidence)
        metrics = {m: i.to_dict() for m, i in found.items()}
        points.append(Point(rows=size, metrics=metrics, draws=draws, **done))
    return points


def gap_of(values: np.ndarray, higher: bool) -> np.ndarray:
    """Distance to a perfect score: ``1 - metric`` (higher is better, at most 1) or a loss."""
    return 1.0 - values if higher else values


def can_project(values: np.ndarray, higher: bool) -> bool:
    return bool(np.all(values <= 1.0)) if higher else bool(np.all(values >= 0.0))


def project(
    points: list[Point], metric: str, higher: bool, n_train: int, boot: Bootstrap
) -> dict[str, Any]:
    """Fit a power law to the curve; project the metric at the full and twice the data.

    The fit is repeated on every bootstrap resample of the holdout examples (the same
    resamples for every point), which gives the projections' intervals.
    """
    values = np.array([p.metrics[metric]["value"] for p in points])
    if len({p.rows for p in points}) < 2 or not can_project(values, higher):
        return {}
    sizes = [p.rows for p in points]
    a, b = stats.fit_power_law(sizes, gap_of(values, higher)[None, :])
    out: dict[str, Any] = {
        "metric": metric,
        "law": ("1 - " if higher else "") + f"{metric} = a * rows^-b",
        "higher": higher,
        "a": float(a[0]),
        "b": float(b[0]),
        "draws": {},
    }
    with_draws = boot.samples and all(metric in p.draws for p in points)
    if with_draws:
        draws = np.stack([p.draws[metric] for p in points], axis=1)
        da, db = stats.fit_power_law(sizes, gap_of(draws, higher))
    for label, n in (("full", n_train), ("double", 2 * n_train)):
        value = float(gap_of(stats.power_law(a, b, n), higher)[0])
        low = high = math.nan
        if with_draws:
            out["draws"][label] = gap_of(stats.power_law(da, db, n), higher)
            low, high = stats.percentile_interval(out["draws"][label], boot.confidence)
        out[label] = {"rows": n, **stats.Interval(value, low, high).to_dict()}
    return out


# --- cost ------------------------------------------------------------------------------------


def cost(
    recipe: Any, params: dict[str, int], per_step: float, eval_rate: float, sizes: dict
) -> dict[str, Any]:
    """Projected time per epoch and per run, and memory, from measured rates."""
    from ftcore_evaluation.lifecycle import resources

    steps = steps_for(sizes["train"], recipe)
    per_epoch = math.ceil(sizes["train"] / recipe.data.batch_size / recipe.optim.accumulate)
    val = sizes["validation"] / eval_rate if eval_rate else 0.0
    epochs = math.ceil(steps / per_epoch) if per_epoch else 0
    test = sizes["test"] / eval_rate if eval_rate else 0.0
    return {
        "parameters": params,
        "seconds_per_step": round(per_step, 4),
        "steps_per_epoch": per_epoch,
        "total_steps": steps,
        "eval_examples_per_second": round(eval_rate, 1),
        "epoch_seconds": round(per_epoch * per_step + val, 1),
        "run_seconds": round(steps * per_step + epochs * val + test, 1),
        "training_memory_estimate_mib": round(
            (4 * params["total"] + 12 * params["trainable"]) / 2**20
        ),
        **resources(),
    }


def estimated_timing(run: Any, rate: float) -> dict[str, Any]:
    """Seconds per optimiser step and the holdout's evaluation time from the embedding
    ``rate`` alone: a training step costs about three forward passes of its batch."""
    rows = run.recipe.data.batch_size * run.recipe.optim.accumulate
    return {
        "seconds_per_step": 3.0 * rows / rate,
        "eval_seconds": len(run.data.rows["test"]) / rate,
        "estimated": True,
    }


def calibration_steps(run: Any, rate: float | None, seconds: float | None) -> int:
    """Steps of the timing run that fit in ``seconds`` (from :func:`estimated_timing`):
    up to 12 (12 without a budget), or 0 when not even 4 fit."""
    if not rate or seconds is None or not math.isfinite(rate):
        return CALIBRATION_STEPS
    guess = estimated_timing(run, rate)
    fits = int((seconds - guess["eval_seconds"]) / guess["seconds_per_step"])
    return min(CALIBRATION_STEPS, fits) if fits >= MIN_CALIBRATION_STEPS else 0


def calibrate(run: Any, base: Any, work: Path, steps: int = CALIBRATION_STEPS) -> dict:
    """A short run (12 steps unless fewer fit): seconds per optimiser step and the
    holdout's evaluation time."""
    rows = steps * run.recipe.data.batch_size * run.recipe.optim.accumulate
    return short_run(run, base, rows, work, max_steps=steps)


# --- one model ---------------------------------------------------------------------------


def assess_model(
    recipe: Any,
    hooks: Any,
    work: Path,
    boot: Bootstrap,
    log: Any,
    curve_budget: float | None,
    seconds: float | None = None,
) -> Model:
    """Data facts, baselines with intervals, quality, learning curve (if budgeted), cost.

    seconds: this model's share of the budget (sizes the embedding samples; default
    ``curve_budget``, and no limit when both are None).
    """
    started = time.perf_counter()
    name = recipe.model.name
    log(f"{name}: loading the data and the pretrained model")
    run, facts = prepare(recipe, hooks, work)
    sizes = dict(facts["rows"])
    base, score = run.module.model, evaluate.scorer(run.head, run.head_options, run.info)
    allowed = seconds if seconds is not None else curve_budget
    budget = None
    if allowed is not None:
        left = allowed - (time.perf_counter() - started)
        budget = Budget(rate=embedding_rate(run, base), seconds=max(left, 1.0))
    used = budget.sizes(sizes["train"], sizes["validation"]) if budget else {}
    holdout(run, int(recipe.seed), used.get("holdout"))
    if used:  # the recipe's evaluation.baseline_train_rows, or fewer to fit the budget
        configured = int(evaluation_option(run, "baseline_train_rows", 2000))
        set_evaluation_option(
            run.recipe, "baseline_train_rows", min(configured, used["baseline_train"])
        )
    log(f"{name}: baselines")
    t0 = time.perf_counter()
    found = run.head.baseline(run=run, options=run.head_options) or {}
    scored = scoring.score_systems(score, found, boot) if found else scoring.Scored()
    model = Model(
        name=name,
        info=run.info,
        data=facts,
        sizes=sizes,
        holdout=len(run.data.rows["test"]),
        baselines=scored,
        baseline_seconds=round(time.perf_counter() - t0, 1),
        monitor=run.head.monitor(options=run.head_options),
        source=str(recipe.data.source),
    )
    log(f"{name}: data quality and transferability (LogME, label issues)")
    model.quality = quality.assess_quality(run, base, used.get("quality", quality.ROWS))
    model.probe_draws = model.quality.pop("probe_draws", np.array([]))
    model.probe_sample = model.quality.pop("probe_sample", {})
    model.samples = {
        "embedding_rows_per_second": round(budget.rate, 1) if budget else None,
        "holdout": model.holdout,
        "baseline_train": min(
            sizes["train"], int(evaluation_option(run, "baseline_train_rows", 2000))
        ),
        "quality": model.quality.get("sample_rows"),
    }
    if curve_budget is not None:
        left = curve_budget - (time.perf_counter() - started)
        rate = budget.rate if budget else None
        model.curve = learning_curve(run, base, score, boot, max(left, 1.0), work, log, rate)
        timing = model.curve[-1].to_dict() if model.curve else calibrate(run, base, work)
    else:
        left = None if allowed is None else allowed - (time.perf_counter() - started)
        steps = calibration_steps(run, budget.rate if budget else None, left)
        if steps:
            log(f"{name}: measuring seconds per step ({steps} steps)")
            timing = calibrate(run, base, work, steps)
        else:  # not even a short timing run fits: estimate from the embedding rate
            log(f"{name}: no time left for a timing run; cost estimated from the embedding rate")
            timing = estimated_timing(run, budget.rate)
    rate = model.holdout / max(timing["eval_seconds"], 1e-9)
    model.cost = cost(recipe, parameters(base), timing["seconds_per_step"], rate, sizes)
    model.cost["timing"] = "estimated" if timing.get("estimated") else "measured"
    model.seconds = round(time.perf_counter() - started, 1)
    del run, base
    gc.collect()
    return model
