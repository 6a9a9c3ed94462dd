"""Option schemas of ``strategies.gradual_unfreezing`` and ``strategies.discriminative_lr``.

Plain dataclasses used as omegaconf structured configs; the comment above each field is
its documentation.
"""

# Optional[...] on purpose: typing.get_origin() gives typing.Union for it, as in core.
# ruff: noqa: UP045

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Optional


class Mode(str, Enum):
    every = "every"
    milestones = "milestones"
    head_first = "head_first"


class Unit(str, Enum):
    epoch = "epoch"
    step = "step"


@dataclass
class GradualUnfreezingConfig:
    """Train the head first, then unfreeze the layer groups below it from the top down.

    Every parameter group is in the optimizer from the first step; a frozen group has
    ``requires_grad=False`` (no gradient is computed for it) and a learning rate of 0
    until the step it unfreezes, so the frozen state is a function of the global step
    and a resumed run is exact.
    """

    # every: one more group every `every` units; milestones: the i-th milestone unfreezes
    # the i-th group below the head; head_first: all groups after `frozen_for` units.
    mode: Mode = Mode.every
    # What `every`, `milestones` and `frozen_for` count: epochs or optimiser steps.
    unit: Unit = Unit.epoch
    # mode=every: unfreeze one more group (top-down) every this many units.
    every: int = 1
    # mode=milestones: the units at which the next group down unfreezes (non-decreasing);
    # groups below the last one stay frozen for the whole run.
    milestones: list[int] = field(default_factory=list)
    # mode=head_first: train only the head for this many units, then everything.
    frozen_for: int = 1
    # A newly unfrozen group ramps its learning rate linearly over this many steps.
    warmup_steps: int = 0
    # Layer groups from bottom to top, name -> regular expression on parameter names; a
    # parameter joins the first group whose pattern matches. null: discovered from the
    # model (embeddings, each block, head).
    groups: Optional[dict[str, str]] = None


@dataclass
class DiscriminativeLRConfig:
    """Give each layer group its own learning rate, lower for groups nearer the input.

    The top group (the head) trains at ``optim.lr``; each group below gets the rate of
    the group above divided by ``decay``.
    """

    # Divide the learning rate by this factor per group from the top (ULMFiT: 2.6).
    decay: float = 2.6
    # Layer groups from bottom to top, name -> regular expression (as in
    # gradual_unfreezing.groups); null: discovered from the model.
    groups: Optional[dict[str, str]] = None
