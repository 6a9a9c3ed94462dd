"""The test metrics' confidence bounds, handed to the run's loggers.

Lightning logged the point values (``test/accuracy``) as the test ended; the bootstrap
intervals exist only once ``ftcore_run_end`` scored the predictions, so they are logged
here, as separate metrics (``test/accuracy_ci_low``, ``test/accuracy_ci_high``), to every
logger of the run (TensorBoard, CSV, MLflow, W&B: the recipe's ``loggers:`` section).
Core flushes the loggers after ``ftcore_run_end``.
"""

from __future__ import annotations

from typing import Any

from ftcore_evaluation.evaluate import MAIN


def interval_metrics(result: dict[str, Any]) -> dict[str, float]:
    """``{"test/<metric>_ci_low": .., "test/<metric>_ci_high": ..}`` of the fine-tuned
    model in ``result`` (evaluation.json's content); bounds not computed are left out."""
    found: dict[str, float] = {}
    for name, interval in sorted((result.get("metrics") or {}).get(MAIN, {}).items()):
        for bound in ("low", "high"):
            if interval.get(bound) is not None:
                found[f"test/{name}_ci_{bound}"] = float(interval[bound])
    return found


def log_intervals(run: Any, result: dict[str, Any]) -> dict[str, float]:
    """Log :func:`interval_metrics` to every logger of ``run.trainer`` at its last step;
    what was logged."""
    metrics = interval_metrics(result)
    trainer = getattr(run, "trainer", None)
    if not metrics or trainer is None:
        return {}
    for logger in trainer.loggers:
        logger.log_metrics(metrics, step=trainer.global_step)
    return metrics
