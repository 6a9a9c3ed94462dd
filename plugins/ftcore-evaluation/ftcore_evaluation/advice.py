"""``ftcore assess``: run the measurements, turn them into advice, write the assessment."""

from __future__ import annotations

import logging
import math
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from ftcore.api import (
    atomic_write_json,
    atomic_write_text,
    figure_png,
    markdown_escape,
    markdown_table,
    pyplot,
)
from ftcore_evaluation import assess, datasummary, modelchoice, projection, quality, stats
from ftcore_evaluation.report import code
from ftcore_evaluation.scoring import Bootstrap, fmt_interval

RESERVE_SECONDS = 8.0
# The default --budget, per model assessed (the recipe's model and each of --models).
SECONDS_PER_MODEL = 180.0


_log = logging.getLogger(__name__)  # shown as "ftcore-evaluation: ..." (ftcore.console)


def log(message: str) -> None:
    """A progress line of ``ftcore assess`` (hidden by ``-q``)."""
    _log.info("assess: %s", message)


def _bounded(values: list[float]) -> bool:
    return all(0.0 <= v <= 1.0 for v in values)


def amount(x: float, bounded: bool) -> str:
    return f"{x * 100:+.1f} points" if bounded else f"{x:+.4f}"


def span(i: dict, bounded: bool) -> str:
    shown = amount(i["value"], bounded)
    if i.get("low") is None:
        return shown
    return f"{shown} (CI {amount(i['low'], bounded)} to {amount(i['high'], bounded)})"


def paired(draws_a: np.ndarray, draws_b: np.ndarray, value: float, boot: Bootstrap) -> dict:
    """Interval of a difference whose draws share resampled examples."""
    low, high = stats.percentile_interval(draws_a - draws_b, boot.confidence)
    return stats.Interval(value, low, high).to_dict()


def learning_points(
    model: assess.Model, metric: str, higher: bool
) -> tuple[list[assess.Point], list[int]]:
    """The curve points that beat the trivial baseline, and the row counts of the others.

    A short run that scores no better than the majority-class (or mean) predictor has not
    started to learn; fitting a power law through such plateau points makes the curve look
    steeper than it is and the projection far too optimistic, so they are left out.
    """
    values = [
        found[metric].value
        for found in model.baselines.intervals.values()
        if metric in found and found[metric].value is not None and not np.isnan(found[metric].value)
    ]
    if not values:
        return list(model.curve), []
    floor = min(values) if higher else max(values)
    sign = 1.0 if higher else -1.0
    # Metrics computed in float32 and in float64 differ in the 8th digit: not a real gain.
    tolerance = 1e-6 * max(1.0, abs(floor))
    kept = [p for p in model.curve if sign * (p.metrics[metric]["value"] - floor) > tolerance]
    return kept, [p.rows for p in model.curve if p not in kept]


def fine_tune_advice(model: assess.Model, projected: dict, boot: Bootstrap) -> list[str]:
    found = modelchoice.strongest_baseline(model)
    if found is None:
        return ["The head evaluates no baseline, so there is nothing to compare fine-tuning with."]
    name, metric, higher = found
    base = model.baselines.intervals[name][metric]
    base_draws = model.baselines.draws[name].get(metric, np.array([]))
    if projected.get("method") in projection.CALIBRATED:  # the gain over the probe it scales
        metric, higher = projected["metric"], True
        name = f"out-of-fold {projection.PROBES[metric]}"
        base = stats.Interval(**{k: projected["probe"][k] for k in ("value", "low", "high")})
        base_draws = model.probe_draws
    bounded = _bounded([base.value, projected.get("full", {}).get("value", 0.0)])
    if "full" not in projected:
        best = max(model.curve, key=lambda p: p.rows) if model.curve else None
        shown = fmt_interval(best.metrics[metric]) if best else "n/a"
        return [
            f"No projection (the learning curve needs at least two points that beat the "
            f"trivial baseline; raise --budget). "
            f"The {name} baseline scores {metric} {fmt_interval(base)}; the largest short run "
            f"scored {shown}."
        ]
    full = projected["full"]
    gain = {"value": full["value"] - base.value, "low": None, "high": None}
    if "full" in projected["draws"] and base_draws.size:
        gain = paired(projected["draws"]["full"], base_draws, gain["value"], boot)
    sign = 1.0 if higher else -1.0
    better = sign * gain["value"] > 0
    certain = gain["low"] is not None and (gain["low"] > 0 or gain["high"] < 0)
    shown = f"projected {metric} {fmt_interval(full)} vs {fmt_interval(base)} for the {name}"
    price = price_of(model)
    if certain and better:
        lines = [f"Fine-tuning is likely to pay: {shown}, a gain of {span(gain, bounded)}{price}."]
    elif not certain and better and gain["low"] is not None:
        lines = [
            f"Fine-tuning is projected to add {span(gain, bounded)} over the {name} "
            f"({shown}{price}), but the interval of that gain includes no gain at all: "
            f"likely worth a run, not certain; try the {name} first if it is good enough."
        ]
    elif not certain:
        lines = [
            f"The {name} baseline ({base.value:.4f}) is within the CI of the projected "
            f"fine-tuned score ({shown}; difference {span(gain, bounded)}{price}): fine-tuning "
            f"is unlikely to pay; the {name} is the cheaper choice."
        ]
    else:
        lines = [f"Fine-tuning is projected to do worse than the {name}: {shown}."]
    if projected.get("method") == projection.PROBE_ONLY:
        lines[0] += (
            f" (The projection scales what the {name} leaves to gain by "
            f"{projected['ratio']:.2f}, the average of {len(projected['references'])} measured "
            f"full runs on other data; see the Projection section.)"
        )
    elif projected.get("method") == projection.WITH_SHORT_RUN:
        short = projected["short"]
        lines[0] += (
            f" (The projection scales what the {name} leaves to gain by "
            f"{projected['ratio']:.2f}: a short fine-tune on {short['rows']} rows left "
            f"{short['relative_gap']:.2f} of the probe's gap on the holdout, and the rest of "
            f"the data is projected with an exponent calibrated on "
            f"{len(projected['references'])} measured full runs on other data; see the "
            f"Projection section.)"
        )
    if projected.get("fitted_points") == 2:
        lines[0] += (
            " This projection rests on two short runs only and is likely optimistic; "
            "raise --budget for a third point before relying on it."
        )
    if "double" not in projected:
        return lines
    return lines + more_data_advice(projected, metric, higher, bounded, boot)


def price_of(model: assess.Model) -> str:
    """``, for ~N min and ~M MiB`` of the projected full run (empty without a cost)."""
    c = model.cost
    if not c:
        return ""
    return (
        f", for ~{c['run_seconds'] / 60:.0f} min of training here and "
        f"~{c['training_memory_estimate_mib']} MiB for weights, gradients and optimiser state"
    )


def more_data_advice(
    fitted: dict, metric: str, higher: bool, bounded: bool, boot: Bootstrap
) -> list[str]:
    full, double = fitted["full"], fitted["double"]
    extra = {"value": double["value"] - full["value"], "low": None, "high": None}
    if "double" in fitted["draws"]:
        draws = fitted["draws"]
        extra = paired(draws["double"], draws["full"], extra["value"], boot)
    gain = extra["value"] if higher else -extra["value"]
    worth = (
        gain > (0.01 if bounded else 0.0)
        and extra["low"] is not None
        and (extra["low"] > 0 if higher else extra["high"] < 0)
    )
    verdict = "collecting more data is worth it" if worth else "more data is unlikely to help much"
    return [
        f"Twice the training data ({double['rows']} rows) is projected to change {metric} by "
        f"{span(extra, bounded)}: {verdict}."
    ]


def data_advice(facts: dict[str, Any]) -> list[str]:
    lines = []
    dup = facts.get("duplicates", {})
    if dup.get("test_in_train_share", 0) > 0.01:
        lines.append(
            f"Leakage: {dup['test_in_train']} test texts ({dup['test_in_train_share']:.1%}) also "
            f"occur in the training split; test scores will be optimistic. Deduplicate first."
        )
    if dup.get("train_duplicates", 0) > 0.05 * max(facts["rows"].get("train", 1), 1):
        lines.append(f"{dup['train_duplicates']} duplicate training texts; consider removing them.")
    lengths = facts.get("token_lengths", {})
    if lengths.get("truncated_share", 0) > 0.2:
        lines.append(
            f"{lengths['truncated_share']:.0%} of training texts are longer than max_length="
            f"{lengths['max_length']} tokens (95th percentile {lengths['p95']:.0f}); a larger "
            f"data.max_length may help, at a higher cost per step."
        )
    counts = facts.get("labels", {}).get("train", {})
    if counts and "mean" not in counts and min(counts.values()) * 5 < max(counts.values()):
        lines.append(
            "The labels are imbalanced (largest class over 5x the smallest); consider "
            "head.balanced_weights=true and watch macro F1, not accuracy."
        )
    return lines


def cost_advice(model: assess.Model) -> str:
    c = model.cost
    return (
        f"Expected full run: ~{c['run_seconds'] / 60:.1f} min ({c['total_steps']} optimiser steps "
        f"at {c['seconds_per_step']:.3f} s/step {c.get('timing', 'measured')} here, "
        f"{c['epoch_seconds']:.0f} s per "
        f"epoch with validation), training memory ≈ {c['training_memory_estimate_mib']} MiB for "
        f"weights, gradients and AdamW state; peak RSS of this assessment "
        f"{c.get('peak_rss_mib', '?')} MiB."
    )


# --- Markdown ----------------------------------------------------------------------------


def baselines_markdown(model: assess.Model) -> str:
    found = model.baselines.intervals
    if not found:
        return "No baseline (the head implements no `baseline`)."
    names = list(next(iter(found.values())))
    rows = [[m, *(fmt_interval(v[m]) for v in found.values())] for m in names]
    return (
        f"Scored on a holdout of {model.holdout} validation examples (the test split is not "
        f"used), in {model.baseline_seconds:.0f} s.\n\n"
        + markdown_table(["metric", *map(markdown_escape, found)], rows)
    )


def curve_markdown(model: assess.Model, fitted: dict, metric: str) -> str:
    if not model.curve:
        return "No learning curve (no time left in the budget)."
    rows = [
        [p.rows, p.steps, f"{p.fit_seconds:.0f}", fmt_interval(p.metrics[metric])]
        for p in model.curve
    ]
    text = markdown_table(["training rows", "steps", "fit s", f"{metric} [CI]"], rows)
    if fitted.get("skipped_rows"):
        text += (
            "\n\nLeft out of the fit: the runs on "
            f"{', '.join(map(str, fitted['skipped_rows']))} rows, which did not beat the "
            "trivial baseline (they had not started to learn)."
        )
    if "full" in fitted:
        text += (
            f"\n\nFitted {code(fitted['law'])} with a = {fitted['a']:.4g}, b = "
            f"{fitted['b']:.3f}: {metric} {fmt_interval(fitted['full'])} at "
            f"the full {fitted['full']['rows']} rows, {fmt_interval(fitted['double'])} "
            f"at {fitted['double']['rows']}."
        )
        if fitted.get("fitted_points") == 2:
            text += (
                " Two points fix both constants exactly, so these intervals hold only the "
                "holdout's sampling noise, not the uncertainty of the curve itself: treat the "
                "projection as optimistic, or raise --budget for a third point."
            )
    return text


def samples_line(model: assess.Model) -> str:
    """The sample sizes the budget allowed (empty when nothing was limited)."""
    found = model.samples
    if not found.get("embedding_rows_per_second"):
        return ""
    return (
        f"Sampled to fit the budget (the pretrained model embeds "
        f"{found['embedding_rows_per_second']:.0f} rows/s here): holdout {found['holdout']} "
        f"rows, probe trained on {found['baseline_train']} rows, quality sample "
        f"{found['quality']} rows.\n\n"
    )


def cost_markdown(model: assess.Model) -> str:
    c = model.cost
    p = c["parameters"]
    rows = [
        ["parameters", f"{p['total']:,} total, {p['trainable']:,} trainable"],
        [
            f"seconds per optimiser step ({c.get('timing', 'measured')})",
            f"{c['seconds_per_step']:.3f}",
        ],
        ["steps per epoch / whole run", f"{c['steps_per_epoch']} / {c['total_steps']}"],
        ["evaluation throughput", f"{c['eval_examples_per_second']:.0f} examples/s"],
        ["projected epoch (with validation)", f"{c['epoch_seconds']:.0f} s"],
        ["projected run", f"{c['run_seconds'] / 60:.1f} min"],
        ["training memory estimate", f"{c['training_memory_estimate_mib']} MiB"],
        ["peak RSS (this process)", f"{c.get('peak_rss_mib', '?')} MiB"],
    ]
    if "gpu_peak_mib" in c:
        rows.append(["peak GPU memory", f"{c['gpu_peak_mib']} MiB"])
    return markdown_table(["what", "value"], rows)


def _bounds(points: list[assess.Point], metric: str) -> tuple[list, list, list]:
    values = [p.metrics[metric] for p in points]
    ys = [v["value"] for v in values]
    below = [y - (v["low"] if v["low"] is not None else y) for v, y in zip(values, ys)]
    above = [(v["high"] if v["high"] is not None else y) - y for v, y in zip(values, ys)]
    return ys, below, above


def curve_png(model: assess.Model, fitted: dict, metric: str) -> bytes | None:
    if not model.curve:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    xs = [p.rows for p in model.curve]
    ys, below, above = _bounds(model.curve, metric)
    ax.errorbar(xs, ys, yerr=[below, above], fmt="o", label="short runs (CI)")
    if "full" in fitted:
        grid = np.geomspace(min(xs), fitted["double"]["rows"], 50)
        gaps = fitted["a"] * grid ** -fitted["b"]
        ax.plot(grid, assess.gap_of(gaps, fitted["higher"]), "--", label="fitted power law")
        for label in ("full", "double"):
            point = fitted[label]
            ax.plot(point["rows"], point["value"], "s", label=f"projected ({label} data)")
    found = modelchoice.strongest_baseline(model)
    if found:
        base = model.baselines.intervals[found[0]][found[1]]
        ax.axhline(base.value, color="gray", linestyle=":", label=found[0])
    ax.set_xscale("log")
    ax.set_xlabel("training rows")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("Learning curve (holdout of the validation split)")
    return figure_png(fig)


# --- the command ----------------------------------------------------------------------------


def model_json(model: assess.Model, chosen: dict, fitted: dict) -> dict[str, Any]:
    return {
        "model": model.name,
        "holdout_rows": model.holdout,
        "baselines": {
            n: {m: i.to_dict() for m, i in found.items()}
            for n, found in model.baselines.intervals.items()
        },
        "baseline_seconds": model.baseline_seconds,
        "learning_curve": [p.to_dict() for p in model.curve],
        "projection": {k: v for k, v in chosen.items() if k != "draws"},
        "curve_fit": {k: v for k, v in fitted.items() if k != "draws"},
        "cost": model.cost,
        "quality": model.quality,
        "samples": model.samples,
        "seconds": model.seconds,
    }


def curve_fit(model: assess.Model, metric: str, higher: bool, boot: Bootstrap) -> dict:
    """The power law through the learning curve's points that beat the trivial baseline."""
    points, skipped = learning_points(model, metric, higher)
    fitted = assess.project(points, metric, higher, model.sizes["train"], boot)
    if skipped:
        fitted["skipped_rows"] = skipped
    if "full" in fitted:
        fitted["method"] = "learning curve"
        fitted["fitted_points"] = len(points)
    return fitted


def short_run(model: assess.Model, metric: str) -> dict[str, Any]:
    """The largest learning-curve run that learned, with the probe baseline's score on the
    same holdout (``{}`` without either)."""
    probes = [name for name, found in model.baselines.intervals.items() if "probe" in name]
    points, _ = learning_points(model, metric, True)
    if not points or not probes or metric not in model.baselines.intervals[probes[0]]:
        return {}
    last = max(points, key=lambda p: p.rows)
    return {
        "score": last.metrics[metric]["value"],
        "rows": last.rows,
        "holdout_rows": model.holdout,
        "score_draws": last.draws.get(metric, np.array([])),
        "holdout_probe": model.baselines.intervals[probes[0]][metric].value,
        "holdout_probe_draws": model.baselines.draws[probes[0]].get(metric, np.array([])),
    }


def projected(model: assess.Model, boot: Bootstrap) -> dict:
    """The calibrated projection: the probe and the largest short run where the curve has
    one, else the probe alone (``{}`` when the metric has no references)."""
    probe = model.quality.get("probe") or {}
    short = short_run(model, probe.get("metric", ""))
    train = model.sizes["train"]
    return projection.with_short_run(
        probe, model.probe_draws, short, model.source, train, boot, model=model.name
    )


def advise(main: assess.Model, boot: Bootstrap) -> tuple[list[str], dict, str, dict]:
    """Recommendation lines, the projection used, the metric, and the curve's own fit.

    The calibrated projection is preferred; the learning curve's power law is the fallback for
    metrics without references (and is shown next to the curve either way).
    """
    found = modelchoice.strongest_baseline(main)
    metric = found[1] if found else next(iter(main.curve[0].metrics)) if main.curve else ""
    higher = found[2] if found else True
    fitted: dict[str, Any] = {}
    chosen: dict[str, Any] = {}
    if metric:
        fitted = curve_fit(main, metric, higher, boot)
        chosen = projected(main, boot) or fitted
    lines = fine_tune_advice(main, chosen, boot) + data_advice(main.data)
    lines += quality.meaning(main.quality)
    return lines + [cost_advice(main)], chosen, metric, fitted


def own_model(chosen: dict) -> str:
    """How the probe-alone projection knows this model's factor, where the references are
    runs of another model ("" where they are its own)."""
    offset, models = chosen.get("model_offset"), projection.REFERENCE_MODEL
    if chosen.get("calibration") == "paired runs":
        return (
            f" Those are runs of {code(models)}: this model's gap after fine-tuning, relative "
            f"to its probe's, was {math.exp(offset['mean']):.2f} times {code(models)}'s on "
            f"{len(offset['recipes'])} recipes fine-tuned with both (spread of log offset "
            f"{offset['sd']:.3f}, also in the interval), so the projection keeps "
            f"{chosen['ratio']:.2f} of the probe's gap."
        )
    if chosen.get("calibration") == "borrowed":
        return (
            f" Those are runs of {code(models)}, and no recipe was fine-tuned with both it "
            f"and this model: the factor is borrowed as it is."
        )
    return ""


def projection_markdown(chosen: dict, metric: str) -> str:
    if chosen.get("method") not in projection.CALIBRATED:
        if "full" in chosen:
            return "Projected from the learning curve (no calibrated probe for this metric)."
        return "No projection."
    refs = ", ".join(code(r) for r in chosen["references"])
    metric, probe = chosen["metric"], chosen["probe"]
    what = "1 - pearson²" if metric == "pearson" else f"1 - {metric}"
    start = (
        f"Projected {metric} of the full run: {fmt_interval(chosen['full'])}. A "
        f"{projection.PROBES[metric]} on the frozen features scores {metric} "
        f"{fmt_interval(probe)} out-of-fold on {probe['rows']} training rows (5 folds); it "
        f"leaves {code(what)} to gain"
    )
    if chosen["method"] == projection.PROBE_ONLY:
        offset = chosen.get("model_offset")
        base = chosen["ratio"] / math.exp(offset["mean"]) if offset else chosen["ratio"]
        return (
            f"{start}, and full "
            f"fine-tuning removed all but {base:.2f} of it (geometric mean; spread of "
            f"log ratio {chosen['log_ratio_sd']:.3f}) in the measured full runs of {refs}. The "
            f"interval adds that spread (Student t) to the probe's bootstrap draws. The data "
            f"being assessed is never part of its own calibration.{own_model(chosen)}"
        )
    short, rows = chosen["short"], chosen["full"]["rows"]
    return (
        f"{start}. The largest short fine-tune of the learning curve "
        f"({short['rows']} rows) scored {short['score']:.4f} on the holdout, where the "
        f"probe baseline scored {short['holdout_probe']:.4f}: fine-tuning on this data left "
        f"{short['relative_gap']:.2f} of the probe's gap. The {rows} rows of the full run "
        f"shrink it further by (rows seen / {rows}) ^ {chosen['exponent']:.3f}, the exponent "
        f"calibrated on the measured full runs of {refs} (spread {chosen['exponent_sd']:.3f}): "
        f"in all, the projection keeps {chosen['ratio']:.2f} of the probe's gap. The interval "
        f"adds the exponent's spread (Student t) to the bootstrap draws of the three scores. "
        f"The data being assessed is never part of its own calibration. The probe alone "
        f"would project {fmt_interval(chosen['probe_only'])}."
    )


def assessment_markdown(
    recipe: Any, main: assess.Model, ranked: list[dict[str, Any]], advice: tuple, seconds: float
) -> str:
    lines, chosen, metric, fitted = advice
    parts = [
        f"# Assessment: {markdown_escape(recipe.name)}",
        f"Model {code(main.name)}, data {code(recipe.data.source)}, task {code(recipe.task)}; "
        f"assessed in {seconds:.0f} s.",
        "## Recommendation",
        "\n".join(f"- {markdown_escape(line, 2000)}" for line in lines),
        "## Data",
        datasummary.markdown(main.data),
        "## Data quality",
        quality.markdown(main.quality),
        "## Baseline",
        samples_line(main) + baselines_markdown(main),
        "## Projection",
        projection_markdown(chosen, metric),
        "## Learning curve",
        curve_markdown(main, fitted, metric),
    ]
    if main.curve:
        parts.append("![learning curve](learning_curve.png)")
    parts += ["## Cost", cost_markdown(main)]
    if len(ranked) > 1:
        parts += ["## Model choice", modelchoice.markdown(ranked)]
    return "\n\n".join(parts) + "\n"


def default_out(recipe: Any) -> Path:
    root = Path(recipe.output.root).expanduser()
    return root / recipe.name / f"assessment-{time.strftime('%Y%m%d-%H%M%S')}"


def run_assessment(args: Any, hooks: Any) -> tuple[Path, str]:
    """Measure, advise, write ``assessment.md``/``.json``; return the folder and the text."""
    import lightning as L
    import torch

    from ftcore.api import load_recipe
    from ftcore_evaluation.evaluate import bootstrap_of
    from ftcore_evaluation.schema import options

    started = time.perf_counter()
    overrides = [*args.overrides, "evaluation.forgetting_during_training=false"]
    recipe, _ = load_recipe(args.recipe, overrides, hooks)
    cfg = options(recipe)
    boot = bootstrap_of(cfg)
    if args.samples is not None:
        boot = Bootstrap(args.samples, boot.confidence, boot.seed)
    if recipe.trainer.num_threads:
        torch.set_num_threads(recipe.trainer.num_threads)
    L.seed_everything(recipe.seed, verbose=False)
    out = Path(args.out) if args.out else default_out(recipe)
    work = out / ".work"
    work.mkdir(parents=True, exist_ok=True)
    names = [m.strip() for m in (args.models or "").split(",") if m.strip()]
    names = [n for n in names if n != recipe.model.name]
    budget = args.budget or SECONDS_PER_MODEL * (1 + len(names))
    others = []
    try:
        for i, name in enumerate(names):
            other, _ = load_recipe(args.recipe, [*overrides, f"model.name={name}"], hooks)
            # each candidate gets an equal share of what is left (the main model too)
            left = budget - (time.perf_counter() - started) - RESERVE_SECONDS
            share = max(left, 1.0) / (len(names) - i + 1)
            others.append(assess.assess_model(other, hooks, work, boot, log, None, share))
        left = budget - (time.perf_counter() - started) - RESERVE_SECONDS
        main = assess.assess_model(recipe, hooks, work, boot, log, max(left, 1.0))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    advice = advise(main, boot)
    seconds = time.perf_counter() - started
    ranked = modelchoice.ranking([main, *others], boot) if others else []
    text = assessment_markdown(recipe, main, ranked, advice, seconds)
    image = curve_png(main, advice[3], advice[2])
    if image:
        (out / "learning_curve.png").write_bytes(image)
    result = {
        "recipe": recipe.name,
        "budget": budget,
        "bootstrap": boot.to_dict(),
        "recommendation": advice[0],
        "data": main.data,
        **model_json(main, advice[1], advice[3]),
        "model_seconds": main.seconds,
        "seconds": round(seconds, 1),  # the whole assessment, candidates included
        "candidates": [model_json(m, projected(m, boot), {}) for m in others],
        "ranking": ranked,
    }
    atomic_write_json(out / "assessment.json", result)
    atomic_write_text(out / "assessment.md", text)
    return out, text
