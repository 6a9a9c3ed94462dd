"""The LR range test, wired into ftcore's hooks.

- ``ftcore_commands``: ``ftcore lr-find RECIPE [key=value ...]``;
- ``ftcore_resolve_lr`` (core asks only for ``optim.lr: auto``): sweep on the run's own
  Trainer, model and data (Lightning restores the model afterwards) and answer the
  suggestion, which core trains with; ``lr_find.json`` and ``lr_find.png`` record both in
  the run directory, and a resumed run answers the rate it started with.

torch, Lightning and matplotlib are imported inside the hooks.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import ftcore
from ftcore.types import Command, Component
from ftcore_lr_finder.schema import LRFinderConfig

log = logging.getLogger(__name__)  # shown as "ftcore-lr-finder: ..." (ftcore.console)

NAME = "lr_finder"


@ftcore.hookimpl
def ftcore_components() -> list[Component]:
    about = "LR range test options, for optim.lr: auto and `ftcore lr-find`"
    return [Component("strategy", NAME, LRFinderConfig, about)]


@ftcore.hookimpl
def ftcore_commands() -> list[Command]:
    from ftcore_lr_finder import command

    about = "LR range test on a recipe: suggestion, reliability, plot"
    return [Command("lr-find", about, command.add_arguments, command.run)]


@ftcore.hookimpl
def ftcore_check_recipe(recipe: Any) -> list[str]:
    opts = (recipe.strategies or {}).get(NAME)
    if opts is None:
        return []
    path = f"strategies.{NAME}"
    policy = str(getattr(opts.on_unreliable, "value", opts.on_unreliable))
    checks = [
        ("min_lr", opts.min_lr > 0, "must be positive"),
        ("max_lr", opts.max_lr > opts.min_lr, "must be larger than min_lr"),
        ("num_steps", opts.num_steps >= 20, "must be at least 20"),
        ("smoothing", 0 <= opts.smoothing < 1, "must be in [0, 1)"),
        (
            "fallback_lr",
            policy != "fallback" or opts.fallback_lr,
            "on_unreliable=fallback needs it",
        ),
        ("fallback_lr", not opts.fallback_lr or opts.fallback_lr > 0, "must be positive"),
    ]
    return [f"{path}.{key}: {msg}" for key, ok, msg in checks if not ok]


@ftcore.hookimpl
def ftcore_resolve_lr(run: Any) -> float | None:
    from ftcore_lr_finder.finder import REPORT, choose, find, options, summary_lines, write

    previous = _earlier_choice(Path(run.run_dir) / REPORT, Path(run.run_dir))
    if previous is not None:  # a resumed run keeps the rate it started with
        log.info("optim.lr: auto -> %.3g (from %s)", previous, REPORT)
        return previous
    opts = options(run.recipe)
    facts = find(run, opts)
    lr, why = choose(facts, opts)
    facts.update({"lr_used": lr, "decision": why})
    write(run, facts)
    if run.trainer.is_global_zero:
        log.info("\n".join([f"optim.lr: auto -> {lr:.3g} ({why})", *summary_lines(facts)]))
    return lr


def _earlier_choice(report: Path, run_dir: Path) -> float | None:
    """The rate an interrupted run chose (its report and a checkpoint exist), else None."""
    if not report.is_file() or not any((run_dir / "checkpoints").glob("*.ckpt")):
        return None
    used = json.loads(report.read_text(encoding="utf-8")).get("lr_used")
    return float(used) if used is not None else None
