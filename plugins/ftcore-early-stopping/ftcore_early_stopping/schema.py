"""Option schema of ``strategies.early_stopping``."""

# Optional[...] on purpose: typing.get_origin() gives typing.Union for it, as in core.
# ruff: noqa: UP045

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass
class EarlyStoppingConfig:
    """Stop training when a validation metric stops improving (Lightning's EarlyStopping).

    Testing and the exported model use the best checkpoint (core's ModelCheckpoint), not
    the weights of the last epoch.
    """

    # A logged validation metric (val/loss, val/f1...); null: the checkpoint's monitor.
    monitor: Optional[str] = None
    # "min" or "max"; null: the checkpoint's mode (needed when monitor is another metric).
    mode: Optional[str] = None
    # Validation checks without improvement before stopping.
    patience: int = 3
    # The smallest change that counts as an improvement.
    min_delta: float = 0.0
    # Stop at once when the metric reaches this value (null: off).
    stopping_threshold: Optional[float] = None
    # Stop at once when the metric gets worse than this value (null: off).
    divergence_threshold: Optional[float] = None
    # Stop when the metric becomes NaN or infinite.
    check_finite: bool = True
