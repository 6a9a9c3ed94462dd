"""The classification head, tested with ftcore's testing kit (ftcore_devkit.testing)."""

from __future__ import annotations

import json
import random

import ftcore_classification.plugin as plugin
from ftcore_devkit.testing import conformance, make_rows


def test_plugin_conforms():
    conformance.assert_conforms(plugin)


def test_single_label_run_predicts_labels_with_probabilities(run_recipe):
    result = run_recipe(plugins=[plugin], overrides=["trainer.max_epochs=2"])
    assert set(result.test) >= {"test/accuracy", "test/f1", "test/precision", "test/recall"}
    predictions = json.loads((result.run_dir / "predictions.json").read_text())
    assert len(predictions) == 16
    first = predictions[0]
    assert first["label"] in {"neg", "pos"} and first["target"] in {0, 1}
    assert abs(sum(first["probabilities"].values()) - 1.0) < 1e-5


def _multi_label_rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for row in make_rows(n, seed):
        labels = [row["label"]] + (["long"] if rng.random() < 0.5 else [])
        rows.append({"text": row["text"], "label": "|".join(labels)})
    return rows


def test_multi_label_run_predicts_label_sets(run_recipe):
    rows = {"train": _multi_label_rows(64, 0), "validation": _multi_label_rows(16, 1)}
    rows["test"] = _multi_label_rows(16, 2)
    result = run_recipe(plugins=[plugin], rows=rows, overrides=["head.multi_label=true"])
    predictions = json.loads((result.run_dir / "predictions.json").read_text())
    assert set(predictions[0]["probabilities"]) == {"long", "neg", "pos"}
    assert all(set(p["labels"]) <= {"long", "neg", "pos"} for p in predictions)
    info = json.loads((result.run_dir / "model" / "ftcore_data_info.json").read_text())
    assert info["labels"] == ["long", "neg", "pos"] and info["head_options"]["multi_label"] is True
