"""Tests of the regression head on a tiny random BERT and rows with float targets."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from ftcore_devkit.testing import MemoryDataset, base_recipe, build_hooks, execute_recipe, make_rows
from ftcore_regression import fold, targets
from ftcore_regression import plugin as regression
from ftcore_regression.metrics import build_metrics
from ftcore_regression.schema import RegressionConfig
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from ftcore.errors import UserError
from ftcore.predict import Predictor
from ftcore.types import DataInfo, StepOutput

# Targets far from 0 and with a large spread, so that a forgotten (or doubled) inverse
# standardisation shows at once.
CENTER, SPREAD = 50.0, 10.0


def float_rows(n: int, seed: int, targets_per_row: int = 1) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for row in make_rows(n, seed):
        sign = 1.0 if row["label"] == "pos" else -1.0
        values = [CENTER + k + SPREAD * sign + rng.gauss(0, 2) for k in range(targets_per_row)]
        rows.append({"text": row["text"], "label": values[0] if targets_per_row == 1 else values})
    return rows


def float_splits(targets_per_row: int = 1) -> dict[str, list[dict]]:
    return {
        "train": float_rows(64, 0, targets_per_row),
        "validation": float_rows(16, 1, targets_per_row),
        "test": float_rows(16, 2, targets_per_row),
    }


def regression_recipe(model_dir, **head) -> dict:
    recipe = base_recipe(model_dir)
    recipe["task"] = "regression"
    recipe["head"] = head
    recipe["optim"] = {"lr": 3e-3}
    recipe["trainer"]["max_epochs"] = 2
    return recipe


def run(tmp_path, model_dir, splits, overrides=(), **head):
    return execute_recipe(
        regression_recipe(model_dir, **head),
        tmp_path / "run",
        list(overrides),
        hooks=build_hooks([MemoryDataset(splits), regression], autoload=False),
    )


def head_config(**options) -> RegressionConfig:
    return RegressionConfig(**options)  # what the head receives: the dataclass instance


# --- targets (pure) ------------------------------------------------------------------


def test_targets_parse_numbers_numeric_strings_and_lists():
    assert targets.parse(1) == [1.0]
    assert targets.parse(" -2.5 ") == [-2.5]
    assert targets.parse([1, "2"]) == [1.0, 2.0]
    assert targets.parse("0.5|1.5") == [0.5, 1.5]
    assert targets.infer_count(["x", [1.0, 2.0, 3.0]]) == 3


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("great", "target 'great' is not a number"),
        (True, "target True is not a number"),
        (float("nan"), "not a finite number"),
        ([1.0, "x"], "target 'x' is not a number"),
        (None, "missing target"),
        ([1.0, 2.0], "expected 1 target(s), got 2"),
    ],
)
def test_bad_targets_are_described(value, needle):
    assert needle in targets.problem(value, 1)


def test_statistics_ignore_invalid_rows_and_guard_zero_std():
    stats = targets.statistics([1.0, 3.0, "bad", [5.0, 6.0]], 1)
    assert stats == {"mean": [2.0], "std": [1.0], "count": 2}
    assert targets.statistics([4.0, 4.0], 1)["std"] == [1.0]


# --- data info -----------------------------------------------------------------------


def test_data_info_fits_on_the_training_split_only():
    splits = float_splits(targets_per_row=2)
    head, options = regression.RegressionHead(), head_config()
    info = head.data_info(rows=splits["train"], options=options)
    train = np.array([r["label"] for r in splits["train"]])
    assert info.extra["num_targets"] == 2
    np.testing.assert_allclose(info.extra["mean"], train.mean(0), rtol=1e-9)
    np.testing.assert_allclose(info.extra["std"], train.std(0), rtol=1e-9)
    chosen = head.monitor(options=options)
    assert (chosen.metric, chosen.mode) == ("val/pearson", "max")
    assert "standardize" not in info.extra  # options are not data facts


# --- loss and metrics ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("loss", "reference"),
    [
        ("mse", F.mse_loss),
        ("l1", F.l1_loss),
        ("huber", lambda a, b: F.huber_loss(a, b, delta=0.5)),
        ("smooth_l1", lambda a, b: F.smooth_l1_loss(a, b, beta=0.5)),
    ],
)
def test_step_computes_the_selected_loss_on_standardized_targets(loss, reference):
    info = DataInfo("regression", extra={"num_targets": 1, "mean": [10.0], "std": [4.0]})
    z = torch.tensor([[0.5], [-1.0], [2.0]])

    class Fixed(torch.nn.Module):
        def forward(self, **inputs):
            return type("Out", (), {"logits": z})

    batch = {"input_ids": torch.zeros(3, 2), "labels": torch.tensor([[12.0], [2.0], [30.0]])}
    out = regression.RegressionHead().step(
        model=Fixed(),
        batch=batch,
        info=info,
        options=head_config(loss=loss, huber_delta=0.5, standardize=True),
        stage="train",
    )
    expected = reference(z, (batch["labels"] - 10.0) / 4.0)
    assert torch.allclose(out.loss, expected)
    assert torch.allclose(out.preds, torch.tensor([12.0, 6.0, 18.0]))  # original units
    assert torch.equal(out.target, torch.tensor([12.0, 2.0, 30.0]))


def _ranks(x: np.ndarray) -> np.ndarray:
    return x.argsort().argsort().astype(float)  # no ties in the data below


def _reference(preds: np.ndarray, target: np.ndarray) -> dict[str, float]:
    err = preds - target
    return {
        "mse": float((err**2).mean()),
        "rmse": float(np.sqrt((err**2).mean())),
        "mae": float(np.abs(err).mean()),
        "r2": float(1 - (err**2).sum() / ((target - target.mean()) ** 2).sum()),
        "pearson": float(np.corrcoef(preds, target)[0, 1]),
        "spearman": float(np.corrcoef(_ranks(preds), _ranks(target))[0, 1]),
    }


def test_metrics_match_numpy_on_fixed_predictions():
    rng = np.random.default_rng(0)
    target = rng.normal(5, 3, size=(40, 2))
    preds = target + rng.normal(0, 1.5, size=(40, 2))
    single = build_metrics(1)
    single.update(torch.tensor(preds[:25, 0]), torch.tensor(target[:25, 0]))
    single.update(torch.tensor(preds[25:, 0]), torch.tensor(target[25:, 0]))  # two batches
    got = {k: float(v) for k, v in single.compute().items()}
    expected = _reference(preds[:, 0], target[:, 0])
    assert got == pytest.approx(expected, rel=1e-5)

    multi = build_metrics(2)
    multi.update(torch.tensor(preds), torch.tensor(target))
    got = {k: float(v) for k, v in multi.compute().items()}
    per_target = [_reference(preds[:, j], target[:, j]) for j in range(2)]
    expected = {k: float(np.mean([p[k] for p in per_target])) for k in per_target[0]}
    assert got == pytest.approx(expected, rel=1e-5)


def test_decode_single_and_multi_target():
    one = DataInfo("regression", extra={"num_targets": 1})
    two = DataInfo("regression", extra={"num_targets": 2})
    out = StepOutput(loss=None, preds=torch.tensor([1.5, -2.0]))
    head, options = regression.RegressionHead(), head_config()
    assert head.decode(output=out, info=one, options=options) == [
        {"value": 1.5},
        {"value": -2.0},
    ]
    out = StepOutput(loss=None, preds=torch.tensor([[1.0, 2.0]]))
    assert head.decode(output=out, info=two, options=options) == [{"values": [1.0, 2.0]}]


# --- fold (pure model surgery) --------------------------------------------------------


def test_fold_then_unfold_restores_the_layer(tiny_model_dir):
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
    before = model.classifier.weight.clone(), model.classifier.bias.clone()
    x = torch.randn(3, model.config.hidden_size)
    z = model.classifier(x)
    assert fold.fold(model, [10.0, -5.0], [2.0, 0.5]) == "classifier"
    assert torch.allclose(
        model.classifier(x), z * torch.tensor([2.0, 0.5]) + torch.tensor([10.0, -5.0])
    )
    assert fold.unfold(model) and not fold.unfold(model)
    assert torch.allclose(model.classifier.weight, before[0], atol=1e-6)
    assert torch.allclose(model.classifier.bias, before[1], atol=1e-6)


# --- end to end ----------------------------------------------------------------------


def test_bad_target_row_fails_with_a_clear_message(tmp_path, tiny_model_dir):
    splits = float_splits()
    splits["validation"][3] = {"text": "a fine film", "label": "very good"}
    with pytest.raises(UserError) as err:
        run(tmp_path, tiny_model_dir, splits)
    message = str(err.value)
    assert "memory:validation: row 4" in message
    assert "target 'very good' is not a number" in message
    assert "data.on_invalid=drop" in message


def _plain_predictions(model_dir, texts):
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    with torch.no_grad():
        return model(**tokenizer(texts, return_tensors="pt", padding=True)).logits, model


def test_standardisation_round_trips_through_export_and_predict(tmp_path, tiny_model_dir):
    splits = float_splits()
    result = run(tmp_path, tiny_model_dir, splits, ["trainer.max_epochs=4"])
    texts = [r["text"] for r in splits["test"]]
    logits, model = _plain_predictions(result.run_dir / "model", texts)
    assert model.config.problem_type == "regression" and model.config.num_labels == 1

    predictor = Predictor(result.run_dir, result.hooks)
    ours = predictor.predict([{"text": t} for t in texts])
    values = torch.tensor([row["value"] for row in ours])
    assert torch.allclose(logits.squeeze(-1), values, atol=1e-4)  # same original units
    # ...and they are original units: about the training targets' mean, with their spread
    assert abs(float(values.mean()) - CENTER) < SPREAD / 2
    # the predictions written during the test stage (best checkpoint, before export) agree
    written = json.loads((result.run_dir / "predictions.json").read_text())
    assert [w["value"] for w in written] == pytest.approx(values.tolist(), abs=1e-4)
    assert [w["target"] for w in written] == pytest.approx([r["label"] for r in splits["test"]])
    assert set(result.summary["test"]) >= {f"test/{m}" for m in ("mse", "rmse", "pearson")}
    assert result.summary["monitor"] == {"metric": "val/pearson", "mode": "max"}
    assert result.summary["test"]["test/pearson"] > 0.5  # it learned the sentiment word


def test_multi_target_run_exports_original_units(tmp_path, tiny_model_dir):
    splits = float_splits(targets_per_row=2)
    result = run(tmp_path, tiny_model_dir, splits, ["trainer.max_epochs=1"], loss="huber")
    texts = [r["text"] for r in splits["test"][:4]]
    logits, model = _plain_predictions(result.run_dir / "model", texts)
    assert model.config.num_labels == 2
    ours = Predictor(result.run_dir, result.hooks).predict([{"text": t} for t in texts])
    assert all(len(row["values"]) == 2 for row in ours)
    assert torch.allclose(logits, torch.tensor([row["values"] for row in ours]), atol=1e-4)


def test_without_standardisation_nothing_is_folded(tmp_path, tiny_model_dir):
    splits = float_splits()
    result = run(tmp_path, tiny_model_dir, splits, ["trainer.max_epochs=1"], standardize=False)
    config = json.loads((result.run_dir / "model" / "config.json").read_text())
    assert fold.CONFIG_KEY not in config
    texts = [r["text"] for r in splits["test"][:3]]
    logits, _ = _plain_predictions(result.run_dir / "model", texts)
    ours = Predictor(result.run_dir, result.hooks).predict([{"text": t} for t in texts])
    assert torch.allclose(logits.squeeze(-1), torch.tensor([r["value"] for r in ours]), atol=1e-4)
