"""Building the plugin manager: entry points of group ``ftcore``, failures kept, not fatal.

Operator controls (environment):
  FTCORE_DISABLE_PLUGINS=a,b        do not load these entry points (by name)
  FTCORE_DISABLE_PLUGIN_AUTOLOAD=1  load no entry points at all
  FTCORE_STRICT_PLUGINS=1           a plugin that fails to load is an error
  FTCORE_TRACE_PLUGINS=1            log every hook call to stderr
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pluggy

from ftcore import hookcheck, hookspecs
from ftcore.errors import UserError

ENTRY_POINT_GROUP = "ftcore"

log = logging.getLogger(__name__)


@dataclass
class PluginRecord:
    """What ``ftcore plugins`` shows for one entry point."""

    name: str
    module: str
    distribution: str
    version: str
    status: str  # "loaded" | "failed" | "disabled"
    error: str = ""


class FtcorePluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers how each entry point fared."""

    def __init__(self) -> None:
        super().__init__(ENTRY_POINT_GROUP)
        self.add_hookspecs(hookspecs)
        self.records: list[PluginRecord] = []
        # called with ("Head.<method>", kwargs) before every head method call (tracing,
        # a test kit's hook recorder); see ftcore.heads.HeadCaller
        self.head_observers: list[Any] = []

    def record_for(self, plugin_name: str) -> PluginRecord | None:
        return next((r for r in self.records if r.name == plugin_name), None)

    def failed(self) -> list[PluginRecord]:
        """The entry points that failed to load."""
        return [r for r in self.records if r.status == "failed"]

    def distribution_of(self, plugin_name: str) -> str:
        record = self.record_for(plugin_name)
        return record.distribution if record else "(registered in code)"


def _env_list(name: str) -> list[str]:
    return [p.strip() for p in os.environ.get(name, "").split(",") if p.strip()]


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _record(ep: metadata.EntryPoint, status: str, error: str = "") -> PluginRecord:
    dist = getattr(ep, "dist", None)
    return PluginRecord(
        name=ep.name,
        module=ep.value,
        distribution=dist.metadata["Name"] if dist else "?",
        version=dist.version if dist else "?",
        status=status,
        error=error,
    )


def _register(pm: FtcorePluginManager, ep: metadata.EntryPoint) -> str:
    """Import, register and check one entry point; return an error text or ''.

    Checked before the plugin counts as loaded: its hook names (a misspelt one gets a
    did-you-mean) and signatures (pluggy), and the components it declares (kinds, names,
    schemas: :func:`ftcore.hookcheck.component_problems`). Its hook implementations are
    wrapped so every result is checked when called (:func:`ftcore.hookcheck.check_results`).
    """
    try:
        module = ep.load()
    except Exception as exc:  # a broken plugin must not break the others
        return f"import failed: {type(exc).__name__}: {exc}"
    unknown = hookcheck.unknown_hooks(module)
    if unknown:
        return f"invalid hook implementation in {ep.value}: {'; '.join(unknown)}"
    try:
        pm.register(module, name=ep.name)
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        if pm.is_registered(module):
            pm.unregister(module)
        return f"invalid hook implementation: {exc}"
    problem = _components_problem(pm, module, ep.value)
    if problem:
        pm.unregister(module)
        return problem
    hookcheck.check_results(pm, module)
    return ""


def _components_problem(pm: FtcorePluginManager, plugin: object, where: str) -> str:
    """Why the components ``plugin`` declares are unusable, or ''."""
    impls = [
        impl
        for caller in pm.get_hookcallers(plugin) or []
        if caller.name == "ftcore_components"
        for impl in caller.get_hookimpls()
        if impl.plugin is plugin
    ]
    if not impls:
        return ""
    function = impls[0].function
    try:
        found = function()
    except Exception as exc:
        return f"ftcore_components ({hookcheck.where(function)}) raised {type(exc).__name__}: {exc}"
    problems = hookcheck.component_problems(found if found is not None else [])
    if problems:
        return f"ftcore_components ({hookcheck.where(function)}): {'; '.join(problems)}"
    return ""


def get_plugin_manager(
    *,
    disable: Iterable[str] = (),
    strict: bool | None = None,
    autoload: bool | None = None,
    plugins: Iterable[object] = (),
) -> FtcorePluginManager:
    """Build a fresh plugin manager.

    disable: entry-point names not to load (added to FTCORE_DISABLE_PLUGINS).
    strict: raise :class:`UserError` if any plugin fails to load.
    autoload: load entry points (default: unless FTCORE_DISABLE_PLUGIN_AUTOLOAD).
    plugins: extra plugin objects to register directly (tests, embedding).
    """
    pm = FtcorePluginManager()
    disabled = set(disable) | set(_env_list("FTCORE_DISABLE_PLUGINS"))
    strict = _env_flag("FTCORE_STRICT_PLUGINS") if strict is None else strict
    autoload = not _env_flag("FTCORE_DISABLE_PLUGIN_AUTOLOAD") if autoload is None else autoload
    if autoload:
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if ep.name in disabled:
                pm.records.append(_record(ep, "disabled"))
                continue
            error = _register(pm, ep)
            record = _record(ep, "failed" if error else "loaded", error)
            pm.records.append(record)
            log.debug(
                "plugin %s (%s %s): %s%s",
                record.name,
                record.distribution,
                record.version,
                record.status,
                f" ({error})" if error else "",
            )
    for plugin in plugins:
        pm.register(plugin)
        hookcheck.check_results(pm, plugin)
    pm.check_pending()
    failed = [r for r in pm.records if r.status == "failed"]
    if strict and failed:
        r = failed[0]
        raise UserError(
            f"plugin '{r.name}' from distribution '{r.distribution}' failed to load ({r.error}); "
            f"fix or uninstall it, or disable it with FTCORE_DISABLE_PLUGINS={r.name}"
        )
    if _env_flag("FTCORE_TRACE_PLUGINS"):
        pm.trace.root.setwriter(lambda msg: sys.stderr.write(f"[ftcore trace] {msg}"))
        pm.enable_tracing()
        pm.head_observers.append(lambda name, kwargs: sys.stderr.write(f"[ftcore trace] {name}\n"))
    return pm
