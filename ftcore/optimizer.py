"""Core owns the optimiser: layer groups, strategies' per-group options, parameter groups.

When the optimiser is built (``configure_optimizers``), core discovers the model's layer
groups once (:mod:`ftcore.layers`), asks every plugin for typed per-group options
(``ftcore_group_options``), merges them (:func:`merge_options`) and plans the parameter
groups (:func:`plan`); the schedule (:mod:`ftcore.schedules`) and strategies' callbacks
read the plan, never dict keys of the optimiser's groups. Nothing here imports torch.
"""

from __future__ import annotations

import math
from dataclasses import fields, replace
from typing import Any

from ftcore.errors import UserError
from ftcore.layers import discover
from ftcore.types import GroupOptions, LayerGroup, OptimizerGroup, TrainingSteps

NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")
"""Parameter-name endings that get no weight decay (biases and norms)."""

OPTION_FIELDS = tuple(f.name for f in fields(GroupOptions))


def training_steps(trainer: Any) -> TrainingSteps:
    """The run's length in optimiser steps, from the Trainer (it sets up the train loader)."""
    total = int(trainer.estimated_stepping_batches)
    batches = getattr(trainer, "num_training_batches", None)  # known once the loader is set up
    if batches is None or not math.isfinite(batches):
        return TrainingSteps(total=total)
    per_epoch = max(1, math.ceil(batches / trainer.accumulate_grad_batches))
    return TrainingSteps(total=total, per_epoch=per_epoch)


def group_patterns(recipe: Any) -> tuple[str | None, dict[str, str] | None]:
    """Where the recipe names its layer groups, and the patterns (None: discovered).

    A strategy whose options have a ``groups`` field (name -> regular expression, bottom
    to top) names the layer groups for every strategy; the first section that sets it
    wins (strategies check that theirs agree). The path is that section, else the first
    strategy section with a ``groups`` field (it needs the groups), else None.
    """
    where, patterns = None, None
    for name, section in (recipe.strategies or {}).items():
        if section is None or not hasattr(section, "keys") or "groups" not in section:
            continue
        if section.groups and patterns is None:
            where, patterns = f"strategies.{name}", dict(section.groups)
        elif where is None:
            where = f"strategies.{name}"
    return where, patterns


def layer_groups(model: Any, recipe: Any) -> list[LayerGroup]:
    """The model's layer groups (:func:`ftcore.layers.discover`) with the recipe's patterns.

    A discovery that fails is an error naming the recipe's ``groups``, if a strategy
    with such a field is enabled; otherwise there are no layer groups (``[]``).
    """
    where, patterns = group_patterns(recipe)
    try:
        return discover(model, patterns)
    except ValueError as exc:
        if where is None:
            return []
        raise UserError(f"{where}.groups: {exc}") from None


def optimizer_plan(
    model: Any, recipe: Any, hooks: Any, steps: TrainingSteps
) -> tuple[list[LayerGroup], list[OptimizerGroup]]:
    """The model's layer groups and the optimiser's groups: discover the layer groups once,
    merge every plugin's ``ftcore_group_options`` for them, plan the parameter groups."""
    groups = layer_groups(model, recipe)
    options = hooks.group_options(groups=groups, recipe=recipe, steps=steps)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    optim = recipe.optim
    return groups, plan(trainable, groups, options, learning_rate(optim), optim.weight_decay)


def merge_options(
    found: list[tuple[str, dict[str, GroupOptions]]], groups: list[LayerGroup]
) -> dict[str, GroupOptions]:
    """Merge every plugin's ``(plugin name, options)``: one value per field and group.

    Raises UserError for a group that is not one of ``groups``, an answer that is not a
    GroupOptions, and a field of a group set by two plugins (naming both).
    """
    known = [g.name for g in groups]
    merged: dict[str, GroupOptions] = {}
    setters: dict[tuple[str, str], str] = {}
    for plugin, options in found:
        for group, opts in options.items():
            _check_answer(plugin, group, opts, known)
            for name in OPTION_FIELDS:
                if getattr(opts, name) is None:
                    continue
                if (group, name) in setters:
                    raise UserError(
                        f"layer group '{group}': {name} is set by plugin "
                        f"'{setters[group, name]}' and by plugin '{plugin}' "
                        f"(ftcore_group_options); enable only one of the strategies setting it"
                    )
                setters[group, name] = plugin
            merged[group] = _overlay(merged.get(group, GroupOptions()), opts)
    return merged


def _check_answer(plugin: str, group: str, opts: Any, known: list[str]) -> None:
    if not isinstance(opts, GroupOptions):
        raise UserError(
            f"plugin '{plugin}': ftcore_group_options must map group names to GroupOptions, "
            f"got {type(opts).__name__} for '{group}'"
        )
    if group not in known:
        raise UserError(
            f"plugin '{plugin}': ftcore_group_options sets options for layer group "
            f"'{group}', which the model does not have; its groups are: "
            f"{', '.join(known) or 'none found'}"
        )


def _overlay(base: GroupOptions, extra: GroupOptions) -> GroupOptions:
    return replace(
        base, **{n: getattr(extra, n) for n in OPTION_FIELDS if getattr(extra, n) is not None}
    )


def plan(
    names: list[str],
    groups: list[LayerGroup],
    options: dict[str, GroupOptions],
    lr: float,
    weight_decay: float,
) -> list[OptimizerGroup]:
    """The optimiser's parameter groups, in order; no weight decay on biases and norms.

    names: the model's trainable parameter names (model order). With no ``options``, two
    groups at ``lr``: ``decay`` and ``no_decay``. Otherwise two per layer group (bottom to
    top), ``<group>`` and ``<group>.no_decay``, each with its options filled in (groups no
    plugin set options for train at ``lr`` from the first step). Empty groups are left out.
    """
    if not options:
        return _split("decay", "no_decay", tuple(names), lr, weight_decay, GroupOptions())
    out = []
    for group in groups:
        opts = options.get(group.name, GroupOptions())
        rate = lr if opts.lr_factor is None else lr * opts.lr_factor
        decay = weight_decay if opts.weight_decay is None else opts.weight_decay
        out += _split(group.name, f"{group.name}.no_decay", group.params, rate, decay, opts, True)
    return out


def _split(
    name: str,
    no_decay_name: str,
    params: tuple[str, ...],
    lr: float,
    weight_decay: float,
    opts: GroupOptions,
    layered: bool = False,
) -> list[OptimizerGroup]:
    """A decaying and a non-decaying group of ``params`` (biases and norms), if not empty."""
    start, warmup = opts.start_step or 0, opts.warmup_steps or 0
    layer = name if layered else None
    split = (
        (name, tuple(p for p in params if not p.endswith(NO_DECAY)), weight_decay),
        (no_decay_name, tuple(p for p in params if p.endswith(NO_DECAY)), 0.0),
    )
    return [
        OptimizerGroup(group, members, lr, decay, layer, start, warmup)
        for group, members, decay in split
        if members
    ]


def torch_groups(model: Any, planned: list[OptimizerGroup]) -> list[dict]:
    """The planned groups as torch's parameter-group dicts (the optimiser's input).

    Layer groups also carry ``layer_group``, ``start_step`` and ``warmup_steps``, for the
    logs and for inspecting checkpoints; core and strategies read ``optimizer_groups``.
    """
    params = dict(model.named_parameters())
    out = []
    for group in planned:
        entry = {
            "params": [params[n] for n in group.params],
            "lr": group.lr,
            "weight_decay": group.weight_decay,
            "name": group.name,
        }
        if group.layer_group is not None:
            entry.update(
                layer_group=group.layer_group,
                start_step=group.start_step,
                warmup_steps=group.warmup_steps,
            )
        out.append(entry)
    return out


NO_LR_FINDER = (
    "optim.lr: 'auto' needs an LR-finder plugin to pick the rate "
    "(docs/reference/plugins.md lists the plugins), or set a number"
)


def learning_rate(optim: Any) -> float:
    """``optim.lr`` as a number; ``auto`` must have been resolved (``ftcore_resolve_lr``)."""
    if isinstance(optim.lr, str):
        raise UserError(NO_LR_FINDER)
    return float(optim.lr)
