"""Issue 14.16: labels that are lists or mappings never become class names like "['pos']",
and a NaN label is a missing label, not a class "nan"."""

from __future__ import annotations

import math

import pytest
from ftcore_classification import labels as lab


def test_vocabulary_ignores_lists_mappings_and_nan():
    values = ["pos", ["pos"], {"a": 1}, math.nan, "neg", None]
    assert lab.vocabulary(values, multi_label=False, separator="|") == ["neg", "pos"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["pos"], "label is a list (['pos']), not one class name"),
        ({"x": "pos"}, "label is a dict ({'x': 'pos'}), not a class name"),
        (math.nan, "missing label"),
        (None, "missing label"),
    ],
)
def test_single_label_problems(value, expected):
    assert lab.problem(value, ["neg", "pos"], multi_label=False, separator="|").startswith(expected)


def test_multi_label_lists_are_labels_but_nested_ones_are_not():
    assert lab.problem(["pos", "neg"], ["neg", "pos"], multi_label=True, separator="|") is None
    nested = lab.problem([["pos"]], ["neg", "pos"], multi_label=True, separator="|")
    assert nested.startswith("label list [['pos']] holds a value that is not a class name")
    assert lab.vocabulary([[["pos"]], ["neg", math.nan]], True, "|") == []
