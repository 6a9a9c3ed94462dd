"""Early stopping, wired into ftcore's hooks.

- ``ftcore_lightning_callbacks``: Lightning's own ``EarlyStopping``, configured from
  ``strategies.early_stopping`` (monitor and mode default to the checkpoint's); its state
  (best score, wait count) is saved in checkpoints, so a resumed run continues counting;
- ``ftcore_fit_end``: write why training stopped (or that it did not) to
  ``<run_dir>/early_stopping.json`` and log it.

Core tests and exports the best checkpoint, not the last epoch's weights. Lightning is
imported inside the hooks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ftcore
from ftcore.api import atomic_write_json
from ftcore.types import Component
from ftcore_early_stopping.schema import EarlyStoppingConfig

NAME = "early_stopping"
REPORT = "early_stopping.json"


@ftcore.hookimpl
def ftcore_components() -> list[Component]:
    return [
        Component(
            kind="strategy",
            name=NAME,
            schema=EarlyStoppingConfig,
            description="Stop when a validation metric stops improving (Lightning EarlyStopping)",
        )
    ]


def options(recipe: Any) -> Any:
    return (recipe.strategies or {}).get(NAME)


@ftcore.hookimpl
def ftcore_check_recipe(recipe: Any) -> list[str]:
    opts = options(recipe)
    if opts is None:
        return []
    path = f"strategies.{NAME}"
    checks = [
        ("mode", opts.mode in (None, "min", "max"), "must be min or max"),
        ("patience", opts.patience >= 1, "must be at least 1"),
        ("min_delta", opts.min_delta >= 0, "must be 0 or more"),
    ]
    problems = [f"{path}.{key}: {msg}" for key, ok, msg in checks if not ok]
    other = opts.monitor and opts.monitor != recipe.checkpoint.monitor
    if other and opts.mode is None:
        problems.append(f"{path}.mode: set min or max for monitor '{opts.monitor}'")
    return problems


def monitor_and_mode(opts: Any, run: Any) -> tuple[str, str]:
    """The metric and mode to watch: the options', else the best checkpoint's."""
    from ftcore.api import monitor

    metric, mode = monitor(run)
    if opts.monitor and opts.monitor != metric:
        return opts.monitor, opts.mode
    return metric, opts.mode or mode


@ftcore.hookimpl
def ftcore_lightning_callbacks(recipe: Any, run: Any) -> list[Any]:
    opts = options(recipe)
    if opts is None:
        return []
    from lightning.pytorch.callbacks import EarlyStopping

    metric, mode = monitor_and_mode(opts, run)
    return [
        EarlyStopping(
            monitor=metric,
            mode=mode,
            patience=opts.patience,
            min_delta=opts.min_delta,
            stopping_threshold=opts.stopping_threshold,
            divergence_threshold=opts.divergence_threshold,
            check_finite=opts.check_finite,
            verbose=True,
        )
    ]


def report(stopper: Any, trainer: Any) -> dict[str, Any]:
    """What ``early_stopping.json`` holds."""
    reason = getattr(stopper, "stopping_reason", None)  # an enum in Lightning >= 2.5
    reason = reason.name.lower() if reason is not None else None
    stopped = stopper.stopped_epoch > 0 or reason not in (None, "not_stopped")
    message = getattr(stopper, "stopping_reason_message", None) or (
        f"did not stop early: training ended after {trainer.current_epoch} epochs "
        f"({trainer.global_step} steps)"
    )
    best = stopper.best_score
    return {
        "stopped_early": bool(stopped),
        "reason": reason,
        "message": message,
        "stopped_epoch": stopper.stopped_epoch if stopped else None,
        "monitor": stopper.monitor,
        "mode": stopper.mode,
        "patience": stopper.patience,
        "min_delta": abs(float(stopper.min_delta)),
        "best_score": float(best) if best is not None and best.isfinite() else None,
        "wait_count": stopper.wait_count,
        "epochs_trained": trainer.current_epoch,
        "steps_trained": trainer.global_step,
        "best_checkpoint": trainer.checkpoint_callback.best_model_path or None,
    }


@ftcore.hookimpl
def ftcore_fit_end(run: Any) -> None:
    if options(run.recipe) is None or run.trainer is None:
        return
    from lightning.pytorch.callbacks import EarlyStopping
    from lightning.pytorch.utilities import rank_zero_info

    stopper = next((c for c in run.trainer.callbacks if isinstance(c, EarlyStopping)), None)
    if stopper is None:
        return
    facts = report(stopper, run.trainer)
    if run.trainer.is_global_zero:
        atomic_write_json(Path(run.run_dir) / REPORT, facts)
    rank_zero_info(f"ftcore early stopping: {facts['message']}")
