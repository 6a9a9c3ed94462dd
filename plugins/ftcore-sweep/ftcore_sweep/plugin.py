"""The sweep plugin, wired into ftcore's hooks.

- ``ftcore_commands``: ``ftcore sweep RECIPE [KEY=VALUE ...] [--trials N] [--out DIR]
  [--resume] [--timeout S] [--no-prune]`` (see :mod:`ftcore_sweep.command`).
- ``ftcore_recipe_dirs``: ``sweep-smoke``, the smoke recipe with a search space.
- ``ftcore_check_recipe``: the recipe's ``sweep:`` section (``sweep.<key>: problem``), in
  ``ftcore validate``, ``ftcore run`` (which otherwise ignores the section) and the sweep.
- ``ftcore_lightning_callbacks``: the trial's reporting and pruning callback, only while
  a sweep runs a trial.

Optuna and Lightning are imported only when a sweep runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ftcore
from ftcore.types import Command


@ftcore.hookimpl
def ftcore_commands() -> list[Command]:
    from ftcore_sweep import command

    about = "hyperparameter search over the recipe's sweep: section (Optuna), vs its defaults"
    return [Command("sweep", about, command.add_arguments, command.run)]


@ftcore.hookimpl
def ftcore_recipe_dirs() -> list[str]:
    return [str(Path(__file__).parent / "recipes")]


@ftcore.hookimpl
def ftcore_check_recipe(recipe: Any) -> list[str]:
    from ftcore_sweep import space

    return space.problems(recipe)


@ftcore.hookimpl
def ftcore_lightning_callbacks(recipe: Any, run: Any) -> list[Any]:
    import sys

    if "ftcore_sweep.pruning" not in sys.modules:  # no sweep in this process
        return []
    from ftcore_sweep import pruning

    return pruning.callbacks()
