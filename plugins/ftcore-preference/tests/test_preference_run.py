"""The preference head end to end on a tiny random Llama: training, metrics with bootstrap
intervals against the pretrained model, bad rows, recipe checks, and the datasets."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
import torch
import yaml
from ftcore_devkit.testing import conformance, recipe_problems
from ftcore_preference import jsonl, pairs, plugin, scores
from preference_helpers import preference_recipe, preference_splits

from ftcore.api import Predictor

pytestmark = pytest.mark.usefixtures("one_torch_thread")
# enough to learn on the tiny model; the lowest validation loss picks the checkpoint (with 8
# validation pairs, the preference accuracy ties at its best after the first epoch)
LEARN = ["trainer.max_epochs=4", "optim.lr=2e-2", "checkpoint.monitor=val/loss"]
LEARN += ["checkpoint.mode=min"]


def test_plugin_conforms():
    assert not conformance.component_problems(plugin)
    assert not conformance.hookimpl_problems(plugin)
    assert not conformance.private_import_problems(plugin)


@pytest.mark.parametrize("loss", ["dpo", "simpo"])
def test_run_learns_the_preference_and_reports_intervals(run_recipe, tiny_causal_lm_dir, loss):
    recipe = preference_recipe(tiny_causal_lm_dir, loss=loss)
    recipe["evaluation"] = {"bootstrap_samples": 200, "forgetting": False}
    beta = "head.beta=0.5" if loss == "dpo" else "head.beta=2.0"
    result = run_recipe(recipe=recipe, rows=preference_splits(), overrides=[*LEARN, beta])
    test = result.test
    assert set(test) == {"test/loss"} | {f"test/{m}" for m in scores.MODES}
    evaluation = json.loads((result.run_dir / "evaluation.json").read_text())
    after, before = evaluation["metrics"]["fine-tuned"], evaluation["metrics"]["pretrained"]
    for metric in scores.MODES:
        low, value, high = (after[metric][k] for k in ("low", "value", "high"))
        assert low <= value <= high and low < high or low == value == high
    # the torchmetrics values logged in the test equal the head's score of the predictions
    for metric, found in after.items():
        assert math.isclose(found["value"], test[f"test/{metric}"], rel_tol=1e-5, abs_tol=1e-6)
    assert test["test/reward_accuracy"] >= 0.75
    assert after["preference_accuracy"]["value"] > before["preference_accuracy"]["value"]
    comparison = evaluation["comparisons"]["pretrained"]
    assert "preference_accuracy" in comparison["differences"]  # paired: same resamples
    if loss == "dpo":  # the pretrained model is its own reference: every reward is 0
        assert before["reward_accuracy"]["value"] == 0 == before["reward_margin"]["value"]
        assert before["loss"]["value"] == pytest.approx(math.log(2), abs=1e-6)
        assert (result.run_dir / "reference_logps.json").is_file()
    else:
        assert not (result.run_dir / "reference_logps.json").exists()
    predictions = json.loads((result.run_dir / "predictions.json").read_text())
    assert len(predictions) == 8 and {"chosen_reward", "prefers_chosen"} <= set(predictions[0])
    assert (result.run_dir / "pair_margins.jsonl").is_file()
    assert "Pairs the model gets most wrong" in (result.run_dir / "report.md").read_text()


def test_predict_scores_pairs_without_a_reference(run_recipe, tiny_causal_lm_dir):
    result = run_recipe(recipe=preference_recipe(tiny_causal_lm_dir), rows=preference_splits())
    predictor = Predictor(result.run_dir, result.hooks)
    pair = preference_splits()["test"][0]
    (row,) = predictor.predict([pair])
    assert row["chosen_tokens"] > 0 and "chosen_reward" not in row  # no reference here
    assert isinstance(row["prefers_chosen"], bool)


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ({"prompt": "Write.", "rejected": "bad"}, "row 3: missing 'chosen' text"),
        ({"prompt": "Write.", "chosen": "good", "rejected": "  "}, "row 3: empty 'rejected'"),
    ],
)
def test_bad_rows_stop_the_run_in_one_line(tmp_path, tiny_causal_lm_dir, broken, message):
    rows = preference_splits()["train"]
    rows[2] = broken
    train = _jsonl(tmp_path / "pairs.jsonl", rows)
    recipe = preference_recipe(tiny_causal_lm_dir)
    recipe["data"] = {**recipe["data"], "source": jsonl.NAME, "options": {"train": str(train)}}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    ftcore = os.path.join(os.path.dirname(sys.executable), "ftcore")
    done = subprocess.run(
        [ftcore, "run", str(path), "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"{train}: {message}; fix the row, or set data.on_invalid=drop" in lines[0]


def test_recipe_checks(tiny_causal_lm_dir):
    recipe = preference_recipe(tiny_causal_lm_dir)
    recipe["data"]["source"] = pairs.NAME
    overrides = ["head.beta=0", "head.chosen_key=prompt", "head.prompt_template=x"]
    problems = " | ".join(recipe_problems(recipe, overrides))
    assert "head.beta: must be above 0" in problems
    assert "head.prompt_key, head.chosen_key, head.rejected_key: must be three different" in (
        problems
    )
    assert 'head.prompt_template: must contain "{prompt}"' in problems
    assert not recipe_problems(recipe, ["head.loss=ipo", "checkpoint.monitor=val/reward_margin"])
    typo = recipe_problems(recipe, ["checkpoint.monitor=val/reward_acuracy"])
    assert "did you mean 'val/reward_accuracy'" in " ".join(typo)


def test_metrics_agree_with_score():
    from ftcore_preference.metrics import build
    from ftcore_preference.modeling import decode

    generator = torch.Generator().manual_seed(0)
    n = 40
    logps = -torch.rand(n, 2, generator=generator) * 30
    tokens = torch.randint(1, 20, (n, 2), generator=generator).float()
    rewards = torch.randn(n, 2, generator=generator)
    rewards[:5] = math.nan  # pairs without a reference
    loss = torch.rand(n, 1, generator=generator)
    preds = torch.cat([logps, tokens, rewards, loss], dim=-1)
    collection = build()
    collection.update(preds[:17], torch.ones(17))
    collection.update(preds[17:], torch.ones(n - 17))
    logged = {k: float(v) for k, v in collection.compute().items()}
    scored = scores.score(decode(preds))
    assert set(scored) == set(logged) | {"loss"}
    for name, value in logged.items():
        assert math.isclose(value, scored[name], rel_tol=1e-5), name
    assert scored["reward_accuracy"] == pytest.approx(
        float((rewards[5:, 0] > rewards[5:, 1]).float().mean())
    )


def test_pairs_are_built_within_each_split_and_seeded():
    rows = [{"text": f"fresh {i}", "label": "fresh"} for i in range(5)]
    rows += [{"text": f"rotten {i}", "label": "rotten"} for i in range(3)]
    rows += [{"text": "  ", "label": "rotten"}]
    found, kept = pairs.pair_rows(rows, "P", seed=1, split="train")
    assert len(found) == 3 and all(p["prompt"] == "P" for p in found)
    assert all(p["chosen"].startswith("fresh") for p in found)
    assert all(p["rejected"].startswith("rotten") for p in found)
    assert len({p["rejected"] for p in found}) == 3  # each snippet at most once
    assert [rows[i]["text"] for i in kept] == [p["chosen"] for p in found]
    assert pairs.pair_rows(rows, "P", seed=1, split="train") == (found, kept)
    assert pairs.pair_rows(rows, "P", seed=2, split="train") != (found, kept)


def test_rotten_tomatoes_pairs_come_from_their_own_split():
    pytest.importorskip("ftcore_datasets")
    from ftcore.api import plugin_hooks

    hooks = plugin_hooks()
    raw = hooks.load_dataset(name=pairs.NAME, options=None, seed=42)
    source = hooks.load_dataset(name="rotten_tomatoes", options=None, seed=42)
    for split in ("train", "validation", "test"):
        fresh = [r["text"].strip() for r in source.splits[split] if r["label"] == "fresh"]
        rotten = [r["text"].strip() for r in source.splits[split] if r["label"] == "rotten"]
        found = raw.splits[split]
        assert len(found) == len(rotten) < len(fresh)  # rotten is the smaller label
        assert sorted(p["rejected"] for p in found) == sorted(rotten)  # each used once
        assert {p["chosen"] for p in found} <= set(fresh)
        assert len(raw.row_numbers[split]) == len(found)
    assert len(raw.splits["test"]) == 541


def test_jsonl_pairs_carve_missing_splits(tmp_path):
    rows = preference_splits()["train"]
    train = _jsonl(tmp_path / "train.jsonl", rows)
    test = _jsonl(tmp_path / "test.jsonl", rows[:3])
    options = {"train": str(train), "test": str(test), "val_ratio": 0.25}
    raw = jsonl.load(options, seed=0)
    assert len(raw.splits["validation"]) == 8 and len(raw.splits["train"]) == 24
    assert raw.splits["test"] == rows[:3] and raw.origin["test"] == str(test)
    every = raw.splits["train"] + raw.splits["validation"]
    assert sorted(map(json.dumps, every)) == sorted(map(json.dumps, rows))
    assert raw.row_numbers["validation"] == sorted(raw.row_numbers["validation"])
    with pytest.raises(Exception, match="data.options.train: dataset 'preference_jsonl' needs"):
        jsonl.load(None, seed=0)


def test_lr_finder_without_an_adapter_says_what_to_do(run_recipe, tiny_causal_lm_dir):
    pytest.importorskip("ftcore_lr_finder")
    recipe = preference_recipe(tiny_causal_lm_dir)
    with pytest.raises(Exception, match="no reference log-probabilities for this training batch"):
        run_recipe(recipe=recipe, rows=preference_splits(), overrides=["optim.lr=auto"])
