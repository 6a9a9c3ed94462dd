"""Issue 14: the run folder belongs to its run.

- item 2: a new run takes only a new or empty folder (``--force``: one holding none of the
  files a run writes) and never deletes or replaces what is there;
- item 3: a checkpoint is tied to its run by the run id; another run's is ignored;
- item 7: a resume refuses a recipe that changed since the checkpoint, naming the keys;
- item 8: one process per run folder (an OS lock), unique temporary file names;
- item 9: a full disk ends in one line, leaves no temporary file, keeps the previous
  checkpoint; the free-space check is sized from the model;
- item 12: a checkpoint of another head is one line, not a traceback;
- item 15: ``--resume`` keeps the earlier rows of ``logs/metrics.csv``;
- item 18: a checkpoint without the state an exact resume needs is skipped.
"""

from __future__ import annotations

import collections
import csv
import errno
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from ftcore_devkit.testing import (
    MemoryDataset,
    base_recipe,
    build_hooks,
    execute_recipe,
    resume_run,
)
from omegaconf import OmegaConf

from ftcore.cli import main
from ftcore.errors import UserError
from ftcore.recipe.validate import validate
from ftcore.run import resume_checkpoint
from tests.helpers import memory_hooks, write_csv, write_csv_recipe

OVERRIDES = ["trainer.max_epochs=3", "checkpoint.every_n_steps=2", "optim.lr=3e-3"]


def _crashed_run(tmp_path, model_dir, step: int) -> Path:
    recipe = base_recipe(model_dir)
    return execute_recipe(
        recipe, tmp_path / "run", OVERRIDES, hooks=memory_hooks(), crash_at_step=step
    ).run_dir


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_model_dir) -> Path:
    """A finished run (3 epochs, last.ckpt and a best checkpoint) of a recipe the command
    line can load (data from a CSV file)."""
    folder = tmp_path_factory.mktemp("finished")
    data = write_csv(folder / "data.csv")
    recipe = base_recipe(tiny_model_dir, source="csv")
    recipe["data"]["options"] = {"path": str(data)}
    execute_recipe(recipe, folder / "run", OVERRIDES, hooks=build_hooks())
    return folder / "run"


def _copy(run_dir: Path, to: Path) -> Path:
    shutil.copytree(run_dir, to)
    return to


def _csv_recipe(tmp_path, model_dir, extra: str = "") -> str:
    extra = "evaluation: {enabled: false}\n" + extra
    return str(write_csv_recipe(tmp_path, model_dir, extra, rows=60, batch_size=8, max_epochs=1))


def _error_lines(capsys) -> list[str]:
    return [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("ftcore: error")]


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# --- item 2: --out never destroys what is there ------------------------------------------


def test_item2_out_with_a_model_folder_is_refused_before_writing(tmp_path, tiny_model_dir, capsys):
    recipe = _csv_recipe(tmp_path, tiny_model_dir)
    project = tmp_path / "project"
    (project / "model").mkdir(parents=True)
    (project / "model" / "weights.bin").write_bytes(b"my own model")
    (project / "recipe.yaml").write_text("mine: true\n")
    before = _files(project)
    for extra in ([], ["--force"]):
        assert main(["run", recipe, "--out", str(project), *extra]) == 2
        lines = _error_lines(capsys)
        assert len(lines) == 1, lines
        assert str(project) in lines[0] and "model/" in lines[0]
        assert _files(project) == before  # nothing replaced, nothing added (not even .lock)
        assert sorted(p.name for p in project.iterdir()) == ["model", "recipe.yaml"]


def test_item2_out_dot_in_a_project_keeps_its_model_folder(
    tmp_path, tiny_model_dir, capsys, monkeypatch
):
    recipe = _csv_recipe(tmp_path, tiny_model_dir)
    project = tmp_path / "project"
    (project / "model").mkdir(parents=True)
    (project / "model" / "notes.txt").write_text("keep me")
    monkeypatch.chdir(project)
    assert main(["run", recipe, "--out", "."]) == 2
    (line,) = _error_lines(capsys)
    assert "is not empty (model/)" in line and "--force" in line
    assert (project / "model" / "notes.txt").read_text() == "keep me"


def test_item2_an_earlier_run_is_pointed_at_resume(finished_run, tmp_path, capsys):
    copy = _copy(finished_run, tmp_path / "copy")
    before = _files(copy)
    recipe = str(copy / "recipe.yaml")
    for extra in ([], ["--force"]):
        assert main(["run", recipe, "--out", str(copy), *extra]) == 2
        (line,) = _error_lines(capsys)
        assert f"continue it with `ftcore run --resume {copy}`" in line
    assert _files(copy) == before


def test_item2_force_writes_beside_other_files_and_empty_folders_are_fine(
    tmp_path, tiny_model_dir, capsys
):
    recipe = _csv_recipe(tmp_path, tiny_model_dir)
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "notes.txt").write_text("mine")
    assert main(["run", recipe, "--out", str(shared)]) == 2
    assert "add --force" in _error_lines(capsys)[0]
    assert main(["run", recipe, "--out", str(shared), "--force"]) == 0
    assert (shared / "notes.txt").read_text() == "mine"
    assert (shared / "model" / "config.json").is_file()
    empty = tmp_path / "empty" / "sub"
    empty.mkdir(parents=True)  # only empty folders: empty
    assert main(["run", recipe, "--out", str(empty.parent)]) == 0
    # the run's own folder: --resume
    assert main(["run", "--resume", str(shared)]) == 0


# --- item 3: a checkpoint belongs to its run ----------------------------------------------


def test_item3_resume_ignores_another_runs_newer_checkpoint(
    finished_run, tmp_path, tiny_model_dir, caplog
):
    run_dir = _crashed_run(tmp_path, tiny_model_dir, 3)  # last.ckpt at step 2
    own = run_dir / "checkpoints" / "last.ckpt"
    assert torch.load(own, weights_only=True)["global_step"] == 2
    foreign = run_dir / "checkpoints" / "last-v2.ckpt"  # the finished run's, newer
    shutil.copy(finished_run / "checkpoints" / "last.ckpt", foreign)
    later = time.time() + 10
    os.utime(foreign, (later, later))
    with caplog.at_level(logging.WARNING, logger="ftcore"):
        summary = resume_run(run_dir, hooks=memory_hooks()).summary
    assert f"checkpoint {foreign} belongs to another run" in caplog.text
    assert summary["steps_trained"] == 15
    state = torch.load(own, weights_only=True)
    recipe = yaml.safe_load((run_dir / "recipe.yaml").read_text())
    assert state["ftcore_run_id"] == recipe["run_id"]
    assert state["ftcore_run_id"] != torch.load(foreign, weights_only=True)["ftcore_run_id"]


def test_item3_new_runs_get_new_ids_and_stamp_every_checkpoint(finished_run):
    recipe = yaml.safe_load((finished_run / "recipe.yaml").read_text())
    assert len(recipe["run_id"]) == 32
    for path in (finished_run / "checkpoints").glob("*.ckpt"):
        state = torch.load(path, weights_only=True)
        assert state["ftcore_run_id"] == recipe["run_id"], path
        assert state["ftcore_recipe"]["seed"] == recipe["seed"]


def test_item3_only_foreign_checkpoints_is_refused_not_overwritten(
    finished_run, tmp_path, tiny_model_dir, capsys
):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    recipe = {**base_recipe(tiny_model_dir), "run_id": "0" * 32}
    (run_dir / "recipe.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(recipe)))
    shutil.copytree(finished_run / "checkpoints", run_dir / "checkpoints")
    before = _files(run_dir / "checkpoints")
    with pytest.raises(UserError, match="none of the 2 checkpoints in checkpoints/ belongs to"):
        resume_run(run_dir, hooks=memory_hooks())
    assert _files(run_dir / "checkpoints") == before


# --- item 7: a resume refuses an edited recipe ---------------------------------------------


def test_item7_resume_with_an_edited_recipe_is_refused_naming_the_keys(
    finished_run, tmp_path, capsys
):
    run_dir = _copy(finished_run, tmp_path / "run")
    path = run_dir / "recipe.yaml"
    text = path.read_text()
    assert "\nseed: 0\n" in text and "limit_train: null" in text
    path.write_text(
        text.replace("\nseed: 0\n", "\nseed: 7\n").replace("limit_train: null", "limit_train: 100")
    )
    before = _files(run_dir / "checkpoints")
    assert main(["run", "--resume", str(run_dir)]) == 2
    assert _error_lines(capsys) == [
        f"ftcore: error: {path}: changed since the checkpoint was written (seed: 0 -> 7, "
        f"data.limit_train: null -> 100); restore it, or start a new run"
    ]
    assert _files(run_dir / "checkpoints") == before


def test_item7_keys_that_change_nothing_computed_may_change(finished_run, tmp_path):
    run_dir = _copy(finished_run, tmp_path / "run")
    hooks = memory_hooks()
    raw = OmegaConf.load(run_dir / "recipe.yaml")
    raw.trainer.progress_bar = True
    raw.trainer.num_threads = 1
    raw.description = "renamed"
    raw.versions = {"torch": "0.0"}
    cfg = validate(raw, hooks, source="recipe.yaml", default_name="test")
    assert resume_checkpoint(run_dir, cfg) == str(run_dir / "checkpoints" / "last.ckpt")
    raw.optim.lr = 0.5
    cfg = validate(raw, hooks, source="recipe.yaml", default_name="test")
    with pytest.raises(UserError, match=r"\(optim.lr: 0.003 -> 0.5\)"):
        resume_checkpoint(run_dir, cfg)


# --- item 8: one process per run folder ----------------------------------------------------

HOLD_LOCK = """
import sys, time
from pathlib import Path
from ftcore.rundir import RunLock
RunLock(Path(sys.argv[1])).acquire()
print("locked", flush=True)
time.sleep(120)
"""


def test_item8_a_run_folder_in_use_is_refused_in_one_line(finished_run, tmp_path, capsys):
    run_dir = _copy(finished_run, tmp_path / "run")
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    for folder in (run_dir, fresh):
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, str(folder)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert holder.stdout.readline().strip() == "locked"
            if folder == run_dir:
                code = main(["run", "--resume", str(folder)])
                tail = "wait for it"
            else:
                code = main(["run", str(run_dir / "recipe.yaml"), "--out", str(folder)])
                tail = "wait for it or choose another --out"
            assert code == 2
            assert _error_lines(capsys) == [
                f"ftcore: error: {folder} is in use by another ftcore process "
                f"(pid {holder.pid}); {tail}"
            ]
        finally:
            holder.kill()
            holder.wait()
    assert main(["run", "--resume", str(run_dir)]) == 0  # free again once the holder is gone


def test_item8_checkpoint_temp_names_are_unique(tmp_path, monkeypatch):
    """Two writers of one checkpoint at once (here: one inside the other's write) each
    write their own temporary file; with one fixed name the first one's rename fails."""
    from ftcore import checkpoint_io
    from ftcore.checkpoint_io import AtomicCheckpointIO

    io, path, real_save, seen = AtomicCheckpointIO(), tmp_path / "last.ckpt", torch.save, []

    def save(obj, handle):
        seen.append(sorted(p.name for p in tmp_path.glob(".*.tmp")))
        if len(seen) == 1:
            io.save_checkpoint({"writer": 2}, path)
        real_save(obj, handle)

    monkeypatch.setattr(checkpoint_io.torch, "save", save)
    io.save_checkpoint({"writer": 1}, path)
    temps = seen[1]  # while the second writer writes, both temporary files exist
    assert len(temps) == 2 and ".last.ckpt.tmp" not in temps, temps
    assert torch.load(path, weights_only=True) == {"writer": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


# --- item 9: a full disk --------------------------------------------------------------------


def _disk_fills_at_save(monkeypatch, call: int) -> list[str]:
    """torch.save writes part of the file and fails with ENOSPC at its ``call``-th call."""
    from ftcore import checkpoint_io

    real_save, calls = torch.save, []

    def save(obj, handle):
        calls.append(handle.name)
        if len(calls) == call:
            handle.write(b"\0" * 4096)
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(obj, handle)

    monkeypatch.setattr(checkpoint_io.torch, "save", save)
    return calls


def test_item9_disk_full_while_saving_a_checkpoint(tmp_path, tiny_model_dir, capsys, monkeypatch):
    recipe = _csv_recipe(tmp_path, tiny_model_dir, "checkpoint: {every_n_steps: 2}")
    run_dir = tmp_path / "run"
    calls = _disk_fills_at_save(monkeypatch, 2)  # the first checkpoint is written, not the 2nd
    assert main(["run", recipe, "--out", str(run_dir)]) == 2
    (line,) = _error_lines(capsys)
    last = run_dir / "checkpoints" / "last.ckpt"
    assert line.startswith(f"ftcore: error: disk full while saving {last} (")
    assert f"free at {run_dir / 'checkpoints'}); the previous checkpoints are kept" in line
    assert line.endswith(f"resume with: ftcore run --resume {run_dir}")
    assert [p.name for p in (run_dir / "checkpoints").iterdir()] == ["last.ckpt"]  # no .tmp
    assert torch.load(last, weights_only=True)["global_step"] == 2  # the previous one, intact
    monkeypatch.undo()
    assert len(calls) == 2
    assert main(["run", "--resume", str(run_dir)]) == 0
    assert (run_dir / "model" / "config.json").is_file()


def test_item9_disk_full_while_exporting(tmp_path, tiny_model_dir, capsys, monkeypatch):
    from transformers import PreTrainedModel

    recipe = _csv_recipe(tmp_path, tiny_model_dir)
    run_dir = tmp_path / "run"

    def full(self, folder, **kwargs):
        (Path(folder) / "model.safetensors").write_bytes(b"\0" * 4096)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(PreTrainedModel, "save_pretrained", full)
    assert main(["run", recipe, "--out", str(run_dir)]) == 2
    (line,) = _error_lines(capsys)
    assert line.startswith(f"ftcore: error: disk full while exporting {run_dir / 'model'} (")
    assert f"ftcore run --resume {run_dir} (it tests and exports again)" in line
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".model")]
    assert not (run_dir / "model").exists()
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    monkeypatch.undo()
    assert main(["run", "--resume", str(run_dir)]) == 0
    assert (run_dir / "model" / "model.safetensors").stat().st_size > 4096


def test_item9_free_space_is_checked_against_the_models_size(tmp_path, tiny_model_dir, capsys):
    from ftcore import rundir

    recipe = _csv_recipe(tmp_path, tiny_model_dir)
    usage = shutil.disk_usage(tmp_path)

    def little(path):  # room for recipe and logs, not for this model's checkpoints
        return usage._replace(free=rundir.MIN_FREE_BYTES)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rundir.shutil, "disk_usage", little)
        assert main(["run", recipe, "--out", str(tmp_path / "run")]) == 2
    (line,) = _error_lines(capsys)
    assert "MiB free at" in line and "this run needs about" in line
    assert "for its checkpoints and the export" in line and line.endswith("or use --out")
    assert not list((tmp_path / "run").glob("checkpoints/*"))


def test_item9_space_needed_grows_with_the_model():
    from ftcore.rundir import MIN_FREE_BYTES, space_needed

    recipe = OmegaConf.create({"checkpoint": {"save_top_k": 1}})
    small = torch.nn.Linear(10, 10, device="meta")
    big = torch.nn.Linear(10_000, 10_000, device="meta")  # 100M parameters, 400 MB
    weights = 10_000 * 10_001 * 4
    # best + last + the one being written, each weights + AdamW's two moments, plus export
    assert space_needed(big, recipe, Path("/nonexistent")) == 3 * 3 * weights + weights + (
        MIN_FREE_BYTES
    )
    big.weight.requires_grad_(False)  # frozen: no optimiser state
    frozen = space_needed(big, recipe, Path("/nonexistent"))
    assert frozen < 3 * 3 * weights
    assert space_needed(small, recipe, Path("/nonexistent")) < MIN_FREE_BYTES + 2**20


def test_item9_resume_short_of_space_says_resume_not_out(finished_run, tmp_path, capsys):
    from ftcore import rundir

    run_dir = _copy(finished_run, tmp_path / "run")
    usage = shutil.disk_usage(tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rundir.shutil, "disk_usage", lambda p: usage._replace(free=2**20))
        assert main(["run", "--resume", str(run_dir)]) == 2
    (line,) = _error_lines(capsys)
    assert line.endswith(f"then resume with: ftcore run --resume {run_dir}")
    assert "--out" not in line


def test_item9_resume_removes_what_a_killed_write_left(finished_run, tmp_path):
    run_dir = _copy(finished_run, tmp_path / "run")
    left = [
        run_dir / "checkpoints" / ".last.ckpt.tmp",  # an older ftcore's name
        run_dir / "checkpoints" / ".last.ckpt.k3j_x9.tmp",
        run_dir / ".model.tmp" / "model.safetensors",
        run_dir / ".model.a8f2.tmp" / "model.safetensors",
        run_dir / ".metrics.json.q1w2.tmp",
    ]
    for path in left:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"half written")
    (run_dir / "notes.tmp").write_text("not ftcore's")
    assert main(["run", "--resume", str(run_dir)]) == 0
    assert not [p for p in left if p.exists()]
    assert not [p for p in run_dir.glob(".model*")]
    assert (run_dir / "notes.tmp").is_file()


# --- item 12: a checkpoint of another head ------------------------------------------------


def test_item12_another_heads_checkpoint_is_one_line(tmp_path, tiny_model_dir, capsys):
    pytest.importorskip("ftcore_regression")
    from ftcore_devkit.testing import make_regression_rows

    rows = {"train": make_regression_rows(16), "validation": make_regression_rows(8, 1)}
    rows["test"] = make_regression_rows(8, 2)
    regression = tmp_path / "regression"
    execute_recipe(
        base_recipe(tiny_model_dir, task="regression"),
        regression,
        hooks=build_hooks([MemoryDataset(rows)]),
    )
    # a classification run folder from before run ids, holding the regression checkpoint
    # written by an ftcore without stamps
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    recipe = _csv_recipe(tmp_path, tiny_model_dir)
    shutil.copy(recipe, run_dir / "recipe.yaml")
    state = torch.load(regression / "checkpoints" / "last.ckpt", weights_only=True)
    state.pop("ftcore_run_id", None), state.pop("ftcore_recipe", None)
    torch.save(state, run_dir / "checkpoints" / "last.ckpt")
    assert main(["run", "--resume", str(run_dir)]) == 2
    (line,) = _error_lines(capsys)
    assert line.startswith(
        f"ftcore: error: {run_dir / 'checkpoints' / 'last.ckpt'}: its weights do not fit "
        f"this run's model ("
    )
    # stamped (today's checkpoints): another run's, skipped, and none left is one line too
    state["ftcore_run_id"] = "f" * 32
    torch.save(state, run_dir / "checkpoints" / "last.ckpt")
    recipe_yaml = yaml.safe_load((run_dir / "recipe.yaml").read_text())
    (run_dir / "recipe.yaml").write_text(yaml.safe_dump({**recipe_yaml, "run_id": "a" * 32}))
    assert main(["run", "--resume", str(run_dir)]) == 2
    assert (
        "none of the 1 checkpoints in checkpoints/ belongs to this run" in (_error_lines(capsys)[0])
    )


# --- item 15: metrics.csv survives --resume ------------------------------------------------


def _csv_rows(path: Path) -> collections.Counter:
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    # which columns each row fills, per step: the values of epoch-level train metrics of
    # an epoch interrupted midway differ (their accumulators restart with the resume)
    return collections.Counter(
        (r["step"], r["epoch"], tuple(sorted(k for k, v in r.items() if v))) for r in rows
    )


@pytest.mark.parametrize("crash_step", [7, 10])
def test_item15_resume_keeps_the_earlier_rows_of_metrics_csv(tmp_path, tiny_model_dir, crash_step):
    reference = execute_recipe(
        base_recipe(tiny_model_dir), tmp_path / "ref", OVERRIDES, hooks=memory_hooks()
    )
    run_dir = _crashed_run(tmp_path, tiny_model_dir, crash_step)
    rows_before = _csv_rows(run_dir / "logs" / "metrics.csv")
    assert rows_before
    resume_run(run_dir, hooks=memory_hooks())
    got = _csv_rows(run_dir / "logs" / "metrics.csv")
    assert got == _csv_rows(reference.run_dir / "logs" / "metrics.csv")  # no step twice
    checkpoint_step = crash_step - crash_step % 2
    kept = collections.Counter(
        {k: n for k, n in rows_before.items() if int(k[0]) < checkpoint_step}
    )
    assert kept and not kept - got


# --- item 18: a checkpoint that cannot resume exactly ---------------------------------------


@pytest.mark.parametrize(
    "strip, said",
    [
        ({"optimizer_states": []}, "it has no optimiser state (saved with weights only?)"),
        ({"optimizer_states": None}, "it has no optimiser state (saved with weights only?)"),
        ({"lr_schedulers": None}, "it has no learning-rate schedule state"),
        ({"loops": None}, "not a training checkpoint"),
    ],
)
def test_item18_incomplete_checkpoint_falls_back_to_the_previous(
    finished_run, tmp_path, caplog, strip, said
):
    run_dir = _copy(finished_run, tmp_path / "run")
    last = run_dir / "checkpoints" / "last.ckpt"
    state = torch.load(last, weights_only=True)
    for key, value in strip.items():
        if value is None:
            del state[key]
        else:
            state[key] = value
    torch.save(state, last)
    (best,) = (run_dir / "checkpoints").glob("best-*.ckpt")
    with caplog.at_level(logging.WARNING, logger="ftcore"):
        assert resume_checkpoint(run_dir) == str(best)
    assert f"checkpoint {last} cannot resume the run exactly ({said}); trying the previous one" in (
        caplog.text
    )
