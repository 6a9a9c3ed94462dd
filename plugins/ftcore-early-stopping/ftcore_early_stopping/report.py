"""The Lightning callback that reports why training stopped (imported inside the hooks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping
from lightning.pytorch.utilities import rank_zero_info

from ftcore.api import atomic_write_json


class StopReport(L.Callback):
    """When training ends (completed or stopped early; not when interrupted), writes
    :func:`report` of the Trainer's ``EarlyStopping`` to
    ``path`` and logs its message. Stateless: nothing of it goes into checkpoints."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        stopper = next((c for c in trainer.callbacks if isinstance(c, EarlyStopping)), None)
        if stopper is None:
            return
        facts = report(stopper, trainer)
        if trainer.is_global_zero:
            atomic_write_json(self.path, facts)
        rank_zero_info(f"ftcore early stopping: {facts['message']}")


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
