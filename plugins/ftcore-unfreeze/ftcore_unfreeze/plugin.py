"""Gradual unfreezing and discriminative learning rates, wired into ftcore's hooks.

Design (exact resume by construction): ``ftcore_param_groups`` puts every layer group in
the optimizer from the first step, each with its own learning rate and ``start_step``.
Core's LambdaLR multiplies a group's rate by 0 before its ``start_step`` (then by its own
optional warm-up), and the ``Freezer`` callback sets ``requires_grad=False`` on groups
still frozen at the current global step, so they get no gradient. Nothing depends on
what happened earlier in the process: a resumed run rebuilds the same optimizer, loads
its state, and freezes exactly what an uninterrupted run would have frozen.

torch and Lightning are imported inside the hooks.
"""

from __future__ import annotations

import math
import re
from typing import Any

import ftcore
from ftcore.types import Component
from ftcore_unfreeze.schema import DiscriminativeLRConfig, GradualUnfreezingConfig

UNFREEZE = "gradual_unfreezing"
DISCRIMINATIVE = "discriminative_lr"
_ADAPTERS = ("lora",)  # strategies that freeze the backbone themselves


@ftcore.hookimpl
def ftcore_components() -> list[Component]:
    return [
        Component(
            kind="strategy",
            name=UNFREEZE,
            schema=GradualUnfreezingConfig,
            description="Train the head first, unfreeze layer groups top-down (ULMFiT)",
            conflicts=_ADAPTERS,
        ),
        Component(
            kind="strategy",
            name=DISCRIMINATIVE,
            schema=DiscriminativeLRConfig,
            description="Per-layer-group learning rates decaying from the head down (ULMFiT)",
        ),
    ]


def _options(recipe: Any) -> tuple[Any, Any]:
    strategies = recipe.strategies or {}
    return strategies.get(UNFREEZE), strategies.get(DISCRIMINATIVE)


# --- recipe checks --------------------------------------------------------------------


@ftcore.hookimpl
def ftcore_check_recipe(recipe: Any) -> list[str]:
    unfreeze, disc = _options(recipe)
    problems: list[str] = []
    if unfreeze is not None:
        problems += _check_unfreeze(unfreeze, recipe)
    if disc is not None and not disc.decay > 0:
        problems.append(f"strategies.{DISCRIMINATIVE}.decay: must be positive (ULMFiT: 2.6)")
    for name, options in ((UNFREEZE, unfreeze), (DISCRIMINATIVE, disc)):
        for group, pattern in ((options or {}).get("groups") or {}).items():
            try:
                re.compile(pattern)
            except re.error as exc:
                problems.append(f"strategies.{name}.groups.{group}: invalid regex: {exc}")
    if unfreeze and disc and unfreeze.groups and disc.groups and unfreeze.groups != disc.groups:
        problems.append(
            f"strategies.{DISCRIMINATIVE}.groups: differs from strategies.{UNFREEZE}.groups; "
            f"give the groups once (in either section)"
        )
    return problems


def _check_unfreeze(options: Any, recipe: Any) -> list[str]:
    path, mode = f"strategies.{UNFREEZE}", str(getattr(options.mode, "value", options.mode))
    milestones = list(options.milestones)
    checks = [
        ("every", options.every >= 1, "must be at least 1"),
        ("frozen_for", options.frozen_for >= 0, "must be 0 or more"),
        ("warmup_steps", options.warmup_steps >= 0, "must be 0 or more"),
        ("milestones", mode != "milestones" or milestones, "mode=milestones needs milestones"),
        ("milestones", milestones == sorted(milestones), "must be non-decreasing"),
        ("milestones", all(m >= 0 for m in milestones), "must be 0 or more"),
    ]
    problems = [f"{path}.{key}: {msg}" for key, ok, msg in checks if not ok]
    schedule = str(getattr(recipe.optim.schedule, "value", recipe.optim.schedule))
    if options.warmup_steps and schedule == "one_cycle":
        problems.append(
            f"{path}.warmup_steps: not applied under optim.schedule=one_cycle (OneCycleLR "
            f"sets every group's rate); set it to 0 or use a linear/cosine/constant schedule"
        )
    strategy = str(recipe.trainer.strategy)
    if strategy.startswith("ddp") and "find_unused_parameters_true" not in strategy:
        problems.append(
            f"trainer.strategy: '{strategy}' fails on parameters frozen by {UNFREEZE}; use "
            f"ddp_find_unused_parameters_true"
        )
    elif strategy.startswith(("fsdp", "deepspeed")):
        problems.append(f"trainer.strategy: {UNFREEZE} does not support '{strategy}'; use ddp")
    return problems


# --- optimizer parameter groups ----------------------------------------------------------


@ftcore.hookimpl
def ftcore_param_groups(module: Any, recipe: Any) -> list[dict] | None:
    unfreeze, disc = _options(recipe)
    if unfreeze is None and disc is None:
        return None
    steps = steps_per_epoch(module.trainer) if unfreeze is not None else 1
    return param_groups(module.model, recipe, steps)


def steps_per_epoch(trainer: Any) -> int:
    """Optimiser steps in one training epoch (what an ``epoch`` unit is worth)."""
    trainer.estimated_stepping_batches  # noqa: B018 - sets up the train loader and its length
    batches = trainer.num_training_batches
    if not math.isfinite(batches):
        raise ftcore.UserError(
            f"strategies.{UNFREEZE}.unit: 'epoch' needs a training set of known length; "
            f"use unit: step"
        )
    return max(1, math.ceil(batches / trainer.accumulate_grad_batches))


def param_groups(model: Any, recipe: Any, steps_per_epoch: int) -> list[dict]:
    """One optimizer group per layer group (two: with and without weight decay), each with
    its own ``lr``, ``start_step`` and ``warmup_steps``, bottom to top."""
    from ftcore.api import NO_DECAY as _NO_DECAY
    from ftcore.api import learning_rate
    from ftcore_unfreeze.groups import layer_groups
    from ftcore_unfreeze.schedule import group_lrs, start_steps

    unfreeze, disc = _options(recipe)
    patterns = (unfreeze and unfreeze.groups) or (disc and disc.groups) or None
    try:
        groups = layer_groups(model, patterns)
    except ValueError as exc:
        section = UNFREEZE if unfreeze is not None else DISCRIMINATIVE
        raise ftcore.UserError(f"strategies.{section}.groups: {exc}") from None
    names = list(groups)
    lrs = group_lrs(names, learning_rate(recipe.optim), disc.decay if disc else 1.0)
    starts = start_steps(names, unfreeze, steps_per_epoch) if unfreeze else dict.fromkeys(names, 0)
    warmup = int(unfreeze.warmup_steps) if unfreeze else 0
    out = []
    for group in names:
        members = groups[group]
        split = (
            ("", [p for n, p in members if not n.endswith(_NO_DECAY)], recipe.optim.weight_decay),
            (".no_decay", [p for n, p in members if n.endswith(_NO_DECAY)], 0.0),
        )
        for suffix, params, weight_decay in split:
            if params:
                out.append(
                    {
                        "params": params,
                        "lr": lrs[group],
                        "weight_decay": weight_decay,
                        "name": f"{group}{suffix}",
                        "layer_group": group,
                        "start_step": starts[group],
                        "warmup_steps": warmup if starts[group] > 0 else 0,
                    }
                )
    return out


# --- training ---------------------------------------------------------------------------


@ftcore.hookimpl
def ftcore_lightning_callbacks(recipe: Any, run: Any) -> list[Any]:
    unfreeze, _ = _options(recipe)
    if unfreeze is None:
        return []
    from ftcore_unfreeze.callbacks import EpochTimer, Freezer

    return [Freezer(run.run_dir), EpochTimer(run.run_dir)]
