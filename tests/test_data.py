"""Row validation, normalisation and the drop policy."""

from __future__ import annotations

import pytest
from ftcore_devkit.testing import MemoryDataset, make_rows

from ftcore.data.normalize import normalizer
from ftcore.errors import UserError


def _splits(**bad_rows):
    splits = {"train": make_rows(16), "validation": make_rows(8, 1), "test": make_rows(8, 2)}
    for split, rows in bad_rows.items():
        splits[split] = splits[split] + rows
    return splits


def _run(run_recipe, make_plugin_manager, splits, *overrides):
    hooks = make_plugin_manager(MemoryDataset(splits), autoload=True)
    return run_recipe(hooks=hooks, overrides=list(overrides))


@pytest.mark.parametrize(
    "row, message",
    [
        ({"text": "", "label": "pos"}, "empty 'text'"),
        ({"label": "pos"}, "missing 'text'"),
        ({"text": 3, "label": "pos"}, "'text' is not text"),
        ({"text": "fine", "label": None}, "missing label"),
    ],
)
def test_invalid_training_row_fails_with_row_number(run_recipe, make_plugin_manager, row, message):
    with pytest.raises(UserError) as info:
        _run(run_recipe, make_plugin_manager, _splits(train=[row]))
    assert f"memory:train: row 17: {message}" in str(info.value)
    assert "data.on_invalid=drop" in str(info.value)


def test_label_unseen_in_training_is_rejected(run_recipe, make_plugin_manager):
    with pytest.raises(UserError, match="memory:test: row 9: label 'meh' never occurs"):
        _run(run_recipe, make_plugin_manager, _splits(test=[{"text": "so so", "label": "meh"}]))


def test_drop_policy_counts_dropped_rows(run_recipe, make_plugin_manager):
    splits = _splits(
        train=[{"text": " ", "label": "pos"}], test=[{"text": "so so", "label": "meh"}]
    )
    result = _run(run_recipe, make_plugin_manager, splits, "data.on_invalid=drop")
    assert result.summary["data"]["dropped"] == {"train": 1, "test": 1}
    assert result.summary["data"]["rows"] == {"train": 16, "validation": 8, "test": 8}


def test_empty_split_after_dropping_is_an_error(run_recipe, make_plugin_manager):
    splits = _splits()
    splits["validation"] = [{"text": "", "label": "pos"}]
    with pytest.raises(UserError, match="validation split is empty after dropping 1"):
        _run(run_recipe, make_plugin_manager, splits, "data.on_invalid=drop")


def test_normalizer_steps_in_order():
    clean = normalizer(["nfc", "whitespace", "lowercase"])
    assert clean("  Cafe\u0301  IS\n\tGood ") == "caf\u00e9 is good"


def test_limits_take_seeded_subsets(run_recipe, make_plugin_manager):
    result = _run(
        run_recipe, make_plugin_manager, _splits(), "data.limit_train=10", "data.limit_eval=4"
    )
    assert result.summary["data"]["rows"] == {"train": 10, "validation": 4, "test": 4}


def test_over_long_text_is_an_invalid_row_naming_split_and_row(run_recipe, make_plugin_manager):
    long_row = {"text": "word " * 30_000, "label": "pos"}
    with pytest.raises(UserError) as info:
        _run(run_recipe, make_plugin_manager, _splits(train=[long_row]))
    message = str(info.value)
    assert "memory:train: row 17: 'text' is 150,000 characters long" in message
    assert "data.max_chars=100000" in message and "\n" not in message
    result = _run(
        run_recipe, make_plugin_manager, _splits(train=[long_row]), "data.max_chars=200000"
    )
    assert result.summary["data"]["rows"]["train"] == 17
