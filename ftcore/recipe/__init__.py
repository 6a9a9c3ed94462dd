"""Recipes: YAML files composed with ``extends``, overridden from the CLI, validated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftcore.errors import RecipeError
from ftcore.recipe import loader
from ftcore.recipe.validate import validate

COMMAND_LINE = "command line"


def load_recipe(name_or_path: str, overrides: list[str], hooks: Any) -> Any:
    """Find, compose, override and validate a recipe; return the structured DictConfig.

    A problem whose dotted path is (or is under) a key given in ``overrides`` is reported
    as the command line's (``command line: optim.lrr=0.1: unknown key ...``); the others
    as the recipe file's.
    """
    path = loader.find(name_or_path, hooks.recipe_dirs())
    return validate_recipe(read_recipe(path, overrides, hooks), path, overrides, hooks)


def validate_recipe(raw: Any, path: Path, overrides: list[str], hooks: Any) -> Any:
    """Validate ``raw``, read from ``path`` with ``overrides`` (see :func:`read_recipe`),
    blaming problems of overridden keys on the command line."""
    try:
        return validate(raw, hooks, source=str(path), default_name=Path(path).stem)
    except RecipeError as exc:
        if not overrides:
            raise
        raise blame_overrides(exc, overrides, _file_keys(path, hooks)) from None


def read_recipe(path: Path, overrides: list[str], hooks: Any) -> Any:
    """The composed and overridden recipe, before validation.

    Its ``plugins:`` section is checked already (see :func:`plugin_controls`): it says which
    plugins to load, so it is read before the rest of the recipe can be validated.
    """
    raw = loader.load_raw(Path(path), hooks.recipe_dirs())
    check_remote_code(raw, overrides, str(path))
    raw = loader.apply_overrides(raw, overrides)
    try:
        plugin_controls(raw, str(path))
    except RecipeError as exc:
        if not overrides:
            raise
        raise blame_overrides(exc, overrides, _file_keys(path, hooks)) from None
    return raw


REMOTE_CODE = "model.trust_remote_code"


def check_remote_code(raw: Any, overrides: list[str], source: str) -> None:
    """Refuse a recipe file (or one it extends) that turns on ``model.trust_remote_code``
    unless the command line sets it too: running a model folder's own Python code is the
    user's decision, never a recipe's, which may come from someone else."""
    from omegaconf import OmegaConf

    if any(o.split("=", 1)[0].strip() == REMOTE_CODE for o in overrides):
        return
    try:
        wanted = OmegaConf.select(raw, REMOTE_CODE, default=None, throw_on_missing=False)
    except Exception:
        return  # an unresolvable value is validation's to report
    if wanted is None or str(wanted).strip().lower() in ("false", "0", "no", "off", ""):
        return
    raise RecipeError(
        [
            f"{REMOTE_CODE}: a recipe file cannot turn this on (it runs Python code shipped "
            f"with the model); review that code, then allow it on the command line by adding "
            f"{REMOTE_CODE}=true"
        ],
        source,
    )


def plugin_controls(raw: Any, source: str = "recipe") -> dict[str, Any]:
    """The ``plugins:`` section of an unvalidated recipe ``raw`` (a DictConfig) as plain
    values: ``{"disable": [names...], "strict": bool}`` (the defaults when it is absent).

    A malformed section (``plugins: 5``, ``plugins.disable=5``, ``plugins=[1]``, a broken
    interpolation) raises :class:`RecipeError` with the same one-line problems that
    validation reports, from ``source``.
    """
    from ftcore.recipe.schema import PluginsConfig
    from ftcore.recipe.validate import _first_line, check_section, resolve

    problems: list[str] = []
    section = None
    if hasattr(raw, "keys") and "plugins" in raw:
        try:
            section = raw["plugins"]
        except Exception as exc:
            problems.append(f"plugins: cannot resolve interpolation: {_first_line(exc)}")
    data = resolve(section, "plugins", problems)
    node = check_section(PluginsConfig, data, "plugins", problems)
    if problems:
        raise RecipeError(problems, source)
    return {"disable": [str(n) for n in node.disable], "strict": bool(node.strict)}


def _file_keys(path: Path, hooks: Any) -> Any:
    """A test whether the recipe file (with what it extends) sets a dotted path."""
    from omegaconf import OmegaConf

    try:
        raw = loader.load_raw(Path(path), hooks.recipe_dirs())
    except Exception:
        return lambda dotted: True

    def sets(dotted: str) -> bool:
        try:
            return OmegaConf.select(raw, dotted, default=None, throw_on_missing=False) is not None
        except Exception:
            return True

    return sets


def _problem_path(problem: str) -> str | None:
    head = problem.split(": ", 1)[0]
    return head if head and " " not in head and head != problem else None


def _shown(override: str, limit: int = 80) -> str:
    text = override.strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _under(path: str, key: str) -> bool:
    return path == key or path.startswith((f"{key}.", f"{key}["))


def blame_overrides(exc: RecipeError, overrides: list[str], in_file: Any = None) -> RecipeError:
    """``exc`` with each problem about an overridden key attributed to the command line.

    A problem at dotted path P belongs to the override ``K=V`` when P is K or under K, or
    when K is under P and the recipe file does not set P (the override created it). It is
    then shown as ``K=V: <what>`` (``K=V: P: <what>`` when P is not K), with the override
    as typed; the last matching override wins, as it does when they are merged.
    """
    keys = [(o.split("=", 1)[0].strip(), o) for o in overrides if "=" in o]
    sources: list[str | None] = []
    problems: list[str] = []
    for where, problem in exc.located():
        path = _problem_path(problem) if where == exc.source else None
        match = None
        for key, override in keys:
            if path and (
                _under(path, key)
                or (_under(key, path) and in_file is not None and not in_file(path))
            ):
                match = (key, override)
        if match is None:
            sources.append(where)
            problems.append(problem)
            continue
        key, override = match
        what = problem.split(": ", 1)[1]
        shown = _shown(override)
        problems.append(f"{shown}: {what}" if path == key else f"{shown}: {path}: {what}")
        sources.append(COMMAND_LINE)
    return RecipeError(problems, exc.source, sources)


__all__ = [
    "blame_overrides",
    "check_remote_code",
    "load_recipe",
    "plugin_controls",
    "read_recipe",
    "validate_recipe",
]
