"""Callbacks a recipe enables under ``callbacks:``; Lightning is imported only when enabled.

Recipe::

    callbacks:
      sample_predictions: {num_samples: 8, every_n_epochs: 1}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ftcore
from ftcore.types import Component
from ftcore_callbacks.schema import SamplePredictionsConfig

SAMPLE_PREDICTIONS = "sample_predictions"


@ftcore.hookimpl
def ftcore_components() -> list[Component]:
    about = (
        "Log predictions on a few validation examples to TensorBoard (text tab) after every "
        "n-th validation epoch"
    )
    return [Component("callback", SAMPLE_PREDICTIONS, SamplePredictionsConfig, about)]


@ftcore.hookimpl
def ftcore_recipe_dirs() -> list[str]:
    return [str(Path(__file__).parent / "recipes")]


@ftcore.hookimpl
def ftcore_check_recipe(recipe: Any) -> list[str]:
    options = (recipe.callbacks or {}).get(SAMPLE_PREDICTIONS)
    if options is None:
        return []
    path = f"callbacks.{SAMPLE_PREDICTIONS}"
    checks = [
        ("num_samples", options.num_samples >= 1, "must be at least 1"),
        ("every_n_epochs", options.every_n_epochs >= 1, "must be at least 1"),
        ("max_chars", options.max_chars >= 8, "must be at least 8"),
    ]
    return [f"{path}.{key}: {msg}" for key, ok, msg in checks if not ok]


@ftcore.hookimpl
def ftcore_lightning_callbacks(recipe: Any, run: Any) -> list[Any]:
    options = (recipe.callbacks or {}).get(SAMPLE_PREDICTIONS)
    if options is None:
        return []
    from ftcore_callbacks.callback import SamplePredictions

    return [SamplePredictions(options, run)]
