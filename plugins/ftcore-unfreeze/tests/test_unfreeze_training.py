"""Gradual unfreezing and discriminative learning rates in real (tiny) runs.

One schedule is checked step by step: each optimizer group's learning rate, which groups
get gradients, which parameters change, and that autograd stops above the frozen layers.
"""

from __future__ import annotations

import csv
import json

import pytest
import torch
from omegaconf import OmegaConf

import ftcore
from ftcore.errors import RecipeError
from ftcore.recipe.validate import validate
from ftcore.testing import MemoryDataset, base_recipe, build_hooks, execute_recipe, make_rows
from ftcore.types import Component


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: tiny models gain nothing from more, and lose much on a busy CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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


class Recorder:
    """A plugin whose callback records, at every optimizer step, each group's learning rate,
    which parameters have gradients, and which changed since the start."""

    def __init__(self) -> None:
        self.steps: list[dict] = []

    @ftcore.hookimpl
    def ftcore_lightning_callbacks(self, recipe, run):
        import lightning as L

        steps = self.steps

        class _Record(L.Callback):
            def on_train_start(self, trainer, module):
                self.initial = {p: p.detach().clone() for p in module.parameters()}
                layer0 = module.model.bert.encoder.layer[0]
                self.flows = []
                layer0.register_forward_hook(
                    lambda m, i, out: self.flows.append(out[0].requires_grad)
                )

            def on_before_optimizer_step(self, trainer, module, optimizer):
                groups = [g for g in optimizer.param_groups if not g["name"].endswith("no_decay")]
                steps.append(
                    {
                        "step": trainer.global_step,
                        "lr": {g["layer_group"]: g["lr"] for g in groups},
                        "grad": {g["layer_group"]: g["params"][0].grad is not None for g in groups},
                        "block0_output_needs_grad": self.flows[-1],
                        "groups": groups,
                    }
                )

            def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
                steps[-1]["changed"] = {
                    g["layer_group"]: any(not torch.equal(p, self.initial[p]) for p in g["params"])
                    for g in steps[-1].pop("groups")
                }

        return [_Record()]


@pytest.fixture(scope="module")
def schedule_run(tmp_path_factory, tiny_model_dir):
    recorder = Recorder()
    hooks = build_hooks(
        [
            MemoryDataset(
                {"train": make_rows(64), "validation": make_rows(8, 1), "test": make_rows(8, 2)}
            ),
            recorder,
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
SPLITS = {"train": make_rows(40), "validation": make_rows(8, 1), "test": make_rows(8, 2)}


class Crash(Exception):
    """Stands in for a process killed mid-run."""


class CrashAt:
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


class CountSteps:
    def __init__(self) -> None:
        self.steps: list[int] = []

    @ftcore.hookimpl
    def ftcore_lightning_callbacks(self, recipe, run):
        import lightning as L

        steps = self.steps

        class _Count(L.Callback):
            def on_train_batch_start(self, trainer, module, batch, batch_idx):
                steps.append(trainer.global_step)

        return [_Count()]


def _last(run_dir):
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    return ckpt["state_dict"], ckpt["optimizer_states"][0]


def test_resume_in_the_middle_of_the_schedule_is_exact(tmp_path, tiny_model_dir):
    import inspect

    from ftcore.run import execute

    if "resume" not in inspect.signature(execute).parameters:
        pytest.skip("core has no execute(..., resume=True) yet")
    # 5 steps per epoch, 10 in all; groups start at 0 (head), 3, 6 and 9 (embeddings).
    # The crash at step 7 is mid-epoch, with block.0 in its own warm-up and the embeddings
    # still frozen; the last checkpoint is from step 6.
    recipe = base_recipe(tiny_model_dir)
    ref = execute_recipe(
        recipe, tmp_path / "ref", RESUME, hooks=build_hooks([MemoryDataset(SPLITS)])
    )
    crashing = build_hooks([MemoryDataset(SPLITS), CrashAt(7)])
    with pytest.raises(Crash):
        execute_recipe(recipe, tmp_path / "run", RESUME, hooks=crashing)
    counter = CountSteps()
    hooks = build_hooks([MemoryDataset(SPLITS), counter])
    raw = OmegaConf.load(tmp_path / "run" / "recipe.yaml")
    cfg = validate(raw, hooks, source="recipe.yaml", default_name="test")
    resumed = execute(cfg, hooks, out=str(tmp_path / "run"), resume=True)
    assert counter.steps == [6, 7, 8, 9]  # continued from the step-6 checkpoint

    ref_weights, ref_optim = _last(tmp_path / "ref")
    weights, optim = _last(tmp_path / "run")
    for name in ref_weights:
        assert torch.equal(ref_weights[name], weights[name]), name
    assert len(optim["param_groups"]) == len(ref_optim["param_groups"])  # Lightning #6891
    for mine, theirs in zip(optim["param_groups"], ref_optim["param_groups"]):
        assert (mine["name"], mine["lr"], mine["start_step"]) == (
            theirs["name"],
            theirs["lr"],
            theirs["start_step"],
        )
    for key, state in ref_optim["state"].items():
        assert torch.equal(state["exp_avg"], optim["state"][key]["exp_avg"])
        assert torch.equal(state["exp_avg_sq"], optim["state"][key]["exp_avg_sq"])
    assert resumed["steps_trained"] == ref.summary["steps_trained"] == 10
    assert resumed["test"] == ref.summary["test"]
    assert resumed["validation"] == ref.summary["validation"]


# --- recipe checks ----------------------------------------------------------------------


class FakeLora:
    @ftcore.hookimpl
    def ftcore_components(self):
        return [Component(kind="strategy", name="lora")]


def _validate(tiny_model_dir, overrides, plugins=()):
    from ftcore.recipe.loader import apply_overrides

    hooks = build_hooks([MemoryDataset(SPLITS), *plugins], disable=["lora"])
    raw = apply_overrides(OmegaConf.create(base_recipe(tiny_model_dir)), overrides)
    with pytest.raises(RecipeError) as info:
        validate(raw, hooks, source="test", default_name="test")
    return info.value.problems


def test_validate_reports_bad_combinations(tiny_model_dir):
    problems = _validate(
        tiny_model_dir,
        ["strategies.gradual_unfreezing.unit=step", "strategies.lora={}"],
        [FakeLora()],
    )
    assert problems == [
        "strategies: 'gradual_unfreezing' cannot be combined with 'lora'; remove one of them"
    ]
    problems = _validate(
        tiny_model_dir,
        [
            "optim.schedule=one_cycle",
            "trainer.strategy=ddp",
            "strategies.gradual_unfreezing.warmup_steps=10",
            "strategies.gradual_unfreezing.mode=milestones",
            "strategies.gradual_unfreezing.milestones=[3,1]",
            "strategies.discriminative_lr.groups={low: '(', high: classifier}",
        ],
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
