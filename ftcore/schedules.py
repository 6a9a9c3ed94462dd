"""Learning-rate schedules as pure functions of the optimiser step.

Every parameter group gets ``base(step) * group_warmup(step)``: the recipe's schedule
times an optional warm-up of its own for groups that start training later (gradual
unfreezing). Being a pure function of the step, the schedule resumes exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ftcore.types import OptimizerGroup


def base_factor(step: int, total: int, warmup: int, kind: str) -> float:
    """The schedule's multiplier of the peak learning rate at ``step`` (0-based)."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    if kind == "constant":
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    if kind == "linear":
        return max(0.0, 1.0 - progress)
    if kind == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"unknown schedule {kind!r}")


def group_factor(step: int, start_step: int, warmup: int) -> float:
    """A late-starting group's own warm-up: 0 before ``start_step``, then a linear ramp."""
    if step < start_step:
        return 0.0
    if warmup <= 0:
        return 1.0
    return min(1.0, (step - start_step + 1) / warmup)


def lambdas(groups: list[OptimizerGroup], total: int, warmup: int, kind: str) -> list[Callable]:
    """One LambdaLR function per optimiser group, from its ``start_step`` and ``warmup_steps``."""

    def make(start: int, own_warmup: int) -> Callable[[int], float]:
        return lambda step: (
            base_factor(step, total, warmup, kind) * group_factor(step, start, own_warmup)
        )

    return [make(g.start_step, g.warmup_steps) for g in groups]
