"""An interrupted run resumed from its last checkpoint equals an uninterrupted run."""

from __future__ import annotations

import json

import pytest
import torch

import ftcore
from ftcore.testing import MemoryDataset, base_recipe, build_hooks, execute_recipe, make_rows


class Crash(Exception):
    """Stands in for a process killed mid-epoch."""


class CrashAt:
    """A plugin whose Lightning callback crashes the run at a given global step."""

    def __init__(self, step: int) -> None:
        self.step = step

    @ftcore.hookimpl
    def ftcore_lightning_callbacks(self, recipe, run):
        import lightning as L

        step = self.step

        class _Crash(L.Callback):
            def on_train_batch_start(self, trainer, module, batch, batch_idx):
                if trainer.global_step == step:
                    raise Crash(f"killed at step {step}")

        return [_Crash()]


SPLITS = {"train": make_rows(40), "validation": make_rows(8, 1), "test": make_rows(8, 2)}
OVERRIDES = [
    "trainer.max_epochs=3",
    "checkpoint.every_n_steps=2",
    "data.batch_size=8",
    "optim.warmup_steps=3",
    "optim.lr=3e-3",
]


def _state(run_dir):
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    return ckpt["state_dict"], ckpt["optimizer_states"][0]["state"]


@pytest.mark.parametrize("crash_step", [3, 7, 10])
def test_resume_after_crash_is_exact(tmp_path, tiny_model_dir, crash_step):
    recipe = base_recipe(tiny_model_dir)
    reference = execute_recipe(
        recipe, tmp_path / "ref", OVERRIDES, hooks=build_hooks([MemoryDataset(SPLITS)])
    )
    crashing = build_hooks([MemoryDataset(SPLITS), CrashAt(crash_step)])
    with pytest.raises(Crash):
        execute_recipe(recipe, tmp_path / "run", OVERRIDES, hooks=crashing)
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()
    from omegaconf import OmegaConf

    from ftcore.recipe.validate import validate
    from ftcore.run import execute

    hooks = build_hooks([MemoryDataset(SPLITS)])
    raw = OmegaConf.load(tmp_path / "run" / "recipe.yaml")
    cfg = validate(raw, hooks, source="recipe.yaml", default_name="test")
    resumed = execute(cfg, hooks, out=str(tmp_path / "run"), resume=True)

    ref_weights, ref_optim = _state(tmp_path / "ref")
    weights, optim = _state(tmp_path / "run")
    assert ref_weights.keys() == weights.keys()
    for name in ref_weights:
        assert torch.equal(ref_weights[name], weights[name]), name
    for key in ref_optim:
        assert torch.equal(ref_optim[key]["exp_avg"], optim[key]["exp_avg"])
    assert resumed["test"] == reference.summary["test"]
    assert resumed["steps_trained"] == reference.summary["steps_trained"] == 15
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["test"] == reference.summary["test"]
