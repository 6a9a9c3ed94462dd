"""The classification head's evaluation functions (ftcore_classification.evaluation)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ftcore_classification import evaluation as ev
from ftcore_classification.schema import ClassificationConfig

from ftcore.types import DataInfo

NAMES = ["a", "b", "c", "d"]
SINGLE = ClassificationConfig()
MULTI = ClassificationConfig(multi_label=True, threshold=0.5)


def single_info() -> DataInfo:
    return DataInfo(task="classification", labels=NAMES)


def multi_info() -> DataInfo:
    return DataInfo(task="classification", labels=NAMES)


def single_predictions(n: int = 300, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(3), n)  # class "d" is never predicted nor true
    probs = np.concatenate([probs, np.zeros((n, 1))], axis=1)
    target = np.where(rng.random(n) < 0.6, probs.argmax(1), rng.integers(0, 3, n))
    decoded = ev.decode_probabilities(probs, single_info(), SINGLE)
    return [{**p, "target": int(t)} for p, t in zip(decoded, target)]


def test_single_label_score_matches_torchmetrics():
    import torch
    from torchmetrics import classification as C

    preds = single_predictions()
    probs = torch.tensor([[p["probabilities"][n] for n in NAMES] for p in preds])
    target = torch.tensor([p["target"] for p in preds])
    expected = {
        "accuracy": C.MulticlassAccuracy(num_classes=4, average="micro"),
        "precision": C.MulticlassPrecision(num_classes=4, average="macro"),
        "recall": C.MulticlassRecall(num_classes=4, average="macro"),
        "f1": C.MulticlassF1Score(num_classes=4, average="macro"),
    }
    found = ev.score(preds, single_info(), SINGLE)
    for name, metric in expected.items():
        assert found[name] == pytest.approx(float(metric(probs, target)), abs=1e-6), name


def test_multi_label_score_matches_torchmetrics():
    import torch
    from torchmetrics import classification as C

    rng = np.random.default_rng(1)
    probs = rng.random((200, 4))
    target = (rng.random((200, 4)) < 0.4).astype(int)
    decoded = ev.decode_probabilities(probs, multi_info(), MULTI)
    preds = [{**p, "target": t.tolist()} for p, t in zip(decoded, target)]
    found = ev.score(preds, multi_info(), MULTI)
    p, t = torch.tensor(probs, dtype=torch.float32), torch.tensor(target)
    for name, cls in {
        "accuracy": C.MultilabelAccuracy,
        "precision": C.MultilabelPrecision,
        "recall": C.MultilabelRecall,
        "f1": C.MultilabelF1Score,
    }.items():
        assert found[name] == pytest.approx(float(cls(num_labels=4)(p, t)), abs=1e-5), name


def test_calibration_hand_computed():
    confidence = np.array([0.95, 0.95, 0.55, 0.55])
    correct = np.array([True, False, True, True])
    cal = ev.calibration(confidence, correct, bins=10)
    # bin 0.9-1.0: confidence 0.95, accuracy 0.5; bin 0.5-0.6: confidence 0.55, accuracy 1
    assert cal["ece"] == pytest.approx(0.5 * 0.45 + 0.5 * 0.45)


def test_errors_most_confident_first_and_all_written(tmp_path):
    preds = single_predictions(60)
    rows = [
        {"text": f"text {i} <b>|</b>", "label": NAMES[p["target"]]} for i, p in enumerate(preds)
    ]
    sections = ev.error_analysis(preds, rows, single_info(), SINGLE, str(tmp_path))
    titles = [s.title for s in sections]
    assert titles[:2] == ["Per-class precision, recall and F1", "Confusion matrix"]
    assert "Calibration" in titles and "Metrics by input length" in titles
    lines = (tmp_path / "errors.jsonl").read_text().splitlines()
    wrong = [p for p in preds if p["label"] != NAMES[p["target"]]]
    assert len(lines) == len(wrong) > 0
    confidences = [json.loads(line)["confidence"] for line in lines]
    assert confidences == sorted(confidences, reverse=True)
    shown = next(s for s in sections if s.title == "Most confidently wrong examples").markdown
    assert "&lt;b&gt;\\|&lt;/b&gt;" in shown and "<b>" not in shown  # escaped for Markdown
    images = {k for s in sections for k in s.images}
    assert images == {"confusion_matrix.png", "reliability.png"}
    assert all(v.startswith(b"\x89PNG") for s in sections for v in s.images.values())


def test_multi_label_error_analysis(tmp_path):
    rng = np.random.default_rng(2)
    decoded = ev.decode_probabilities(rng.random((30, 4)), multi_info(), MULTI)
    preds = [{**p, "target": (rng.random(4) < 0.5).astype(int).tolist()} for p in decoded]
    rows = [{"text": "w " * (i + 1), "label": "a"} for i in range(30)]
    sections = ev.error_analysis(preds, rows, multi_info(), MULTI, str(tmp_path))
    assert "Confusion matrix" not in [s.title for s in sections]
    assert (tmp_path / "errors.jsonl").is_file()


def test_length_buckets_cover_all_lengths():
    lengths = [1, 2, 3, 4, 5, 6, 7, 8, 9, 40]
    buckets = ev.length_buckets(lengths)
    assert buckets[0][0] == 1 and buckets[-1][1] == 40
    assert all(any(lo <= n <= hi for lo, hi in buckets) for n in lengths)
    assert ev.length_buckets([5, 5, 5]) == [(5, 5)]


def test_majority_and_targets():
    info = single_info()
    probs = ev.majority([0, 0, 1, 2], 3, info, SINGLE)
    assert probs.shape == (3, 4) and probs[0].tolist() == [0.5, 0.25, 0.25, 0.0]
    multi = multi_info()
    assert ev.targets([{"label": "a|c"}], multi, MULTI) == [[1, 0, 1, 0]]
    assert ev.targets([{"label": "b"}], info, SINGLE) == [1]


def test_reference_dataset_default():
    class Recipe:
        evaluation = {"forgetting_dataset": None}

        class data:  # noqa: N801 - mimics recipe.data
            source = "rotten_tomatoes"

    class Run:
        recipe = Recipe

    assert ev.reference_name(Run) == "bbc_news"
    Recipe.data.source = "bbc_news"
    assert ev.reference_name(Run) == "rotten_tomatoes"
    Recipe.evaluation = {"forgetting_dataset": "vader_movie"}
    assert ev.reference_name(Run) == "vader_movie"
