"""An interrupted run resumed from its last checkpoint equals an uninterrupted run."""

from __future__ import annotations

import json

import pytest
from ftcore_devkit.testing import (
    assert_same_training_state,
    base_recipe,
    execute_recipe,
    resume_run,
)

from tests.helpers import memory_hooks

OVERRIDES = [
    "trainer.max_epochs=3",
    "checkpoint.every_n_steps=2",
    "data.batch_size=8",
    "optim.warmup_steps=3",
    "optim.lr=3e-3",
]


@pytest.mark.parametrize("crash_step", [3, 7, 10])
def test_resume_after_crash_is_exact(tmp_path, tiny_model_dir, crash_step):
    recipe = base_recipe(tiny_model_dir)
    reference = execute_recipe(recipe, tmp_path / "ref", OVERRIDES, hooks=memory_hooks())
    crashed = execute_recipe(
        recipe, tmp_path / "run", OVERRIDES, hooks=memory_hooks(), crash_at_step=crash_step
    )
    assert crashed.crashed_at == crash_step and crashed.summary == {}
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()
    resumed = resume_run(tmp_path / "run", hooks=memory_hooks())

    assert_same_training_state(tmp_path / "ref", tmp_path / "run")
    assert resumed.test == reference.test
    assert resumed.summary["steps_trained"] == reference.summary["steps_trained"] == 15
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["test"] == reference.test
