"""SIGTERM/SIGINT stop a run promptly and resumably.

After the signal: the current optimiser step finishes, last.ckpt is saved, the run exits
with 130 (RunInterrupted) and no validation, test or export runs. Resuming from that
checkpoint gives exactly the run that was never stopped, validations included.
"""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch
from ftcore_devkit.testing import MemoryDataset, base_recipe, build_hooks, execute_recipe, make_rows
from omegaconf import OmegaConf

import ftcore
from ftcore.errors import RunInterrupted
from ftcore.recipe.validate import validate
from ftcore.run import execute
from tests.helpers import write_csv_recipe

# 5 training batches an epoch, 4 validation batches
SPLITS = {"train": make_rows(40), "validation": make_rows(16, 1), "test": make_rows(8, 2)}
BASE = [
    "trainer.max_epochs=2",
    "data.batch_size=8",
    "data.eval_batch_size=4",
    "optim.lr=3e-3",
    "optim.warmup_steps=3",
    "strategies.early_stopping.patience=3",
]


class Probe:
    """Records validation/test batches and each validation's loss in ``log``; sends a
    signal to this process at ``at`` = (where, global step, batch index); keeps the
    state as training ends in ``final``."""

    def __init__(self, log: list, at: tuple | None = None, sig: int = signal.SIGTERM) -> None:
        self.log, self.at, self.sig, self.final = log, at, sig, None

    @ftcore.hookimpl
    def ftcore_lightning_callbacks(self, recipe, run):
        import lightning as L

        probe = self

        def maybe_signal(where: str, trainer, batch_idx: int) -> None:
            if probe.at == (where, trainer.global_step, batch_idx):
                probe.at = None
                probe.log.append(("signal", trainer.global_step))
                os.kill(os.getpid(), probe.sig)

        def stage(trainer) -> str:
            return "sanity" if trainer.sanity_checking else "val"

        class _Probe(L.Callback):
            def on_train_batch_start(self, trainer, module, batch, batch_idx):
                maybe_signal("train", trainer, batch_idx)

            def on_validation_batch_start(self, trainer, module, batch, batch_idx, *args):
                maybe_signal(stage(trainer), trainer, batch_idx)

            def on_validation_batch_end(self, trainer, module, outputs, batch, batch_idx, *a):
                probe.log.append((f"{stage(trainer)} batch", trainer.global_step))

            def on_validation_end(self, trainer, module):
                if not trainer.sanity_checking:
                    loss = float(trainer.callback_metrics["val/loss"])
                    probe.log.append(("validated", trainer.global_step, loss))

            def on_test_batch_end(self, trainer, module, outputs, batch, batch_idx, *args):
                probe.log.append(("test batch", trainer.global_step))

            def on_train_end(self, trainer, module):
                probe.final = {
                    "weights": {k: v.clone() for k, v in module.state_dict().items()},
                    "optimizer": copy.deepcopy(trainer.optimizers[0].state_dict()["state"]),
                    "rng": torch.get_rng_state(),
                    "step": trainer.global_step,
                }

        return [_Probe()]


def _hooks(probe: Probe):
    return build_hooks([MemoryDataset(SPLITS), probe])


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_model_dir):
    """The uninterrupted run for a list of overrides: (summary, probe); computed once."""
    done: dict[tuple, tuple] = {}

    def run(overrides: list[str]) -> tuple[dict, Probe]:
        if tuple(overrides) not in done:
            probe = Probe([])
            out = tmp_path_factory.mktemp("reference")
            result = execute_recipe(
                base_recipe(tiny_model_dir), out, overrides, hooks=_hooks(probe)
            )
            done[tuple(overrides)] = (result.summary, probe)
        return done[tuple(overrides)]

    return run


def _interrupted(model_dir, run_dir, overrides: list[str], hooks) -> str:
    """Run until a signal stops it; the RunInterrupted message."""
    with pytest.raises(RunInterrupted) as info:
        execute_recipe(base_recipe(model_dir), run_dir, overrides, hooks=hooks)
    return str(info.value)


def _resume(run_dir, probe: Probe) -> dict:
    hooks = _hooks(probe)
    raw = OmegaConf.load(run_dir / "recipe.yaml")
    cfg = validate(raw, hooks, source="recipe.yaml", default_name="test")
    return execute(cfg, hooks, out=str(run_dir), resume=True)


def _step_of(checkpoint) -> int:
    return int(torch.load(checkpoint, weights_only=True)["global_step"])


def _validations(log: list) -> list[tuple]:
    return [e for e in log if e[0] == "validated"]


SAVED = re.compile(
    r"(SIG\w+) received: stopped after optimiser step (\d+)( \(before its validation, which "
    r"the resumed run does first\))?, checkpoint saved to (\S+); resume with: "
    r"ftcore run --resume (\S+)$"
)


@pytest.mark.parametrize(
    ("overrides", "at", "sig", "step", "before_validation"),
    [
        pytest.param([], ("train", 2, 2), signal.SIGTERM, 3, False, id="mid-epoch"),
        pytest.param([], ("train", 7, 2), signal.SIGINT, 8, False, id="sigint"),
        pytest.param([], ("train", 4, 4), signal.SIGTERM, 5, True, id="step-before-validation"),
        pytest.param([], ("val", 5, 1), signal.SIGTERM, 5, True, id="during-validation"),
        pytest.param(
            ["optim.accumulate=2"], ("train", 3, 0), signal.SIGTERM, 4, False, id="accumulation"
        ),
        pytest.param(
            ["trainer.val_check_interval=0.5"],
            ("train", 1, 1),
            signal.SIGTERM,
            2,
            True,
            id="before-mid-epoch-validation",
        ),
    ],
)
def test_signal_stops_at_once_and_resumes_exactly(
    tmp_path, tiny_model_dir, reference, overrides, at, sig, step, before_validation
):
    overrides = BASE + overrides
    ref_summary, ref = reference(overrides)
    log, run_dir = [], tmp_path / "run"
    message = _interrupted(tiny_model_dir, run_dir, overrides, _hooks(Probe(log, at, sig)))
    found = SAVED.match(message)
    assert found, message
    assert found[1] == signal.Signals(sig).name and int(found[2]) == step
    assert bool(found[3]) == before_validation
    assert found[4] == str(run_dir / "checkpoints" / "last.ckpt") and found[5] == str(run_dir)
    assert _step_of(found[4]) == step
    after = log[log.index(("signal", at[1])) + 1 :]
    if at[0] == "val":  # the validation batch under way finishes; nothing else runs
        after = after[1:] if after[:1] == [("val batch", step)] else after
    assert after == [], f"ran after the signal: {after}"
    assert not (run_dir / "metrics.json").exists() and not (run_dir / "model").exists()

    probe = Probe(log)
    summary = _resume(run_dir, probe)
    # every validation of the uninterrupted run, once each, with the same loss
    assert _validations(log) == _validations(ref.log)
    assert summary["steps_trained"] == ref_summary["steps_trained"] == probe.final["step"]
    for name, tensor in ref.final["weights"].items():
        assert torch.equal(tensor, probe.final["weights"][name]), name
    for key, state in ref.final["optimizer"].items():
        assert torch.equal(state["exp_avg"], probe.final["optimizer"][key]["exp_avg"])
    assert torch.equal(ref.final["rng"], probe.final["rng"])
    assert summary["test"] == ref_summary["test"]
    assert summary["validation"] == ref_summary["validation"]
    best = os.path.basename(ref_summary["best_checkpoint"])
    assert os.path.basename(summary["best_checkpoint"]) == best
    assert (run_dir / "model").is_dir()


def test_signal_in_sanity_check_saves_nothing_and_resume_starts_over(
    tmp_path, tiny_model_dir, reference
):
    ref_summary, ref = reference(BASE)
    log, run_dir = [], tmp_path / "run"
    message = _interrupted(tiny_model_dir, run_dir, BASE, _hooks(Probe(log, ("sanity", 0, 0))))
    assert message == (
        "SIGTERM received during the sanity check, before training: stopped without saving "
        "a new checkpoint; no checkpoint saved yet, so resuming starts the run from the "
        f"beginning; resume with: ftcore run --resume {run_dir}"
    )
    assert not list((run_dir / "checkpoints").glob("*.ckpt"))
    assert [e for e in log if e[0] not in ("signal", "sanity batch")] == []
    summary = _resume(run_dir, Probe(log))
    assert _validations(log) == _validations(ref.log)
    assert summary["test"] == ref_summary["test"]


def test_signal_as_training_ends_saves_it_and_resume_only_tests(
    tmp_path, tiny_model_dir, reference
):
    """A signal after the last validation (training is over): saved as training ends; the
    resumed run trains and validates no more, tests and exports."""
    import lightning as L

    ref_summary, ref = reference(BASE)
    log, run_dir = [], tmp_path / "run"

    class SignalAfterLastValidation(L.Callback):
        def on_validation_end(self, trainer, module):
            if not trainer.sanity_checking and trainer.global_step == 10:
                os.kill(os.getpid(), signal.SIGTERM)

    class Plugin:
        @ftcore.hookimpl
        def ftcore_lightning_callbacks(self, recipe, run):
            return [SignalAfterLastValidation()]

    hooks = _hooks(Probe(log))
    hooks.pm.register(Plugin())
    message = _interrupted(tiny_model_dir, run_dir, BASE, hooks)
    assert message.startswith(
        "SIGTERM received: stopped after optimiser step 10 (training had finished; the "
        "resumed run tests and exports), checkpoint saved to "
    )
    assert not [e for e in log if e[0] == "test batch"]
    assert _step_of(run_dir / "checkpoints" / "last.ckpt") == 10
    summary = _resume(run_dir, Probe(log))
    assert _validations(log) == _validations(ref.log)  # nothing trained or validated again
    assert summary["test"] == ref_summary["test"]
    assert summary["validation"] == ref_summary["validation"]
    assert summary["steps_trained"] == 10 and (run_dir / "model").is_dir()


# --- the command line, in a process of its own: time from SIGTERM to exit -------------

DRIVER = '''
"""ftcore's command line with a probe plugin: per-batch events in $PROBE_EVENTS, a sleep
per training batch ($PROBE_SLEEP s) so that a signal finds training under way."""
import json, os, sys, time

import ftcore
from ftcore import manager


class Probe:
    @ftcore.hookimpl
    def ftcore_lightning_callbacks(self, recipe, run):
        import lightning as L

        def event(kind, trainer):
            with open(os.environ["PROBE_EVENTS"], "a") as handle:
                handle.write(json.dumps({"t": time.time(), "kind": kind,
                                         "step": trainer.global_step}) + "\\n")

        class _Probe(L.Callback):
            def on_train_batch_start(self, trainer, *args):
                time.sleep(float(os.environ.get("PROBE_SLEEP", "0")))

            def on_train_batch_end(self, trainer, *args):
                event("train", trainer)

            def on_validation_batch_end(self, trainer, *args):
                event("sanity" if trainer.sanity_checking else "val", trainer)

            def on_test_batch_end(self, trainer, *args):
                event("test", trainer)

        return [_Probe()]


plain = manager.get_plugin_manager


def with_probe(*args, **kwargs):
    pm = plain(*args, **kwargs)
    pm.register(Probe())
    return pm


manager.get_plugin_manager = with_probe
from ftcore.cli import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
'''


def _events(path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def test_cli_sigterm_exits_130_promptly_then_resumes(tmp_path, tiny_model_dir):
    recipe = write_csv_recipe(tmp_path, tiny_model_dir)
    driver, events, run_dir = tmp_path / "driver.py", tmp_path / "events.jsonl", tmp_path / "run"
    driver.write_text(DRIVER)
    env = {**os.environ, "PROBE_EVENTS": str(events), "PROBE_SLEEP": "0.05"}
    proc = subprocess.Popen(
        [sys.executable, str(driver), "run", str(recipe), "--out", str(run_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        start = time.monotonic()
        while len([e for e in _events(events) if e["kind"] == "train"]) < 3:
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() - start < 300, "training did not start"
            time.sleep(0.02)
        signalled, sent = time.time(), time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
        seconds = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print(f"SIGTERM to exit: {seconds:.2f} s")
    assert proc.returncode == 130, err[-3000:]
    found = re.search(r"SIGTERM received: stopped after optimiser step (\d+), checkpoint", err)
    assert found, err[-3000:]
    assert f"resume with: ftcore run --resume {run_dir}" in err
    after = [e for e in _events(events) if e["t"] > signalled]
    assert all(e["kind"] == "train" for e in after), after  # no validation or test after it
    assert len(after) <= 1  # at most the step under way finished
    step = int(found[1])
    assert _step_of(run_dir / "checkpoints" / "last.ckpt") == step
    assert not (run_dir / "metrics.json").exists() and not (run_dir / "model").exists()
    assert seconds < 30

    env["PROBE_SLEEP"] = "0"
    done = subprocess.run(
        [sys.executable, str(driver), "run", "--resume", str(run_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((run_dir / "metrics.json").read_text())["steps_trained"] == 48
    assert (run_dir / "model" / "config.json").is_file()
    resumed = [e for e in _events(events) if e["t"] > signalled]
    assert min(e["step"] for e in resumed if e["kind"] == "train") == step + 1
    assert {"val", "test"} <= {e["kind"] for e in resumed}
