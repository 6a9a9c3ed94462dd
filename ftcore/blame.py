"""Which plugin raised: turn an unexpected exception from plugin code into a clear error.

A hook implementation that raises during a run (a bug in a plugin, not bad input)
reaches the command line as an ordinary exception. :func:`plugin_failure` walks its
traceback: the innermost frame that belongs to a registered plugin's package names the
plugin, and the innermost pluggy hook call (or head method, ``Head.step``...) above it
names the hook. The command line then prints one line naming the plugin, its
distribution and the hook, instead of a traceback (``FTCORE_TRACE_PLUGINS=1`` shows the
traceback too).
"""

from __future__ import annotations

import types
from typing import Any

from ftcore.errors import UserError
from ftcore.heads import HEAD_METHOD

CORE_PACKAGES = {"ftcore", "pluggy", "lightning", "pytorch_lightning", "torch", "transformers"}


def _package_of(plugin: Any) -> str | None:
    name = plugin.__name__ if isinstance(plugin, types.ModuleType) else type(plugin).__module__
    top = (name or "").split(".")[0]
    return None if not top or top in CORE_PACKAGES or top == "builtins" else top


def plugin_packages(pm: Any) -> dict[str, str]:
    """Top-level package of each registered plugin -> its plugin name."""
    found: dict[str, str] = {}
    for name, plugin in pm.list_name_plugin():
        package = _package_of(plugin) if plugin is not None else None
        if package and package not in found:
            found[package] = name
    return found


def culprit(exc: BaseException, pm: Any) -> tuple[str, str | None] | None:
    """``(plugin name, hook name or None)`` of the plugin code where ``exc`` was raised.

    A hook implementation that raised tagged the exception with its own plugin and hook
    (:mod:`ftcore.hookcheck`): exact even when one package holds several plugins. Otherwise
    (code a plugin handed to core, such as a callback or a head, raising later) the
    innermost frame whose module is a plugin's module, or else in a plugin's package, names
    it.
    """
    from ftcore.hookcheck import PLUGIN_ATTRIBUTE

    tagged = getattr(exc, PLUGIN_ATTRIBUTE, None)
    if tagged is not None and pm.get_plugin(tagged[0]) is not None:
        return tagged[0], tagged[1]
    modules = {
        plugin.__name__: name
        for name, plugin in pm.list_name_plugin()
        if isinstance(plugin, types.ModuleType)
    }
    packages = plugin_packages(pm)
    hook, found = None, None
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        module = str(frame.f_globals.get("__name__", ""))
        if module.startswith("pluggy") and isinstance(frame.f_locals.get("hook_name"), str):
            hook = frame.f_locals["hook_name"]
        if module == "ftcore.heads" and isinstance(frame.f_locals.get(HEAD_METHOD), str):
            hook = frame.f_locals[HEAD_METHOD]  # a head method (ftcore.heads.HeadCaller)
        plugin = modules.get(module) or packages.get(module.split(".")[0])
        if plugin is not None:
            found = (plugin, hook)
        tb = tb.tb_next
    return found


def plugin_failure(exc: BaseException, pm: Any) -> UserError | None:
    """A one-line error naming the plugin, distribution and hook, or None (not a plugin's)."""
    from ftcore.hookcheck import PLUGIN_ATTRIBUTE, HookResultError

    if isinstance(exc, HookResultError):
        return UserError(str(exc))
    found = culprit(exc, pm)
    if found is None:
        return None
    plugin, hook = found
    dist = pm.distribution_of(plugin) if hasattr(pm, "distribution_of") else "(unknown)"
    where = f" in {hook}" if hook else ""
    tagged = getattr(exc, PLUGIN_ATTRIBUTE, None)
    if tagged is not None and tagged[0] == plugin:
        where += f" ({tagged[2]})"
    return UserError(
        f"plugin '{plugin}' ({dist}) raised{where}: {type(exc).__name__}: {exc}; report it to "
        f"the plugin's authors, or disable it with FTCORE_DISABLE_PLUGINS={plugin} "
        "(FTCORE_TRACE_PLUGINS=1 shows the traceback)"
    )
