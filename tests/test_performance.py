"""Performance options and their behaviour: token cache, one gradient norm per step for the
NaN guard and clipping, fewer per-step logs, batched train metrics, torch.compile."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from ftcore_devkit.testing import HookRecorder, MemoryDataset, build_hooks, tiny_splits

import ftcore
from ftcore.data.cache import cache_key, from_arrays, to_arrays
from ftcore.errors import NonFiniteError

ROOT = Path(__file__).resolve().parent.parent


# --- token cache ----------------------------------------------------------------------


def test_cache_columns_round_trip_exactly(tmp_path):
    columns = {
        "input_ids": [[101, 7, 102], [101, 102], []],
        "labels": [0, 1, 1],
        "weights": [0.5, 1.0, 2.25],
        "multi": [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]],
        "flag": [True, False, True],
        "answer": ["4", "12", "ö"],
    }
    arrays = to_arrays(columns)
    import numpy as np

    np.savez(tmp_path / "c.npz", **arrays)
    with np.load(tmp_path / "c.npz", allow_pickle=False) as loaded:
        back = from_arrays(loaded)
    assert back == columns
    assert [type(v) for v in back["labels"]] == [int, int, int]
    assert type(back["multi"][0][0]) is float and type(back["input_ids"][0][0]) is int


@pytest.mark.parametrize(
    "columns",
    [{"x": [1, 2.0]}, {"x": [[1], [2.5]]}, {"x": [None, 1]}, {"x": [[[1]]]}, {"x": [(1,)]}],
)
def test_cache_refuses_what_it_cannot_store_exactly(columns):
    assert to_arrays(columns) is None


def test_cache_key_depends_on_tokenizer_rows_and_options():
    rows = [{"text": "a", "label": "pos"}]
    key = cache_key("tok", rows, {"max_length": 32})
    assert key == cache_key("tok", [dict(r) for r in rows], {"max_length": 32})
    assert key != cache_key("tok2", rows, {"max_length": 32})
    assert key != cache_key("tok", rows, {"max_length": 64})
    assert key != cache_key("tok", [{"text": "b", "label": "pos"}], {"max_length": 32})


def _run(run_recipe, tmp_path, overrides=(), plugins=()):
    hooks = build_hooks([MemoryDataset(tiny_splits()), *plugins])
    recorder = HookRecorder(hooks.pm)
    result = run_recipe(
        hooks=hooks, overrides=[f"model.cache_dir={tmp_path / 'cache'}", *overrides]
    )
    recorder.stop()
    return result, recorder


def test_second_run_reads_the_token_cache(run_recipe, tmp_path):
    first, calls = _run(run_recipe, tmp_path)
    files = sorted((tmp_path / "cache" / "tokenized").glob("*.npz"))
    assert len(files) == 3 and calls.count("Head.encode") == 3
    second, calls = _run(run_recipe, tmp_path)
    assert calls.count("Head.encode") == 0  # every split came from the cache
    assert second.test == first.test
    files[0].write_bytes(files[0].read_bytes()[:50])  # damaged: encoded again, rewritten
    third, calls = _run(run_recipe, tmp_path)
    assert calls.count("Head.encode") == 1 and third.test == first.test
    assert len(files[0].read_bytes()) > 50


def test_token_cache_can_be_switched_off(run_recipe, tmp_path):
    _, calls = _run(run_recipe, tmp_path, ["data.cache_tokenized=false"])
    assert calls.count("Head.encode") == 3
    assert not (tmp_path / "cache" / "tokenized").exists()


# --- NaN guard and clipping share one gradient norm -----------------------------------


class NanGradientAt:
    """A loss term whose value is 0 but whose gradient is NaN at the given steps."""

    def __init__(self, steps: set[int]) -> None:
        self.steps = steps

    @ftcore.hookimpl
    def ftcore_loss_terms(self, module, batch, output):
        if module.trainer.global_step not in self.steps:
            return []
        weight = next(p for p in module.model.parameters() if p.requires_grad)
        return [("poison", torch.sqrt((weight * 0).sum()))]  # d sqrt(x)/dx at 0: inf * 0


def test_nan_gradient_with_clipping_stops(run_recipe, tmp_path):
    with pytest.raises(NonFiniteError, match="non-finite gradient at optimiser step 3"):
        _run(run_recipe, tmp_path, plugins=[NanGradientAt({3})])


def test_nan_gradient_with_clipping_is_skipped_and_counted(run_recipe, tmp_path):
    result, _ = _run(run_recipe, tmp_path, ["trainer.on_nonfinite=skip"], [NanGradientAt({2, 5})])
    assert result.summary["skipped_batches"] == 2
    with open(result.run_dir / "logs" / "metrics.csv") as handle:
        logged = [r["train/skipped_batches"] for r in csv.DictReader(handle)]
    assert "2.0" in logged


def test_one_norm_per_step_gives_lightnings_clipping_exactly(run_recipe, tmp_path, monkeypatch):
    merged, _ = _run(run_recipe, tmp_path, ["optim.grad_clip=0.05"])
    import ftcore.safety

    monkeypatch.setattr(ftcore.safety, "shares_clipping_norm", lambda trainer: False)
    separate, _ = _run(run_recipe, tmp_path, ["optim.grad_clip=0.05"])
    assert merged.test == separate.test and merged.validation == separate.validation
    a = merged.run.module.model.state_dict()
    b = separate.run.module.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


# --- logging and train metrics --------------------------------------------------------


def test_train_logs_and_metrics_on_logging_steps(run_recipe, tmp_path):
    result, _ = _run(run_recipe, tmp_path, ["trainer.log_every_n_steps=3"])
    with open(result.run_dir / "logs" / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    losses = [int(r["step"]) for r in rows if r.get("train/loss")]
    assert losses == [2, 5]  # 8 steps, written every 3rd step as Lightning always did
    assert [r for r in rows if r.get("train/accuracy")]  # 8 batches, one update at epoch end
    assert all(r.get("train/task_loss") for r in rows if r.get("train/loss"))


# --- torch.compile --------------------------------------------------------------------


def test_compile_option_compiles_the_model_in_place(run_recipe, tmp_path, monkeypatch):
    compiled = []
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, **kw: compiled.append(self))
    result, _ = _run(run_recipe, tmp_path, ["trainer.compile=true"])
    assert compiled == [result.run.module.model]


# --- the benchmark command ------------------------------------------------------------


def test_bench_command_exists_and_lists_its_sections():
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--help"], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert "--full" in done.stdout and "--quick" in done.stdout


def test_bench_alternates_sides_and_logs_each_result(capsys):
    from bench.common import alternate

    calls = []
    found = alternate(["a", "b"], 2, lambda side, r: calls.append((side, r)) or {"ms": r + 1.5})
    assert calls == [("a", 0), ("b", 0), ("b", 1), ("a", 1)]
    assert found == {"a": [{"ms": 1.5}, {"ms": 2.5}], "b": [{"ms": 1.5}, {"ms": 2.5}]}
    assert "round 2/2 a: ms 2.5" in capsys.readouterr().err


def test_bench_padding_share_counts_each_batch_to_its_longest_row():
    from bench.padding import padding_share

    found = padding_share([2, 4, 4, 4], [0, 1, 2, 3], batch_size=2)
    assert found == {"real_tokens": 14, "padded_tokens": 16, "padding_share": 0.125}


def test_bench_bf16_target_is_not_applicable_where_bf16_is_emulated():
    from bench.run import precision_target

    row = {"fraction_of_peak": 3.1}
    emulated = {"fp32": {"flops_per_s": 1.5e11}, "bf16": {"flops_per_s": 1.2e9}}
    assert precision_target("bf16", row, emulated)["met"] is None
    native = {"fp32": {"flops_per_s": 1.5e11}, "bf16": {"flops_per_s": 3e11}}
    assert precision_target("bf16", {"fraction_of_peak": 0.4}, native)["met"] is False
    assert precision_target("fp32", {"fraction_of_peak": 0.56}, emulated)["met"] is True


def test_bench_label_noise_takes_the_documented_arguments():
    from bench.label_noise import parser

    args = parser().parse_args(["sentiment-rotten-tomatoes", "--flip", "0.05"])
    assert (args.recipe, args.flip, args.rows) == ("sentiment-rotten-tomatoes", 0.05, 0)
    assert (
        "python -m bench.label_noise sentiment-rotten-tomatoes --flip 0.05"
        in (ROOT / "docs" / "assess.md").read_text()
    )


def test_bench_projection_tabulates_what_the_folders_hold(tmp_path):
    """The projection check reads its figures from assessment.json / metrics.json files."""
    import json

    from bench import projection as bench

    assess = tmp_path / "assess-r"
    assess.mkdir()
    found = {
        "model": "minilm",
        "candidates": [],
        "projection": {
            "metric": "accuracy",
            "full": {"rows": 10, "value": 0.85, "low": 0.80, "high": 0.90},
        },
    }
    (assess / "assessment.json").write_text(json.dumps(found))
    (assess / "wall_seconds").write_text("150.0\n")
    run = tmp_path / "run-r-minilm"
    run.mkdir()
    metrics = {"test": {"test/accuracy": 0.835}, "timings": {"total_seconds": 500.0}}
    (run / "metrics.json").write_text(json.dumps(metrics))
    sys_argv = ["r", "--out", str(tmp_path)]
    args = bench.parser().parse_args(sys_argv)
    assert args.budget is None and args.models == ""
    import sys
    from unittest import mock

    with mock.patch.object(sys, "argv", ["bench.projection", *sys_argv]):
        assert bench.main() == 0
    table = json.loads((tmp_path / "projection.json").read_text())["rows"][0]
    assert table["error"] == 0.015 and table["inside"] is True and table["assess_seconds"] == 150
    assert (
        "| `r` | `minilm` | 150 s / 180 s | 0.850 [0.800, 0.900] |"
        in (tmp_path / "projection.md").read_text()
    )
    assert bench.kendall_tau([1, 2, 3], [1, 3, 2]) == 1 / 3
    assert bench.kendall_tau_b([1, 1, 2], [1, 2, 3]) == 2 / 6**0.5
    assert math.isnan(bench.kendall_tau_b([1, 1], [1, 2]))  # the ranking tied the pair
    rows = [
        {"recipe": "a", "rank": 1, "real": 0.7},
        {"recipe": "a", "rank": 2, "real": 0.8},  # separated, the wrong way round
        {"recipe": "b", "rank": 1, "real": 0.9},
        {"recipe": "b", "rank": 2, "real": 0.6},  # separated, right
        {"recipe": "c", "rank": 1, "real": 0.5},
        {"recipe": "c", "rank": 1, "real": 0.6},  # tied: no call
    ]
    assert bench.ranking_calls(rows) == (2, 1)


def test_bench_projection_with_models_reads_the_ranking(tmp_path):
    """With ``--models`` the rows are the ranking's: the probe-alone projection and the
    rank (shared by candidates the assessment did not separate)."""
    import json
    import sys
    from unittest import mock

    from bench import projection as bench

    assess = tmp_path / "assess-r"
    assess.mkdir()
    full = {"rows": 10, "value": 0.9, "low": 0.8, "high": 0.95}
    found = {
        "model": "a",
        "projection": {"metric": "accuracy", "method": "probe and short run", "full": full},
        "candidates": [{"model": "b", "projection": {"metric": "accuracy", "full": full}}],
        "ranking": [
            {"model": "a", "rank": 1, "projected": {**full, "value": 0.7}, "p_best": 0.3},
            {"model": "b", "rank": 1, "projected": {**full, "value": 0.72}, "p_best": 0.7},
        ],
    }
    (assess / "assessment.json").write_text(json.dumps(found))
    (assess / "wall_seconds").write_text("170.0\n")
    for model, score in (("a", 0.69), ("b", 0.74)):
        run = tmp_path / f"run-r-{model}"
        run.mkdir()
        (run / "metrics.json").write_text(json.dumps({"test": {"test/accuracy": score}}))
    argv = ["bench.projection", "r", "--out", str(tmp_path), "--models", "a,b"]
    with mock.patch.object(sys, "argv", argv):
        assert bench.main() == 0
    table = json.loads((tmp_path / "projection.json").read_text())
    assert [(r["projected"]["value"], r["rank"]) for r in table["rows"]] == [(0.7, 1), (0.72, 1)]
    assert table["kendall_tau_within"] == {"r": 1.0}
    assert math.isnan(table["kendall_tau_b_of_ranks_within"]["r"])
    # b's run scored higher and got the larger share: (0.3 - 0)^2 and (0.7 - 1)^2
    assert table["leanings"]["recipes"]["r"] == {
        "best_run": "b",
        "its_share": 0.7,
        "leaned_right": True,
    }
    assert table["leanings"]["brier"] == 0.09
    shown = (tmp_path / "projection.md").read_text()
    assert "1, P(best) 0.70 |" in shown and "on 1 of 1 recipes (r: b 0.70)" in shown
    many = bench.parser().parse_args(["r", "--out", "x", "--set", "data.limit_train=9"])
    assert bench.split("r@head.standardize=false,seed=1", many) == (
        "r",
        ["data.limit_train=9", "head.standardize=false", "seed=1"],
    )
    assert "python -m bench.projection --out" in (ROOT / "docs" / "assess.md").read_text()


def test_bench_synthetic_csv_writes_the_documented_shape(tmp_path):
    import csv
    import sys
    from unittest import mock

    from bench import synthetic_csv

    out = tmp_path / "big.csv"
    with mock.patch.object(sys, "argv", ["x", str(out), "--rows", "50", "--classes", "16"]):
        synthetic_csv.main()
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 50 and all(r["label"].startswith("class_") for r in rows)
    assert len({r["text"] for r in rows}) == 50
    assert "python -m bench.synthetic_csv" in (ROOT / "docs" / "assess.md").read_text()


@pytest.mark.parametrize("source", ["csv", "hf"])
def test_bench_hf_source_reads_the_csv_through_each_source(tmp_path, source, capsys):
    """The two sides of ``python -m bench.hf_source``: each is the benchmark's recipe with
    only the data source replaced, and the recipe validates with it."""
    from bench import hf_source, synthetic_csv
    from ftcore.cli import main

    data = tmp_path / "s.csv"
    synthetic_csv.write_csv(data, 40, 4)
    args = hf_source.overrides(source, data, 2)
    assert main(["validate", hf_source.RECIPE, *args]) == 0, capsys.readouterr().err
    assert f"data.source={source}" in args
    assert (
        "python -m bench.hf_source --rows 1000000" in (ROOT / "docs" / "performance.md").read_text()
    )
    assert hf_source.table(
        {"rows": 40, "csv_mb": 0.0, "recipe": "r", "csv": {}, "hf": {}}
    ).startswith("40 rows")


def test_bench_projection_uses_recorded_full_runs_of_references_without_a_run_folder(tmp_path):
    from ftcore_evaluation.projection import REFERENCES

    from bench import projection as bench

    ref = REFERENCES[0]
    found = bench.full_run(ref.recipe, tmp_path / "none", [], run=False)
    assert found == {"test": {f"test/{ref.metric}": ref.finetuned}, "recorded": True}
    # overrides change the run: the recorded score does not apply
    assert bench.full_run(ref.recipe, tmp_path / "none", ["seed=1"], run=False) == {"test": {}}
    assert bench.full_run("not-a-reference", tmp_path / "none", [], run=False) == {"test": {}}
    # a run of another model isn't the reference's run
    assert bench.full_run(ref.recipe, tmp_path / "x", [], False, "smollm2-135m") == {"test": {}}
    projected = {
        "metric": ref.metric,
        "method": "probe and short run",
        "full": {"rows": 10, "value": ref.finetuned - 0.01, "low": 0.0, "high": 1.0},
        "probe_only": {"rows": 10, "value": ref.finetuned - 0.05, "low": 0.0, "high": 1.0},
    }
    row = bench.row(ref.recipe, "minilm", projected, found, 100.0, 180.0)
    assert row["error"] == 0.01 and row["probe_only_error"] == 0.05
    assert "(recorded) | 0.010 | yes |" in bench.markdown([row]) and "(0.050) |" in bench.markdown(
        [row]
    )


def test_bench_projection_uses_recorded_paired_runs_of_each_model(tmp_path, monkeypatch):
    from ftcore_evaluation import projection
    from ftcore_evaluation.projection import Reference

    from bench import projection as bench

    runs = tuple(
        Reference("r", "d", "accuracy", 0.6, score, model=model, overrides="a=1,b=2")
        for model, score in (("minilm", 0.7), ("smollm2-135m", 0.75))
    )
    monkeypatch.setattr(projection, "PAIRED_RUNS", runs)
    for model, score in (("minilm", 0.7), ("smollm2-135m", 0.75)):
        found = bench.full_run("r", tmp_path / "none", ["b=2", "a=1"], False, model)
        assert found == {"test": {"test/accuracy": score}, "recorded": True}
    assert bench.full_run("r", tmp_path / "none", ["a=1"], False, "minilm") == {"test": {}}


def test_documented_bench_projection_commands_parse():
    """Every ``python -m bench.projection`` command docs/assess.md shows is accepted by the
    benchmark's own parser, with recipes the repository has."""
    import re
    import shlex

    from bench import projection as bench

    text = (ROOT / "docs" / "assess.md").read_text().replace("\\\n", " ")
    shown = re.findall(r"python -m bench\.projection ([^\n`]+)", text)
    assert len(shown) >= 2
    for line in shown:
        args = bench.parser().parse_args(shlex.split(line))
        for given in args.recipes:
            name = bench.split(given, args)[0]
            assert (ROOT / "recipes" / f"{name}.yaml").is_file(), line
