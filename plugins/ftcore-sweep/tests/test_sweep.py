"""``ftcore sweep`` on a tiny random BERT: trial run folders, the summary with the
comparison against the defaults, resuming (with a trial a killed sweep left running),
one-line errors for a bad ``sweep:`` section, and the pruning callback."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
import yaml
from ftcore_devkit.testing import make_rows
from ftcore_sweep import plugin, pruning, space, study

from ftcore.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SWEEP = """
evaluation: {enabled: false}
sweep:
  optim.lr: {log_uniform: [1.0e-4, 1.0e-2]}
  optim.weight_decay: [0.0, 0.01]
"""


def write_recipe(folder: Path, model_dir: Path, extra: str = SWEEP) -> Path:
    """A classification recipe on 48 CSV rows (5 steps an epoch, validated twice) with
    ``extra`` lines."""
    with open(folder / "data.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(make_rows(48))
    path = folder / "recipe.yaml"
    path.write_text(f"""
task: classification
seed: 0
model: {{name: "{model_dir}"}}
data: {{source: csv, options: {{path: "{folder / "data.csv"}"}}, batch_size: 8, max_length: 16}}
optim: {{lr: 1.0e-3}}
trainer: {{max_epochs: 1, val_check_interval: 0.5, progress_bar: false, accelerator: cpu,
  devices: "1"}}
{extra}
""")
    return path


@pytest.fixture(scope="module")
def recipe(tmp_path_factory, tiny_model_dir) -> Path:
    return write_recipe(tmp_path_factory.mktemp("recipe"), tiny_model_dir)


@pytest.fixture(scope="module")
def swept(recipe, tmp_path_factory) -> Path:
    """A finished two-trial sweep (run from a folder outside the repository)."""
    out = tmp_path_factory.mktemp("sweeps") / "sweep"
    before = os.getcwd()
    os.chdir(out.parent)
    try:
        assert main(["sweep", str(recipe), "--trials", "2", "--out", str(out)]) == 0
    finally:
        os.chdir(before)
    return out


def test_two_trial_sweep_writes_trial_runs_and_the_comparison(swept):
    found = json.loads((swept / "summary.json").read_text())
    assert [t["state"] for t in found["trials"]] == ["complete", "complete"]
    assert found["objective"] == {"metric": "val/accuracy", "mode": "max"}
    for trial in found["trials"]:
        run = swept / trial["run_dir"]
        assert (run / "metrics.json").is_file() and (run / "model").is_dir()
        trained = yaml.safe_load((run / "recipe.yaml").read_text())
        assert trained["optim"]["lr"] == trial["params"]["optim.lr"]
        assert trained["optim"]["weight_decay"] == trial["params"]["optim.weight_decay"]
        assert 1e-4 <= trial["params"]["optim.lr"] <= 1e-2
        with open(run / "logs" / "metrics.csv") as handle:
            seen = [float(r["val/accuracy"]) for r in csv.DictReader(handle) if r["val/accuracy"]]
        assert len(seen) == 2 and trial["value"] == pytest.approx(max(seen))  # the best
    best = max(found["trials"], key=lambda t: t["value"])
    assert found["best"]["value"] == best["value"]
    # the defaults: the recipe's own values (ftcore run ignores the sweep: section)
    defaults = yaml.safe_load((swept / "defaults" / "recipe.yaml").read_text())
    assert defaults["optim"]["lr"] == 1e-3 and defaults["optim"]["weight_decay"] == 0.01
    comparison = found["comparison"]
    assert comparison["metric"] == "accuracy"
    assert set(comparison["difference"]) == {"value", "low", "high"}
    assert 0 <= comparison["p_value"] <= 1
    assert comparison["verdict"] in {"tuning paid", "tuning did not pay"}
    assert comparison["significant"] is (comparison["verdict"] == "tuning paid")
    text = (swept / "summary.md").read_text()
    assert "| trial | state | optim.lr | optim.weight_decay | val/accuracy |" in text
    assert "## Tuned vs defaults (test set)" in text and "McNemar" in text


def test_resume_continues_to_n_trials_and_retries_an_interrupted_trial(swept, recipe):
    killed = optuna.load_study(study_name=study.STUDY, storage=study.storage(swept))
    left = killed.ask({s.key: s.distribution() for s in _spaces(recipe)})
    assert left.params  # a trial a killed sweep left RUNNING
    defaults = (swept / "defaults" / "metrics.json").stat().st_mtime_ns
    args = ["sweep", str(recipe), "--trials", "3", "--resume", "--out", str(swept), "--no-prune"]
    assert main(args) == 0
    trials = json.loads((swept / "summary.json").read_text())["trials"]
    assert [t["state"] for t in trials] == ["complete", "complete", "interrupted", "complete"]
    assert trials[3]["params"] == trials[2]["params"] == left.params  # tried again
    assert (swept / "trial-003" / "metrics.json").is_file()
    assert (swept / "defaults" / "metrics.json").stat().st_mtime_ns == defaults  # reused
    assert main(args) == 0  # nothing left to do: no new trial
    assert len(json.loads((swept / "summary.json").read_text())["trials"]) == 4


def _spaces(recipe: Path) -> list[space.Space]:
    from ftcore.api import load_recipe

    return space.spaces(load_recipe(str(recipe))[0])


def test_resume_needs_the_same_recipe_and_a_new_sweep_a_new_folder(swept, recipe, capsys):
    args = ["sweep", str(recipe), "optim.weight_decay=0.5", "--resume", "--out", str(swept)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "differs from" in err[0] and "sweep.yaml" in err[0]
    assert main(["sweep", str(recipe), "--out", str(swept)]) == 2
    assert "add --resume to continue it" in capsys.readouterr().err


BAD = """
sweep:
  optim.lrr: {log_uniform: [1.0e-4, 1.0e-2]}
  trainer.max_epochs: {uniform: [1, 3]}
  optim.weight_decay: {log_uniform: [0, 1]}
  optim.schedule: [linear, cosinee]
  output.root: [a, b]
  optim: [1]
"""


@pytest.mark.parametrize("verb", ["sweep", "run"])
def test_a_bad_sweep_section_is_one_line_per_problem_exit_2(verb, tmp_path, tiny_model_dir, capsys):
    recipe = write_recipe(tmp_path, tiny_model_dir, BAD)
    assert main([verb, str(recipe), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert all(line.startswith(f"ftcore: error: {recipe}: sweep.") for line in err), err
    expected = [
        "sweep.optim.lrr: unknown recipe key (did you mean 'optim.lr'?)",
        "sweep.trainer.max_epochs: trainer.max_epochs is a whole number; use {int: [1, 3]}",
        "sweep.optim.weight_decay.log_uniform: low must be above 0 (got 0); use uniform",
        "sweep.optim.schedule: 'cosinee' does not fit optim.schedule",
        "sweep.output.root: output cannot be swept",
        "sweep.optim: is a section",
    ]
    assert len(err) == len(expected)
    for line, text in zip(err, expected):
        assert text in line, (text, line)
    assert not (tmp_path / "out").exists()


def test_values_the_recipe_refuses_stop_the_sweep_before_training(tmp_path, tiny_model_dir, capsys):
    recipe = write_recipe(tmp_path, tiny_model_dir, "sweep: {data.batch_size: [0, 8]}")
    out = tmp_path / "out"
    assert main(["sweep", str(recipe), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ftcore: error: sweep.data.batch_size: 0 is")
    assert not out.exists()
    # a search space given on the command line nests; it is read the same way
    args = [str(recipe), "sweep.data.batch_size=[4,8]", "sweep.optim.lr.uniform=[0.001,0.01]"]
    assert main(["validate", *args]) == 0
    assert main(["sweep", str(tmp_path / "recipe.yaml"), "--trials", "0"]) == 2
    assert "--trials 0: must be 1 or more" in capsys.readouterr().err


class FakeTrainer(SimpleNamespace):
    sanity_checking = False


def test_the_trial_callback_reports_every_validation_and_prunes():
    pruned = optuna.create_study(
        direction="maximize", pruner=optuna.pruners.MedianPruner(n_startup_trials=1)
    )
    first = pruned.ask()
    watch = pruning.TrialCallback(first, "val/accuracy", "max")
    watch.on_validation_end(FakeTrainer(sanity_checking=True, callback_metrics={}), None)
    for value in (0.6, 0.9, 0.8):
        watch.on_validation_end(FakeTrainer(callback_metrics={"val/accuracy": value}), None)
    assert watch.best == 0.9 and first.storage.get_trial(first._trial_id).intermediate_values
    pruned.tell(first, watch.best)
    second = pruning.TrialCallback(pruned.ask(), "val/accuracy", "max")
    with pytest.raises(optuna.TrialPruned, match="pruned after validation 1"):
        second.observe(0.1)  # far below the first trial's median at step 1
    low = pruning.TrialCallback(optuna.create_study().ask(), "val/loss", "min")
    low.observe(0.5), low.observe(0.3), low.observe(float("nan"))
    assert low.best == 0.3


def test_the_callback_is_added_only_while_a_sweep_runs_a_trial():
    assert plugin.ftcore_lightning_callbacks(recipe=None, run=None) == []
    watch = pruning.TrialCallback(None, "val/loss", "min")
    with pruning.active(watch):
        assert plugin.ftcore_lightning_callbacks(recipe=None, run=None) == [watch]
    assert plugin.ftcore_lightning_callbacks(recipe=None, run=None) == []


def test_spaces_become_optuna_distributions_and_overrides():
    log = space.Space("optim.lr", "log_uniform", low=1e-5, high=1e-3)
    assert log.distribution() == optuna.distributions.FloatDistribution(1e-5, 1e-3, log=True)
    steps = space.Space("data.batch_size", "int", low=8, high=32, step=8)
    assert steps.distribution() == optuna.distributions.IntDistribution(8, 32, step=8)
    choice = space.Space("optim.schedule", "choice", choices=("linear", "cosine"))
    assert choice.examples() == ["linear", "cosine"]
    assert space.override("optim.lr", 1.5e-5) == "optim.lr=1.5e-05"
    assert space.override("optim.schedule", "cosine") == 'optim.schedule="cosine"'
    assert space.override("model.gradient_checkpointing", True) == (
        "model.gradient_checkpointing=true"
    )


def test_ctrl_c_stops_the_sweep_and_resume_retries_the_trial(recipe, tmp_path, monkeypatch, capsys):
    from ftcore_sweep import trials

    from ftcore.errors import RunInterrupted

    def interrupted(*args, **kwargs):
        raise RunInterrupted("SIGINT received")

    monkeypatch.setattr(trials, "run_recipe", interrupted)
    out = tmp_path / "sweep"
    assert main(["sweep", str(recipe), "--trials", "2", "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert f"--resume --out {out}" in err
    found = json.loads((out / "summary.json").read_text())
    assert [t["state"] for t in found["trials"]] == ["interrupted"]
    again = optuna.load_study(study_name=study.STUDY, storage=study.storage(out))
    waiting = again.get_trials(states=(optuna.trial.TrialState.WAITING,))
    queued = [t.system_attrs["fixed_params"] for t in waiting]  # enqueued values
    assert queued == [found["trials"][0]["params"]]
    assert study.counted(again) == 0


def test_failed_and_pruned_trials_are_recorded_and_the_sweep_goes_on(
    recipe, tmp_path, monkeypatch, capsys
):
    from ftcore_sweep import trials

    from ftcore.api import UserError

    endings = [UserError("data.csv: row 3 has no text"), optuna.TrialPruned("hopeless")]

    def ends(*args, **kwargs):
        raise endings.pop(0)

    monkeypatch.setattr(trials, "run_recipe", ends)
    out = tmp_path / "sweep"
    assert main(["sweep", str(recipe), "--trials", "2", "--out", str(out)]) == 0
    found = json.loads((out / "summary.json").read_text())
    assert [(t["state"], t["error"]) for t in found["trials"]] == [
        ("failed", "data.csv: row 3 has no text"),
        ("pruned", None),
    ]
    assert found["best"] is None and found["comparison"]["verdict"] == "not compared"
    assert not (out / "defaults").exists()
    assert "No trial completed." in (out / "summary.md").read_text()
    assert "1 failed, 1 pruned" in capsys.readouterr().out


def _documented_sweeps() -> list[str]:
    """Every ``ftcore sweep ...`` line in a code block of docs/sweep.md and the README."""
    repo = Path(__file__).resolve().parents[3]
    found = []
    for page in (repo / "docs" / "sweep.md", repo / "plugins" / "ftcore-sweep" / "README.md"):
        inside = False
        for line in page.read_text(encoding="utf-8").splitlines():
            if line.lstrip().startswith("```"):
                inside = not inside
            elif inside and line.startswith("$ ftcore sweep "):
                found.append(line[len("$ ftcore sweep ") :])
    return found


def test_documented_sweep_commands_are_valid():
    import argparse
    import shlex

    from ftcore_sweep import command

    shown = _documented_sweeps()
    assert len(shown) >= 4
    for line in shown:
        parser = argparse.ArgumentParser()
        command.add_arguments(parser)
        args, extra = parser.parse_known_args(shlex.split(line))
        args.overrides += extra  # key=value after the options, as the ftcore CLI allows
        base = command.plan(args)  # the recipe, its space and every value validated
        assert base.spaces and base.metric == "val/accuracy", line
