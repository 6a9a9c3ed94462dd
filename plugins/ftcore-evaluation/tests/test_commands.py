"""The CLI commands: compare, evaluate, assess, models."""

from __future__ import annotations

import csv
import json
from argparse import Namespace

import pytest
from ftcore_devkit.testing import make_rows
from ftcore_evaluation import advice
from omegaconf import OmegaConf

from conftest import eval_hooks, eval_recipe
from ftcore.cli import main


def test_compare_two_runs(evaluated_run, other_run, tmp_path, capsys):
    out = tmp_path / "comparison.json"
    code = main(
        [
            "compare",
            str(evaluated_run.run_dir),
            str(other_run.run_dir),
            "--samples",
            "300",
            "--out",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    found = json.loads(out.read_text())
    (comparison,) = found["comparisons"].values()
    assert comparison["mcnemar"] is not None and "differences" in comparison
    assert comparison["verdict"] in printed
    accuracy = found["metrics"][comparison["a"]]["accuracy"]["value"]
    assert accuracy == pytest.approx(evaluated_run.summary["test"]["test/accuracy"], abs=1e-6)


def test_compare_refuses_different_test_sets(evaluated_run, other_run, tmp_path, capsys):
    changed = tmp_path / "changed"
    changed.mkdir()
    for name in ("recipe.yaml", "model"):
        (changed / name).symlink_to(other_run.run_dir / name)
    predictions = json.loads((other_run.run_dir / "predictions.json").read_text())
    predictions[3]["target"] = 1 - predictions[3]["target"]
    (changed / "predictions.json").write_text(json.dumps(predictions))
    assert main(["compare", str(evaluated_run.run_dir), str(changed)]) == 2
    assert "test example 3 has target" in capsys.readouterr().err


def _write(path, rows, fmt):
    if fmt == "csv":
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["review", "label"])
            writer.writeheader()
            writer.writerows({"review": r["text"], "label": r["label"]} for r in rows)
    else:
        path.write_text(
            "".join(json.dumps({"review": r["text"], "label": r["label"]}) + "\n" for r in rows)
        )


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_evaluate_run_on_new_data(evaluated_run, tmp_path, capsys, fmt):
    data = tmp_path / f"new.{fmt}"
    _write(data, make_rows(24, seed=9), fmt)
    out = tmp_path / "eval"
    args = [
        "evaluate",
        str(evaluated_run.run_dir),
        "--data",
        str(data),
        "--format",
        fmt,
        "--text-column",
        "review",
        "--out",
        str(out),
        "--samples",
        "200",
    ]
    assert main(args) == 0
    found = json.loads((out / "evaluation.json").read_text())
    assert found["examples"] == 24
    acc = found["metrics"]["fine-tuned"]["accuracy"]
    assert acc["low"] <= acc["value"] <= acc["high"]
    for name in ("report.md", "report.html", "errors.jsonl", "predictions.json"):
        assert (out / name).is_file()
    assert "report.html" in capsys.readouterr().out


def test_evaluate_rejects_unknown_labels(evaluated_run, tmp_path, capsys):
    data = tmp_path / "bad.jsonl"
    rows = make_rows(4) + [{"text": "a fine film", "label": "meh"}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["evaluate", str(evaluated_run.run_dir), "--data", str(data)]) == 2
    assert "row 5" in capsys.readouterr().err
    args = [
        "evaluate",
        str(evaluated_run.run_dir),
        "--data",
        str(data),
        "--drop-invalid",
        "--out",
        str(tmp_path / "dropped"),
        "--samples",
        "50",
    ]
    assert main(args) == 0
    assert len(json.loads((tmp_path / "dropped" / "evaluation.json").read_text())["dropped"]) == 1


def test_assess_tiny_recipe_with_a_candidate_model(tiny_model_dir, tmp_path):
    from ftcore_devkit.testing import save_tiny_bert

    other = save_tiny_bert(tmp_path / "other-bert", seed=1)
    recipe = eval_recipe(tiny_model_dir)
    recipe["data"]["batch_size"] = 4
    path = tmp_path / "tiny.yaml"
    path.write_text(OmegaConf.to_yaml(recipe))
    args = Namespace(
        recipe=str(path),
        overrides=["trainer.max_epochs=2"],
        models=str(other),
        # Generous: the curve stops early when the next point would not fit the budget,
        # and a loaded machine must not turn that into a failure.
        budget=1800.0,
        samples=200,
        out=str(tmp_path / "assessment"),
    )
    out, text = advice.run_assessment(args, eval_hooks())
    found = json.loads((out / "assessment.json").read_text())
    assert found["data"]["rows"] == {"train": 64, "validation": 16, "test": 16}
    assert found["holdout_rows"] == 8  # half the validation split; the test split is unused
    assert "linear probe" in found["baselines"]
    assert [p["rows"] for p in found["learning_curve"]] == [16, 32]
    # A projection, or the reason there is none (short runs still on the majority plateau).
    projection = found["projection"]
    assert projection.get("full", {}).get("rows") == 64 or projection["skipped_rows"]
    assert found["cost"]["seconds_per_step"] > 0 and found["cost"]["parameters"]["total"] > 0
    assert found["recommendation"] and "## Recommendation" in text
    assert {r["model"] for r in found["ranking"]} == {str(other), str(tiny_model_dir)}
    assert "## Model choice" in text and found["candidates"][0]["cost"]["total_steps"] == 32
    assert (out / "assessment.md").read_text() == text
    assert (out / "learning_curve.png").is_file() and not (out / ".work").exists()
    quality = found["quality"]
    assert quality["sample_rows"] == 64 and isinstance(quality["logme"], float)
    assert {"suspects", "near_duplicates", "thin_spots", "logme_random_features"} <= set(quality)
    assert "## Data quality" in text and "LogME" in text
    assert all(isinstance(r["logme"], float) for r in found["ranking"])
    # The out-of-fold probe on the quality sample is what the projection scales; a tiny
    # BERT without its pre-training head has no language-model loss, and says why.
    assert quality["probe"]["metric"] == "accuracy" and quality["probe"]["rows"] == 64
    assert 0.0 <= quality["probe"]["low"] <= quality["probe"]["high"] <= 1.0
    assert quality["language_model"]["available"] is False
    assert projection["method"] in ("calibrated probe", "probe and short run")
    assert projection["full"]["rows"] == 64
    assert "## Projection" in text and "never part of its own calibration" in text
    assert all(r["projected"]["value"] > 0 for r in found["ranking"])


def test_models_lists_bundled_models(capsys):
    assert main(["models", "--json"]) == 0
    found = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    assert found["minilm"]["architecture"] == "BertModel"
    assert found["minilm"]["licence"] == "Apache-2.0"


def test_assess_reports_a_bad_recipe_in_one_line(capsys):
    assert main(["assess", "no-such-recipe", "--budget", "10"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ftcore: error:") and "no-such-recipe" in err


def test_assess_budget_sizes_the_samples_from_the_embedding_rate():
    from ftcore_evaluation.assess import MIN_PROBE_ROWS, Budget

    slow = Budget(rate=10.0, seconds=100.0)  # 350 rows may be embedded
    assert slow.rows() == 350
    assert slow.sizes(train=50_000, validation=6_000) == {
        "holdout": 70,
        "baseline_train": 140,
        "quality": 140,
    }
    fast = Budget(rate=1000.0, seconds=180.0)
    assert fast.sizes(train=8_000, validation=1_000) == {
        "holdout": 500,
        "baseline_train": 8_000,
        "quality": 8_000,
    }
    assert Budget(rate=0.1, seconds=10.0).rows() == MIN_PROBE_ROWS


def test_assess_timing_run_shrinks_to_the_time_left():
    """A candidate's timing run fits its share: 12 steps when there is time, fewer when
    not, none (an estimate from the embedding rate) when not even four fit."""
    from types import SimpleNamespace

    from ftcore_evaluation.assess import calibration_steps, estimated_timing

    run = SimpleNamespace(
        recipe=SimpleNamespace(
            data=SimpleNamespace(batch_size=32), optim=SimpleNamespace(accumulate=1)
        ),
        data=SimpleNamespace(rows={"test": [{}] * 100}),
    )
    # 10 rows/s: a step is ~9.6 s (three forward passes of 32 rows), the holdout 10 s.
    assert estimated_timing(run, 10.0) == {
        "seconds_per_step": 9.6, "eval_seconds": 10.0, "estimated": True
    }  # fmt: skip
    assert calibration_steps(run, 10.0, 1000.0) == 12
    assert calibration_steps(run, 10.0, 10.0 + 9.6 * 6) == 6
    assert calibration_steps(run, 10.0, 40.0) == 0
    assert calibration_steps(run, None, 40.0) == 12  # no budget: the full timing run
