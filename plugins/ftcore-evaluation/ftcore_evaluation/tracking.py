"""Forgetting tracked during training: measured at every validation, logged as metrics."""

from __future__ import annotations

import re
from typing import Any

import lightning as L

from ftcore_evaluation.evaluate import preserved_rng


def metric_name(name: str) -> str:
    return "forgetting/" + re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")


class ForgettingTracker(L.Callback):
    """Calls the head's ``forgetting`` after each validation (not the sanity check)."""

    def __init__(self, run: Any) -> None:
        self.run = run

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        with preserved_rng():
            found = self.run.head.forgetting(
                run=self.run, model=pl_module.model, options=self.run.head_options
            )
        for name, result in (found or {}).items():
            values = result["values"]
            pl_module.log(metric_name(name), sum(values) / max(len(values), 1), sync_dist=True)
