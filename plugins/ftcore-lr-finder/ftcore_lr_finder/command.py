"""``ftcore lr-find RECIPE [key=value ...] [--out DIR]``: the range test on a recipe."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="a recipe name (see `ftcore recipes`) or a YAML path")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. data.batch_size=16")
    parser.add_argument(
        "--out",
        help="folder for lr_find.json and lr_find.png (default runs/<recipe>/lr-find-<time>)",
    )


def out_dir(recipe: Any, out: str | None) -> Path:
    if out:
        return Path(out).expanduser().resolve()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(recipe.output.root).expanduser().resolve() / recipe.name / f"lr-find-{stamp}"


def find_for_recipe(recipe: Any, hooks: Any, out: str | None) -> dict[str, Any]:
    """Set the recipe's run up as ``ftcore run`` does (without training) and sweep."""
    from ftcore.api import setup_run
    from ftcore_lr_finder.finder import find, options

    where = out_dir(recipe, out)
    run = setup_run(recipe, hooks=hooks, run_dir=where, trainer=True, save_recipe=True)
    return find(run, options(recipe))


def run(args: argparse.Namespace) -> int:
    from ftcore.api import load_recipe  # with the plugins it asks for, as `run` does
    from ftcore_lr_finder.finder import summary_lines

    recipe, hooks = load_recipe(args.recipe, args.overrides)
    facts = find_for_recipe(recipe, hooks, args.out)
    print(f"\nftcore lr-find: {recipe.name} ({facts['steps']} steps, {facts['seconds']:.0f} s)")
    for line in summary_lines(facts):
        print(line)
    return 0
