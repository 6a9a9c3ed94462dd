"""Option schema of ``strategies.lr_finder`` (used by ``optim.lr: auto`` and ``ftcore lr-find``)."""

# Optional[...] on purpose: typing.get_origin() gives typing.Union for it, as in core.
# ruff: noqa: UP045

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Optional


class Method(str, Enum):
    valley = "valley"
    steepest = "steepest"
    minimum = "minimum"


class OnUnreliable(str, Enum):
    warn = "warn"
    error = "error"
    fallback = "fallback"


@dataclass
class LRFinderConfig:
    """The LR range test: train briefly while the learning rate grows exponentially.

    The sweep runs on the recipe's model, data and loss terms and the model is restored
    afterwards. It runs when ``optim.lr`` is ``auto`` and for ``ftcore lr-find``.
    """

    # Learning rate of the first sweep step.
    min_lr: float = 1.0e-7
    # Learning rate of the last sweep step.
    max_lr: float = 1.0
    # Optimiser steps in the sweep (one learning rate each).
    num_steps: int = 100
    # End the sweep once the loss exceeds this multiple of its best (null: never).
    early_stop_threshold: Optional[float] = 4.0
    # Smoothing of the loss curve, 0 (none) to below 1 (heavy); zero-lag (two-sided).
    smoothing: float = 0.8
    # The suggestion used for optim.lr: auto: valley, steepest (descent) or minimum (÷ 10).
    method: Method = Method.steepest
    # optim.lr: auto with an unreliable curve: warn (train with it), error, or fallback.
    on_unreliable: OnUnreliable = OnUnreliable.warn
    # The learning rate used with on_unreliable: fallback.
    fallback_lr: Optional[float] = None
