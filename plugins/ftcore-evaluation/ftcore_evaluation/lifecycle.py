"""What the plugin does in a run: baselines before training, everything else at the end.

``ftcore_run_start`` evaluates the head's baselines and the pretrained model's forgetting
score and saves them in ``<run_dir>/evaluation/start.json`` (so nothing lives only in
memory). ``ftcore_run_end`` scores the test predictions with intervals, compares them
with the baselines, measures forgetting again, analyses the errors, and writes the
exported model's card ``model/README.md``, ``evaluation.json``, ``report.md`` and
``report.html`` (with evaluation off, only the card, without intervals).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ftcore.api import atomic_write_json
from ftcore_evaluation import evaluate, scoring
from ftcore_evaluation.evaluate import attempt, preserved_rng
from ftcore_evaluation.loggers import log_intervals
from ftcore_evaluation.schema import options

START_FILE = Path("evaluation") / "start.json"


def _rank_zero(run: Any) -> bool:
    return run.trainer is None or bool(run.trainer.is_global_zero)


def before_training(run: Any) -> dict[str, Any]:
    """Baselines and forgetting of the pretrained model (the model is not trained yet)."""
    cfg = options(run.recipe)
    head, head_options, notes = run.head, run.head_options, []
    started = time.perf_counter()
    found: dict[str, Any] = {"baselines": {}, "forgetting_before": None}
    with preserved_rng():
        if cfg.baseline:
            found["baselines"] = (
                attempt("baseline", notes, lambda: head.baseline(run=run, options=head_options))
                or {}
            )
        if cfg.forgetting:
            found["forgetting_before"] = attempt(
                "forgetting",
                notes,
                lambda: head.forgetting(run=run, model=run.module.model, options=head_options),
            )
    found.update(seconds=round(time.perf_counter() - started, 1), notes=notes)
    return found


def on_run_start(run: Any) -> None:
    cfg = options(run.recipe)
    if not cfg.enabled or not _rank_zero(run):
        return
    started = time.perf_counter()
    if cfg.cache:
        from ftcore.api import cache_dir
        from ftcore_evaluation.startcache import cached

        found = cached(run, cache_dir(run.recipe) / "evaluation", lambda: before_training(run))
    else:
        found = {**before_training(run), "cache": "off"}
    found["seconds"] = round(time.perf_counter() - started, 1)
    atomic_write_json(run.run_dir / START_FILE, found)


def read_start(run_dir: Path) -> dict[str, Any]:
    path = run_dir / START_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def forgetting_after(run: Any, before: dict | None, notes: list[str]) -> dict[str, Any]:
    cfg = options(run.recipe)
    if not cfg.forgetting or not before:
        return {}
    after = attempt(
        "forgetting",
        notes,
        lambda: run.head.forgetting(run=run, model=run.module.model, options=run.head_options),
    )
    return scoring.forgetting(before, after or {}, evaluate.bootstrap_of(cfg))


def after_test(run: Any, summary: dict[str, Any]) -> tuple[dict[str, Any], list]:
    """evaluation.json's content and the head's error-analysis sections."""
    cfg = options(run.recipe)
    started = time.perf_counter()
    start = read_start(run.run_dir)
    task, info, head, head_options = run.recipe.task, run.info, run.head, run.head_options
    predictions = list(run.module.test_outputs)
    notes = list(start.get("notes", []))
    result = (
        attempt(
            "test metrics",
            notes,
            lambda: evaluate.predictions_result(
                head,
                head_options,
                info,
                predictions,
                evaluate.bootstrap_of(cfg),
                start.get("baselines"),
            ),
        )
        or {}
    )
    notes += result.pop("notes", [])
    errors = attempt(
        "error analysis",
        notes,
        lambda: head.error_analysis(
            predictions=predictions,
            rows=run.data.rows["test"],
            info=info,
            options=head_options,
            out_dir=str(run.run_dir),
        ),
    )
    before = start.get("forgetting_before")
    result["forgetting"] = (
        attempt("forgetting", notes, lambda: forgetting_after(run, before, notes)) or {}
    )
    result["notes"] = notes
    result["timings"] = {
        "before_training_seconds": start.get("seconds"),
        "before_training_cache": start.get("cache"),
        "after_test_seconds": round(time.perf_counter() - started, 1),
    }
    return {"task": task, **result}, errors or []


def on_run_end(run: Any, summary: dict[str, Any]) -> None:
    cfg = options(run.recipe)
    if not _rank_zero(run):
        return
    if not cfg.enabled:  # the export still gets its card, with point metrics only
        write_card(run, summary, None, [])
        return
    with preserved_rng():
        result, errors = after_test(run, summary)
        result["resources"] = resources()
        card = write_card(run, summary, result, result["notes"])
        if cfg.report:
            from ftcore_evaluation import runreport

            attempt(
                "report",
                result["notes"],
                lambda: runreport.write_run_report(run, summary, result, errors, card),
            )
        attempt("loggers", result["notes"], lambda: log_intervals(run, result))
        atomic_write_json(run.run_dir / "evaluation.json", result)


def write_card(
    run: Any, summary: dict[str, Any], result: dict[str, Any] | None, notes: list[str]
) -> str | None:
    """``model/README.md`` (see :mod:`ftcore_evaluation.modelcard`); its text, or None with
    a note when it could not be written (the run goes on)."""
    if not (run.run_dir / "model").is_dir():
        return None
    from ftcore_evaluation import modelcard

    return attempt("model card", notes, lambda: modelcard.write_card(run, summary, result))


def resources() -> dict[str, Any]:
    """Peak resident memory of this process (and peak GPU memory when CUDA was used)."""
    import resource
    import sys

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out: dict[str, Any] = {
        "peak_rss_mib": round(rss / (2**20 if sys.platform == "darwin" else 2**10))
    }
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["gpu_peak_mib"] = round(torch.cuda.max_memory_allocated() / 2**20)
    return out
