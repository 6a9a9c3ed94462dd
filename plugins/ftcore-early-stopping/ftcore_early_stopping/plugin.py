"""Early stopping, wired into ftcore's hooks.

- ``ftcore_lightning_callbacks``: Lightning's own ``EarlyStopping``, configured from
  ``strategies.early_stopping`` (monitor and mode default to the checkpoint's); its state
  (best score, wait count) is saved in checkpoints, so a resumed run continues counting;
  and a ``StopReport`` callback that, when training ends (``on_fit_end``), writes why
  training stopped (or that it did not) to ``<run_dir>/early_stopping.json`` and logs it.

Core tests and exports the best checkpoint, not the last epoch's weights. Lightning is
imported inside the hooks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ftcore
from ftcore.types import Component
from ftcore_early_stopping.schema import EarlyStoppingConfig

NAME = "early_stopping"
REPORT = "early_stopping.json"


@ftcore.hookimpl
def ftcore_components() -> list[Component]:
    about = "Stop when a validation metric stops improving (Lightning EarlyStopping)"
    return [Component("strategy", NAME, EarlyStoppingConfig, about)]


def options(recipe: Any) -> Any:
    return (recipe.strategies or {}).get(NAME)


@ftcore.hookimpl
def ftcore_check_recipe(recipe: Any) -> list[str]:
    opts = options(recipe)
    if opts is None:
        return []
    path = f"strategies.{NAME}"
    checks = [
        ("mode", opts.mode in (None, "min", "max"), "must be min or max"),
        ("patience", opts.patience >= 1, "must be at least 1"),
        ("min_delta", opts.min_delta >= 0, "must be 0 or more"),
    ]
    problems = [f"{path}.{key}: {msg}" for key, ok, msg in checks if not ok]
    other = opts.monitor and opts.monitor != recipe.checkpoint.monitor
    if other and opts.mode is None:
        problems.append(f"{path}.mode: set min or max for monitor '{opts.monitor}'")
    return problems


def monitor_and_mode(opts: Any, run: Any) -> tuple[str, str]:
    """The metric and mode to watch: the options', else the best checkpoint's."""
    from ftcore.api import monitor

    metric, mode = monitor(run)
    if opts.monitor and opts.monitor != metric:
        return opts.monitor, opts.mode
    return metric, opts.mode or mode


@ftcore.hookimpl
def ftcore_lightning_callbacks(recipe: Any, run: Any) -> list[Any]:
    opts = options(recipe)
    if opts is None:
        return []
    from lightning.pytorch.callbacks import EarlyStopping

    from ftcore_early_stopping.report import StopReport

    metric, mode = monitor_and_mode(opts, run)
    return [
        EarlyStopping(
            monitor=metric,
            mode=mode,
            patience=opts.patience,
            min_delta=opts.min_delta,
            stopping_threshold=opts.stopping_threshold,
            divergence_threshold=opts.divergence_threshold,
            check_finite=opts.check_finite,
            verbose=True,
        ),
        StopReport(Path(run.run_dir) / REPORT),
    ]
