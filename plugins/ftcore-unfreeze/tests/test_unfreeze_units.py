"""Layer groups and the unfreezing schedule as pure functions, without a Trainer."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from ftcore_unfreeze.groups import auto_groups, block_prefixes, layer_groups, pattern_groups
from ftcore_unfreeze.schedule import (
    NEVER,
    frozen_groups,
    group_lrs,
    start_steps,
    start_units,
)

from ftcore.errors import UserError

BERT = [
    "bert.embeddings.word_embeddings.weight",
    "bert.embeddings.LayerNorm.weight",
    "bert.encoder.layer.0.attention.self.query.weight",
    "bert.encoder.layer.0.output.dense.bias",
    "bert.encoder.layer.1.attention.self.query.weight",
    "bert.pooler.dense.weight",
    "classifier.weight",
    "classifier.bias",
]
BERT_BLOCKS = ["bert.encoder.layer.0.", "bert.encoder.layer.1."]
GROUPS = ["embeddings", "block.0", "block.1", "head"]


def test_auto_groups_embeddings_blocks_and_head():
    groups = auto_groups(BERT, BERT_BLOCKS)
    assert list(groups) == GROUPS
    assert groups["embeddings"] == BERT[:2]
    assert groups["block.0"] == BERT[2:4]
    assert groups["head"] == ["bert.pooler.dense.weight", "classifier.weight", "classifier.bias"]


def test_auto_groups_between_blocks_join_the_block_below():
    # an encoder-decoder: the encoder's final norm sits between encoder and decoder blocks
    names = ["shared.weight", "enc.block.0.w", "enc.final_norm.weight", "dec.block.0.w", "lm.w"]
    groups = auto_groups(names, ["enc.block.0.", "dec.block.0."])
    assert groups == {
        "embeddings": ["shared.weight"],
        "block.0": ["enc.block.0.w", "enc.final_norm.weight"],
        "block.1": ["dec.block.0.w"],
        "head": ["lm.w"],
    }


def test_pattern_groups_first_match_wins_and_every_name_needs_a_group():
    patterns = {"lower": r"embeddings|layer\.0\.", "upper": r"layer\.1\.", "top": r"."}
    groups = pattern_groups(BERT, patterns)
    assert groups["lower"] == BERT[:4]
    assert groups["upper"] == [BERT[4]]
    assert groups["top"] == BERT[5:]
    with pytest.raises(ValueError, match="3 parameters match no group: bert.pooler"):
        pattern_groups(BERT, {"a": "embeddings|encoder"})
    with pytest.raises(ValueError, match="group.s. never match no parameter"):
        pattern_groups(BERT, {"all": ".", "never": "xyz"})


def _tiny(kind: str):
    import torch
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        LlamaConfig,
        LlamaForSequenceClassification,
    )

    torch.manual_seed(0)
    small = dict(hidden_size=16, num_hidden_layers=3, num_attention_heads=2, vocab_size=64)
    if kind == "bert":
        return BertForSequenceClassification(BertConfig(intermediate_size=32, **small))
    return LlamaForSequenceClassification(
        LlamaConfig(intermediate_size=32, num_key_value_heads=2, pad_token_id=0, **small)
    )


@pytest.mark.parametrize(
    ("kind", "blocks", "head"),
    [
        ("bert", "bert.encoder.layer.", {"bert.pooler.dense.weight", "classifier.weight"}),
        ("llama", "model.layers.", {"model.norm.weight", "score.weight"}),
    ],
)
def test_groups_discovered_on_hugging_face_models(kind, blocks, head):
    model = _tiny(kind)
    assert block_prefixes(model) == [f"{blocks}{i}." for i in range(3)]
    groups = layer_groups(model, None)
    assert list(groups) == ["embeddings", "block.0", "block.1", "block.2", "head"]
    assert head <= {name for name, _ in groups["head"]}
    every = [name for members in groups.values() for name, _ in members]
    assert sorted(every) == sorted(n for n, _ in model.named_parameters())


def test_frozen_parameters_are_not_grouped():
    model = _tiny("bert")
    model.bert.embeddings.requires_grad_(False)  # e.g. frozen by another plugin
    groups = layer_groups(model, None)
    assert "embeddings" not in groups
    assert list(groups)[0] == "block.0"


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
    lrs = group_lrs(GROUPS, 1e-3, 2.6)
    assert lrs["head"] == 1e-3
    assert lrs["block.1"] == pytest.approx(1e-3 / 2.6)
    assert lrs["embeddings"] == pytest.approx(1e-3 / 2.6**3)


def test_freezer_refuses_a_changed_schedule_on_resume():
    from ftcore_unfreeze.callbacks import Freezer

    params = [SimpleNamespace(requires_grad=True, requires_grad_=lambda flag: None, grad=None)]
    group = {"layer_group": "head", "start_step": 0, "params": params}
    trainer = SimpleNamespace(optimizers=[SimpleNamespace(param_groups=[group])], global_step=0)
    trainer.is_global_zero = True
    freezer = Freezer()
    freezer.load_state_dict({"start_steps": {"head": 0, "block.0": 4}})
    freezer.on_fit_start(trainer, None)
    with pytest.raises(UserError, match="was trained with the unfreezing schedule"):
        freezer.on_train_start(trainer, None)
    assert freezer.state_dict() == {"start_steps": {"head": 0}}
