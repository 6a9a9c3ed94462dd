"""Gradual unfreezing and discriminative learning rates in real (tiny) runs.

One schedule is checked step by step: each optimizer group's learning rate, which groups
get gradients, which parameters change, and that autograd stops above the frozen layers.
"""

from __future__ import annotations

import csv
import json

import lightning as L
import pytest
import torch
from ftcore_devkit.testing import (
    LightningCallbacks,
    MemoryDataset,
    StubComponent,
    assert_same_training_state,
    base_recipe,
    build_hooks,
    execute_recipe,
    last_checkpoint,
    recipe_problems,
    resume_run,
    tiny_splits,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


LR, DECAY, EVERY, WARMUP = 1e-3, 2.0, 2, 2
SCHEDULE = [
    "optim.schedule=constant",
    "optim.warmup_steps=0",
    "trainer.max_epochs=1",
    "strategies.gradual_unfreezing.unit=step",
    f"strategies.gradual_unfreezing.every={EVERY}",
    f"strategies.gradual_unfreezing.warmup_steps={WARMUP}",
    f"strategies.discriminative_lr.decay={DECAY}",
]
DEPTH = {"head": 0, "block.1": 1, "block.0": 2, "embeddings": 3}  # tiny BERT: 2 blocks


def expected_lr(group: str, step: int) -> float:
    """Peak LR / DECAY**depth, 0 before the group's start step, then its own warm-up."""
    depth = DEPTH[group]
    start = depth * EVERY
    if step < start:
        return 0.0
    ramp = 1.0 if depth == 0 else min(1.0, (step - start + 1) / WARMUP)
    return LR / DECAY**depth * ramp


class Recorder(L.Callback):
    """Records, at every optimizer step, each group's learning rate, which parameters have
    gradients, and which changed since the start."""

    def __init__(self) -> None:
        self.steps: list[dict] = []

    def on_train_start(self, trainer, module):
        self.initial = {p: p.detach().clone() for p in module.parameters()}
        layer0 = module.model.bert.encoder.layer[0]
        self.flows = []
        layer0.register_forward_hook(lambda m, i, out: self.flows.append(out[0].requires_grad))

    def on_before_optimizer_step(self, trainer, module, optimizer):
        groups = [g for g in optimizer.param_groups if not g["name"].endswith("no_decay")]
        self.steps.append(
            {
                "step": trainer.global_step,
                "lr": {g["layer_group"]: g["lr"] for g in groups},
                "grad": {g["layer_group"]: g["params"][0].grad is not None for g in groups},
                "block0_output_needs_grad": self.flows[-1],
                "groups": groups,
            }
        )

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self.steps[-1]["changed"] = {
            g["layer_group"]: any(not torch.equal(p, self.initial[p]) for p in g["params"])
            for g in self.steps[-1].pop("groups")
        }


@pytest.fixture(scope="module")
def schedule_run(tmp_path_factory, tiny_model_dir):
    recorder = Recorder()
    hooks = build_hooks(
        [
            MemoryDataset(tiny_splits(train=64, validation=8, test=8)),
            LightningCallbacks(recorder),
        ]
    )
    out = tmp_path_factory.mktemp("schedule")
    result = execute_recipe(base_recipe(tiny_model_dir), out, SCHEDULE, hooks=hooks)
    return result, recorder.steps


def test_each_group_has_its_configured_lr_at_each_step(schedule_run):
    _, steps = schedule_run
    assert [s["step"] for s in steps] == list(range(8))
    for s in steps:
        for group, lr in s["lr"].items():
            assert lr == pytest.approx(expected_lr(group, s["step"]), rel=1e-6), (group, s)


def test_frozen_groups_get_no_gradient_and_stay_bit_for_bit_unchanged(schedule_run):
    _, steps = schedule_run
    for s in steps:
        for group, depth in DEPTH.items():
            started = s["step"] >= depth * EVERY
            assert s["grad"][group] is started, (group, s["step"])
            assert s["changed"][group] is started, (group, s["step"])  # torch.equal to the start


def test_autograd_stops_above_the_frozen_layers(schedule_run):
    _, steps = schedule_run
    # block.0 and the embeddings are frozen before step 4: block 0's output needs no
    # gradient, so backward never runs through block 0 or the embeddings
    assert [s["block0_output_needs_grad"] for s in steps] == [False] * 4 + [True] * 4


def test_schedule_and_epoch_times_are_written(schedule_run):
    result, _ = schedule_run
    rows = json.loads((result.run_dir / "unfreeze_schedule.json").read_text())
    starts = {r["layer_group"]: r["start_step"] for r in rows}
    assert starts == {"embeddings": 6, "block.0": 4, "block.1": 2, "head": 0}
    times = json.loads((result.run_dir / "epoch_times.json").read_text())
    assert len(times) == 1 and times[0]["seconds"] > 0
    assert times[0]["trainable_params"] < times[0]["total_params"]  # head only at step 0
    with open(result.run_dir / "logs" / "metrics.csv") as f:
        logged = [row["time/epoch_seconds"] for row in csv.DictReader(f)]
    assert any(logged)


# --- resume -----------------------------------------------------------------------------

RESUME = [
    "trainer.max_epochs=2",
    "checkpoint.every_n_steps=2",
    "optim.warmup_steps=2",
    "optim.lr=3e-3",
    "strategies.gradual_unfreezing.unit=step",
    "strategies.gradual_unfreezing.every=3",
    "strategies.gradual_unfreezing.warmup_steps=2",
    "strategies.discriminative_lr.decay=2.6",
]
SPLITS = tiny_splits(train=40, validation=8, test=8)


class CountSteps(L.Callback):
    def __init__(self) -> None:
        self.steps: list[int] = []

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.steps.append(trainer.global_step)


def test_resume_in_the_middle_of_the_schedule_is_exact(tmp_path, tiny_model_dir):
    # 5 steps per epoch, 10 in all; groups start at 0 (head), 3, 6 and 9 (embeddings).
    # The crash at step 7 is mid-epoch, with block.0 in its own warm-up and the embeddings
    # still frozen; the last checkpoint is from step 6.
    recipe = base_recipe(tiny_model_dir)
    ref = execute_recipe(recipe, tmp_path / "ref", RESUME, plugins=[MemoryDataset(SPLITS)])
    crashed = execute_recipe(
        recipe, tmp_path / "run", RESUME, plugins=[MemoryDataset(SPLITS)], crash_at_step=7
    )
    counter = CountSteps()
    resumed = resume_run(
        crashed.run_dir, plugins=[MemoryDataset(SPLITS), LightningCallbacks(counter)]
    )
    assert counter.steps == [6, 7, 8, 9]  # continued from the step-6 checkpoint

    assert_same_training_state(ref.run_dir, crashed.run_dir)
    groups = last_checkpoint(crashed.run_dir)["optimizer_states"][0]["param_groups"]
    ref_groups = last_checkpoint(ref.run_dir)["optimizer_states"][0]["param_groups"]
    assert len(groups) == len(ref_groups)  # Lightning #6891
    for mine, theirs in zip(groups, ref_groups):
        assert (mine["name"], mine["lr"], mine["start_step"]) == (
            theirs["name"],
            theirs["lr"],
            theirs["start_step"],
        )
    assert resumed.summary["steps_trained"] == ref.summary["steps_trained"] == 10
    assert resumed.test == ref.test
    assert resumed.validation == ref.validation


# --- recipe checks ----------------------------------------------------------------------


def test_validate_reports_bad_combinations(tiny_model_dir):
    problems = recipe_problems(
        base_recipe(tiny_model_dir),
        ["strategies.gradual_unfreezing.unit=step", "strategies.lora={}"],
        plugins=[MemoryDataset(SPLITS), StubComponent("strategy", "lora")],
        disable=["lora"],
    )
    assert problems == [
        "strategies: 'gradual_unfreezing' cannot be combined with 'lora'; remove one of them"
    ]
    problems = recipe_problems(
        base_recipe(tiny_model_dir),
        [
            "optim.schedule=one_cycle",
            "trainer.strategy=ddp",
            "strategies.gradual_unfreezing.warmup_steps=10",
            "strategies.gradual_unfreezing.mode=milestones",
            "strategies.gradual_unfreezing.milestones=[3,1]",
            "strategies.discriminative_lr.groups={low: '(', high: classifier}",
        ],
        plugins=[MemoryDataset(SPLITS)],
        disable=["lora"],
    )
    assert sorted(p.split(":")[0] for p in problems) == [
        "strategies.discriminative_lr.groups.low",
        "strategies.gradual_unfreezing.milestones",
        "strategies.gradual_unfreezing.warmup_steps",
        "trainer.strategy",
    ]


def test_cli_validate_names_the_problem(tmp_path, capsys):
    from ftcore.cli import main

    recipe = tmp_path / "ulmfit.yaml"
    recipe.write_text(
        "extends: sentiment-rotten-tomatoes\n"
        "optim: {schedule: one_cycle}\n"
        "strategies:\n  gradual_unfreezing: {warmup_steps: 5}\n"
    )
    assert main(["validate", str(recipe)]) == 2
    err = capsys.readouterr().err
    assert (
        "strategies.gradual_unfreezing.warmup_steps: not applied under optim.schedule=one_cycle"
        in err
    )
