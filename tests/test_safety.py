"""NaN/Inf guard, graceful stop on SIGTERM, corrupt checkpoints on resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

import ftcore
from ftcore.errors import NonFiniteError
from ftcore.run import resume_checkpoint
from tests.helpers import write_csv_recipe


class NanAt:
    """A loss term that turns the loss into NaN at the given optimiser steps."""

    def __init__(self, steps: set[int]) -> None:
        self.steps = steps

    @ftcore.hookimpl
    def ftcore_loss_terms(self, module, batch, output):
        if module.trainer.global_step in self.steps:
            return [("poison", torch.tensor(float("nan")))]
        return []


def test_nan_loss_stops_naming_step_and_checkpoint(run_recipe, make_plugin_manager, memory_dataset):
    hooks = make_plugin_manager(memory_dataset, NanAt({5}), autoload=True)
    with pytest.raises(NonFiniteError) as info:
        run_recipe(hooks=hooks, overrides=["checkpoint.every_n_steps=2"])
    message = str(info.value)
    assert "non-finite loss (nan) at optimiser step 5" in message
    assert "last.ckpt" in message and "trainer.on_nonfinite=skip" in message


def test_nan_batches_skipped_and_counted(run_recipe, make_plugin_manager, memory_dataset):
    hooks = make_plugin_manager(memory_dataset, NanAt({2, 4}), autoload=True)
    result = run_recipe(hooks=hooks, overrides=["trainer.on_nonfinite=skip"])
    assert result.summary["skipped_batches"] == 2
    with pytest.raises(NonFiniteError, match="skipped 1 batches already"):
        run_recipe(
            hooks=make_plugin_manager(memory_dataset, NanAt({2, 4}), autoload=True),
            overrides=["trainer.on_nonfinite=skip", "trainer.max_skipped_batches=1"],
        )


def test_corrupt_last_checkpoint_falls_back_to_previous(tmp_path, caplog):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    good = folder / "best-0-4.ckpt"
    complete = {"optimizer_states": [{"state": {}}], "lr_schedulers": [{}]}  # see issue 14.18
    torch.save({"state_dict": {}, "loops": {}, **complete}, good)
    time.sleep(0.01)
    (folder / "last.ckpt").write_bytes(good.read_bytes()[:100])  # truncated
    assert resume_checkpoint(tmp_path) == str(good)
    assert "last.ckpt is unreadable" in caplog.text  # logged: the CLI shows it on stderr


# every step checkpointed, so a signal finds a checkpoint to resume from
CHECKPOINTED = """optim: {lr: 1.0e-3, warmup_steps: 5}
checkpoint: {every_n_steps: 1}
"""


def _csv_recipe(tmp_path, model_dir, extra: str = "") -> str:
    return str(write_csv_recipe(tmp_path, model_dir, CHECKPOINTED + extra))


def _ftcore(*args: str) -> list[str]:
    return [sys.executable, "-m", "ftcore.cli", *args]


def _kill_after_checkpoints(proc, last, count: int) -> int | None:
    """SIGKILL ``proc`` once ``last`` has been rewritten ``count`` times; its step, or None."""
    seen, stamp = 0, last.stat().st_mtime_ns if last.exists() else 0
    while proc.poll() is None:
        now = last.stat().st_mtime_ns if last.exists() else 0
        if now != stamp:
            seen, stamp = seen + 1, now
            if seen >= count:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                return int(torch.load(last, weights_only=True)["global_step"])
        time.sleep(0.01)
    return None


def _wait_for(path, proc, timeout=120):
    start = time.time()
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() - start < timeout
        time.sleep(0.2)


def test_sigterm_saves_checkpoint_and_says_how_to_resume(tmp_path, tiny_model_dir):
    recipe = _csv_recipe(tmp_path, tiny_model_dir)
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        _ftcore("run", recipe, "--out", str(run_dir)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for(run_dir / "checkpoints" / "last.ckpt", proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "SIGTERM received: stopped after optimiser step" in err
    assert f"ftcore run --resume {run_dir}" in err
    assert not (run_dir / "model").exists()
    done = subprocess.run(_ftcore("run", "--resume", str(run_dir)), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((run_dir / "metrics.json").read_text())["steps_trained"] == 48


# Every stateful strategy at once, so the kill points fall inside the unfreezing schedule,
# with L2-SP's anchor, the early-stopping counters and the warm-up (optim.warmup_steps).
KILL_TEST_STRATEGIES = """
strategies:
  gradual_unfreezing: {mode: every, unit: step, every: 6, warmup_steps: 3}
  discriminative_lr: {decay: 2.0}
  l2_sp: {alpha: 0.01, apply_to: [backbone]}
  early_stopping: {patience: 3}
"""


@pytest.mark.parametrize("seed", [0])
def test_kill_test_sigkill_at_random_points_then_resume_is_exact(tmp_path, tiny_model_dir, seed):
    """SIGKILL the run at several random points, resume each time, compare with no kills."""
    import random

    recipe = _csv_recipe(tmp_path, tiny_model_dir, KILL_TEST_STRATEGIES)
    reference = tmp_path / "reference"
    subprocess.run(_ftcore("run", recipe, "--out", str(reference)), check=True, capture_output=True)
    run_dir, rng, kills = tmp_path / "killed", random.Random(seed), []
    args = _ftcore("run", recipe, "--out", str(run_dir))
    while True:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if len(kills) < 3:
            step = _kill_after_checkpoints(
                proc, run_dir / "checkpoints" / "last.ckpt", rng.randint(1, 12)
            )
            if step is not None:
                kills.append(step)
                args = _ftcore("run", "--resume", str(run_dir))
                continue
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        break
    print(f"killed with SIGKILL after checkpoints of steps {kills}")
    assert len(kills) == 3
    schedule = json.loads((reference / "unfreeze_schedule.json").read_text())
    assert json.loads((run_dir / "unfreeze_schedule.json").read_text()) == schedule
    ref = torch.load(reference / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    got = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert all(torch.equal(ref[k], got[k]) for k in ref)
    ref_metrics = json.loads((reference / "metrics.json").read_text())
    got_metrics = json.loads((run_dir / "metrics.json").read_text())
    assert got_metrics["test"] == ref_metrics["test"]
    assert got_metrics["validation"] == ref_metrics["validation"]
