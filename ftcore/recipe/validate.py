"""Validating a recipe against the core schemas and the plugins' schemas.

Every problem is collected (dotted path, what is wrong, did-you-mean for typos) and
raised together as one :class:`RecipeError`. An unknown key gets the ftcore key for a name
from another tool, or for a core key in the wrong section (:mod:`ftcore.recipe.aliases`);
the values passed to Lightning's ``Trainer`` are checked against what the installed
Lightning accepts (:mod:`ftcore.recipe.lightning_values`). :func:`ftcore.recipe.load_recipe`
then attributes the problems about overridden keys to the command line.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import typing
import warnings
from enum import Enum
from pathlib import PurePath
from typing import Any

from ftcore import loggers
from ftcore.errors import RecipeError, did_you_mean
from ftcore.recipe import aliases, ranges
from ftcore.recipe.lightning_values import check_trainer
from ftcore.recipe.schema import RecipeConfig

_MAX_TEXT = 10_000


def type_name(tp: Any) -> str:
    """A readable name for a schema field type."""
    origin = typing.get_origin(tp)
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if origin is typing.Union:
        return " or ".join(type_name(a) for a in args) + (
            " or null" if len(args) < len(typing.get_args(tp)) else ""
        )
    if origin in (list, tuple):
        return f"list of {type_name(args[0])}" if args else "list"
    if origin is dict:
        return "mapping"
    if isinstance(tp, type) and issubclass(tp, Enum):
        return "one of " + ", ".join(repr(m.value) for m in tp)
    return getattr(tp, "__name__", str(tp))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def resolve(cfg: Any, path: str, problems: list[str]) -> Any:
    """Turn a DictConfig into plain containers, resolving interpolations one by one."""
    from omegaconf import DictConfig, ListConfig

    if isinstance(cfg, DictConfig):
        out = {}
        for key in cfg.keys():
            sub = f"{path}.{key}" if path else str(key)
            try:
                value = cfg[key]
            except Exception as exc:
                problems.append(f"{sub}: cannot resolve interpolation: {_first_line(exc)}")
                continue
            out[key] = resolve(value, sub, problems)
        return out
    if isinstance(cfg, ListConfig):
        items = []
        for i in range(len(cfg)):
            try:
                items.append(resolve(cfg[i], f"{path}[{i}]", problems))
            except Exception as exc:
                problems.append(f"{path}[{i}]: cannot resolve interpolation: {_first_line(exc)}")
        return items
    return cfg


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


@functools.cache
def _template(schema: type) -> Any:
    """An empty structured config per schema (building one is slow; copying is not)."""
    from omegaconf import OmegaConf

    return OmegaConf.structured(schema)


def check_section(schema: type, data: Any, path: str, problems: list[str]):
    """Validate ``data`` against dataclass ``schema``; return a structured DictConfig."""
    node = copy.deepcopy(_template(schema))
    if data is None:
        return node
    if not isinstance(data, dict):
        problems.append(f"{path}: expected a mapping of {schema.__name__} keys, got {_short(data)}")
        return node
    hints = typing.get_type_hints(schema)
    names = [f.name for f in dataclasses.fields(schema)]
    for key, value in data.items():
        sub = f"{path}.{key}" if path else str(key)
        if key not in names:
            problems.append(f"{sub}: unknown key{aliases.hint(sub, names)}")
            continue
        if dataclasses.is_dataclass(hints[key]):
            node[key] = check_section(hints[key], value, sub, problems)
            continue
        if _assign(node, key, value, hints[key], sub, problems):
            problems.extend(ranges.number_problems(node[key], sub, _default(schema, key)))
    return node


def _default(schema: type, key: str) -> Any:
    found = next(f for f in dataclasses.fields(schema) if f.name == key)
    return None if found.default is dataclasses.MISSING else found.default


def _assign(node: Any, key: str, value: Any, tp: Any, path: str, problems: list[str]) -> bool:
    """Store ``value`` in ``node[key]`` as type ``tp``; False (and a problem) if it is not one."""
    if isinstance(value, str) and len(value) > _MAX_TEXT:
        problems.append(f"{path}: value is {len(value)} characters long; at most {_MAX_TEXT}")
        return False
    if value is None and typing.get_origin(tp) is not typing.Union and tp is not Any:
        problems.append(f"{path}: must not be null; expected {type_name(tp)}")
        return False
    if tp is str and not isinstance(value, str):  # omegaconf would turn 5 into "5"
        problems.append(f"{path}: expected str, got {_short(value)}")
        return False
    if type(value) is int and float in typing.get_args(tp) and int not in typing.get_args(tp):
        value = float(value)  # omegaconf rejects 2 for Union[float, str] (optim.lr=2)
    try:
        with warnings.catch_warnings():  # omegaconf 2.4 warns on str -> Enum conversion
            warnings.simplefilter("ignore", FutureWarning)
            node[key] = value
    except Exception:
        problems.append(f"{path}: expected {type_name(tp)}, got {_short(value)}")
        return False
    return True


def missing(node: Any, path: str) -> list[str]:
    from omegaconf import OmegaConf

    prefix = f"{path}." if path else ""
    return [
        f"{prefix}{key}: missing required value; set it in the recipe or with {prefix}{key}=VALUE"
        for key in sorted(OmegaConf.missing_keys(node))
    ]


def _new(found: list[str], problems: list[str]) -> list[str]:
    """Problems about paths not already reported."""
    reported = {p.split(":", 1)[0] for p in problems}
    return [p for p in found if p.split(":", 1)[0] not in reported]


def _plugin_section(
    hooks, kind: str, name: Any, data: Any, path: str, where: str, problems: list[str]
):
    """Validate a plugin-owned section against the schema its component declares."""
    from ftcore.errors import MissingPluginError

    try:
        entry = hooks.find(kind, str(name), where)
    except MissingPluginError as exc:
        problems.append(str(exc))
        return None
    schema = entry.component.schema
    if schema is None:
        if data:
            problems.append(f"{path}: {kind} '{name}' takes no options; remove this section")
        return None
    node = check_section(schema, data, path, problems)
    problems.extend(_new(missing(node, path), problems))
    return node


def _named_sections(hooks, kind: str, data: Any, path: str, problems: list[str]) -> dict:
    if data is None:
        return {}
    if not isinstance(data, dict):
        problems.append(f"{path}: expected a mapping of {kind} names to their options")
        return {}
    out = {}
    for name, options in data.items():
        node = _plugin_section(
            hooks, kind, name, options or None, f"{path}.{name}", f"{path}.{name}", problems
        )
        out[name] = node if node is not None else {}
    return out


def _evaluation_section(hooks: Any, data: Any, problems: list[str]) -> Any:
    """``evaluation:`` against the schema of the one installed evaluation component."""
    from omegaconf import OmegaConf

    from ftcore.errors import PLUGINS_HINT

    found = sorted(
        {e.component.name for e in hooks.components() if e.component.kind == "evaluation"}
    )
    if len(found) > 1:
        problems.append(
            f"evaluation: several evaluation plugins are installed ({', '.join(found)}); "
            f"disable all but one (FTCORE_DISABLE_PLUGINS=name)"
        )
    elif found:
        node = _plugin_section(
            hooks, "evaluation", found[0], data, "evaluation", "evaluation", problems
        )
        return node if node is not None else OmegaConf.create({})
    elif data:
        problems.append(
            f"evaluation: no installed plugin reads this section; "
            f"install an evaluation plugin ({PLUGINS_HINT.rstrip('; ')}) "
            f"or remove the section"
        )
    return OmegaConf.create({})


def _ranges(cfg: Any, problems: list[str]) -> None:
    if isinstance(cfg.optim.lr, str) and cfg.optim.lr != "auto":
        try:
            cfg.optim.lr = float(cfg.optim.lr)
        except ValueError:
            problems.append(f"optim.lr: expected a number or 'auto', got {cfg.optim.lr!r}")
            cfg.optim.lr = 1.0
    if not cfg.model.name.strip():
        problems.append("model.name: must not be empty; give a bundled model name or a folder")
    problems.extend(ranges.core_problems(cfg))
    run_name = cfg.output.run_name
    if run_name is not None and (PurePath(run_name).name != run_name or run_name in {".", ".."}):
        problems.append(
            f"output.run_name: '{run_name}' must be a plain folder name (no '/', '..'); "
            f"use output.root to choose another folder"
        )
    mode = cfg.checkpoint.mode
    if mode is not None and mode not in ("min", "max"):
        problems.append(
            f"checkpoint.mode: must be 'min' or 'max', or null for the head's choice "
            f"(got {_short(mode)}){did_you_mean(mode.strip().lower(), ['min', 'max'])}; "
            f"e.g. checkpoint.mode=max"
        )
    if cfg.checkpoint.monitor is not None and not cfg.checkpoint.monitor.strip():
        problems.append(
            "checkpoint.monitor: must not be empty; name a logged metric such as val/loss, "
            "or null for the head's choice"
        )


def _text_problems(data: Any, path: str = "") -> list[str]:
    """Text that cannot be written as UTF-8 (a lone surrogate, e.g. from YAML's "\\udc80"
    or an undecodable byte on the command line): recipe.yaml could not be saved."""
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            sub = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _bad_text(key):
                shown = sub.encode("utf-8", "backslashreplace").decode("utf-8")
                found.append(f"{shown}: the key {_bad_text(key)}; rename it")
                continue
            found += _text_problems(value, sub)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += _text_problems(value, f"{path}[{i}]")
    elif isinstance(data, str) and _bad_text(data):
        found.append(f"{path}: text {_bad_text(data)}; remove it, or write the character itself")
    return found


def _bad_text(text: str) -> str:
    """Why ``text`` cannot be written as UTF-8, or ``""``."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        where = exc.start + 1
        char = text[exc.start]
        return (
            f"{_short(text)} cannot be written as UTF-8: character {where} is a lone "
            f"surrogate ({char!r})"
        )
    return ""


def _ok(path: str, problems: list[str]) -> bool:
    return not any(p.split(":", 1)[0] == path for p in problems)


def validate(raw: Any, hooks: Any, source: str, default_name: str, training: bool = True) -> Any:
    """Validate a raw recipe (DictConfig); return the structured recipe or raise RecipeError.

    training=False (prediction from a finished run) checks only what prediction needs: the
    dataset, strategies and callbacks sections are kept as written, unchecked.
    """
    from omegaconf import OmegaConf

    problems: list[str] = []
    data = resolve(raw, "", problems)
    data.setdefault("name", default_name)
    problems.extend(_text_problems(data))
    core = {
        k: v for k, v in data.items() if k not in {"head", "strategies", "callbacks", "evaluation"}
    }
    data_section = core.get("data")
    options = data_section.pop("options", None) if isinstance(data_section, dict) else None
    cfg = check_section(RecipeConfig, core, "", problems)
    loggers.apply_listing(cfg.loggers, core.get("loggers"))
    problems.extend(_new(missing(cfg, ""), problems))
    cfg.head = OmegaConf.create({})
    if _ok("task", problems):
        head = _plugin_section(hooks, "head", cfg.task, data.get("head"), "head", "task", problems)
        cfg.head = head if head is not None else cfg.head
    cfg.data.options = OmegaConf.create(options if isinstance(options, dict) else {})
    if not training:
        cfg.strategies, cfg.callbacks = data.get("strategies"), data.get("callbacks")
        cfg.evaluation = data.get("evaluation")
        if problems:
            raise RecipeError(problems, source)
        return cfg
    if _ok("data.source", problems) and _ok("data", problems):
        opts = _plugin_section(
            hooks, "dataset", cfg.data.source, options, "data.options", "data.source", problems
        )
        cfg.data.options = opts if opts is not None else cfg.data.options
    if _ok("trainer", problems):
        problems.extend(_new(check_trainer(cfg.trainer), problems))
    cfg.strategies = _named_sections(
        hooks, "strategy", data.get("strategies"), "strategies", problems
    )
    cfg.callbacks = _named_sections(hooks, "callback", data.get("callbacks"), "callbacks", problems)
    cfg.evaluation = _evaluation_section(hooks, data.get("evaluation"), problems)
    if problems:
        raise RecipeError(problems, source)
    _ranges(cfg, problems)
    problems.extend(loggers.missing_packages(cfg.loggers))
    problems.extend(_strategy_combinations(hooks, cfg))
    problems.extend(hooks.check_recipe(recipe=cfg))
    problems.extend(head_problems(hooks, cfg))
    if problems:
        raise RecipeError(problems, source)
    return cfg


def head_problems(hooks: Any, cfg: Any) -> list[str]:
    """The head's own recipe checks (``Head.check``) and ``checkpoint.monitor``/``mode``
    against the metrics it logs (``Head.monitor``; not checked when it names none)."""
    from ftcore.recipe.monitor import head_metrics, monitor_problems

    head, options = hooks.head(cfg.task), hooks.head_options(cfg)
    problems = list(head.check(recipe=cfg, options=options))
    chosen = head.monitor(options=options)
    if chosen.logged:
        logged = head_metrics(chosen.logged)
        default = (chosen.metric, chosen.mode)
        problems += monitor_problems(cfg.checkpoint, cfg.task, logged, default)
    return problems


def _strategy_combinations(hooks: Any, cfg: Any) -> list[str]:
    enabled = set(cfg.strategies.keys())
    problems: list[str] = []
    reported: set[frozenset] = set()
    for name in sorted(enabled):
        entry = next(
            (
                e
                for e in hooks.components()
                if e.component.kind == "strategy" and e.component.name == name
            ),
            None,
        )
        if entry is None:
            continue
        for other in entry.component.conflicts:
            if other in enabled and frozenset((name, other)) not in reported:
                reported.add(frozenset((name, other)))
                problems.append(
                    f"strategies: '{name}' cannot be combined with '{other}'; remove one of them"
                )
        for needed in entry.component.requires:
            if needed not in enabled:
                problems.append(
                    f"strategies.{name}: requires strategy '{needed}'; add "
                    f"strategies.{needed} to the recipe"
                )
    return problems
