"""Early stopping on a scripted metric: the right epoch, the reason, the best weights."""

from __future__ import annotations

import json

import pytest
import torch
from ftcore_devkit.testing import (
    MemoryDataset,
    base_recipe,
    build_hooks,
    execute_recipe,
    tiny_splits,
)
from omegaconf import OmegaConf

import ftcore
from ftcore.errors import RecipeError
from ftcore.recipe.loader import apply_overrides
from ftcore.recipe.validate import validate

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# epoch:    0     1     2     3     4     5     6
SCRIPT = [0.50, 0.70, 0.60, 0.705, 0.65, 0.95, 0.99]
SPLITS = tiny_splits(train=16, validation=8, test=8)


class Scripted:
    """Logs ``val/scripted`` from a fixed sequence, one value per epoch; keeps the weights
    training ended with."""

    def __init__(self, values: list[float]) -> None:
        self.values = values
        self.final: dict = {}

    @ftcore.hookimpl
    def ftcore_lightning_callbacks(self, recipe, run):
        import lightning as L

        values, final = self.values, self.final

        class _Script(L.Callback):
            def on_validation_epoch_end(self, trainer, module):
                if not trainer.sanity_checking:
                    module.log("val/scripted", values[trainer.current_epoch])

            def on_train_end(self, trainer, module):
                final.update({k: v.clone() for k, v in module.model.state_dict().items()})

        return [_Script()]


def run(tmp_path, tiny_model_dir, overrides, script):
    hooks = build_hooks([MemoryDataset(SPLITS), script])
    base = [
        "trainer.max_epochs=7",
        "checkpoint.monitor=val/scripted",
        "checkpoint.mode=max",
        "optim.lr=5e-3",
    ]
    recipe = base_recipe(tiny_model_dir)
    return execute_recipe(recipe, tmp_path / "run", base + overrides, hooks=hooks)


@pytest.fixture(scope="module")
def stopped(tmp_path_factory, tiny_model_dir):
    # patience 3 with min_delta 0.01: epoch 3's 0.705 is no real gain over epoch 1's 0.70,
    # so epochs 2, 3, 4 count as no improvement and training stops after epoch 4 (0-based);
    # without min_delta it would go on to epoch 6. The best checkpoint is epoch 3's.
    overrides = ["strategies.early_stopping.patience=3", "strategies.early_stopping.min_delta=0.01"]
    script = Scripted(SCRIPT)
    return run(tmp_path_factory.mktemp("es"), tiny_model_dir, overrides, script), script


def test_stops_at_the_right_epoch_and_says_why(stopped):
    stopped, _ = stopped
    report = json.loads((stopped.run_dir / "early_stopping.json").read_text())
    assert report["stopped_early"] is True
    assert report["stopped_epoch"] == 4
    assert report["reason"] == "patience_exhausted"
    assert "did not improve in the last 3 records" in report["message"]
    # no monitor or mode in strategies.early_stopping: the checkpoint's are used
    assert report["monitor"] == "val/scripted" and report["mode"] == "max"
    assert report["best_score"] == pytest.approx(0.70)
    assert stopped.summary["steps_trained"] == 5 * 2  # 5 epochs of 16 rows, batch 8


def _weights(path) -> dict:
    state = torch.load(path, weights_only=True)["state_dict"]
    return {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")}


def test_test_and_export_use_the_best_checkpoint_not_the_last(stopped):
    stopped, script = stopped
    best = stopped.summary["best_checkpoint"]
    assert "best-3-" in best  # epoch 3 had the best scripted score (0.705)
    from safetensors.torch import load_file

    exported = load_file(stopped.run_dir / "model" / "model.safetensors")
    best_weights = _weights(best)
    assert exported.keys() <= best_weights.keys()
    for name, tensor in exported.items():
        assert torch.equal(tensor, best_weights[name]), name
    # training went on for an epoch after the best one: its final weights differ
    assert any(not torch.equal(exported[n], script.final[n]) for n in exported)


def test_validate_needs_a_mode_for_another_metric(tiny_model_dir):
    hooks = build_hooks([MemoryDataset(SPLITS)])
    overrides = ["strategies.early_stopping.monitor=val/f1", "strategies.early_stopping.patience=0"]
    raw = apply_overrides(OmegaConf.create(base_recipe(tiny_model_dir)), overrides)
    with pytest.raises(RecipeError) as info:
        validate(raw, hooks, source="test", default_name="test")
    assert info.value.problems == [
        "strategies.early_stopping.patience: must be at least 1",
        "strategies.early_stopping.mode: set min or max for monitor 'val/f1'",
    ]
