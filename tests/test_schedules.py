"""Learning-rate schedules and optimisation settings from the recipe: the lr at given steps.

Warm-up (steps or ratio) with linear, cosine or constant decay, one-cycle, a late group's
own warm-up, and — in a real run — gradient accumulation and clipping.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import lightning as L
import pytest
import torch
from ftcore_devkit.testing import (
    LightningCallbacks,
    MemoryDataset,
    base_recipe,
    build_hooks,
    execute_recipe,
    tiny_bert_config,
    tiny_splits,
)
from omegaconf import OmegaConf

from ftcore.recipe.loader import apply_overrides
from ftcore.recipe.validate import validate
from ftcore.schedules import base_factor, lambdas
from ftcore.types import DataInfo, OptimizerGroup

LR = 1e-3
SPLITS = tiny_splits(train=64, validation=8, test=8)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_base_factor_at_given_steps():
    # 10 steps, 2 of warm-up: (s + 1) / 2 during warm-up, then decay over the remaining 8
    assert [base_factor(s, 10, 2, "linear") for s in (0, 1, 2, 6, 10)] == [0.5, 1, 1, 0.5, 0]
    cosine = [base_factor(s, 10, 2, "cosine") for s in (0, 1, 2, 6, 10)]
    assert cosine == pytest.approx([0.5, 1, 1, 0.5, 0])
    assert base_factor(4, 10, 2, "cosine") == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert [base_factor(s, 10, 2, "constant") for s in (0, 1, 2, 9)] == [0.5, 1, 1, 1]
    assert [base_factor(s, 4, 0, "linear") for s in range(4)] == [1, 0.75, 0.5, 0.25]


def test_a_late_group_has_its_own_warmup_on_top_of_the_schedule():
    groups = [
        OptimizerGroup("head", ("w",), LR, 0.0, "head"),
        OptimizerGroup("block.0", ("v",), LR, 0.0, "block.0", start_step=4, warmup_steps=2),
    ]
    early, late = lambdas(groups, total=10, warmup=0, kind="constant")
    assert [early(s) for s in range(8)] == [1.0] * 8
    assert [late(s) for s in range(8)] == [0, 0, 0, 0, 0.5, 1, 1, 1]


def scheduled_lrs(tiny_model_dir, overrides: list[str], total: int) -> list[float]:
    """The first group's lr at each of ``total`` optimiser steps, from core's
    ``configure_optimizers`` (no Trainer run: its stepping-batch count is given)."""
    from transformers import BertForSequenceClassification

    from ftcore.module import FtModule

    hooks = build_hooks([MemoryDataset(SPLITS)])
    raw = apply_overrides(OmegaConf.create(base_recipe(tiny_model_dir)), overrides)
    recipe = validate(raw, hooks, source="test", default_name="test")
    config = tiny_bert_config(
        vocab_size=32, hidden_size=8, num_hidden_layers=1, intermediate_size=8
    )
    info = DataInfo(task="classification", labels=["neg", "pos"], extra={"multi_label": False})
    module = FtModule(BertForSequenceClassification(config), recipe, hooks, info)
    module._trainer = SimpleNamespace(  # what configure_optimizers reads from the Trainer
        estimated_stepping_batches=total, precision_plugin=None, gradient_clip_val=None
    )
    configured = module.configure_optimizers()
    optimizer, scheduler = configured["optimizer"], configured["lr_scheduler"]["scheduler"]
    lrs = []
    for _ in range(total):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


@pytest.mark.parametrize(
    ("overrides", "factors"),
    [
        (
            ["optim.warmup_steps=3", "optim.schedule=linear"],
            [1 / 3, 2 / 3, 1, 1, 6 / 7, 5 / 7, 4 / 7, 3 / 7, 2 / 7, 1 / 7],  # 3 up, 7 down
        ),
        (
            ["optim.warmup_ratio=0.2", "optim.schedule=cosine"],  # 2 of 10 steps
            [0.5, 1] + [0.5 * (1 + math.cos(math.pi * k / 8)) for k in range(8)],
        ),
        (["optim.schedule=constant"], [1] * 10),
        (["optim.warmup_steps=4", "optim.schedule=constant"], [0.25, 0.5, 0.75] + [1] * 7),
    ],
    ids=["warmup-steps-linear", "warmup-ratio-cosine", "constant", "warmup-constant"],
)
def test_lr_at_each_step(tiny_model_dir, overrides, factors):
    lrs = scheduled_lrs(tiny_model_dir, overrides, total=10)
    assert lrs == pytest.approx([LR * f for f in factors], abs=1e-12)


def test_one_cycle(tiny_model_dir):
    # torch's OneCycleLR defaults: from peak/25 up to the peak at 30% of the steps (cosine),
    # then down to peak/25/1e4 at the last step
    lrs = scheduled_lrs(tiny_model_dir, ["optim.schedule=one_cycle"], total=10)
    start, end = LR / 25, LR / 25 / 1e4
    assert lrs[0] == pytest.approx(start)
    assert lrs[1] == pytest.approx(start + (LR - start) / 2)  # halfway up (cosine)
    assert lrs[2] == pytest.approx(LR)
    assert lrs[9] == pytest.approx(end)
    assert lrs[2:] == sorted(lrs[2:], reverse=True)


class Steps(L.Callback):
    """Records, per optimiser step, the lr, the gradient norm before clipping and the
    norm of the update the optimiser made."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def on_before_optimizer_step(self, trainer, module, optimizer):
        params = [p for g in optimizer.param_groups for p in g["params"]]
        grads = [p.grad.norm() for p in params if p.grad is not None]
        self.before = [p.detach().clone() for p in params]
        self.params = params
        self.rows.append(
            {
                "step": trainer.global_step,
                "lr": optimizer.param_groups[0]["lr"],
                "grad_norm": torch.stack(grads).norm().item(),
            }
        )

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if self.rows and "update_norm" not in self.rows[-1]:
            moved = [(p.detach() - b).flatten() for p, b in zip(self.params, self.before)]
            self.rows[-1]["update_norm"] = torch.cat(moved).norm().item()


def test_accumulation_and_clipping_in_a_run(tmp_path, tiny_model_dir):
    steps = Steps()
    overrides = [
        "optim.optimizer=sgd",
        "optim.weight_decay=0",
        "optim.grad_clip=0.001",
        "optim.accumulate=2",
        "optim.schedule=cosine",
        "optim.warmup_ratio=0.25",
    ]
    hooks = build_hooks([MemoryDataset(SPLITS), LightningCallbacks(steps)])
    result = execute_recipe(base_recipe(tiny_model_dir), tmp_path / "run", overrides, hooks=hooks)
    # 8 batches, 2 per optimiser step: 4 steps; warm-up int(0.25 * 4) = 1 step, then cosine
    assert result.summary["steps_trained"] == 4
    assert [r["step"] for r in steps.rows] == [0, 1, 2, 3]
    expected = [1, 1, 0.5 * (1 + math.cos(math.pi / 3)), 0.5 * (1 + math.cos(2 * math.pi / 3))]
    assert [r["lr"] for r in steps.rows] == pytest.approx([LR * f for f in expected])
    # SGD's first step moves the parameters by lr x gradient: the clipped gradient's norm
    first = steps.rows[0]
    assert first["grad_norm"] > 0.01  # far above the clip value, so clipping acted
    assert first["update_norm"] / first["lr"] == pytest.approx(0.001, rel=1e-3)
