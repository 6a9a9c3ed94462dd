"""Evaluating predictions: metrics with intervals, baselines compared, forgetting measured.

Shared by ``ftcore run`` (through the lifecycle hooks), ``ftcore evaluate`` and
``ftcore compare``. Only the head's hooks know the task; this module only combines them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from ftcore.errors import UserError
from ftcore_evaluation import scoring
from ftcore_evaluation.schema import EvaluationConfig
from ftcore_evaluation.scoring import Bootstrap

log = logging.getLogger(__name__)  # shown as "ftcore-evaluation: ..." (ftcore.console)

MAIN = "fine-tuned"


def bootstrap_of(cfg: EvaluationConfig) -> Bootstrap:
    return Bootstrap(int(cfg.bootstrap_samples), float(cfg.confidence), int(cfg.seed))


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Evaluation never changes the random streams training draws from."""
    import random

    import numpy as np
    import torch

    saved = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
        torch.set_rng_state(saved[2])
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


def attempt(what: str, notes: list[str], call: Any) -> Any:
    """``call()``, or None with a note when it fails.

    Evaluation never breaks a run: a missing plugin or unusable input (UserError) is a
    note; any other error is a note plus its traceback on stderr, and the run goes on.
    """
    try:
        return call()
    except UserError as exc:
        notes.append(f"{what} skipped: {exc}")
    except Exception as exc:
        notes.append(f"{what} failed: {type(exc).__name__}: {exc} (traceback on stderr)")
        log.warning("%s", notes[-1], exc_info=True)
    return None


def scorer(head: Any, options: Any, info: Any) -> Any:
    """The head's ``score`` of a list of predictions, for resampling."""

    def score(predictions: list[dict]) -> dict[str, float]:
        return head.score(predictions=predictions, info=info, options=options)

    return score


def predictions_result(
    head: Any,
    options: Any,
    info: Any,
    predictions: list[dict],
    boot: Bootstrap,
    baselines: dict[str, list[dict]] | None = None,
    main: str = MAIN,
) -> dict[str, Any]:
    """Metrics with intervals for ``predictions`` and every baseline, and the comparisons."""
    notes: list[str] = []
    score = scorer(head, options, info)
    monitor = head.monitor(options=options)
    if not predictions:
        return {"notes": ["no test predictions to evaluate"]}
    if attempt("confidence intervals", notes, lambda: score(predictions[:1])) is None:
        return {"notes": notes}
    systems = {main: predictions, **(baselines or {})}
    scored = scoring.score_systems(score, systems, boot)
    metrics = list(scored.points[main])
    metric = scoring.primary_metric(metrics, monitor)
    higher = scoring.higher_is_better(metric, monitor)
    correct = {}
    if "accuracy" in metrics:
        correct = {name: scoring.correctness(score, preds) for name, preds in systems.items()}
    out: dict[str, Any] = {
        "examples": len(predictions),
        "bootstrap": boot.to_dict(),
        "primary_metric": metric,
        "higher_is_better": higher,
        "metrics": {
            name: {m: i.to_dict() for m, i in found.items()}
            for name, found in scored.intervals.items()
        },
        "comparisons": {
            b: scoring.compare(scored, main, b, monitor, boot, correct) for b in baselines or {}
        },
        "notes": notes,
    }
    if baselines:
        best = scoring.best_baseline(scored, list(baselines), metric, higher)
        out.update(best_baseline=best, **_headline(out["comparisons"][best]))
    return out


def _headline(comparison: dict[str, Any]) -> dict[str, Any]:
    return {"significant": comparison["significant"], "verdict": comparison["verdict"]}
