"""Checking what plugins give core: each hook's result, components, schemas, hook names.

Every hook implementation is wrapped when its plugin registers (:func:`check_results`): the
value it returns is checked against the return annotation of its hookspec in
:mod:`ftcore.hookspecs`, and an exception it raises is tagged with the plugin, so
:mod:`ftcore.blame` names the plugin that really raised, even when one package holds several
plugins. A wrong result is :class:`HookResultError`: one line naming the plugin, the module
and function that implement the hook, what was expected and what came back.

Components are checked when their plugin loads (:func:`component_problems`): a known kind,
a name, a schema that is a dataclass whose fields omegaconf can type. A plugin whose
components fail those checks is reported as failed to load, like one whose import fails.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib
import inspect
import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ftcore import hookspecs
from ftcore.errors import did_you_mean

PLUGIN_ATTRIBUTE = "__ftcore_plugin__"
"""Set on an exception raised by a hook implementation: ``(plugin name, hook name,
module.function that implements it)``."""


class HookResultError(Exception):
    """A hook implementation returned a value of the wrong type: a bug in that plugin, so
    the command line prints the message on one line and exits with code 1."""


# --- what the hookspecs declare ----------------------------------------------------------


def _type_checking_imports() -> dict[str, tuple[str, str]]:
    """Names imported under ``if TYPE_CHECKING:`` in the hookspec module -> (module, name)."""
    tree = ast.parse(inspect.getsource(hookspecs))
    found: dict[str, tuple[str, str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for stmt in ast.walk(node):
                if isinstance(stmt, ast.ImportFrom) and stmt.module:
                    for alias in stmt.names:
                        found[alias.asname or alias.name] = (stmt.module, alias.name)
    return found


class _LazyNames(Mapping[str, Any]):
    """The names a hookspec annotation may use, imported only when an annotation is read
    (so checking ``ftcore_components`` never imports torch)."""

    def __init__(self) -> None:
        self._where = _type_checking_imports()

    def __getitem__(self, name: str) -> Any:
        if name in self._where:
            module, attr = self._where[name]
            return getattr(importlib.import_module(module), attr)
        if hasattr(typing, name):
            return getattr(typing, name)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)


@functools.cache
def _names() -> _LazyNames:
    return _LazyNames()


def hook_names() -> list[str]:
    """Every hook of the specification."""
    return sorted(n for n in dir(hookspecs) if n.startswith("ftcore_"))


_BUILTIN_TYPES = {t.__name__: t for t in (list, dict, tuple, set, str, int, float, bool, bytes)}


@functools.cache
def expected_return(hook: str) -> Any:
    """The return type ``hook`` declares (``Any`` where it declares none)."""
    spec = getattr(hookspecs, hook)
    annotation = spec.__annotations__.get("return", "Any")
    if not isinstance(annotation, str):
        return annotation
    # The string is an annotation of ftcore's own hookspecs module (never user input),
    # evaluated with nothing but type names in scope.
    return eval(annotation, {"__builtins__": _BUILTIN_TYPES}, _names())  # noqa: S307


# --- does a value have a type --------------------------------------------------------------


def _describe(value: Any) -> str:
    if value is None:
        return "None"
    kind = type(value).__name__
    if isinstance(value, (list, tuple, set)):
        inner = ", ".join(sorted({_describe(v) for v in list(value)[:20]}))
        return f"a {kind} of {inner}" if value else f"an empty {kind}"
    article = "an" if kind[:1].lower() in "aeiou" else "a"
    if isinstance(value, (str, int, float, bool)):
        shown = repr(value)
        return f"{article} {kind} {shown[:40]}{'...' if len(shown) > 40 else ''}"
    return f"{article} {kind}"


def type_name(tp: Any) -> str:
    """``list[tuple[str, Tensor]]``-style text for a type."""
    if tp is type(None):
        return "None"
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__name__
    text = str(tp).replace("typing.", "")
    return re.sub(r"\b(?:[A-Za-z_]\w*\.)+([A-Za-z_]\w*)", r"\1", text)  # torch.nn...Module


def _at(problem: str, index: Any) -> str:
    """``problem`` found inside item ``index``: "a float at [0][1]"."""
    what, _, inner = problem.partition(" at ")
    return f"{what} at [{index!r}]{inner}"


def mismatch(value: Any, tp: Any) -> str | None:
    """Why ``value`` is not of type ``tp`` (a short phrase), or None if it is."""
    if tp is Any or tp is object:
        return None
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is None or tp is type(None):
        return None if value is None else _describe(value)
    if origin in (typing.Union, types.UnionType):
        fits = any(mismatch(value, arg) is None for arg in args)
        return None if fits else _describe(value)
    if origin is typing.Literal:
        return None if value in args else _describe(value)
    if origin in (list, set, frozenset) or origin is typing.Sequence:
        if not isinstance(value, origin if origin is not typing.Sequence else (list, tuple)):
            return _describe(value)
        for i, item in enumerate(value):
            problem = mismatch(item, args[0]) if args else None
            if problem:
                return _at(problem, i)
        return None
    if origin is tuple:
        if not isinstance(value, tuple):
            return _describe(value)
        if len(args) == 2 and args[1] is Ellipsis:
            args = (args[0],) * len(value)
        if len(args) != len(value):
            return f"a tuple of {len(value)} items"
        for i, (item, arg) in enumerate(zip(value, args)):
            problem = mismatch(item, arg)
            if problem:
                return _at(problem, i)
        return None
    if origin is dict or origin is typing.Mapping:
        if not isinstance(value, dict):
            return _describe(value)
        key_type, value_type = args or (Any, Any)
        for key, item in value.items():
            problem = mismatch(key, key_type) or mismatch(item, value_type)
            if problem:
                return _at(problem, key)
        return None
    if origin is not None:  # another generic (Callable...): the origin class decides
        return None if isinstance(value, origin) else _describe(value)
    if tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else _describe(value)
    if isinstance(tp, type):
        if getattr(tp, "_is_protocol", False) and not getattr(tp, "_is_runtime_protocol", False):
            return None
        return None if isinstance(value, tp) else _describe(value)
    return None


def result_problem(hook: str, value: Any) -> str | None:
    """What is wrong with ``value`` as a result of ``hook`` ("expected X, got Y"), or None.

    None is always a valid result: a first-result hook's "not mine", a collecting hook's
    "nothing to add", a fold's "keep it".
    """
    if value is None:
        return None
    expected = expected_return(hook)
    found = mismatch(value, expected)
    if found is None and hook == "ftcore_loss_terms":
        found = _gradless(value)
    if found is None and hook == "ftcore_components":
        found = "; ".join(component_problems(value)) or None
        if found:
            return found
    if found is None:
        return None
    return f"expected {type_name(expected)}, got {found}"


def _gradless(terms: list[tuple[str, Any]]) -> str | None:
    """A loss term must be a scalar tensor: a Python number carries no gradient, so it
    could not train anything. (A tensor without a gradient is fine: a penalty over
    parameters that are all frozen for now is a constant 0.)"""
    for name, term in terms:
        if not hasattr(term, "requires_grad"):
            return (
                f"term '{name}' as {_describe(term)}, which has no gradient (return a scalar "
                f"tensor computed from the model's parameters)"
            )
        if getattr(term, "ndim", 0) != 0:
            return f"term '{name}' of shape {tuple(term.shape)} (a loss term is a scalar)"
    return None


# --- wrapping a plugin's hook implementations -------------------------------------------------


def where(function: Callable[..., Any]) -> str:
    """``package.module.function``: where a hook is implemented."""
    return f"{function.__module__}.{getattr(function, '__qualname__', function.__name__)}"


def check_results(pm: Any, plugin: object) -> None:
    """Wrap each hook implementation of ``plugin`` so its results are checked and its
    exceptions name it (idempotent)."""
    for caller in pm.get_hookcallers(plugin) or []:
        for impl in caller.get_hookimpls():
            if impl.plugin is plugin and not getattr(impl.function, "__ftcore_checked__", False):
                if impl.wrapper or impl.hookwrapper:
                    continue
                object.__setattr__(impl, "function", _checked(caller.name, impl))


def _checked(hook: str, impl: Any) -> Callable[..., Any]:
    function, plugin = impl.function, impl.plugin_name

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            result = function(*args, **kwargs)
        except BaseException as exc:
            if getattr(exc, PLUGIN_ATTRIBUTE, None) is None:
                try:
                    setattr(exc, PLUGIN_ATTRIBUTE, (plugin, hook, where(function)))
                except AttributeError:  # an exception type with __slots__
                    pass
            raise
        problem = result_problem(hook, result)
        if problem:
            raise HookResultError(
                f"plugin '{plugin}' ({where(function)}) returned the wrong type from {hook}: "
                f"{problem}; report it to the plugin's authors, or disable it with "
                f"FTCORE_DISABLE_PLUGINS={plugin}"
            )
        return result

    call.__ftcore_checked__ = True  # type: ignore[attr-defined]
    return call


# --- components and hook names, when a plugin loads -----------------------------------------------


def component_kinds() -> tuple[str, ...]:
    from ftcore.types import ComponentKind

    return typing.get_args(ComponentKind)


def schema_problem(schema: Any) -> str | None:
    """Why ``schema`` cannot validate a recipe section (not a dataclass, a field type
    omegaconf cannot handle or that does not resolve), or None."""
    if schema is None:
        return None
    if not (isinstance(schema, type) and dataclasses.is_dataclass(schema)):
        return f"its schema {schema!r} is not a dataclass type (decorate it with @dataclass)"
    try:
        typing.get_type_hints(schema)
    except Exception as exc:  # a NameError for an undefined type, mostly
        return f"its schema {schema.__name__} has a field type that does not resolve ({exc})"
    from omegaconf import OmegaConf

    try:
        OmegaConf.structured(schema)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"its schema {schema.__name__} cannot type a recipe section ({first})"
    return None


def component_problems(found: Any) -> list[str]:
    """What is wrong with the list a plugin's ``ftcore_components`` returned."""
    from ftcore.types import Component

    if not isinstance(found, list):
        return [f"expected list[Component], got {_describe(found)}"]
    problems, kinds = [], component_kinds()
    for i, comp in enumerate(found):
        if not isinstance(comp, Component):
            problems.append(f"expected list[Component], got {_describe(comp)} at [{i}]")
            continue
        what = f"component {comp.kind!r} {comp.name!r}"
        if comp.kind not in kinds:
            hint = did_you_mean(str(comp.kind), list(kinds))
            problems.append(f"{what}: unknown kind{hint}; kinds are {', '.join(kinds)}")
        if not isinstance(comp.name, str) or not comp.name.strip():
            problems.append(f"{what}: its name must be a non-empty string")
        schema = schema_problem(comp.schema)
        if schema:
            problems.append(f"{what}: {schema}")
        if comp.kind == "head":
            from ftcore.heads import head_problems

            problems += [f"{what}: {p}" for p in head_problems(comp.impl)]
    return problems


def unknown_hooks(plugin: object) -> list[str]:
    """Functions of ``plugin`` marked as ftcore hook implementations whose name is no hook,
    each with a did-you-mean."""
    known = hook_names()
    found = []
    for name in dir(plugin):
        item = getattr(plugin, name, None)
        if callable(item) and hasattr(item, "ftcore_impl") and name not in known:
            found.append(f"{name} is not an ftcore hook{did_you_mean(name, known)}")
    return found
