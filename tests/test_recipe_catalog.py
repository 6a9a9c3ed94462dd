"""The recipe catalog is generated from the files a run wrote."""

from __future__ import annotations

import json

import pytest
import yaml

from tools.recipe_catalog import ROOT, catalog_markdown, main, measured_rows, read_run


def _run_dir(tmp_path, evaluation: bool):
    run = tmp_path / ("eval" if evaluation else "plain")
    run.mkdir()
    summary = {
        "recipe": "smoke",
        "test": {"test/accuracy": 0.8125, "test/loss": 0.4},
        "epochs_trained": 1,
        "data": {"rows": {"train": 256, "validation": 128, "test": 128}},
        "timings": {"total_seconds": 41.6},
    }
    (run / "metrics.json").write_text(json.dumps(summary))
    recipe = {"trainer": {"accelerator": "cpu", "devices": "1", "num_threads": 2}}
    recipe["versions"] = {"torch": "2.13.0"}
    (run / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    if evaluation:
        result = {
            "primary_metric": "accuracy",
            "bootstrap": {"confidence": 0.95},
            "metrics": {
                "fine-tuned": {"accuracy": {"value": 0.8125, "low": 0.74, "high": 0.88}},
                "majority": {"accuracy": {"value": 0.5, "low": 0.41, "high": 0.59}},
            },
            "best_baseline": "majority",
            "significant": True,
        }
        (run / "evaluation.json").write_text(json.dumps(result))
    return run


def test_catalog_lists_shipped_recipes_and_measured_runs(tmp_path):
    text = catalog_markdown([read_run(_run_dir(tmp_path, evaluation=False))])
    assert "| `sentiment-rotten-tomatoes` | Binary sentiment" in text
    row = next(line for line in text.splitlines() if line.startswith("| `smoke` | accuracy"))
    assert "accuracy 0.812 (no interval recorded)" in row and "| 42 s |" in row
    assert "cpu × 1, 2 threads" in row and "256 / 128 / 128" in row


def test_catalog_uses_the_evaluation_interval(tmp_path, capsys):
    assert main([str(_run_dir(tmp_path, evaluation=True))]) == 0
    out = capsys.readouterr().out
    assert "accuracy 0.812 [0.740, 0.880] (95% CI)" in out
    assert "majority: 0.500 (significant gain)" in out


def test_catalog_without_runs_says_nothing_is_measured(tmp_path):
    out = tmp_path / "catalog.md"
    assert main(["--out", str(out)]) == 0
    assert "nothing is measured here yet" in out.read_text()


def test_update_refreshes_the_list_and_keeps_the_measured_rows(tmp_path):
    out = tmp_path / "catalog.md"
    assert main(["--out", str(out), str(_run_dir(tmp_path, evaluation=True))]) == 0
    row = measured_rows(out.read_text())["smoke"]
    out.write_text(out.read_text().replace("| `smoke` | Tiny", "| `gone` | Tiny"))
    assert main(["--update", str(out)]) == 0
    text = out.read_text()
    assert "| `gone` |" not in text and "| `smoke` | Tiny" in text
    assert measured_rows(text) == {"smoke": row}
    assert "| `smoke` | Tiny end-to-end" in text and text.count("| yes |") == 1


def test_update_of_a_missing_catalog_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--update", str(tmp_path / "nope.md")])
    assert stop.value.code == 2
    assert "nope.md does not exist" in capsys.readouterr().err


def test_the_documented_catalog_lists_every_shipped_recipe():
    """docs/catalog.md is what ``--update`` makes of it: every recipe ``ftcore recipes``
    lists from this repository, no other (rerun ``python tools/recipe_catalog.py --update
    docs/catalog.md`` after adding one)."""
    text = (ROOT / "docs" / "catalog.md").read_text(encoding="utf-8")
    assert catalog_markdown([], measured_rows(text)) == text
