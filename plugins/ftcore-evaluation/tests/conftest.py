"""Shared fixtures: tiny runs with evaluation switched on (built once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ftcore_devkit.testing import (
    MemoryDataset,
    RunResult,
    base_recipe,
    build_hooks,
    execute_recipe,
    make_rows,
    tiny_splits,
)
from ftcore_evaluation import plugin as evaluation_plugin

FAST = {"bootstrap_samples": 200, "forgetting_dataset": "reference"}


def reference() -> MemoryDataset:
    """A small second dataset for the forgetting probe (instead of bbc_news)."""
    splits = {"train": make_rows(40, 5), "validation": make_rows(8, 6), "test": make_rows(30, 7)}
    return MemoryDataset(splits, name="reference")


def eval_hooks(dataset: MemoryDataset | None = None) -> object:
    return build_hooks([dataset or MemoryDataset(tiny_splits()), reference(), evaluation_plugin])


def eval_recipe(model_dir: Path, **evaluation: object) -> dict:
    recipe = base_recipe(model_dir)
    recipe["evaluation"] = {**FAST, **evaluation}
    return recipe


def run_evaluated(out: Path, model_dir: Path, overrides=(), **evaluation: object) -> RunResult:
    recipe = eval_recipe(model_dir, **evaluation)
    return execute_recipe(recipe, out, list(overrides), hooks=eval_hooks())


@pytest.fixture(scope="session")
def evaluated_run(tmp_path_factory, tiny_model_dir) -> RunResult:
    """Two epochs with everything on, forgetting also tracked during training."""
    out = tmp_path_factory.mktemp("evaluated") / "run"
    return run_evaluated(
        out, tiny_model_dir, ["trainer.max_epochs=2"], forgetting_during_training=True
    )


@pytest.fixture(scope="session")
def other_run(tmp_path_factory, tiny_model_dir) -> RunResult:
    """Another run on the same test set (other learning rate), evaluation off."""
    out = tmp_path_factory.mktemp("other") / "run"
    return run_evaluated(out, tiny_model_dir, ["optim.lr=3e-3"], enabled=False)
