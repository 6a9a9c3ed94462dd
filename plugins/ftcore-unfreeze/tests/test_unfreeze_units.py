"""The unfreezing schedule and discriminative rates as pure functions, without a Trainer.

(Layer groups are discovered by core: ``tests/test_layers.py``.)"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from ftcore_unfreeze.schedule import (
    NEVER,
    frozen_groups,
    group_options,
    lr_factors,
    start_steps,
    start_units,
)

from ftcore.errors import UserError
from ftcore.types import GroupOptions, OptimizerGroup

GROUPS = ["embeddings", "block.0", "block.1", "head"]


def schedule(**options):
    base = dict(mode="every", unit="epoch", every=1, milestones=[], frozen_for=1)
    return SimpleNamespace(**{**base, **options})


def test_start_units_of_each_mode():
    assert start_units(GROUPS, schedule(every=2)) == {
        "head": 0,
        "block.1": 2,
        "block.0": 4,
        "embeddings": 6,
    }
    assert start_units(GROUPS, schedule(mode="milestones", milestones=[1, 3])) == {
        "head": 0,
        "block.1": 1,
        "block.0": 3,
        "embeddings": NEVER,
    }
    assert start_units(GROUPS, schedule(mode="head_first", frozen_for=2)) == {
        "head": 0,
        "block.1": 2,
        "block.0": 2,
        "embeddings": 2,
    }


def test_start_steps_convert_epochs_and_frozen_groups_follow_the_step():
    starts = start_steps(GROUPS, schedule(), steps_per_epoch=5)
    assert starts == {"embeddings": 15, "block.0": 10, "block.1": 5, "head": 0}
    assert start_steps(GROUPS, schedule(unit="step", every=3), 5)["embeddings"] == 9
    assert frozen_groups(0, starts) == {"embeddings", "block.0", "block.1"}
    assert frozen_groups(4, starts) == {"embeddings", "block.0", "block.1"}
    assert frozen_groups(5, starts) == {"embeddings", "block.0"}
    assert frozen_groups(15, starts) == set()
    never = start_steps(GROUPS, schedule(mode="milestones", milestones=[1]), 5)
    assert never["block.0"] == NEVER and frozen_groups(10**9, never) == {"embeddings", "block.0"}


def test_discriminative_rates_decay_by_the_factor_per_group_from_the_top():
    factors = lr_factors(GROUPS, 2.6)
    assert factors["head"] == 1.0
    assert factors["block.1"] == pytest.approx(1 / 2.6)
    assert factors["embeddings"] == pytest.approx(1 / 2.6**3)


def test_group_options_of_each_strategy_and_both():
    unfreeze = SimpleNamespace(**vars(schedule(unit="step", every=2)), warmup_steps=3)
    disc = SimpleNamespace(decay=2.0)
    both = group_options(GROUPS, unfreeze, disc, steps_per_epoch=5)
    assert both["head"] == GroupOptions(lr_factor=1.0, start_step=0)  # no warm-up at 0
    assert both["block.0"] == GroupOptions(lr_factor=0.25, start_step=4, warmup_steps=3)
    only_disc = group_options(GROUPS, None, disc, steps_per_epoch=5)
    assert only_disc["embeddings"] == GroupOptions(lr_factor=0.125)  # starts: not set
    only_unfreeze = group_options(GROUPS, unfreeze, None, steps_per_epoch=5)
    assert only_unfreeze["block.1"] == GroupOptions(start_step=2, warmup_steps=3)


def test_freezer_refuses_a_changed_schedule_on_resume():
    from ftcore_unfreeze.callbacks import Freezer

    param = SimpleNamespace(requires_grad=True, requires_grad_=lambda flag: None, grad=None)
    model = SimpleNamespace(named_parameters=lambda: iter([("classifier.weight", param)]))
    group = OptimizerGroup("head", ("classifier.weight",), 1e-3, 0.0, "head", start_step=0)
    module = SimpleNamespace(optimizer_groups=[group], model=model)  # core's typed groups
    trainer = SimpleNamespace(global_step=0, is_global_zero=True)
    freezer = Freezer()
    freezer.load_state_dict({"start_steps": {"head": 0, "block.0": 4}})
    freezer.on_fit_start(trainer, module)
    with pytest.raises(UserError, match="was trained with the unfreezing schedule"):
        freezer.on_train_start(trainer, module)
    assert freezer.state_dict() == {"start_steps": {"head": 0}}
