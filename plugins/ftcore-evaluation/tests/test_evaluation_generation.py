"""The generation head's evaluation hooks (ftcore_generation.evaluation) and a run with them."""

from __future__ import annotations

import json
import math

import pytest
from ftcore_devkit.testing import (
    MemoryDataset,
    base_recipe,
    build_hooks,
    execute_recipe,
    make_generation_rows,
    make_text_rows,
    splits_of,
)
from ftcore_evaluation import plugin as evaluation_plugin
from test_model_card import check_card, snippet_prediction

generation = pytest.importorskip("ftcore_generation.evaluation")


def test_score_pools_tokens_and_checks_answers():
    preds = [
        {"loss": 1.0, "target": 3, "correct": True},
        {"loss": 2.0, "target": 1, "correct": False},
        {"loss": 4.0, "target": 0},  # nothing scored: no weight
    ]
    found = generation.score(preds)
    assert found["loss"] == pytest.approx(5 / 4)
    assert found["perplexity"] == pytest.approx(math.exp(5 / 4))
    assert found["answer_accuracy"] == 0.5


def test_generation_run_with_evaluation(tmp_path, tiny_causal_lm_dir):
    recipe = base_recipe(tiny_causal_lm_dir, task="generation")
    recipe["head"] = {"max_new_tokens": 8, "eval_generate_limit": 4, "baseline_eval": False}
    recipe["data"]["max_length"] = 64
    recipe["evaluation"] = {"bootstrap_samples": 200, "forgetting_dataset": "reference"}
    reference = MemoryDataset(splits_of(make_text_rows), name="reference")
    hooks = build_hooks(
        [MemoryDataset(splits_of(make_generation_rows)), reference, evaluation_plugin]
    )
    result = execute_recipe(recipe, tmp_path / "run", hooks=hooks)
    found = json.loads((result.run_dir / "evaluation.json").read_text())
    assert found["primary_metric"] == "loss" and found["higher_is_better"] is False
    loss = found["metrics"]["fine-tuned"]["loss"]["value"]
    assert loss == pytest.approx(result.summary["test"]["test/loss"], rel=1e-3)
    assert "pretrained" in found["metrics"] and found["comparisons"]["pretrained"]["verdict"]
    forgetting = found["forgetting"]["reference mean token loss"]
    assert forgetting["higher_is_better"] is False and forgetting["examples"] == 16
    page = (result.run_dir / "report.html").read_text()
    assert "<h2>Sample generations</h2>" in page and "<h2>Worst-loss examples</h2>" in page
    assert (result.run_dir / "worst_loss.jsonl").is_file()
    card = check_card(result.run_dir, "generation", "text-generation")
    assert 'pipeline("text-generation", model="path/to/model")' in card.text
    assert snippet_prediction(result.run_dir).startswith("your prompt")


def test_gguf_export_reads_past_the_card(tmp_path, tiny_causal_lm_dir):
    """model/README.md does not disturb ``ftcore export --format gguf``."""
    gguf = pytest.importorskip("ftcore_export.gguf_file")
    recipe = base_recipe(tiny_causal_lm_dir, task="generation")
    recipe["data"]["max_length"] = 64
    hooks = build_hooks([MemoryDataset(splits_of(make_generation_rows)), evaluation_plugin])
    run_dir = execute_recipe(recipe, tmp_path / "run", hooks=hooks).run_dir
    assert (run_dir / "model" / "README.md").is_file()  # evaluation off: a card all the same
    facts = gguf.export_gguf(
        run_dir / "model", tmp_path / "m.gguf", dtype="f32", name="t", task="generation"
    )
    assert facts["tensors"] > 0 and (tmp_path / "m.gguf").stat().st_size > 0
