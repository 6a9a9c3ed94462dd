"""The LoRA strategy, wired into ftcore's hooks.

- ``ftcore_transform_model`` wraps the task model with peft's LoRA, after every other
  transform (``trylast``), and only once: an already wrapped model is kept, so a resumed
  run loads its checkpoint into the same adapter;
- ``ftcore_run_start`` reports trainable vs total parameters (the console and ``lora.json``);
- ``ftcore_export_model`` saves ``adapter/`` and hands on a merged copy, so ``model/`` is a
  plain transformers model. It runs first (``tryfirst``) so that other export steps, such
  as the regression head's target un-standardisation, see the merged model.

peft, torch and transformers are imported inside the hooks.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import ftcore
from ftcore.api import Component, Run, atomic_write_json
from ftcore_lora.schema import LoraOptions

log = logging.getLogger(__name__)  # shown as "ftcore-lora: ..." (ftcore.console)

NAME = "lora"


def options(recipe: Any) -> Any:
    """The recipe's ``strategies.lora`` section, or None when LoRA is not enabled."""
    strategies = getattr(recipe, "strategies", None)
    if not strategies or NAME not in strategies:
        return None
    return strategies[NAME]


@ftcore.hookimpl
def ftcore_components() -> list[Component]:
    about = "LoRA adapters (peft) on a frozen backbone; the task head is trained and saved in full"
    # they train or pull back the frozen backbone weights that LoRA leaves alone
    conflicts = ("gradual_unfreezing", "l2_sp", "l1_sp")
    details = {"library": "peft"}
    return [Component("strategy", NAME, LoraOptions, about, details, conflicts)]


@ftcore.hookimpl
def ftcore_check_recipe(recipe: Any) -> list[str]:
    opts = options(recipe)
    if opts is None:
        return []
    checks = [
        ("r", opts.r >= 1, "must be at least 1"),
        ("alpha", opts.alpha > 0, "must be positive"),
        ("dropout", 0 <= opts.dropout < 1, "must be in [0, 1)"),
        (
            "target_regex",
            not (opts.target_regex and opts.target_modules),
            "give either target_modules or target_regex, not both",
        ),
    ]
    return [f"strategies.lora.{key}: {msg}" for key, ok, msg in checks if not ok]


@ftcore.hookimpl(trylast=True)  # wrap the finished model: other transforms see it plain
def ftcore_transform_model(model: Any, recipe: Any) -> Any:
    opts = options(recipe)
    if opts is None:
        return None
    from ftcore_lora.adapter import wrap

    return wrap(model, opts)


@ftcore.hookimpl
def ftcore_run_start(run: Any) -> None:
    if options(run.recipe) is None:
        return
    from ftcore_lora.adapter import describe, is_wrapped, report

    model = run.module.model
    if not is_wrapped(model):
        return
    facts = report(model)
    atomic_write_json(Path(run.run_dir) / "lora.json", facts)
    if run.trainer is None or run.trainer.is_global_zero:
        log.info(describe(facts))


@ftcore.hookimpl(tryfirst=True)
def ftcore_export_model(model: Any, run: Run) -> Any:
    recipe, run_dir = run.recipe, run.run_dir
    if options(recipe) is None:
        return None
    from ftcore_lora.adapter import is_wrapped, merged, save_adapter

    if not is_wrapped(model):
        return None
    save_adapter(model, Path(run_dir) / "adapter")
    return merged(model)
