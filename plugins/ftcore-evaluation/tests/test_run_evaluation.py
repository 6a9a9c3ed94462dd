"""Evaluation inside ``ftcore run``: evaluation.json, the report, recipe checks."""

from __future__ import annotations

import json
import re

import pytest
from ftcore_devkit.testing import build_hooks
from omegaconf import OmegaConf

from conftest import eval_hooks, eval_recipe, run_evaluated
from ftcore.errors import RecipeError
from ftcore.recipe.validate import validate


def test_run_writes_evaluation_and_report(evaluated_run):
    result = evaluated_run
    out = result.run_dir
    found = json.loads((out / "evaluation.json").read_text())
    assert found["examples"] == 16 and found["primary_metric"] == "accuracy"
    assert set(found["metrics"]) == {"fine-tuned", "linear probe", "majority class"}
    accuracy = found["metrics"]["fine-tuned"]["accuracy"]
    assert accuracy["value"] == pytest.approx(result.summary["test"]["test/accuracy"], abs=1e-6)
    assert accuracy["low"] <= accuracy["value"] <= accuracy["high"]
    comparison = found["comparisons"][found["best_baseline"]]
    assert comparison["mcnemar"]["method"] == "exact binomial"
    assert found["verdict"] and isinstance(found["significant"], bool)
    forgetting = found["forgetting"]["reference linear-probe accuracy"]
    assert forgetting["examples"] == 30 and forgetting["forgot"] in (True, False)
    for name in ("report.md", "report.html", "errors.jsonl", "figures/confusion_matrix.png"):
        assert (out / name).is_file(), name
    header = (out / "logs" / "metrics.csv").read_text().splitlines()[0]
    assert "forgetting/reference_linear-probe_accuracy" in header


def test_report_html_is_self_contained(evaluated_run):
    out = evaluated_run.run_dir
    page = (out / "report.html").read_text()
    markdown = (out / "report.md").read_text()
    for title in ("Verdict", "Recipe", "Data", "Training curves", "Baseline vs fine-tuned"):
        assert f"## {title}" in markdown and f"<h2>{title}</h2>" in page
    for title in ("Confusion matrix", "Calibration", "Forgetting", "Time, throughput and memory"):
        assert f"<h2>{title}</h2>" in page
    sources = re.findall(r'<img[^>]* src="([^"]+)"', page)
    linked = re.findall(r"\]\((figures/[^)]+)\)", markdown)
    assert len(sources) == len(linked) >= 5
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<script" not in page and "<link" not in page
    assert not re.search(r"(src|href)=\"(https?:|//|file:)", page)


def test_evaluation_does_not_change_training(evaluated_run, run_recipe):
    without = run_recipe(overrides=["trainer.max_epochs=2"])
    assert not (without.run_dir / "evaluation.json").exists()  # the testing kit's default
    assert evaluated_run.summary["test"] == without.summary["test"]
    assert evaluated_run.summary["validation"] == without.summary["validation"]


def test_switches_turn_parts_off(tmp_path, tiny_model_dir):
    out = run_evaluated(
        tmp_path / "run", tiny_model_dir, baseline=False, forgetting=False, report=False
    ).run_dir
    found = json.loads((out / "evaluation.json").read_text())
    assert set(found["metrics"]) == {"fine-tuned"} and found["forgetting"] == {}
    assert not (out / "report.html").exists()


def test_evaluation_section_is_validated(tiny_model_dir):
    hooks = eval_hooks()
    recipe = eval_recipe(tiny_model_dir, confidence=1.5, bootstrap_sample=10)
    with pytest.raises(RecipeError) as info:
        validate(OmegaConf.create(recipe), hooks, source="r.yaml", default_name="r")
    problems = info.value.problems
    assert any("evaluation.bootstrap_sample: unknown key" in p for p in problems)
    recipe = eval_recipe(tiny_model_dir, confidence=1.5)
    with pytest.raises(RecipeError, match="evaluation.confidence: must be between 0 and 1"):
        validate(OmegaConf.create(recipe), hooks, source="r.yaml", default_name="r")


def test_section_without_the_plugin_points_to_the_plugin_list(tiny_model_dir, memory_dataset):
    hooks = build_hooks([memory_dataset], disable=["evaluation"])
    recipe = eval_recipe(tiny_model_dir)
    expected = "evaluation: no installed plugin reads this section.*docs/reference/plugins.md"
    with pytest.raises(RecipeError, match=expected):
        validate(OmegaConf.create(recipe), hooks, source="r.yaml", default_name="r")
    del recipe["evaluation"]
    cfg = validate(OmegaConf.create(recipe), hooks, source="r.yaml", default_name="r")
    assert dict(cfg.evaluation) == {}


def test_report_warns_prominently_when_remote_code_is_trusted(tmp_path, tiny_model_dir, caplog):
    out = run_evaluated(
        tmp_path / "run",
        tiny_model_dir,
        ["model.trust_remote_code=true"],
        baseline=False,
        forgetting=False,
    ).run_dir
    warned = [r for r in caplog.records if r.levelname == "WARNING"]
    assert any("model.trust_remote_code is on" in r.getMessage() for r in warned)
    text = (out / "report.md").read_text()
    # Right under the title, before anything else.
    assert text.split("\n")[2].startswith("**Warning: model.trust_remote_code is on")
    assert "<strong>Warning: model.trust_remote_code is on" in (out / "report.html").read_text()


def test_second_run_reads_the_baselines_from_the_cache(tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.delenv("FTCORE_NO_EVAL_CACHE", raising=False)
    monkeypatch.setenv("FTCORE_CACHE", str(tmp_path / "cache"))

    def start(name: str, *overrides: str) -> dict:
        out = run_evaluated(tmp_path / name, tiny_model_dir, list(overrides)).run_dir
        return json.loads((out / "evaluation" / "start.json").read_text())

    first = start("first")
    second = start("second", "optim.lr=5e-4")  # training settings do not change the baselines
    other_data = start("third", "data.max_length=24")
    assert (first["cache"], second["cache"], other_data["cache"]) == ("miss", "hit", "miss")
    assert second["baselines"] == first["baselines"]
    assert second["forgetting_before"] == first["forgetting_before"]
    assert len(list((tmp_path / "cache" / "evaluation").glob("*.json"))) == 2
    monkeypatch.setenv("FTCORE_NO_EVAL_CACHE", "1")
    assert start("fourth")["cache"] == "off"
