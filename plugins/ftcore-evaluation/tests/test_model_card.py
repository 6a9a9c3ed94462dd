"""model/README.md: a Hugging Face model card that huggingface_hub parses, whose
``model-index`` holds the test metrics of metrics.json, written with and without evaluation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from ftcore_devkit.testing import execute_recipe, resume_run
from huggingface_hub import ModelCard

from conftest import eval_hooks, eval_recipe

PARTS = ("Base model", "Data", "Training recipe", "Test results", "Baseline verdict")
PARTS += ("Forgetting", "How to use", "Limitations")


def check_card(run_dir: Path, task: str, pipeline: str) -> ModelCard:
    """The card parses; its model-index equals metrics.json's test metrics exactly."""
    card = ModelCard.load(run_dir / "model" / "README.md")
    data = card.data.to_dict()
    summary = json.loads((run_dir / "metrics.json").read_text())
    assert data["library_name"] == "transformers" and data["pipeline_tag"] == pipeline
    assert data["tags"] == ["ftcore", task]
    assert "base_model" not in data  # a local folder is not a hub id
    [index] = data["model-index"]
    assert index["name"] == summary["recipe"]
    [results] = index["results"]
    assert results["task"]["type"] == pipeline
    assert results["dataset"] == {"name": "memory", "type": "memory", "split": "test"}
    found = {m["type"]: m["value"] for m in results["metrics"]}
    assert found == {k.removeprefix("test/"): v for k, v in summary["test"].items()}
    assert card.data.eval_results[0].dataset_split == "test"
    for part in PARTS:
        assert f"\n## {part}\n" in card.text, part
    flag = "--prompt" if pipeline == "text-generation" else "--text"
    assert f'ftcore predict RUN_DIR {flag} "your text"' in card.text
    return card


def test_classification_card(evaluated_run):
    out = evaluated_run.run_dir
    card = check_card(out, "classification", "text-classification")
    found = json.loads((out / "evaluation.json").read_text())
    accuracy = found["metrics"]["fine-tuned"]["accuracy"]
    assert f"| accuracy | {accuracy['value']:.4f} [{accuracy['low']:.4f}, " in card.text
    assert "percentile bootstrap" in card.text
    best = found["best_baseline"]
    assert f"Strongest baseline: **{best}**" in card.text
    difference = found["comparisons"][best]["differences"]["accuracy"]
    assert f"{difference['value']:+.4f} [{difference['low']:+.4f}" in card.text
    assert "reference linear-probe accuracy" in card.text  # forgetting
    assert "| train | 64 | 0 |" in card.text and "`neg`, `pos`" in card.text
    recipe = (out / "recipe.yaml").read_text().rstrip()
    assert f"```yaml\n{recipe}\n```" in card.text  # the full recipe, collapsed
    assert not list((out / "model").glob(".*"))  # written atomically: no temporary left


def test_card_snippet_predicts_what_ftcore_predict_does(evaluated_run):
    from ftcore.api import Predictor

    out = evaluated_run.run_dir
    [expected] = Predictor(out, eval_hooks()).predict([{"text": "your text"}])
    assert snippet_prediction(out) == expected["label"]


def snippet_prediction(run_dir: Path) -> object:
    """What the card's transformers example computes (``predicted``) on this folder."""
    text = (run_dir / "model" / "README.md").read_text()
    snippet = re.search(r"```python\n(.*?)```", text, re.DOTALL).group(1)
    scope: dict = {}
    exec(snippet.replace("path/to/model", str(run_dir / "model")), scope)  # noqa: S102
    return scope["predicted"]


def test_card_without_evaluation(other_run):
    out = other_run.run_dir
    card = check_card(out, "classification", "text-classification")
    assert not (out / "evaluation.json").exists()
    assert "no intervals, since evaluation was off" in card.text
    assert "No baseline was evaluated" in card.text and "Evaluation was off" in card.text
    assert " [" not in card.text.split("## Test results")[1].split("##")[0]


def test_resumed_run_rewrites_the_card(tmp_path, tiny_model_dir):
    """``ftcore run --resume`` on a finished run tests and exports again: a fresh card."""
    recipe = eval_recipe(tiny_model_dir, enabled=False)
    run_dir = execute_recipe(recipe, tmp_path / "run", hooks=eval_hooks()).run_dir
    card = run_dir / "model" / "README.md"
    card.write_text("stale")
    resume_run(run_dir, hooks=eval_hooks())
    check_card(run_dir, "classification", "text-classification")


def test_card_metadata_for_a_hub_model_and_dataset():
    from types import SimpleNamespace

    from ftcore_evaluation import modelcard
    from omegaconf import OmegaConf

    recipe = OmegaConf.create(
        {
            "name": "sst2",
            "task": "classification",
            "model": {"name": "distilbert/distilbert-base-uncased"},
            "data": {
                "source": "hf",
                "options": {"name": "stanfordnlp/sst2", "config": "default", "revision": "abc"},
            },
        }
    )
    run = SimpleNamespace(recipe=recipe, model_path="", hooks=SimpleNamespace(components=list))
    data = modelcard.card_data(run, {"test": {"test/accuracy": 0.9}}).to_dict()
    assert data["base_model"] == "distilbert/distilbert-base-uncased"
    assert data["datasets"] == ["stanfordnlp/sst2"]
    dataset = data["model-index"][0]["results"][0]["dataset"]
    assert dataset == {
        "name": "stanfordnlp/sst2",
        "type": "stanfordnlp/sst2",
        "config": "default",
        "split": "test",
        "revision": "abc",
    }
    assert "license" not in data


def test_licence_comes_from_the_base_models_own_card(tmp_path):
    from types import SimpleNamespace

    from ftcore_evaluation import modelcard
    from omegaconf import OmegaConf

    (tmp_path / "README.md").write_text("---\nlicense: Apache-2.0\n---\n# base\n")
    recipe = OmegaConf.create({"model": {"name": str(tmp_path)}})
    run = SimpleNamespace(
        recipe=recipe, model_path=str(tmp_path), hooks=SimpleNamespace(components=list)
    )
    assert modelcard.base_license(run) == "apache-2.0"
    assert modelcard.base_model_id(run) is None


@pytest.mark.parametrize("text", ["---\n- a list\n---\n", "no metadata at all"])
def test_an_unusable_base_card_gives_no_licence(tmp_path, text):
    from ftcore_evaluation import modelcard

    (tmp_path / "README.md").write_text(text)
    assert modelcard._card_license(tmp_path / "README.md") is None


def test_a_bundled_models_licence_and_no_hub_id():
    from types import SimpleNamespace

    from ftcore_evaluation import modelcard
    from omegaconf import OmegaConf

    from ftcore.api import Component

    minilm = Component(kind="model", name="minilm", details={"licence": "Apache-2.0"})
    run = SimpleNamespace(
        recipe=OmegaConf.create({"model": {"name": "minilm"}}),
        model_path="/nonexistent",
        hooks=SimpleNamespace(components=lambda: [SimpleNamespace(component=minilm)]),
    )
    assert modelcard.base_license(run) == "apache-2.0"
    assert modelcard.base_model_id(run) is None
