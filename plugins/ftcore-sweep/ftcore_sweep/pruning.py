"""Reporting a trial's validations to Optuna, and pruning it, from inside Lightning.

:class:`TrialCallback` is the Lightning callback that ``ftcore_lightning_callbacks`` adds
to a run while :func:`active` holds a trial (only inside ``ftcore sweep``): after each
validation it reports the monitored metric to the trial, keeps the best value (the
trial's objective), and raises ``optuna.TrialPruned`` when the pruner says the trial is
hopeless, which stops the run.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lightning.pytorch import Callback

_ACTIVE: list[TrialCallback] = []


class TrialCallback(Callback):
    """Report ``metric`` (best when ``mode`` is ``min`` or ``max``) to ``trial`` after
    every validation; prune when ``trial.should_prune()`` says so."""

    def __init__(self, trial: Any, metric: str, mode: str) -> None:
        self.trial, self.metric, self.mode = trial, metric, mode
        self.values: list[float] = []

    @property
    def best(self) -> float | None:
        """The best value reported so far (None before the first validation)."""
        finite = [v for v in self.values if math.isfinite(v)]
        if not finite:
            return None
        return min(finite) if self.mode == "min" else max(finite)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking or self.metric not in trainer.callback_metrics:
            return
        self.observe(float(trainer.callback_metrics[self.metric]))

    def observe(self, value: float) -> None:
        """Report one validation's ``value``; raise ``optuna.TrialPruned`` to stop."""
        import optuna

        self.values.append(value)
        step = len(self.values)
        self.trial.report(value, step)
        if self.trial.should_prune():
            raise optuna.TrialPruned(
                f"trial {self.trial.number} pruned after validation {step}: "
                f"{self.metric}={value:.4g}"
            )


@contextmanager
def active(callback: TrialCallback) -> Iterator[TrialCallback]:
    """Add ``callback`` to the runs started in this block (see :func:`callbacks`)."""
    _ACTIVE.append(callback)
    try:
        yield callback
    finally:
        _ACTIVE.remove(callback)


def callbacks() -> list[Callback]:
    """The trial callback of the sweep running now, if any (none in ``ftcore run``)."""
    return list(_ACTIVE[-1:])
