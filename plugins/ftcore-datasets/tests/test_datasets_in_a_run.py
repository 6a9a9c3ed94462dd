"""The file datasets feed a real (tiny) run, tested with ftcore's testing kit."""

from __future__ import annotations

import json

import ftcore_datasets.plugin as plugin
from ftcore_devkit.testing import conformance, make_rows


def test_plugin_conforms():
    conformance.assert_conforms(plugin)


def test_a_jsonl_file_trains_end_to_end(run_recipe, tmp_path):
    path = tmp_path / "reviews.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in make_rows(100)))
    result = run_recipe(
        plugins=[plugin],
        overrides=["data.source=jsonl", f"data.options.path={path}", "data.options.val_ratio=0.2"],
    )
    rows = result.summary["data"]["rows"]
    assert rows == {"train": 70, "validation": 20, "test": 10}
    assert 0.0 <= result.test["test/accuracy"] <= 1.0
