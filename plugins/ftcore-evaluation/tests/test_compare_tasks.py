"""ftcore compare between a classifier and a language model answering with the label."""

from __future__ import annotations

import json

import pytest

from ftcore.cli import main


def _generation_run(folder, classification_run, answers):
    """A generation run's files whose test rows are the classification run's, answered
    with ``answers`` (label words)."""
    info = json.loads((classification_run / "model" / "ftcore_data_info.json").read_text())
    predictions = json.loads((classification_run / "predictions.json").read_text())
    truths = [info["labels"][int(p["target"])] for p in predictions]
    (folder / "model").mkdir(parents=True)
    (folder / "recipe.yaml").write_text("task: generation\n")
    (folder / "model" / "ftcore_data_info.json").write_text(
        json.dumps({"task": "generation", "labels": [], "extra": {"answer_key": "label"}})
    )
    rows = [
        {"generated": a, "answer": a, "reference": t.upper(), "correct": a == t, "target": 2}
        for a, t in zip(answers(truths), truths)
    ]
    (folder / "predictions.json").write_text(json.dumps(rows))
    return truths


def test_a_generation_run_compares_with_a_classifier_row_by_row(evaluated_run, tmp_path, capsys):
    classifier = evaluated_run.run_dir
    llm = tmp_path / "llm"
    truths = _generation_run(llm, classifier, lambda ts: ["nonsense"] * len(ts))
    out = tmp_path / "comparison.json"
    assert main(["compare", str(llm), str(classifier), "--samples", "300", "--out", str(out)]) == 0
    found = json.loads(out.read_text())
    assert found["scored_as"] == "answer accuracy"
    (comparison,) = found["comparisons"].values()
    assert comparison["primary_metric"] == "accuracy"
    llm_accuracy = found["metrics"]["llm"]["accuracy"]["value"]
    classifier_accuracy = found["metrics"][comparison["b"]]["accuracy"]["value"]
    assert llm_accuracy == 0.0
    assert classifier_accuracy == pytest.approx(evaluated_run.summary["test"]["test/accuracy"])
    difference = comparison["differences"]["accuracy"]
    assert difference["value"] == pytest.approx(-classifier_accuracy)
    assert comparison["mcnemar"] is not None  # paired per row
    assert len(truths) == found["examples"]
    capsys.readouterr()


def test_rows_that_differ_or_go_unchecked_are_refused(evaluated_run, tmp_path, capsys):
    classifier = evaluated_run.run_dir
    shifted = tmp_path / "shifted"
    _generation_run(shifted, classifier, lambda ts: ts)
    rows = json.loads((shifted / "predictions.json").read_text())
    rows[2]["reference"] = "not-a-label"
    (shifted / "predictions.json").write_text(json.dumps(rows))
    assert main(["compare", str(shifted), str(classifier)]) == 2
    assert "test example 2 has answer 'not-a-label'" in capsys.readouterr().err

    unchecked = tmp_path / "unchecked"
    _generation_run(unchecked, classifier, lambda ts: ts)
    rows = json.loads((unchecked / "predictions.json").read_text())
    del rows[0]["correct"]
    (unchecked / "predictions.json").write_text(json.dumps(rows))
    assert main(["compare", str(classifier), str(unchecked)]) == 2
    assert "head.eval_generate_limit" in capsys.readouterr().err
