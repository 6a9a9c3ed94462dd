"""Recipes: YAML files composed with ``extends``, overridden from the CLI, validated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftcore.recipe import loader
from ftcore.recipe.validate import validate


def load_recipe(name_or_path: str, overrides: list[str], hooks: Any) -> Any:
    """Find, compose, override and validate a recipe; return the structured DictConfig."""
    path = loader.find(name_or_path, hooks.recipe_dirs())
    raw = read_recipe(path, overrides, hooks)
    return validate(raw, hooks, source=str(path), default_name=Path(path).stem)


def read_recipe(path: Path, overrides: list[str], hooks: Any) -> Any:
    """The composed and overridden recipe, before validation."""
    raw = loader.load_raw(Path(path), hooks.recipe_dirs())
    return loader.apply_overrides(raw, overrides)


__all__ = ["load_recipe", "read_recipe"]
