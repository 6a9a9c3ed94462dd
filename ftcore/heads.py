"""The task head of a run: looked up once, its calls attributed to its plugin.

A head plugin declares ``Component(kind="head", name=..., schema=..., impl=MyHead())``
(see :class:`ftcore.types.Head`). :meth:`ftcore.hooks.Hooks.head` finds it by the recipe's
``task`` and wraps it in a :class:`HeadCaller`, so an exception raised by a bug inside a
head method names the plugin and the method (:mod:`ftcore.blame`).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from typing import Any

from ftcore.errors import UserError

HEAD_METHOD = "ftcore_head_method"
"""The frame-local name :class:`HeadCaller` sets; :func:`ftcore.blame.culprit` reads it."""

REQUIRED = (
    "data_info",
    "check_row",
    "encode",
    "collate",
    "build_model",
    "step",
    "metrics",
    "decode",
    "score",
)
"""The :class:`ftcore.types.Head` methods without a default in :class:`BaseHead`."""

OPTIONAL = (
    "text_key",
    "check",
    "monitor",
    "export",
    "run_start",
    "run_end",
    "baseline",
    "error_analysis",
    "forgetting",
)


class HeadCaller:
    """A head's methods, each call marked with the method's name for blame; a method the
    head lacks falls back to :class:`ftcore.types.BaseHead`'s default."""

    def __init__(
        self, impl: Any, task: str, plugin: str, observers: list[Any] | None = None
    ) -> None:
        self.impl, self.task, self.plugin = impl, task, plugin
        self.observers = observers if observers is not None else []
        self._methods: dict[str, Callable[..., Any]] = {}

    def __getstate__(self) -> dict[str, Any]:  # DataLoader workers may pickle the collator
        return {"impl": self.impl, "task": self.task, "plugin": self.plugin}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["impl"], state["task"], state["plugin"])

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_") or name not in REQUIRED + OPTIONAL:
            raise AttributeError(name)
        if name not in self._methods:
            self._methods[name] = self._bind(name)
        return self._methods[name]

    def _bind(self, name: str) -> Callable[..., Any]:
        from ftcore.types import BaseHead

        method = getattr(self.impl, name, None) if implemented(self.impl, name) else None
        if method is None and name in OPTIONAL:
            method = getattr(BaseHead(), name)
        if method is None:
            raise UserError(
                f"plugin '{self.plugin}': the '{self.task}' head has no method {name}(); "
                f"implement it (see ftcore.api.Head)"
            )

        observers = self.observers

        def call(**kwargs: Any) -> Any:
            ftcore_head_method = f"Head.{name}"  # read by ftcore.blame
            for observe in observers:
                observe(ftcore_head_method, kwargs)
            return method(**kwargs)

        return call


def implemented(impl: Any, name: str) -> bool:
    """Whether ``impl`` has method ``name`` of its own (a required method the Head
    protocol only declares, inherited through BaseHead, is not implemented)."""
    from ftcore.types import Head

    method = getattr(impl, name, None)
    if not callable(method):
        return False
    return name not in REQUIRED or getattr(type(impl), name, None) is not getattr(Head, name)


def head_problems(impl: Any) -> list[str]:
    """What a component's ``impl`` lacks to be a head (required methods)."""
    if impl is None:
        return ["declares no impl (Component(kind='head', impl=MyHead()))"]
    missing = [m for m in REQUIRED if not implemented(impl, m)]
    return [f"impl {type(impl).__name__} lacks {', '.join(missing)}"] if missing else []


def to_options(section: Any) -> Any:
    """The ``head:`` section as its schema's dataclass instance (None when empty)."""
    from omegaconf import OmegaConf

    if section is None:
        return None
    if OmegaConf.is_config(section):
        if OmegaConf.get_type(section) in (dict, None):
            return None  # a head without a schema
        return OmegaConf.to_object(section)
    return section


def options_dict(options: Any) -> dict[str, Any] | None:
    """Options as plain JSON values (enums by value), for ``ftcore_data_info.json``."""
    if options is None or not dataclasses.is_dataclass(options):
        return None
    return _plain(dataclasses.asdict(options))


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def options_from(schema: type | None, values: dict[str, Any] | None, fallback: Any) -> Any:
    """Options saved with an export (``head_options``), validated by ``schema``; without
    them (a folder exported before they were saved) ``fallback``, the run's recipe's."""
    if values is None or schema is None:
        return fallback
    from omegaconf import OmegaConf

    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), values))
