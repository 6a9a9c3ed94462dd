"""Layer groups (discovered by core), per-group options merged, the optimiser's groups."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from ftcore.errors import UserError
from ftcore.layers import auto_groups, block_prefixes, discover, pattern_groups
from ftcore.optimizer import group_patterns, layer_groups, merge_options, plan
from ftcore.types import GroupOptions, LayerGroup, OptimizerGroup

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
    groups = discover(model)
    assert [g.name for g in groups] == ["embeddings", "block.0", "block.1", "block.2", "head"]
    assert head <= set(groups[-1].params)
    every = [name for group in groups for name in group.params]
    assert every == [n for n, _ in model.named_parameters()]  # model order


def test_frozen_parameters_are_not_grouped():
    model = _tiny("bert")
    model.bert.embeddings.requires_grad_(False)  # e.g. frozen by another plugin
    groups = discover(model)
    assert [g.name for g in groups][:1] == ["block.0"]  # no embeddings group


def test_discover_with_patterns_and_without_blocks():
    model = _tiny("bert")
    groups = discover(model, {"lower": r"embeddings|layer\.0\.", "upper": "."})
    assert [g.name for g in groups] == ["lower", "upper"]
    with pytest.raises(ValueError, match="found no layer blocks in Linear"):
        discover(__import__("torch").nn.Linear(2, 2))


# --- where the recipe names its groups -----------------------------------------------------


def _recipe(strategies: dict) -> object:
    return OmegaConf.create({"strategies": strategies})


def test_group_patterns_come_from_a_strategy_section_with_groups():
    assert group_patterns(_recipe({})) == (None, None)
    assert group_patterns(_recipe({"l2_sp": {"alpha": 0.1}})) == (None, None)
    found = _recipe({"gradual_unfreezing": {"groups": None}, "discriminative_lr": {"groups": None}})
    assert group_patterns(found) == ("strategies.gradual_unfreezing", None)
    named = _recipe(
        {"gradual_unfreezing": {"groups": None}, "discriminative_lr": {"groups": {"a": "."}}}
    )
    assert group_patterns(named) == ("strategies.discriminative_lr", {"a": "."})


def test_layer_groups_failing_is_an_error_only_for_a_strategy_that_needs_them():
    import torch

    linear = torch.nn.Linear(2, 2)
    assert layer_groups(linear, _recipe({})) == []
    with pytest.raises(UserError, match="^strategies.discriminative_lr.groups: found no layer"):
        layer_groups(linear, _recipe({"discriminative_lr": {"groups": None}}))
    with pytest.raises(UserError, match="^strategies.x.groups: 1 parameters match no group"):
        layer_groups(linear, _recipe({"x": {"groups": {"w": "weight"}}}))


# --- merging every plugin's options ----------------------------------------------------------

GROUPS_OF_MODEL = [LayerGroup("embeddings", ("e.weight",)), LayerGroup("head", ("c.weight",))]


def test_merge_options_field_by_field_from_several_plugins():
    found = [
        ("disc", {"embeddings": GroupOptions(lr_factor=0.5), "head": GroupOptions(lr_factor=1.0)}),
        ("unfreeze", {"embeddings": GroupOptions(start_step=4, warmup_steps=2)}),
        ("decay", {"head": GroupOptions(weight_decay=0.0)}),
    ]
    assert merge_options(found, GROUPS_OF_MODEL) == {
        "embeddings": GroupOptions(lr_factor=0.5, start_step=4, warmup_steps=2),
        "head": GroupOptions(lr_factor=1.0, weight_decay=0.0),
    }
    assert merge_options([], GROUPS_OF_MODEL) == {}


def test_merge_options_refuses_a_field_set_twice_and_unknown_groups():
    twice = [
        ("ftcore_one.plugin", {"head": GroupOptions(lr_factor=0.5)}),
        ("ftcore_two.plugin", {"head": GroupOptions(lr_factor=2.0, start_step=1)}),
    ]
    with pytest.raises(UserError) as info:
        merge_options(twice, GROUPS_OF_MODEL)
    assert str(info.value) == (
        "layer group 'head': lr_factor is set by plugin 'ftcore_one.plugin' and by plugin "
        "'ftcore_two.plugin' (ftcore_group_options); enable only one of the strategies setting it"
    )
    with pytest.raises(UserError, match="'block.7', which the model does not have; its groups"):
        merge_options([("p", {"block.7": GroupOptions(lr_factor=1.0)})], GROUPS_OF_MODEL)
    with pytest.raises(UserError, match="must map group names to GroupOptions, got dict"):
        merge_options([("p", {"head": {"lr_factor": 1.0}})], GROUPS_OF_MODEL)


# --- the optimiser's groups ----------------------------------------------------------------


def test_plan_without_options_is_decay_and_no_decay_at_one_rate():
    names = ["e.weight", "e.LayerNorm.weight", "c.weight", "c.bias"]
    assert plan(names, GROUPS_OF_MODEL, {}, 1e-3, 0.01) == [
        OptimizerGroup("decay", ("e.weight", "c.weight"), 1e-3, 0.01),
        OptimizerGroup("no_decay", ("e.LayerNorm.weight", "c.bias"), 1e-3, 0.0),
    ]


def test_plan_with_options_gives_two_groups_per_layer_group():
    groups = [
        LayerGroup("embeddings", ("e.weight", "e.LayerNorm.weight")),
        LayerGroup("head", ("c.weight",)),
    ]
    options = {"embeddings": GroupOptions(lr_factor=0.5, start_step=4, warmup_steps=2)}
    assert plan([], groups, options, 1e-3, 0.01) == [
        OptimizerGroup("embeddings", ("e.weight",), 5e-4, 0.01, "embeddings", 4, 2),
        OptimizerGroup(
            "embeddings.no_decay", ("e.LayerNorm.weight",), 5e-4, 0.0, "embeddings", 4, 2
        ),
        OptimizerGroup("head", ("c.weight",), 1e-3, 0.01, "head"),  # no options: the defaults
    ]
    decay = {"head": GroupOptions(weight_decay=0.1)}
    assert plan([], groups, decay, 1e-3, 0.01)[-1].weight_decay == 0.1
