"""The exported model/ loads with plain transformers and agrees with `ftcore predict`."""

from __future__ import annotations

import json
import subprocess
import sys

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from ftcore.predict import Predictor


def test_export_loads_with_plain_transformers_and_matches_predict(
    run_recipe, make_plugin_manager, memory_dataset
):
    hooks = make_plugin_manager(memory_dataset, autoload=True)
    result = run_recipe(hooks=hooks, overrides=["trainer.max_epochs=2"])
    model_dir = result.run_dir / "model"
    assert (model_dir / "model.safetensors").is_file()
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    assert model.config.id2label == {0: "neg", 1: "pos"}
    assert model.config.label2id == {"neg": 0, "pos": 1}

    texts = ["the film was really great", "a dull and tedious plot", "quite a movie"]
    with torch.no_grad():
        logits = model(**tokenizer(texts, return_tensors="pt", padding=True)).logits
    plain = logits.softmax(-1)
    ours = Predictor(result.run_dir, hooks).predict([{"text": t} for t in texts])
    for row, probs in zip(ours, plain):
        assert row["label"] == model.config.id2label[int(probs.argmax())]
        assert torch.allclose(
            torch.tensor([row["probabilities"]["neg"], row["probabilities"]["pos"]]),
            probs,
            atol=1e-5,
        )


def test_run_directory_contents(run_recipe):
    result = run_recipe()
    names = {p.name for p in result.run_dir.iterdir()}
    assert {"recipe.yaml", "metrics.json", "checkpoints", "logs", "tensorboard", "model"} <= names
    recipe_text = (result.run_dir / "recipe.yaml").read_text()
    assert "versions:" in recipe_text and "lightning:" in recipe_text
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert set(metrics["test"]) >= {"test/accuracy", "test/precision", "test/recall", "test/f1"}
    assert "val/accuracy" in metrics["validation"]
    assert metrics["best_checkpoint"].endswith(".ckpt")
    assert any((result.run_dir / "tensorboard").iterdir())


def test_cli_predict_text_and_jsonl(run_recipe, tmp_path):
    result = run_recipe()
    inputs = tmp_path / "in.jsonl"
    inputs.write_text('{"text": "superb cast"}\n{"text": "awful plot"}\n')
    cmd = [sys.executable, "-m", "ftcore.cli", "predict", str(result.run_dir)]
    out = subprocess.run(cmd + ["--input", str(inputs)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["text"] for r in rows] == ["superb cast", "awful plot"]
    assert all(set(r["probabilities"]) == {"neg", "pos"} for r in rows)
    one = subprocess.run(cmd + ["--text", "x"], capture_output=True, text=True)
    assert one.returncode == 0 and len(one.stdout.splitlines()) == 1
    missing = subprocess.run(
        [sys.executable, "-m", "ftcore.cli", "predict", str(tmp_path), "--text", "x"],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "not an ftcore run directory" in missing.stderr


def _multi_label_run(run_recipe, make_plugin_manager):
    from ftcore_devkit.testing import MemoryDataset, make_rows

    def rows(n: int, seed: int) -> list[dict]:
        return [
            {**r, "label": r["label"] + ("|long" if i % 2 else "")}
            for i, r in enumerate(make_rows(n, seed))
        ]

    splits = {"train": rows(48, 0), "validation": rows(16, 1), "test": rows(16, 2)}
    hooks = make_plugin_manager(MemoryDataset(splits), autoload=True)
    result = run_recipe(hooks=hooks, overrides=["head.multi_label=true", "head.threshold=0.4"])
    return result, hooks


def test_export_saves_the_head_options_and_predict_uses_them(run_recipe, make_plugin_manager):
    result, hooks = _multi_label_run(run_recipe, make_plugin_manager)
    path = result.run_dir / "model" / "ftcore_data_info.json"
    saved = json.loads(path.read_text())
    assert saved["head_options"]["multi_label"] is True
    assert saved["head_options"]["threshold"] == 0.4
    assert "multi_label" not in saved["extra"] and "monitor" not in saved["extra"]
    predictor = Predictor(result.run_dir, hooks)
    assert predictor.head_options.threshold == 0.4 and predictor.head_options.multi_label


def test_a_model_folder_exported_before_head_options_still_predicts(
    run_recipe, make_plugin_manager
):
    """0.x wrote the head's options into ``extra`` (and no ``head_options``): the options
    come from the run's recipe.yaml, and predictions are the same."""
    result, hooks = _multi_label_run(run_recipe, make_plugin_manager)
    texts = [{"text": "the film was really great"}, {"text": "a dull and tedious plot"}]
    now = Predictor(result.run_dir, hooks).predict(texts)
    path = result.run_dir / "model" / "ftcore_data_info.json"
    saved = json.loads(path.read_text())
    old = {
        "task": "classification",
        "labels": saved["labels"],
        "extra": {
            "multi_label": True,
            "label_separator": "|",
            "threshold": 0.4,
            "class_weights": None,
            "monitor": "val/accuracy",
            "mode": "max",
        },
    }
    path.write_text(json.dumps(old))
    predictor = Predictor(result.run_dir, hooks)
    assert predictor.head_options.multi_label and predictor.head_options.threshold == 0.4
    assert predictor.predict(texts) == now
    assert all("labels" in row for row in now)
