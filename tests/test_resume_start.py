"""``ftcore run --resume`` of a run killed before its first checkpoint starts it over.

A cluster re-runs the same resume command after a pre-emption: with no checkpoint saved
yet, the run starts from the beginning in the same folder and says so; which checkpoint
to continue from is decided before any data or model is loaded.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest
from ftcore_devkit.testing import MemoryDataset, base_recipe, build_hooks, tiny_splits
from omegaconf import OmegaConf

from ftcore.errors import UserError
from ftcore.recipe.validate import validate
from ftcore.run import execute
from tests.helpers import write_csv_recipe

NO_CHECKPOINT = "has no checkpoint yet; starting the run from the beginning in the same folder"
LOADING = {"ftcore_resolve_model", "ftcore_load_dataset", "Head.encode", "Head.build_model"}


class Events:
    """Hook calls and ftcore's log lines, in the order they happen."""

    def __init__(self, hooks) -> None:
        self.seen: list[tuple[str, str]] = []
        undo = hooks.pm.add_hookcall_monitoring(
            lambda name, impls, kwargs: self.seen.append(("hook", name)), lambda *a: None
        )
        observers = hooks.pm.head_observers
        observers.append(self._head)
        self._undo = lambda: (undo(), observers.remove(self._head))
        self.handler = logging.Handler(logging.INFO)
        self.handler.emit = lambda record: self.seen.append(("log", record.getMessage()))
        self.logger = logging.getLogger("ftcore")
        self.level = self.logger.level

    def _head(self, name: str, kwargs: dict) -> None:
        self.seen.append(("hook", name))

    def __enter__(self) -> Events:
        self.logger.addHandler(self.handler)
        self.logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.level)
        self._undo()

    def first(self, match) -> int:
        return next(i for i, event in enumerate(self.seen) if match(event))


def _run_dir_with_only_a_recipe(tmp_path, tiny_model_dir):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    recipe = {**base_recipe(tiny_model_dir), "evaluation": {"enabled": False}}
    (run_dir / "recipe.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(recipe)))
    return run_dir


def _resume(run_dir, hooks):
    raw = OmegaConf.load(run_dir / "recipe.yaml")
    cfg = validate(raw, hooks, source="recipe.yaml", default_name="test")
    return execute(cfg, hooks, out=str(run_dir), resume=True)


def test_resume_without_checkpoint_starts_over_deciding_before_loading(tmp_path, tiny_model_dir):
    run_dir = _run_dir_with_only_a_recipe(tmp_path, tiny_model_dir)
    hooks = build_hooks([MemoryDataset(tiny_splits())])
    with Events(hooks) as events:
        summary = _resume(run_dir, hooks)
    said = events.first(lambda e: e[0] == "log" and NO_CHECKPOINT in e[1])
    loaded = events.first(lambda e: e[0] == "hook" and e[1] in LOADING)
    assert said < loaded, events.seen[: loaded + 1]
    assert events.seen[said][1] == f"{run_dir} {NO_CHECKPOINT}"
    said_all = [e for e in events.seen if e[0] == "log" and NO_CHECKPOINT in e[1]]
    assert said_all == [events.seen[said]]  # one line
    # the run went to completion in the same folder
    assert summary["run_dir"] == str(run_dir) and summary["steps_trained"] == 8
    assert json.loads((run_dir / "metrics.json").read_text())["steps_trained"] == 8
    assert (run_dir / "model" / "config.json").is_file()
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()


def test_resume_with_only_unreadable_checkpoints_is_refused_before_loading(
    tmp_path, tiny_model_dir
):
    run_dir = _run_dir_with_only_a_recipe(tmp_path, tiny_model_dir)
    (run_dir / "checkpoints").mkdir()
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"not a checkpoint")
    hooks = build_hooks([MemoryDataset(tiny_splits())])
    with Events(hooks) as events, pytest.raises(UserError, match="none of the 1 checkpoints"):
        _resume(run_dir, hooks)
    assert not [e for e in events.seen if e[0] == "hook" and e[1] in LOADING]
    assert any("last.ckpt is unreadable" in e[1] for e in events.seen if e[0] == "log")


def test_cli_resume_of_a_run_killed_before_its_first_checkpoint(tmp_path, tiny_model_dir):
    run_dir = tmp_path / "run"
    (run_dir / "logs").mkdir(parents=True)  # what a run killed while loading leaves behind
    write_csv_recipe(tmp_path, tiny_model_dir, recipe=run_dir / "recipe.yaml")
    done = subprocess.run(
        [sys.executable, "-m", "ftcore.cli", "run", "--resume", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"ftcore: {run_dir} {NO_CHECKPOINT}" in done.stderr.splitlines()
    assert f"run directory: {run_dir}" in done.stdout
    assert json.loads((run_dir / "metrics.json").read_text())["steps_trained"] == 48
    assert (run_dir / "model" / "config.json").is_file()
