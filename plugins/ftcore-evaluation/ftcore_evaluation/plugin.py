"""The evaluation plugin, wired into ftcore's hooks.

Importing this module is cheap: numpy, scipy, scikit-learn, matplotlib and torch are
imported only when a run ends, a baseline is evaluated or a command runs.
"""

from __future__ import annotations

from typing import Any

import ftcore
from ftcore.types import Command, Component
from ftcore_evaluation.schema import EvaluationConfig


@ftcore.hookimpl
def ftcore_components() -> list[Component]:
    about = (
        "Baselines, bootstrap confidence intervals, significance, error analysis, forgetting "
        "and the run report (report.md, report.html)"
    )
    return [Component("evaluation", "evaluation", EvaluationConfig, about)]


@ftcore.hookimpl
def ftcore_commands() -> list[Command]:
    from ftcore_evaluation.commands import COMMANDS

    return list(COMMANDS)


@ftcore.hookimpl
def ftcore_check_recipe(recipe: Any) -> list[str]:
    from ftcore_evaluation.schema import options

    cfg, problems = options(recipe), []
    if not 0 < cfg.confidence < 1:
        problems.append("evaluation.confidence: must be between 0 and 1, e.g. 0.95")
    if cfg.bootstrap_samples < 0:
        problems.append("evaluation.bootstrap_samples: must be 0 (no intervals) or more")
    keys = ("baseline_train_rows", "forgetting_train_rows", "forgetting_test_rows")
    for key in (*keys, "forgetting_max_length"):
        if getattr(cfg, key) < 2:
            problems.append(f"evaluation.{key}: must be at least 2")
    return problems


@ftcore.hookimpl
def ftcore_lightning_callbacks(recipe: Any, run: Any) -> list[Any]:
    from ftcore_evaluation.schema import options

    cfg = options(recipe)
    if not (cfg.enabled and cfg.forgetting and cfg.forgetting_during_training):
        return []
    from ftcore_evaluation.tracking import ForgettingTracker

    return [ForgettingTracker(run)]


@ftcore.hookimpl
def ftcore_run_start(run: Any) -> None:
    from ftcore_evaluation.lifecycle import on_run_start

    on_run_start(run)


@ftcore.hookimpl
def ftcore_run_end(run: Any, summary: dict[str, Any]) -> None:
    from ftcore_evaluation.lifecycle import on_run_end

    on_run_end(run, summary)
