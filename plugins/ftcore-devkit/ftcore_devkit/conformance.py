"""The conformance checks every ftcore plugin must pass, for ftcore's tests and yours.

``tests/test_conformance.py`` runs them on every discovered plugin. A plugin author calls
the same checks in one line (also reachable as ``ftcore_devkit.testing.conformance``)::

    from ftcore_devkit.testing import conformance
    import my_plugin.plugin as plugin

    def test_my_plugin_conforms():
        conformance.assert_conforms(plugin)

Each check returns a list of problems (empty when the plugin conforms), one line each:

- :func:`hookimpl_problems`: every hook implementation matches a hook specification
  (pluggy validates names and arguments); a function named ``ftcore_*`` without
  ``@ftcore.hookimpl`` is an error, not a silent no-op.
- :func:`component_problems`: components are well formed; every schema is a dataclass that
  omegaconf accepts and every option has a comment (the reference documents it).
- :func:`section_problems`: every recipe section the plugin's code reads
  (``strategies.<name>``, ``callbacks.<name>``, ``head``, ``data.options``) belongs to a
  component the plugin declares, with a schema where it reads options.
- :func:`recipe_problems`: every recipe the plugin ships (``ftcore_recipe_dirs``) opens
  with a comment header and validates.
- :func:`callback_problems`: the plugin contributes no Lightning callback unless the recipe
  enables it, and every stateful callback it contributes round-trips its state through
  ``state_dict`` / ``torch.save`` / ``torch.load(weights_only=True)`` / ``load_state_dict``
  (what a checkpoint and ``ftcore run --resume`` do), with a unique ``state_key``.
- :func:`result_problems`: every hook the plugin implements, called once on a tiny set-up
  run (with each of its strategies and callbacks enabled in turn), returns what the hook
  declares (``ftcore_loss_terms`` needs a training step: ftcore checks it in every run).
- :func:`private_import_problems`: the plugin imports only ftcore's public modules.
- :func:`import_problems`: importing the plugin module imports neither torch nor
  transformers nor lightning (``ftcore plugins`` and ``ftcore validate`` stay fast).

Every problem names where it is: ``<plugin module>.<hook>: ...`` for what a hook does or
returns, ``<module> line N: ...`` for an import.

Nothing here imports torch at import time.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import subprocess
import sys
import tempfile
import textwrap
import types
import typing
from pathlib import Path
from typing import Any

from ftcore.heads import head_problems
from ftcore.types import Component, ComponentKind

KINDS = set(typing.get_args(ComponentKind))
HEAVY = ("torch", "transformers", "lightning")
_DICT_METHODS = {"get", "keys", "items", "values", "pop", "setdefault", "copy", "update"}
_MISSING_PLUGIN = "no installed plugin provides"


# --- helpers ------------------------------------------------------------------------


def plugin_label(plugin: Any) -> str:
    return getattr(plugin, "__name__", None) or type(plugin).__name__


def hook_label(plugin: Any, hook: str) -> str:
    """``my_plugin.plugin.ftcore_components``: the plugin module (or class) and the hook."""
    if isinstance(plugin, types.ModuleType):
        return f"{plugin.__name__}.{hook}"
    return f"{type(plugin).__module__}.{type(plugin).__qualname__}.{hook}"


def _impl(plugin: Any, hook: str) -> Any:
    func = getattr(plugin, hook, None)
    return func if func is not None and hasattr(func, "ftcore_impl") else None


def components_of(plugin: Any) -> list[Component]:
    """What the plugin's own ``ftcore_components`` returns (empty if it has none)."""
    func = _impl(plugin, "ftcore_components")
    return list(func() or []) if func else []


def _source_files(plugin: Any) -> list[Path]:
    """The plugin's package files (its top-level package, tests excluded), else its module."""
    module = plugin if isinstance(plugin, types.ModuleType) else inspect.getmodule(type(plugin))
    if module is None or not getattr(module, "__file__", None):
        return []
    top = sys.modules.get(module.__name__.split(".")[0])
    paths = getattr(top, "__path__", None)
    if not paths:
        return [Path(module.__file__)]
    files = [f for p in paths for f in sorted(Path(p).rglob("*.py"))]
    return [f for f in files if "tests" not in f.parts and not f.name.startswith("test_")]


# --- hook implementations -------------------------------------------------------------


def hookimpl_problems(plugin: Any) -> list[str]:
    """Hook implementations that do not match a hook specification, or are unmarked."""
    import pluggy

    from ftcore.manager import FtcorePluginManager

    problems = []
    for attr in dir(plugin):
        if attr.startswith("ftcore_") and callable(getattr(plugin, attr, None)):
            if not hasattr(getattr(plugin, attr), "ftcore_impl"):
                problems.append(
                    f"{attr}: looks like a hook but lacks @ftcore.hookimpl, so it never runs"
                )
    pm = FtcorePluginManager()
    try:
        pm.register(plugin)
        pm.check_pending()
    except (pluggy.PluginValidationError, ValueError) as exc:
        detail = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        problems.append(f"invalid hook implementation: {detail}")
    return problems


# --- components and schemas -------------------------------------------------------------


def schema_comments(cls: type) -> dict[str, str]:
    """Field -> the comment lines right above it in the dataclass source (an inherited
    field's from the base class that declares it last).

    The recipe reference shows them; :func:`component_problems` wants one per option.
    """
    found: dict[str, str] = {}
    for klass in reversed([c for c in cls.__mro__ if dataclasses.is_dataclass(c)]):
        pending: list[str] = []  # a subclass's comment replaces its base's for that field
        for line in inspect.getsource(klass).splitlines():
            text = line.strip()
            if text.startswith("#"):
                pending.append(text.lstrip("# "))
            elif ":" in text and not text.startswith(("class ", '"""', "@")):
                found[text.split(":")[0]] = " ".join(pending)
                pending = []
            else:
                pending = []
    return found


def _schema_problems(comp: Component) -> list[str]:
    from omegaconf import OmegaConf

    where = f"{comp.kind} '{comp.name}'"
    schema = comp.schema
    if not (isinstance(schema, type) and dataclasses.is_dataclass(schema)):
        return [f"{where}: schema must be a dataclass type or None, got {schema!r}"]
    problems = []
    try:
        OmegaConf.structured(schema)
    except Exception as exc:
        problems.append(f"{where}: omegaconf rejects schema {schema.__name__}: {exc}")
    notes = schema_comments(schema)
    for field in dataclasses.fields(schema):
        if not notes.get(field.name):
            problems.append(
                f"{where}: option '{field.name}' of {schema.__name__} has no comment above it "
                f"(the recipe reference shows that comment)"
            )
    return problems


def component_problems(plugin: Any) -> list[str]:
    """Components with a bad kind, name, description or schema, or declared twice; each
    problem starts with ``<plugin module>.ftcore_components:``."""
    return [f"{hook_label(plugin, 'ftcore_components')}: {p}" for p in _components(plugin)]


def _components(plugin: Any) -> list[str]:
    try:
        found = components_of(plugin)
    except Exception as exc:
        return [f"raised {type(exc).__name__}: {exc}"]
    problems, seen = [], set()
    for comp in found:
        if not isinstance(comp, Component):
            problems.append(f"{comp!r} is not an ftcore.types.Component")
            continue
        if comp.kind not in KINDS:
            problems.append(f"{comp.name}: kind {comp.kind!r} is not one of {sorted(KINDS)}")
        if not comp.name or not isinstance(comp.name, str):
            problems.append(f"{comp.kind}: component without a name")
        if not comp.description:
            problems.append(f"{comp.kind} '{comp.name}': no description (`ftcore plugins`)")
        if (comp.kind, comp.name) in seen:
            problems.append(f"{comp.kind} '{comp.name}' is declared twice")
        seen.add((comp.kind, comp.name))
        if comp.schema is not None:
            problems.extend(_schema_problems(comp))
        if comp.kind == "head":
            problems.extend(f"head '{comp.name}': {p}" for p in head_problems(comp.impl))
    return problems


# --- recipe sections the code reads ------------------------------------------------------


@dataclasses.dataclass
class SectionReads:
    """Recipe sections a plugin's source reads: strategy/callback names, head, data options."""

    strategy: set[str] = dataclasses.field(default_factory=set)
    callback: set[str] = dataclasses.field(default_factory=set)
    head_options: bool = False
    dataset_options: bool = False


def _string_constants(trees: list[ast.Module]) -> dict[str, str]:
    """Module-level ``NAME = "text"`` assignments across the plugin's files."""
    found = {}
    for tree in trees:
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                if isinstance(node.value.value, str):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            found[target.id] = node.value.value
    return found


def _key(node: ast.AST, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


_SECTIONS = {"strategies": "strategy", "callbacks": "callback"}


def _section(node: ast.AST) -> str | None:
    """'strategy' / 'callback' when ``node`` is the recipe's strategies / callbacks section:
    ``<x>.strategies``, a variable ``strategies``, ``(<x>.strategies or {})`` or
    ``getattr(<x>, "strategies", ...)``."""
    if isinstance(node, ast.Attribute):
        return _SECTIONS.get(node.attr)
    if isinstance(node, ast.Name):
        return _SECTIONS.get(node.id)
    if isinstance(node, ast.BoolOp) and node.values:
        return _section(node.values[0])
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args[1:]:
        if node.func.id == "getattr" and isinstance(node.args[1], ast.Constant):
            return _SECTIONS.get(node.args[1].value)
    return None


def _visit(node: ast.AST, reads: SectionReads, constants: dict[str, str], in_load: bool) -> None:
    kind = None
    if isinstance(node, ast.Attribute):
        kind = _section(node.value)
        if kind and node.attr not in _DICT_METHODS:
            getattr(reads, kind).add(node.attr)
        value = node.value
        if isinstance(value, ast.Name) and value.id in ("head_config", "options"):
            reads.head_options = reads.head_options or not in_load
        if isinstance(value, ast.Attribute) and value.attr == "head":
            reads.head_options = True
        if in_load and isinstance(value, ast.Name) and value.id == "options":
            reads.dataset_options = True
    elif isinstance(node, ast.Subscript) and _section(node.value):
        name = _key(node.slice, constants)
        if name:
            getattr(reads, _section(node.value)).add(name)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        kind = _section(node.func.value)
        if kind and node.func.attr in {"get", "pop"} and node.args:
            name = _key(node.args[0], constants)
            if name:
                getattr(reads, kind).add(name)
    elif isinstance(node, ast.Compare) and any(isinstance(o, ast.In) for o in node.ops):
        for comparator in node.comparators:
            kind = _section(comparator)
            name = _key(node.left, constants)
            if kind and name:
                getattr(reads, kind).add(name)


def section_reads(plugin: Any) -> SectionReads:
    """Which recipe sections the plugin's source reads (a static, best-effort look)."""
    trees = []
    for path in _source_files(plugin):
        try:
            trees.append(ast.parse(path.read_text(encoding="utf-8")))
        except (OSError, SyntaxError):
            continue
    constants, reads = _string_constants(trees), SectionReads()
    for tree in trees:
        loaders = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef) and n.name == "ftcore_load_dataset"
        ]
        inside = {id(n) for f in loaders for n in ast.walk(f)}
        for node in ast.walk(tree):
            _visit(node, reads, constants, id(node) in inside)
    return reads


def section_problems(plugin: Any) -> list[str]:
    """Sections the plugin reads without declaring the component (and schema) they belong to."""
    comps = components_of(plugin)
    declared = {(c.kind, c.name): c for c in comps}
    reads, problems = section_reads(plugin), []
    for kind in ("strategy", "callback"):
        section = "strategies" if kind == "strategy" else "callbacks"
        for name in sorted(getattr(reads, kind)):
            if (kind, name) not in declared:
                problems.append(
                    f"reads recipe section {section}.{name} but declares no {kind} '{name}' "
                    f"in ftcore_components (its options would go unvalidated)"
                )
    for flag, kind, section in (
        (reads.head_options, "head", "head"),
        (reads.dataset_options, "dataset", "data.options"),
    ):
        mine = [c for c in comps if c.kind == kind]
        if flag and mine and all(c.schema is None for c in mine):
            problems.append(f"reads {section} options but its {kind} components declare no schema")
    return problems


# --- shipped recipes -----------------------------------------------------------------------


def recipe_files(plugin: Any) -> list[Path]:
    """Every recipe YAML the plugin ships through ``ftcore_recipe_dirs`` (bases included)."""
    func = _impl(plugin, "ftcore_recipe_dirs")
    dirs = [Path(d) for d in (func() or [])] if func else []
    return sorted(p for d in dirs if d.is_dir() for p in d.rglob("*.yaml"))


def recipe_problems(
    plugin: Any, hooks: Any = None, allow_missing_plugins: bool = False
) -> list[str]:
    """Shipped recipes that lack a comment header or do not validate.

    allow_missing_plugins: do not count problems that only say a component's plugin is not
    installed (for a third-party plugin whose recipes use other distributions).
    """
    from ftcore.errors import UserError
    from ftcore.recipe import load_recipe

    func = _impl(plugin, "ftcore_recipe_dirs")
    missing_dirs = [d for d in ((func() or []) if func else []) if not Path(d).is_dir()]
    problems = [f"ftcore_recipe_dirs: {d} is not a folder" for d in missing_dirs]
    files = recipe_files(plugin)
    if files and hooks is None:
        from ftcore_devkit.testing import build_hooks

        hooks = build_hooks([plugin])
    for path in files:
        text = path.read_text(encoding="utf-8")
        if not text.lstrip().startswith("#"):
            problems.append(f"{path.name}: no comment header (what, data, how to run)")
        if path.name.startswith("_"):
            continue  # a base: validated through the recipes that extend it
        try:
            load_recipe(str(path), [], hooks)
        except UserError as exc:
            found = getattr(exc, "problems", [str(exc)])
            if allow_missing_plugins:
                found = [p for p in found if _MISSING_PLUGIN not in p]
            problems.extend(f"{path.name}: {p}" for p in found)
    return problems


# --- Lightning callbacks and their state ------------------------------------------------------


def _recipe_enabling(
    hooks: Any, comp: Component | None, model_dir: Path = Path("tiny-model")
) -> Any:
    """A validated tiny recipe with ``comp`` (a strategy or callback) enabled, or None."""
    from omegaconf import OmegaConf

    from ftcore.errors import UserError
    from ftcore.recipe.validate import validate
    from ftcore_devkit.testing import base_recipe

    recipe = base_recipe(model_dir)
    if comp is not None:
        section = "strategies" if comp.kind == "strategy" else "callbacks"
        recipe[section] = {comp.name: {}}
        for needed in comp.requires:
            recipe.setdefault("strategies", {})[needed] = {}
    try:
        return validate(OmegaConf.create(recipe), hooks, source="conformance", default_name="c")
    except UserError:
        return None


def _same(a: Any, b: Any) -> bool:
    import torch

    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _round_trip(cb: Any, fresh: Any, where: str) -> list[str]:
    import io

    import torch

    state = cb.state_dict()
    if not state:
        return []
    buffer = io.BytesIO()
    try:
        torch.save(state, buffer)
        buffer.seek(0)
        loaded = torch.load(buffer, weights_only=True)
    except Exception as exc:
        return [
            f"{where}: state_dict() does not survive torch.load(weights_only=True), which "
            f"checkpoints use ({type(exc).__name__}: {str(exc).splitlines()[0]}); keep only "
            f"tensors, numbers, strings, lists and dicts in it"
        ]
    fresh.load_state_dict(loaded)
    if not _same(fresh.state_dict(), state):
        return [f"{where}: load_state_dict(state_dict()) does not restore the same state"]
    return []


def set_up_run(recipe: Any, hooks: Any, run_dir: Path) -> Any:
    """A :class:`ftcore.run.Run` as callbacks see it: recipe, hooks, run_dir, rows and
    the head's DataInfo (from the tiny rows); no model, tokenizer or trainer."""
    from ftcore.api import Run
    from ftcore.data.prepare import PreparedData
    from ftcore_devkit.testing import tiny_splits

    rows = tiny_splits()
    run = Run(recipe=recipe, hooks=hooks, run_dir=run_dir)
    info = run.head.data_info(rows=rows["train"], options=run.head_options)
    run.data = PreparedData(rows=rows, info=info)
    return run


def _callbacks(plugin: Any, recipe: Any, hooks: Any, run_dir: Path) -> list[Any]:
    func = _impl(plugin, "ftcore_lightning_callbacks")
    run = set_up_run(recipe, hooks, run_dir)
    return list(func(recipe=recipe, run=run) or []) if func else []


def callback_problems(plugin: Any, hooks: Any = None) -> list[str]:
    """Callbacks contributed when not enabled; state that does not survive a checkpoint."""
    func = _impl(plugin, "ftcore_lightning_callbacks")
    if func is None:
        return []
    from ftcore_devkit.testing import MemoryDataset, build_hooks, tiny_splits

    hooks = hooks or build_hooks([MemoryDataset(tiny_splits()), plugin])
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        plain = _recipe_enabling(hooks, None)
        if plain is not None and _callbacks(plugin, plain, hooks, Path(tmp)):
            problems.append(
                "ftcore_lightning_callbacks returns callbacks for a recipe that enables none "
                "of this plugin's strategies or callbacks"
            )
        for comp in components_of(plugin):
            if comp.kind in {"strategy", "callback"}:
                problems += _state_problems(plugin, comp, hooks, Path(tmp))
    return problems


def _state_problems(plugin: Any, comp: Component, hooks: Any, tmp: Path) -> list[str]:
    where = f"{comp.kind} '{comp.name}'"
    recipe = _recipe_enabling(hooks, comp)
    if recipe is None:
        return []  # needs options without defaults: covered by the plugin's own run tests
    try:
        first = _callbacks(plugin, recipe, hooks, tmp)
        second = _callbacks(plugin, recipe, hooks, tmp)
    except Exception as exc:
        return [
            f"{where}: ftcore_lightning_callbacks raised {type(exc).__name__}: {exc} for a run "
            f"that is set up but has not started; build callbacks from the recipe and read "
            f"the run (module, data) in the callback's own hooks"
        ]
    problems, keys = [], []
    for cb, fresh in zip(first, second):
        label = f"{where} callback {type(cb).__name__}"
        keys.append(getattr(cb, "state_key", type(cb).__qualname__))
        problems += _round_trip(cb, fresh, label)
    if len(set(keys)) != len(keys):
        problems.append(f"{where}: two callbacks share a state_key {keys}; resume would mix them")
    return problems


# --- what each hook returns ------------------------------------------------------------------

_NOT_CALLED = {"ftcore_loss_terms"}  # needs a training step; ftcore checks it in every run
_NOTIFICATIONS = {"ftcore_run_start", "ftcore_test_end", "ftcore_run_end"}  # read, not called


def _returned_values(func: Any) -> list[ast.expr]:
    """The values a function's own ``return`` statements give (nested functions aside)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return []
    found: list[ast.expr] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(child, ast.Return) and child.value is not None:
                found.append(child.value)
            visit(child)

    for top in tree.body:
        visit(top)
    return [v for v in found if not (isinstance(v, ast.Constant) and v.value is None)]


def _notification_problem(func: Any, hook: str) -> str | None:
    """A notification's result is ignored: one that returns a value expects it to count.
    (Notifications are read, not called: they act on a run that has really started.)"""
    values = _returned_values(func)
    if not values:
        return None
    return (
        f"returned the wrong type: expected None, got `return {ast.unparse(values[0])}` "
        f"({hook} is a notification: its result is ignored)"
    )


def _hook_arguments(recipe: Any, run: Any, model: Any, tmp: Path) -> dict[str, dict[str, Any]]:
    """The arguments conformance passes to each hook: a tiny run, set up, not started."""
    from omegaconf import OmegaConf

    from ftcore.optimizer import layer_groups
    from ftcore.types import TrainingSteps

    return {
        "ftcore_components": {},
        "ftcore_commands": {},
        "ftcore_recipe_dirs": {},
        "ftcore_check_recipe": {"recipe": recipe},
        "ftcore_resolve_model": {"name": "conformance-no-such-model", "cache_dir": str(tmp)},
        "ftcore_load_dataset": {
            "name": "conformance-no-such-dataset",
            "options": OmegaConf.create({}),
            "seed": 0,
        },
        "ftcore_transform_model": {"model": model, "recipe": recipe},
        "ftcore_group_options": {
            "groups": layer_groups(model, recipe),
            "recipe": recipe,
            "steps": TrainingSteps(total=8, per_epoch=8),
        },
        "ftcore_lightning_callbacks": {"recipe": recipe, "run": run},
        "ftcore_report_sections": {"run": run, "summary": {}},
        "ftcore_export_model": {
            "model": model,
            "task": recipe.task,
            "info": run.data.info,
            "recipe": recipe,
            "run_dir": str(run.run_dir),
            "run": run,
        },
        "ftcore_resolve_lr": {"run": run},
    }


def _call(func: Any, arguments: dict[str, Any]) -> tuple[bool, Any]:
    """Call a hook implementation as pluggy does (only the arguments it names); an
    exception means the tiny run could not exercise it: (False, None)."""
    names = inspect.signature(func).parameters
    try:
        return True, func(**{k: v for k, v in arguments.items() if k in names})
    except Exception:
        return False, None


def _tiny_run(comp: Component | None, candidates: list[Any], model_dir: Path) -> tuple[Any, Any]:
    """(recipe, run) of a tiny run with ``comp`` enabled, set up with the first of the
    ``candidates`` (hook facades) that can; (None, None) if none can."""
    for hooks in candidates:
        try:
            recipe = _recipe_enabling(hooks, comp, model_dir)
            if recipe is not None:
                return recipe, set_up_run(recipe, hooks, model_dir.parent / "run")
        except Exception:
            continue
    return None, None


def result_problems(plugin: Any, hooks: Any = None) -> list[str]:
    """Hooks that return something other than what their specification declares.

    Each hook the plugin implements is called on a tiny run that is set up but not started
    (tiny BERT, the kit's rows), once with none of the plugin's strategies or callbacks
    enabled and once with each of them; a call that raises is not judged here (the
    plugin's own run tests cover it). Notifications (``ftcore_run_start``,
    ``ftcore_test_end``, ``ftcore_run_end``) are read instead: a ``return`` of a value
    is the problem. The check is ftcore's own (``ftcore.hookcheck``):
    what a run would stop on, found before the run.
    """
    from ftcore.hookcheck import hook_names, result_problem
    from ftcore_devkit.testing import MemoryDataset, build_hooks, save_tiny_bert, tiny_splits

    implemented = {h: _impl(plugin, h) for h in hook_names() if h not in _NOT_CALLED}
    implemented = {h: f for h, f in implemented.items() if f is not None}
    problems: dict[str, None] = {}
    for hook in _NOTIFICATIONS & implemented.keys():
        problem = _notification_problem(implemented.pop(hook), hook)
        if problem:
            problems[f"{hook_label(plugin, hook)}: {problem}"] = None
    if not implemented:
        return list(problems)
    from transformers import AutoModel

    core_only = build_hooks([MemoryDataset(tiny_splits())])
    hooks = hooks or build_hooks([MemoryDataset(tiny_splits()), plugin])
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = save_tiny_bert(Path(tmp) / "tiny-model")
        try:
            enabling = [c for c in components_of(plugin) if c.kind in {"strategy", "callback"}]
        except Exception:
            enabling = []
        for comp in [None, *enabling]:
            # a plugin whose own hooks break validation is still judged on the plain recipe
            recipe, run = _tiny_run(comp, [hooks] if comp else [hooks, core_only], model_dir)
            if recipe is None:
                continue
            arguments = _hook_arguments(
                recipe, run, AutoModel.from_pretrained(model_dir), Path(tmp)
            )
            for hook, func in implemented.items():
                if hook not in arguments:
                    continue  # a hook newer than this check
                called, value = _call(func, arguments[hook])
                problem = result_problem(hook, value) if called else None
                if problem:
                    problems[f"{hook_label(plugin, hook)}: returned the wrong type: {problem}"] = (
                        None
                    )
    return list(problems)


# --- public API only ----------------------------------------------------------------------------

PUBLIC_MODULES = ("ftcore", "ftcore.api", "ftcore.types", "ftcore.errors", "ftcore.hookspecs")
"""The ftcore modules a plugin may import (see ftcore.api); all others are private."""


def private_imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every import of a private ftcore module in the file ``path``."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return []
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "ftcore":
                names += [f"ftcore.{alias.name}" for alias in node.names]
        found += [(node.lineno, n) for n in names if _private(n)]
    return found


def _private(module: str) -> bool:
    """A private ftcore module (``ftcore.hookimpl`` from ``from ftcore import hookimpl`` is
    a public name of the package, not a module)."""
    import ftcore

    if module.split(".")[0] != "ftcore" or module in PUBLIC_MODULES:
        return False
    return module.split(".")[1] not in ftcore.__all__


def private_import_problems_of(package: Path) -> list[str]:
    """Private ftcore imports in every ``*.py`` under the folder ``package``."""
    return [
        f"{path}:{line}: imports private module {name}"
        for path in sorted(package.rglob("*.py"))
        for line, name in private_imports(path)
    ]


def private_import_problems(plugin: Any) -> list[str]:
    """Imports of private ftcore modules in the plugin's package (public: ftcore.api...),
    each as ``<module> line N: imports private module ...``."""
    return [
        f"{_module_name(path)} line {line}: imports private module {name}; use ftcore.api "
        f"(public modules: {', '.join(PUBLIC_MODULES)})"
        for path in _source_files(plugin)
        for line, name in private_imports(path)
    ]


def _module_name(path: Path) -> str:
    """The dotted module name of a source file (its package folders have __init__.py)."""
    parts = [path.stem] if path.stem != "__init__" else []
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts) or path.stem


# --- import cost ------------------------------------------------------------------------------


def import_problems(module_name: str) -> list[str]:
    """Heavy libraries that importing ``module_name`` pulls in (checked in a new process)."""
    code = (
        "import importlib, sys; importlib.import_module(sys.argv[1]); "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, module_name], capture_output=True, text=True, timeout=120
    )
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["?"])[-1]
        return [f"import {module_name} failed: {last}"]
    heavy = [m for m in out.stdout.strip().split(",") if m]
    return [
        f"import {module_name} imports {', '.join(heavy)}; import heavy libraries inside "
        f"the hooks so `ftcore plugins` and `ftcore validate` stay fast"
    ] * bool(heavy)


# --- everything ----------------------------------------------------------------------------------


def check_plugin(
    plugin: Any,
    *,
    hooks: Any = None,
    allow_missing_plugins: bool = False,
    check_import: bool = True,
) -> list[str]:
    """Every conformance problem of ``plugin`` (a module or an object with hookimpls)."""
    problems = hookimpl_problems(plugin) + component_problems(plugin)
    if problems:
        return problems  # the rest builds on well-formed hooks and components
    problems += section_problems(plugin)
    problems += private_import_problems(plugin)
    problems += result_problems(plugin, hooks)
    problems += recipe_problems(plugin, hooks, allow_missing_plugins)
    problems += callback_problems(plugin)
    if check_import and isinstance(plugin, types.ModuleType):
        problems += import_problems(plugin.__name__)
    return problems


def assert_conforms(plugin: Any, **options: Any) -> None:
    """Fail with every problem listed, one per line, if ``plugin`` does not conform."""
    problems = check_plugin(plugin, **options)
    assert not problems, f"{plugin_label(plugin)} does not conform:\n" + "\n".join(
        f"  - {p}" for p in problems
    )
