"""Tests of the sample_predictions callback, built on ftcore's testing kit."""

from __future__ import annotations

import json

import ftcore_callbacks.plugin as plugin
import pytest
from ftcore_callbacks.samples import due, markdown_table, shorten
from ftcore_devkit.testing import conformance

from ftcore.errors import RecipeError


def test_due_every_n_epochs_and_never_twice():
    assert [due(e, 1, -1) for e in range(3)] == [True, True, True]
    assert [due(e, 2, -1) for e in range(4)] == [False, True, False, True]
    assert not due(3, 2, 3)  # already logged before a resume


def test_markdown_table_escapes_and_cuts():
    samples = [{"text": "a | b\nc", "target": "pos", "prediction": {"label": "neg", "p": 1}}]
    table = markdown_table(samples, max_chars=200)
    assert table.splitlines()[2] == "| 0 | a \\| b c | pos | neg |"
    assert shorten("x" * 50, 10) == "x" * 9 + "…"
    assert shorten({"value": 1.5}, 50) == '{"value": 1.5}'


def test_plugin_conforms():
    conformance.assert_conforms(plugin)


def _text_events(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"tensors": 0})
    acc.Reload()
    tags = [t for t in acc.Tags()["tensors"] if t.startswith("sample_predictions")]
    return [e for t in tags for e in acc.Tensors(t)]


def test_logs_samples_to_tensorboard_every_epoch(run_recipe):
    result = run_recipe(
        plugins=[plugin],
        overrides=["trainer.max_epochs=2", "callbacks.sample_predictions.num_samples=4"],
    )
    events = _text_events(result.run_dir)
    assert [e.step for e in events] == [8, 16]  # 64 rows / batch 8 = 8 steps per epoch
    table = events[0].tensor_proto.string_val[0].decode()
    assert table.startswith("| # | text | target | prediction |") and table.count("\n") == 5
    lines = (result.run_dir / "sample_predictions.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["epoch"] for r in records] == [0, 1]
    sample = records[0]["samples"][0]
    assert sample["target"] in {"pos", "neg"} and sample["prediction"]["label"] in {"pos", "neg"}


def test_every_n_epochs_and_no_jsonl(run_recipe):
    result = run_recipe(
        plugins=[plugin],
        overrides=[
            "trainer.max_epochs=2",
            "callbacks.sample_predictions.every_n_epochs=2",
            "callbacks.sample_predictions.write_jsonl=false",
        ],
    )
    assert [e.step for e in _text_events(result.run_dir)] == [16]
    assert not (result.run_dir / "sample_predictions.jsonl").exists()


def test_not_enabled_means_no_callback(run_recipe):
    result = run_recipe(plugins=[plugin])
    assert _text_events(result.run_dir) == []


def test_options_are_checked(run_recipe):
    with pytest.raises(RecipeError) as info:
        run_recipe(
            plugins=[plugin],
            overrides=[
                "callbacks.sample_predictions.num_sample=4",
                "callbacks.sample_predictions.every_n_epochs=0",
            ],
        )
    assert info.value.problems == [
        "callbacks.sample_predictions.num_sample: unknown key "
        "(did you mean 'callbacks.sample_predictions.num_samples'?)"
    ]
    with pytest.raises(RecipeError, match="every_n_epochs: must be at least 1"):
        run_recipe(plugins=[plugin], overrides=["callbacks.sample_predictions.every_n_epochs=0"])
