"""The sections of a run's report, and writing it."""

from __future__ import annotations

import time
from typing import Any

from ftcore.api import ReportSection, markdown_escape, markdown_table
from ftcore_evaluation import datasummary, plots, report
from ftcore_evaluation.report import code
from ftcore_evaluation.scoring import fmt_difference, fmt_interval


def metrics_markdown(result: dict[str, Any]) -> str:
    """Every system's metrics with intervals, one column per system."""
    systems = result.get("metrics", {})
    if not systems:
        return ""
    names = list(next(iter(systems.values())))
    rows = [[m, *(fmt_interval(s[m]) if m in s else "" for s in systems.values())] for m in names]
    boot = result["bootstrap"]
    level = f"{boot['confidence']:.0%}"
    return (
        f"Test metrics on {result['examples']} examples with {level} percentile bootstrap "
        f"intervals ({boot['samples']} resamples, seed {boot['seed']}).\n\n"
        + markdown_table(["metric", *map(markdown_escape, systems)], rows)
    )


def comparisons_markdown(result: dict[str, Any]) -> str:
    """Paired differences per comparison, McNemar's test, and the verdicts."""
    parts = []
    for comp in result.get("comparisons", {}).values():
        a, b = markdown_escape(comp["a"]), markdown_escape(comp["b"])
        rows = [
            [m, fmt_difference(d), "yes" if comp["significant_metrics"][m] else "no"]
            for m, d in comp["differences"].items()
        ]
        parts.append(
            f"**{a} − {b}** (paired: same resampled examples)\n\n"
            + markdown_table(["metric", "difference [CI]", "CI excludes 0"], rows)
        )
        test = comp.get("mcnemar")
        if test:
            parts.append(
                f"McNemar's test ({test['method']}) on accuracy: {test['b']} examples only "
                f"{a} gets right, {test['c']} only {b} gets right; p = {test['p_value']:.3g}."
            )
        parts.append(markdown_escape(comp["verdict"], 2000))
    return "\n\n".join(parts)


def forgetting_markdown(found: dict[str, Any]) -> str:
    rows = [
        [
            markdown_escape(name),
            fmt_interval(f["before"]),
            fmt_interval(f["after"]),
            fmt_difference(f["change"]),
            "yes" if f["forgot"] else ("n/a" if f["forgot"] is None else "no"),
        ]
        for name, f in found.items()
    ]
    lines = [
        markdown_table(
            ["measure", "pretrained [CI]", "fine-tuned [CI]", "change [CI]", "forgot"], rows
        )
    ]
    lines += [
        f"- {markdown_escape(f['description'], 500)}" for f in found.values() if f["description"]
    ]
    lines += [markdown_escape(f["verdict"], 1000) for f in found.values()]
    return "\n\n".join(lines)


def recipe_markdown(recipe: Any) -> str:
    from ftcore.api import value

    optim, trainer, data = recipe.optim, recipe.trainer, recipe.data
    strategies = ", ".join(recipe.strategies.keys()) if recipe.strategies else "none"
    facts = [
        ("recipe", recipe.name),
        ("task", recipe.task),
        ("model", recipe.model.name),
        ("data", f"{data.source} (max_length {data.max_length}, batch size {data.batch_size})"),
        ("optimiser", f"{value(optim.optimizer)}, lr {optim.lr}, {value(optim.schedule)} schedule"),
        ("training", f"{trainer.max_epochs} epochs, precision {trainer.precision}"),
        ("strategies", strategies),
        ("seed", recipe.seed),
    ]
    return markdown_table(["setting", "value"], [[k, markdown_escape(v)] for k, v in facts])


def cost_markdown(run: Any, summary: dict[str, Any], result: dict[str, Any]) -> str:
    timings, data = summary.get("timings", {}), run.recipe.data
    fit = timings.get("fit_seconds") or 0
    steps = summary.get("steps_trained", 0)
    examples = steps * data.batch_size * run.recipe.optim.accumulate
    rows = [
        ["fit", f"{fit:.1f} s"],
        ["test", f"{timings.get('test_seconds', 0):.1f} s"],
        ["whole run (before the report)", f"{timings.get('total_seconds', 0):.1f} s"],
        ["optimiser steps", steps],
        [
            "throughput",
            f"{steps / fit:.2f} steps/s, {examples / fit:.1f} examples/s" if fit else "",
        ],
    ]
    ev = result.get("timings", {})
    rows.append(
        [
            "evaluation",
            f"{ev.get('before_training_seconds') or 0:.1f} s before training, "
            f"{ev.get('after_test_seconds') or 0:.1f} s after the test",
        ]
    )
    res = result.get("resources", {})
    rows.append(["peak memory (RSS)", f"{res.get('peak_rss_mib', 0)} MiB"])
    if "gpu_peak_mib" in res:
        rows.append(["peak GPU memory", f"{res['gpu_peak_mib']} MiB"])
    return markdown_table(["what", "value"], rows)


def verdict_markdown(result: dict[str, Any]) -> str:
    lines = []
    if result.get("verdict"):
        best = markdown_escape(result["best_baseline"])
        lines.append(
            f"**Fine-tuned vs the strongest baseline ({best}):** "
            + markdown_escape(result["verdict"], 2000)
        )
    for name, f in result.get("forgetting", {}).items():
        lines.append(
            f"**Forgetting ({markdown_escape(name)}):** " + markdown_escape(f["verdict"], 1000)
        )
    return "\n\n".join(lines) or "No baseline was evaluated, so there is no verdict."


def sections(
    run: Any, summary: dict[str, Any], result: dict[str, Any], errors: list, card: str | None = None
) -> list:
    facts = datasummary.summary(run.data, run.tokenizer, run.recipe.data.max_length)
    found = [
        ReportSection("Verdict", verdict_markdown(result)),
        ReportSection("Recipe", recipe_markdown(run.recipe)),
        ReportSection("Data", datasummary.markdown(facts)),
        ReportSection(
            "Training curves",
            "From `logs/metrics.csv`: losses (with regularisation terms), validation metrics, "
            "learning rate per parameter group; dotted lines mark unfreezing events.",
            plots.training_curves(run.run_dir),
        ),
        ReportSection(
            "Baseline vs fine-tuned",
            "\n\n".join(p for p in (metrics_markdown(result), comparisons_markdown(result)) if p)
            or "No metrics (see notes).",
        ),
        *errors,
    ]
    if result.get("forgetting"):
        found.append(ReportSection("Forgetting", forgetting_markdown(result["forgetting"])))
    found.append(ReportSection("Time, throughput and memory", cost_markdown(run, summary, result)))
    found += run.hooks.report_sections(run=run, summary=summary)
    if card:
        from ftcore_evaluation import modelcard

        found.append(ReportSection("Model card", modelcard.report_markdown(card)))
    if result.get("notes"):
        found.append(
            ReportSection(
                "Notes", "\n".join(f"- {markdown_escape(n, 500)}" for n in result["notes"])
            )
        )
    return found


def write_run_report(
    run: Any, summary: dict[str, Any], result: dict[str, Any], errors: list, card: str | None = None
) -> None:
    """report.md and report.html; ``card``: model/README.md's text, shown in a section."""
    recipe = run.recipe
    intro = (
        f"Task {code(recipe.task)}, model {code(recipe.model.name)}, data "
        f"{code(recipe.data.source)}. Run directory {code(run.run_dir)}; report written "
        f"{time.strftime('%Y-%m-%d %H:%M:%S')}."
    )
    if recipe.model.trust_remote_code:
        from ftcore.api import REMOTE_CODE_WARNING

        intro = f"**Warning: {REMOTE_CODE_WARNING}.**\n\n{intro}"
    report.write(
        run.run_dir,
        f"Run report: {recipe.name}",
        intro,
        sections(run, summary, result, errors, card),
    )
