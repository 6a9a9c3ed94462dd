"""The regression head's evaluation hooks (ftcore_regression.evaluation) and a run with them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ftcore_devkit.testing import (
    MemoryDataset,
    base_recipe,
    build_hooks,
    execute_recipe,
    make_regression_rows,
)
from ftcore_evaluation import plugin as evaluation_plugin
from test_model_card import check_card, snippet_prediction

from conftest import reference
from ftcore.api import Predictor

regression = pytest.importorskip("ftcore_regression.evaluation")


def predictions(n: int = 200, targets: int = 1, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    true = rng.normal(size=(n, targets))
    pred = true + rng.normal(scale=0.7, size=(n, targets))
    pred[:5] = pred[:5].round()  # ties for Spearman
    if targets == 1:
        return [{"value": float(p[0]), "target": float(t[0])} for p, t in zip(pred, true)]
    return [{"values": p.tolist(), "target": t.tolist()} for p, t in zip(pred, true)]


@pytest.mark.parametrize("targets", [1, 3])
def test_score_matches_the_heads_torchmetrics(targets):
    import torch
    from ftcore_regression.metrics import build_metrics

    preds = predictions(targets=targets)
    pred, true = regression.arrays(preds)
    metrics = build_metrics(targets)
    shape = (lambda x: x.squeeze(-1)) if targets == 1 else (lambda x: x)
    metrics.update(
        shape(torch.tensor(pred, dtype=torch.float32)),
        shape(torch.tensor(true, dtype=torch.float32)),
    )
    expected = {k: float(v) for k, v in metrics.compute().items()}
    found = regression.score(preds)
    for name in ("mse", "rmse", "mae", "r2", "pearson", "spearman"):
        assert found[name] == pytest.approx(expected[name], abs=1e-4), name


def test_worst_residuals_first(tmp_path):
    preds = predictions(40)
    rows = [{"text": f"row {i}"} for i in range(40)]
    from ftcore.types import DataInfo

    info = DataInfo(task="regression", extra={"num_targets": 1})
    sections = regression.error_analysis(preds, rows, info, str(tmp_path))
    assert set(sections[0].images) == {"predicted_vs_true.png", "residuals.png"}
    lines = [json.loads(x) for x in (tmp_path / "residuals.jsonl").read_text().splitlines()]
    sizes = [abs(r["residual"][0]) for r in lines]
    assert len(lines) == 40 and sizes == sorted(sizes, reverse=True)


def regression_setup(model_dir) -> tuple[dict, object]:
    """A tiny regression recipe on 64/16/16 synthetic rows, and hooks that serve them."""
    splits = {
        "train": make_regression_rows(64, 0),
        "validation": make_regression_rows(16, 1),
        "test": make_regression_rows(16, 2),
    }
    hooks = build_hooks([MemoryDataset(splits), reference(), evaluation_plugin])
    return base_recipe(model_dir, task="regression"), hooks


def test_regression_run_with_evaluation(tmp_path, tiny_model_dir):
    recipe, hooks = regression_setup(tiny_model_dir)
    recipe["evaluation"] = {"bootstrap_samples": 200, "forgetting_dataset": "reference"}
    result = execute_recipe(recipe, tmp_path / "run", hooks=hooks)
    found = json.loads((result.run_dir / "evaluation.json").read_text())
    assert found["primary_metric"] == "pearson" and found["best_baseline"] in (
        "ridge probe",
        "mean",
    )
    mse = found["metrics"]["fine-tuned"]["mse"]["value"]
    assert mse == pytest.approx(result.summary["test"]["test/mse"], rel=1e-4)
    assert found["comparisons"]["mean"]["mcnemar"] is None  # no per-example accuracy
    assert "reference linear-probe accuracy" in found["forgetting"]
    page = (result.run_dir / "report.html").read_text()
    assert "<h2>Worst residuals</h2>" in page and (result.run_dir / "residuals.jsonl").is_file()
    card = check_card(result.run_dir, "regression", "text-classification")
    assert "| pearson | " in card.text and "Strongest baseline" in card.text
    [expected] = Predictor(result.run_dir, hooks).predict([{"text": "your text"}])
    assert snippet_prediction(result.run_dir) == pytest.approx([expected["value"]], abs=1e-5)


def test_assess_regression_projects_from_an_out_of_fold_ridge_probe(tmp_path, tiny_model_dir):
    from argparse import Namespace

    from ftcore_evaluation import advice
    from omegaconf import OmegaConf

    recipe, hooks = regression_setup(tiny_model_dir)
    recipe["data"]["batch_size"] = 8
    path = tmp_path / "regression.yaml"
    path.write_text(OmegaConf.to_yaml(recipe))
    args = Namespace(
        recipe=str(path), overrides=[], models=None, budget=1800.0, samples=200,
        out=str(tmp_path / "assessment"),
    )  # fmt: skip
    out, text = advice.run_assessment(args, hooks)
    found = json.loads((out / "assessment.json").read_text())
    quality = found["quality"]
    assert quality["probe"]["metric"] == "pearson" and quality["probe"]["rows"] == 64
    assert isinstance(quality["logme"], float) and "label_issues" not in quality
    assert found["projection"]["method"] in ("calibrated probe", "probe and short run")
    assert found["projection"]["metric"] == "pearson" and "## Projection" in text
