"""Finding recipes by name, reading YAML, ``extends`` composition and CLI overrides."""

from __future__ import annotations

import os
from pathlib import Path

from ftcore.errors import RecipeError, UserError, did_you_mean

_PACKAGE = Path(__file__).resolve().parent.parent


def core_recipes() -> Path:
    """The shipped recipes: ``ftcore/_recipes/`` in an installed wheel (package data built
    from the project's ``recipes/``), or ``recipes/`` itself in a checkout."""
    installed = _PACKAGE / "_recipes"
    return installed if installed.is_dir() else _PACKAGE.parent / "recipes"


def recipe_dirs(plugin_dirs: list[str]) -> list[Path]:
    """Folders searched for recipes: $FTCORE_RECIPES_PATH, the shipped recipes, plugins'."""
    env = [Path(p) for p in os.environ.get("FTCORE_RECIPES_PATH", "").split(os.pathsep) if p]
    dirs = [*env, core_recipes(), *(Path(d) for d in plugin_dirs)]
    return [d for d in dirs if d.is_dir()]


def available(plugin_dirs: list[str], bases: bool = False) -> dict[str, Path]:
    """Recipe name -> file, first folder wins. Files starting with '_' are bases: listed
    only with ``bases=True`` (``extends`` may name them from anywhere)."""
    found: dict[str, Path] = {}
    for folder in recipe_dirs(plugin_dirs):
        for path in sorted(folder.rglob("*.yaml")):
            if bases or not path.name.startswith("_"):
                found.setdefault(path.stem, path)
    return found


def find(name_or_path: str, plugin_dirs: list[str], bases: bool = False) -> Path:
    """Resolve a recipe name from `ftcore recipes` (or a base's name, with ``bases=True``),
    or a path to a YAML file."""
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"} or os.sep in name_or_path:
        if not path.is_file():
            raise UserError(f"recipe file {path} does not exist; check the path")
        return path
    recipes = available(plugin_dirs, bases)
    if name_or_path not in recipes:
        hint = did_you_mean(name_or_path, list(recipes))
        raise UserError(
            f"no recipe named '{name_or_path}'{hint}; run `ftcore recipes` to list them, "
            f"or give a path to a YAML file"
        )
    return recipes[name_or_path]


def describe(path: Path) -> str:
    """The recipe's one-line description (its ``description:`` key), without omegaconf."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, ValueError, yaml.YAMLError):  # ValueError: not UTF-8
        return "(unreadable YAML)"
    return str(data.get("description", "")) if isinstance(data, dict) else ""


def _read_yaml(path: Path):
    import yaml
    from omegaconf import OmegaConf

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError([f"cannot read the file: {exc}"], str(path)) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RecipeError([f"invalid YAML{where}: {problem}"], str(path)) from None
    if data is None:
        data = {}
    problem = _expansion_problem(data)
    if problem:
        raise RecipeError([problem], str(path))
    if not isinstance(data, dict):
        raise RecipeError([f"expected a mapping of sections, got {type(data).__name__}"], str(path))
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise RecipeError([f"keys must be strings, got {bad[0]!r}"], str(path))
    try:
        return OmegaConf.create(data)
    except Exception as exc:  # omegaconf rejects some YAML values (e.g. non-string keys deep)
        raise RecipeError([f"unsupported value: {exc}".splitlines()[0]], str(path)) from None


MAX_VALUES = 100_000  # values in a recipe once YAML aliases are expanded


def _expansion_problem(data: object) -> str | None:
    """Why ``data`` is too big once its YAML aliases are expanded (an "alias bomb": a few
    hundred bytes of nested anchors that expand to billions of values), or None.

    Counts each shared node once per reference without expanding it: linear in the file.
    """
    sizes: dict[int, int] = {}
    visiting: set[int] = set()

    def size(node: object) -> int:
        if not isinstance(node, (dict, list)):
            return 1
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in visiting:
            raise RecursionError
        visiting.add(key)
        children = node.values() if isinstance(node, dict) else node
        total = 1
        for child in children:
            total += size(child)
            if total > MAX_VALUES:
                break
        visiting.discard(key)
        sizes[key] = total
        return total

    try:
        total = size(data)
    except RecursionError:
        return "a YAML alias refers to itself (or nesting is too deep); write the values out"
    if total > MAX_VALUES:
        return (
            f"expands to more than {MAX_VALUES:,} values through YAML anchors and aliases; "
            f"write the values out instead of nesting aliases"
        )
    return None


def load_raw(
    path: Path,
    plugin_dirs: list[str],
    _seen: tuple[Path, ...] = (),
    _loaded: dict[Path, object] | None = None,
):
    """Read ``path`` and everything it ``extends`` (merged base first), unvalidated.

    Each file is read once, however often the ``extends`` graph reaches it.
    """
    from omegaconf import DictConfig, ListConfig, OmegaConf

    path = path.resolve()
    if path in _seen:
        chain = " -> ".join(p.name for p in (*_seen, path))
        raise RecipeError([f"extends: circular chain {chain}"], str(path))
    loaded = {} if _loaded is None else _loaded
    if path in loaded:
        return loaded[path]
    cfg = _read_yaml(path)
    parents = cfg.pop("extends", None)
    if parents is None:
        loaded[path] = cfg
        return cfg
    if isinstance(parents, str):
        parents = [parents]
    if not isinstance(parents, (list, ListConfig)) or isinstance(parents, DictConfig):
        raise RecipeError(["extends: expected a recipe name, a path, or a list of them"], str(path))
    merged = OmegaConf.create({})
    for parent in dict.fromkeys(str(p) for p in parents):  # a name listed twice counts once
        parent_path = _parent_path(parent, path, plugin_dirs)
        base = load_raw(parent_path, plugin_dirs, (*_seen, path), loaded)
        merged = OmegaConf.merge(_replaceable(merged, base), base)
    loaded[path] = OmegaConf.merge(_replaceable(merged, cfg), cfg)
    return loaded[path]


def _replaceable(base, child):
    """``base`` without the keys where ``child`` holds the other kind of container (a list
    where ``base`` has a mapping, or the reverse): there the child's value replaces the
    base's, as a scalar does, instead of failing to merge."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if not isinstance(base, DictConfig) or not isinstance(child, DictConfig):
        return base
    base = OmegaConf.create(OmegaConf.to_container(base, resolve=False))
    for key in child.keys():
        if key not in base:
            continue
        mine, theirs = base._get_node(key), child._get_node(key)
        if isinstance(mine, DictConfig) and isinstance(theirs, DictConfig):
            base[key] = _replaceable(mine, theirs)
        elif (
            isinstance(mine, (DictConfig, ListConfig))
            and isinstance(theirs, (DictConfig, ListConfig))
            and type(mine) is not type(theirs)
        ):
            del base[key]
    return base


def _parent_path(ref: str, child: Path, plugin_dirs: list[str]) -> Path:
    local = child.parent / ref
    if local.suffix in {".yaml", ".yml"} and local.is_file():
        return local
    if (child.parent / f"{ref}.yaml").is_file():
        return child.parent / f"{ref}.yaml"
    try:
        return find(ref, plugin_dirs, bases=True)
    except UserError as exc:
        raise RecipeError([f"extends: {exc}"], str(child)) from None


def apply_overrides(cfg, overrides: list[str]):
    """Merge ``key=value`` overrides (values parsed as YAML) into ``cfg``."""
    from omegaconf import OmegaConf

    problems = [f"override '{o}': expected key=value" for o in overrides if "=" not in o]
    if problems:
        raise RecipeError(problems, "command line")
    try:
        return OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))
    except Exception as exc:
        first = str(exc).splitlines()[0]
        raise RecipeError([f"cannot apply overrides: {first}"], "command line") from None
