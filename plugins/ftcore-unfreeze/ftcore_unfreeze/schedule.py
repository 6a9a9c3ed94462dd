"""When each layer group trains, and at which learning rate: pure functions.

Groups are listed bottom to top (embeddings ... head); a group's *depth* counts from the
top (the head has depth 0). Everything is a function of the global optimiser step, so
the frozen state of a resumed run is exactly that of an uninterrupted one.
"""

from __future__ import annotations

from typing import Any

from ftcore.types import NEVER, GroupOptions


def depths(groups: list[str]) -> dict[str, int]:
    """Depth of each group from the top: the last group (the head) is 0."""
    return {group: len(groups) - 1 - i for i, group in enumerate(groups)}


def lr_factors(groups: list[str], decay: float) -> dict[str, float]:
    """Discriminative learning rates: 1 for the top group, divided by ``decay`` per group."""
    return {group: 1 / decay**depth for group, depth in depths(groups).items()}


def start_units(groups: list[str], schedule: Any) -> dict[str, int]:
    """The epoch or step (``schedule.unit``) at which each group starts training.

    schedule: ``mode`` every / milestones / head_first with ``every``, ``milestones``,
    ``frozen_for`` (a GradualUnfreezingConfig or anything with those attributes).
    """
    mode = _value(schedule.mode)
    milestones = list(schedule.milestones)
    starts = {}
    for group, depth in depths(groups).items():
        if depth == 0:
            starts[group] = 0
        elif mode == "every":
            starts[group] = depth * int(schedule.every)
        elif mode == "milestones":
            starts[group] = int(milestones[depth - 1]) if depth <= len(milestones) else NEVER
        else:
            starts[group] = int(schedule.frozen_for)
    return starts


def start_steps(groups: list[str], schedule: Any, steps_per_epoch: int) -> dict[str, int]:
    """``start_units`` in optimiser steps (epoch ``e`` starts at step ``e * steps_per_epoch``)."""
    per_unit = steps_per_epoch if _value(schedule.unit) == "epoch" else 1
    return {
        group: start if start == NEVER else start * per_unit
        for group, start in start_units(groups, schedule).items()
    }


def frozen_groups(step: int, starts: dict[str, int]) -> set[str]:
    """The groups still frozen at optimiser step ``step``."""
    return {group for group, start in starts.items() if step < start}


def group_options(
    groups: list[str], unfreeze: Any, discriminative: Any, steps_per_epoch: int
) -> dict[str, GroupOptions]:
    """Each group's options: its learning-rate factor (``discriminative``: the
    DiscriminativeLRConfig, or None), its start step and, for a group that starts later,
    its own warm-up (``unfreeze``: the GradualUnfreezingConfig, or None)."""
    factors = lr_factors(groups, float(discriminative.decay)) if discriminative else {}
    starts = start_steps(groups, unfreeze, steps_per_epoch) if unfreeze else {}
    warmup = int(unfreeze.warmup_steps) if unfreeze else 0
    return {
        group: GroupOptions(
            lr_factor=factors.get(group),
            start_step=starts.get(group),
            warmup_steps=warmup if starts.get(group, 0) > 0 else None,
        )
        for group in groups
    }


def _value(option: Any) -> str:
    return str(getattr(option, "value", option))
