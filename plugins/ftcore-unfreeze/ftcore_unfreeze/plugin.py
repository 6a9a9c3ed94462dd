"""Gradual unfreezing and discriminative learning rates, wired into ftcore's hooks.

Design (exact resume by construction): ``ftcore_group_options`` gives every layer group
(discovered by core) its learning-rate factor and ``start_step``; core puts every group in
the optimizer from the first step and its schedule multiplies a group's rate by 0 before
its ``start_step`` (then by its own optional warm-up), and the ``Freezer`` callback sets
``requires_grad=False`` on groups still frozen at the current global step (read from
core's ``pl_module.optimizer_groups``), so they get no gradient. Nothing depends on
what happened earlier in the process: a resumed run rebuilds the same optimizer, loads
its state, and freezes exactly what an uninterrupted run would have frozen.

torch and Lightning are imported inside the hooks.
"""

from __future__ import annotations

import re
from typing import Any

import ftcore
from ftcore.types import Component, GroupOptions, LayerGroup, TrainingSteps
from ftcore_unfreeze.schema import DiscriminativeLRConfig, GradualUnfreezingConfig

UNFREEZE = "gradual_unfreezing"
DISCRIMINATIVE = "discriminative_lr"
_ADAPTERS = ("lora",)  # strategies that freeze the backbone themselves


@ftcore.hookimpl
def ftcore_components() -> list[Component]:
    unfreeze = "Train the head first, unfreeze layer groups top-down (ULMFiT)"
    rates = "Per-layer-group learning rates decaying from the head down (ULMFiT)"
    return [
        Component("strategy", UNFREEZE, GradualUnfreezingConfig, unfreeze, conflicts=_ADAPTERS),
        Component("strategy", DISCRIMINATIVE, DiscriminativeLRConfig, rates),
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


# --- per-group optimiser options -----------------------------------------------------------


@ftcore.hookimpl
def ftcore_group_options(
    groups: list[LayerGroup], recipe: Any, steps: TrainingSteps
) -> dict[str, GroupOptions]:
    unfreeze, disc = _options(recipe)
    if unfreeze is None and disc is None:
        return {}
    from ftcore_unfreeze.schedule import group_options

    return group_options([g.name for g in groups], unfreeze, disc, steps_per_epoch(unfreeze, steps))


def steps_per_epoch(unfreeze: Any, steps: TrainingSteps) -> int:
    """Optimiser steps in one training epoch (what an ``epoch`` unit is worth)."""
    if unfreeze is None or str(getattr(unfreeze.unit, "value", unfreeze.unit)) != "epoch":
        return 1
    if steps.per_epoch is None:
        raise ftcore.UserError(
            f"strategies.{UNFREEZE}.unit: 'epoch' needs a training set of known length; "
            f"use unit: step"
        )
    return steps.per_epoch


# --- training ---------------------------------------------------------------------------


@ftcore.hookimpl
def ftcore_lightning_callbacks(recipe: Any, run: Any) -> list[Any]:
    unfreeze, _ = _options(recipe)
    if unfreeze is None:
        return []
    from ftcore_unfreeze.callbacks import EpochTimer, Freezer

    return [Freezer(run.run_dir), EpochTimer(run.run_dir)]
