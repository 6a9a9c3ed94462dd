"""Exact resume from every point a run can be killed at.

A tiny recipe with two validations per epoch, two epochs, early stopping (it stops the run
after the third validation, mid-epoch), gradual unfreezing, discriminative learning rates,
L2-SP and a periodic checkpoint runs once uninterrupted as the reference. Then, for every
point in :data:`POINTS` (inside each optimiser step, inside the sanity check and each
validation, before / during / after each checkpoint write, between training and test,
inside the test, inside the export, before metrics.json and in the run-end hooks), a run is
killed there, with SIGKILL and separately with SIGTERM, and resumed with
``ftcore run --resume`` until it finishes; its exported weights, metrics.json (test and
validation), best checkpoint and final last.ckpt must equal the reference's. Also: Ctrl-C
(SIGINT) at the points after training, and runs killed again while resuming (:data:`CHAINS`).

36 points x 2 signals; the default run takes :data:`REPRESENTATIVE` (one point of each
kind, 14 x 2), ``-m slow`` the other 22 x 2 (about 2 more minutes on 2 cores).

Every run is ``ftcore.cli.main`` in a process of its own, forked from a server process
that imported torch, Lightning and transformers once (``python test_kill_points.py
serve``, started once per module): a fresh interpreter would pay ~5 s of imports per run,
a fork pays nothing, and the tiny run itself takes well under a second. The server never
runs torch code itself, so forking it is safe.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import ftcore

SPLITS_ROWS = {"train": 32, "validation": 8, "test": 8}  # 4 steps an epoch; 2 val batches
OVERRIDES = [
    "trainer.max_epochs=2",
    "trainer.val_check_interval=0.5",
    "trainer.num_threads=1",
    "data.batch_size=8",
    "data.eval_batch_size=4",
    "optim.lr=3e-3",
    "optim.warmup_steps=2",
    "checkpoint.monitor=val/loss",
    "checkpoint.mode=min",
    "checkpoint.every_n_steps=3",
    # min_delta beyond any change: no validation after the first improves, so training
    # stops after the third validation (step 6, the middle of the second epoch)
    "strategies.early_stopping.patience=2",
    "strategies.early_stopping.min_delta=5.0",
    "strategies.gradual_unfreezing.mode=every",
    "strategies.gradual_unfreezing.unit=step",
    "strategies.gradual_unfreezing.every=2",
    "strategies.gradual_unfreezing.warmup_steps=1",
    "strategies.discriminative_lr.decay=2.0",
    "strategies.l2_sp.alpha=0.01",
]

# What the uninterrupted run goes through, in order (the server's event log checks it):
STEPS = 6  # early stopping ends training after the validation of step 6
VALIDATIONS = 3  # after steps 2, 4 (the end of epoch 0) and 6
WRITES = [  # every checkpoint file written, in order
    "best-0-2.ckpt",  # validation 1 (mid-epoch 0): a new best...
    "last.ckpt",  # ...then last.ckpt, once the validation's results are final
    "last.ckpt",  # periodic (every_n_steps=3), step 3: no validation follows it
    "best-0-4.ckpt",  # validation 2, the last batch of epoch 0
    "last.ckpt",  # the end of epoch 0 (after validation 2)
    "best-1-6.ckpt",  # validation 3; early stopping asks to stop; periodic step 6 is this
    "last.ckpt",  # the end of epoch 1, with trainer.should_stop
]

POINTS = [
    *(f"step:{k}" for k in range(1, STEPS + 1)),  # the k-th step: backward done, not applied
    "sanity:1",  # the sanity check, before its second batch
    *(f"val:{k}" for k in range(1, VALIDATIONS + 1)),  # before the second batch
    *(f"{when}:{k}" for k in range(1, len(WRITES) + 1) for when in ("before", "during", "after")),
    "fit_end:1",  # Lightning's on_fit_end: training over, the test not started
    "test:1",  # before the second test batch
    "export:1",  # weights written to the temporary folder, the tokenizer not yet
    "metrics:1",  # export done, metrics.json not yet written
    "run_end:1",  # metrics.json written, ftcore_run_end hooks running
]
# A few runs killed again while resuming: (first kill, kill in the resumed run)
CHAINS = [
    ("val:2", "during:1"),
    ("after:2", "step:1"),
    ("step:4", "test:1"),
    ("before:5", "export:1"),
]
# the default run: one point of each kind (the others are marked slow)
REPRESENTATIVE = [
    "step:1",
    "step:3",
    "sanity:1",
    "val:2",
    "val:3",
    "before:2",
    "during:5",
    "after:6",
    "after:7",
    "fit_end:1",
    "test:1",
    "export:1",
    "metrics:1",
    "run_end:1",
]
JOB_TIMEOUT = 300  # seconds one run may take (a tiny run takes about one)
SIGNALS = {"SIGKILL": signal.SIGKILL, "SIGTERM": signal.SIGTERM}
# Ctrl-C as well, where Lightning used to turn it into exit status 1 (test, export...)
SIGINT_POINTS = ["val:3", "fit_end:1", "test:1", "export:1", "run_end:1"]


# --- the server and the killed runs (in the forked children) ------------------------


# imported by the server once rather than by every run (what a run imports lazily)
PRELOAD = [
    "lightning",
    "torch",
    "transformers",
    "omegaconf",
    "omegaconf.grammar_parser",
    "safetensors.torch",
    "psutil",
    "accelerate",
    "tensorboard",
    "torch.utils.tensorboard",
    "lightning.pytorch.loggers",
    "transformers.modeling_utils",
    "transformers.generation",
    "transformers.models.bert.modeling_bert",
    "ftcore.checkpoint_io",
    "ftcore.checkpointing",
    "ftcore.cli",
    "ftcore.data.datamodule",
    "ftcore.data.prepare",
    "ftcore.module",
    "ftcore.recipe.validate",
    "ftcore.run",
    "ftcore.safety",
    "ftcore.schedules",
    "ftcore_devkit.testing",
    "ftcore_unfreeze.callbacks",
    "ftcore_regularization.anchor",
    "ftcore_evaluation.lifecycle",
]


def serve() -> None:
    """Read one job a line (JSON) on stdin; fork a child per job; answer its exit status."""
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # not installed: the runs import what they need themselves
            pass
    from ftcore_devkit.testing import build_hooks

    build_hooks()  # imports the installed plugins (no torch code runs here)

    answers = os.fdopen(os.dup(1), "w")
    for line in sys.stdin:
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = child(job)
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        answers.write(json.dumps({"code": code}) + "\n")
        answers.flush()


def child(job: dict) -> int:
    """One ``ftcore run`` (job["args"]), killed at job["kill"] = (point, signal) if given;
    events (every potential kill point reached) appended to job["events"]."""
    log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    from ftcore_devkit.testing import MemoryDataset, make_rows

    import ftcore.manager
    from ftcore.cli import main

    rows = {split: make_rows(n, seed) for seed, (split, n) in enumerate(SPLITS_ROWS.items())}
    killer = Killer(job["events"], job.get("kill"))
    plain = ftcore.manager.get_plugin_manager

    def with_plugins(*args, **kwargs):
        pm = plain(*args, **kwargs)
        for plugin in (MemoryDataset(rows), killer):
            pm.register(plugin)
        return pm

    ftcore.manager.get_plugin_manager = with_plugins
    killer.patch()
    return main(job["args"])


class Killer:
    """Notes every potential kill point the run reaches (``kind:n``, the n-th of its kind)
    and sends the signal at the chosen one."""

    def __init__(self, events: str, kill: list | None) -> None:
        self.events = events
        self.point, self.sig = (kill[0], signal.Signals[kill[1]]) if kill else (None, None)
        self.counts: dict[str, int] = {}
        self.writing = 0  # the number of the checkpoint write under way, 0 outside

    def reached(self, kind: str, detail: str = "") -> None:
        n = self.counts[kind] = self.counts.get(kind, 0) + 1
        with open(self.events, "a") as handle:
            handle.write(json.dumps({"point": f"{kind}:{n}", "detail": detail}) + "\n")
        if f"{kind}:{n}" == self.point:
            self.point = None
            os.kill(os.getpid(), self.sig)

    def patch(self) -> None:
        import transformers

        import ftcore.run
        from ftcore.checkpoint_io import AtomicCheckpointIO

        killer = self
        save, replace = AtomicCheckpointIO.save_checkpoint, os.replace

        def save_checkpoint(io, checkpoint, path, storage_options=None):
            killer.reached("before", Path(path).name)
            killer.writing = killer.counts["before"]
            try:
                save(io, checkpoint, path, storage_options)
            finally:
                killer.writing = 0
            killer.reached("after", Path(path).name)

        def os_replace(src, dst, *args, **kwargs):
            if killer.writing and str(dst).endswith(".ckpt"):
                killer.reached("during", Path(dst).name)  # the temporary file is written
            return replace(src, dst, *args, **kwargs)

        tokenizer_save = transformers.PreTrainedTokenizerBase.save_pretrained

        def save_tokenizer(self, *args, **kwargs):
            killer.reached("export")  # ftcore.run.export: after the weights, before this
            return tokenizer_save(self, *args, **kwargs)

        write_json = ftcore.run.atomic_write_json

        def atomic_write_json(path, data, *args, **kwargs):
            if Path(path).name == "metrics.json":
                killer.reached("metrics")
            return write_json(path, data, *args, **kwargs)

        AtomicCheckpointIO.save_checkpoint = save_checkpoint
        os.replace = os_replace
        transformers.PreTrainedTokenizerBase.save_pretrained = save_tokenizer
        ftcore.run.atomic_write_json = atomic_write_json

    @ftcore.hookimpl
    def ftcore_lightning_callbacks(self, recipe, run):
        import lightning as L

        killer = self

        class _Kill(L.Callback):
            def on_before_optimizer_step(self, trainer, module, optimizer):
                killer.reached("step", str(trainer.global_step))

            def on_validation_batch_start(self, trainer, module, batch, batch_idx, *args):
                if batch_idx == 1 and trainer.state.fn == "fit":
                    killer.reached("sanity" if trainer.sanity_checking else "val")

            def on_test_batch_start(self, trainer, module, batch, batch_idx, *args):
                if batch_idx == 1:
                    killer.reached("test")

            def on_fit_end(self, trainer, module):
                killer.reached("fit_end")  # after GracefulStop's (it comes first)

        return [_Kill()]

    @ftcore.hookimpl
    def ftcore_run_end(self, run, summary):
        self.reached("run_end")


# --- the test side ------------------------------------------------------------------


class Server:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.jobs = 0
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(folder / "server.log", "w"),  # noqa: SIM115 - the server's lifetime
            text=True,
            start_new_session=True,  # its children too: one killpg ends all of them
        )

    def run(self, args: list[str], events: Path, kill: tuple | None = None) -> tuple[int, str]:
        """Run ``ftcore`` with args in a forked child; (exit status, its output)."""
        self.jobs += 1
        log = self.folder / f"job{self.jobs}.log"
        job = {"args": args, "events": str(events), "kill": kill, "log": str(log)}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], JOB_TIMEOUT)
        if not ready:
            os.killpg(self.proc.pid, signal.SIGKILL)
            pytest.fail(f"ftcore {' '.join(args)} hung for {JOB_TIMEOUT} s: {log}")
        answer = self.proc.stdout.readline()
        assert answer, (self.folder / "server.log").read_text()[-3000:]
        return json.loads(answer)["code"], log.read_text() if log.exists() else ""

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture(scope="module")
def kit(tmp_path_factory, tiny_model_dir):
    """The server, the recipe file and the reference run (its folder and its events)."""
    from ftcore_devkit.testing import base_recipe, build_hooks
    from omegaconf import OmegaConf

    from ftcore.recipe.loader import apply_overrides

    folder = tmp_path_factory.mktemp("kill-points")
    recipe = base_recipe(tiny_model_dir)
    if build_hooks().names("evaluation"):
        recipe["evaluation"] = {"enabled": False}
    raw = apply_overrides(OmegaConf.create(recipe), OVERRIDES)
    recipe_file = folder / "recipe.yaml"
    recipe_file.write_text(OmegaConf.to_yaml(raw))
    server = Server(folder)
    try:
        reference, events = folder / "reference", folder / "reference.events"
        code, out = server.run(["run", str(recipe_file), "--out", str(reference)], events)
        assert code == 0, out[-3000:]
        yield {"server": server, "recipe": recipe_file, "reference": reference, "events": events}
    finally:
        server.close()


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_the_points_cover_the_uninterrupted_run(kit):
    """The reference run reaches exactly POINTS and writes exactly WRITES, in order."""
    events = _events(kit["events"])
    reached = {e["point"] for e in events}
    assert reached == set(POINTS), sorted(reached ^ set(POINTS))
    assert [e["detail"] for e in events if e["point"].startswith("before:")] == WRITES
    checkpoints = sorted(p.name for p in (kit["reference"] / "checkpoints").iterdir())
    assert checkpoints == ["best-1-6.ckpt", "last.ckpt"]  # top-1, one last.ckpt
    summary = json.loads((kit["reference"] / "metrics.json").read_text())
    assert summary["steps_trained"] == STEPS
    stopped = json.loads((kit["reference"] / "early_stopping.json").read_text())
    assert stopped["stopped_early"] and stopped["steps_trained"] == STEPS


STOPPED = re.compile(
    r"^ftcore: SIG(?:TERM|INT) received.*(?:(?:checkpoint saved to|resuming continues from) (\S+?)"
    r"(?=[;,) ])|(no checkpoint saved yet), so resuming starts the run from the beginning)"
    r".*; resume with: ftcore run --resume (\S+)$",
    re.M,
)


def _kill_and_resume(kit, tmp_path, kills: list[str], sig: str) -> list[str]:
    """Run, killing at kills[0]; resume, killing the resumed run at kills[1]...; resume
    until the run finishes. The messages a SIGTERM left."""
    server, run_dir = kit["server"], tmp_path / "run"
    args = ["run", str(kit["recipe"]), "--out", str(run_dir)]
    messages = []
    for i, point in enumerate([*kills, None]):
        events = tmp_path / f"events{i}"
        code, out = server.run(args, events, (point, sig) if point else None)
        if point is None:
            assert code == 0, out[-3000:]
            break
        reached = [e["point"] for e in _events(events)]
        assert point in reached, f"the run never reached {point}: {reached}"
        if sig == "SIGKILL":
            assert code == -signal.SIGKILL, out[-3000:]
        else:
            assert code == 130, out[-3000:]
            found = STOPPED.search(out)
            assert found, out[-3000:]
            assert found[0].startswith(f"ftcore: {sig} received") and found[3] == str(run_dir)
            if found[2]:  # stopped before anything was saved: only in the sanity check
                assert point == "sanity:1" and not list(run_dir.glob("checkpoints/*.ckpt"))
            else:
                checkpoint = Path(found[1])
                assert checkpoint.is_file() and checkpoint.parent == run_dir / "checkpoints"
            messages.append(found[0])
        args = ["run", "--resume", str(run_dir)]
    return messages


def _assert_same_run(reference: Path, run_dir: Path) -> None:
    import torch
    from safetensors.torch import load_file

    ref, got = (load_file(d / "model" / "model.safetensors") for d in (reference, run_dir))
    assert ref.keys() == got.keys()
    for name in ref:
        assert torch.equal(ref[name], got[name]), f"exported {name} differs"
    ref_summary, summary = (
        json.loads((d / "metrics.json").read_text()) for d in (reference, run_dir)
    )
    assert summary["test"] == ref_summary["test"]
    assert summary["validation"] == ref_summary["validation"]
    assert summary["steps_trained"] == ref_summary["steps_trained"]
    assert Path(summary["best_checkpoint"]).name == Path(ref_summary["best_checkpoint"]).name
    ref_last, last = (
        torch.load(d / "checkpoints" / "last.ckpt", weights_only=True) for d in (reference, run_dir)
    )
    for name, tensor in ref_last["state_dict"].items():
        assert torch.equal(tensor, last["state_dict"][name]), f"last.ckpt {name} differs"
    assert not list((run_dir / "checkpoints").glob("last-v*.ckpt"))


def _params(points: list, marks=()) -> list:
    return [
        pytest.param(point, sig, id=f"{point}-{sig}", marks=marks)
        for point in points
        for sig in SIGNALS
    ]


EXHAUSTIVE = [p for p in POINTS if p not in REPRESENTATIVE]


@pytest.mark.parametrize(
    ("point", "sig"), _params(REPRESENTATIVE) + _params(EXHAUSTIVE, pytest.mark.slow)
)
def test_killed_at_a_point_then_resumed_equals_the_uninterrupted_run(kit, tmp_path, point, sig):
    _kill_and_resume(kit, tmp_path, [point], sig)
    _assert_same_run(kit["reference"], tmp_path / "run")


@pytest.mark.parametrize("point", SIGINT_POINTS)
def test_ctrl_c_then_resumed_equals_the_uninterrupted_run(kit, tmp_path, point):
    _kill_and_resume(kit, tmp_path, [point], "SIGINT")
    _assert_same_run(kit["reference"], tmp_path / "run")


@pytest.mark.parametrize("kills", CHAINS, ids=["-".join(c) for c in CHAINS])
@pytest.mark.parametrize("sig", list(SIGNALS))
def test_killed_again_while_resuming(kit, tmp_path, kills, sig):
    _kill_and_resume(kit, tmp_path, list(kills), sig)
    _assert_same_run(kit["reference"], tmp_path / "run")


class WriteLog:
    """A plugin noting, in order, each validation's end and each last.ckpt write with the
    optimiser step it holds (read back from the file)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    @ftcore.hookimpl
    def ftcore_lightning_callbacks(self, recipe, run):
        import lightning as L

        from ftcore.checkpointing import LastCheckpoint

        seen = self.seen

        class _Log(L.Callback):
            def on_validation_end(self, trainer, module):
                if not trainer.sanity_checking:
                    seen.append(("validated", trainer.global_step))

        save = LastCheckpoint.save

        def logged(writer, trainer, before_validation=None):
            path = save(writer, trainer, before_validation)
            seen.append(("last.ckpt", _step(path)))
            return path

        LastCheckpoint.save = logged  # undone by the fixture below
        return [_Log()]


def _step(path) -> int:
    import torch

    return int(torch.load(path, weights_only=True, map_location="cpu")["global_step"])


@pytest.fixture
def write_log():
    from ftcore.checkpointing import LastCheckpoint

    save = LastCheckpoint.save
    yield WriteLog()
    LastCheckpoint.save = save


@pytest.mark.parametrize(
    ("periodic", "expected"),
    [
        pytest.param(
            [],
            # after validations (mid-epoch) and at epoch ends, whatever the best checkpoint
            [("validated", 2), ("last.ckpt", 2), ("validated", 4), ("last.ckpt", 4)]
            + [("validated", 6), ("last.ckpt", 6), ("validated", 8), ("last.ckpt", 8)],
            id="validations-and-epoch-ends",
        ),
        pytest.param(
            ["checkpoint.every_n_steps=1"],
            # every step; at a step a validation follows, only after that validation
            [("last.ckpt", 1), ("validated", 2), ("last.ckpt", 2), ("last.ckpt", 3)]
            + [("validated", 4), ("last.ckpt", 4), ("last.ckpt", 5), ("validated", 6)]
            + [("last.ckpt", 6), ("last.ckpt", 7), ("validated", 8), ("last.ckpt", 8)],
            id="every-step",
        ),
        pytest.param(
            ["checkpoint.every_n_minutes=1e-9"],  # due after every step
            [("last.ckpt", 1), ("validated", 2), ("last.ckpt", 2), ("last.ckpt", 3)]
            + [("validated", 4), ("last.ckpt", 4), ("last.ckpt", 5), ("validated", 6)]
            + [("last.ckpt", 6), ("last.ckpt", 7), ("validated", 8), ("last.ckpt", 8)],
            id="every-minutes",
        ),
    ],
)
def test_last_ckpt_is_written_after_validations_at_epoch_ends_and_periodically(
    tmp_path, tiny_model_dir, write_log, periodic, expected
):
    from ftcore_devkit.testing import (
        MemoryDataset,
        base_recipe,
        build_hooks,
        execute_recipe,
        make_rows,
    )

    rows = {split: make_rows(n, seed) for seed, (split, n) in enumerate(SPLITS_ROWS.items())}
    overrides = [
        "trainer.max_epochs=2",
        "trainer.val_check_interval=0.5",
        "data.batch_size=8",
        "data.eval_batch_size=4",
        "checkpoint.monitor=val/loss",
        "checkpoint.mode=min",
        "optim.lr=1e-9",  # hardly learns: the first checkpoint stays the best
        *periodic,
    ]
    hooks = build_hooks([MemoryDataset(rows), write_log])
    result = execute_recipe(base_recipe(tiny_model_dir), tmp_path / "run", overrides, hooks=hooks)
    assert write_log.seen == expected
    # written after everything else updated its state: LastCheckpoint runs last (Lightning
    # runs Checkpoint callbacks after all others); the top-k one is checkpoint_callback
    from lightning.pytorch.callbacks import ModelCheckpoint

    from ftcore.checkpointing import LastCheckpoint

    callbacks = result.run.trainer.callbacks
    assert isinstance(callbacks[-1], LastCheckpoint)
    assert [type(c) for c in callbacks].count(LastCheckpoint) == 1
    assert result.run.trainer.checkpoint_callback is next(
        c for c in callbacks if isinstance(c, ModelCheckpoint)
    )
    names = sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("*.ckpt"))
    assert names == sorted([Path(result.summary["best_checkpoint"]).name, "last.ckpt"])
    assert _step(tmp_path / "run" / "checkpoints" / "last.ckpt") == 8


if __name__ == "__main__" and sys.argv[1:] == ["serve"]:
    serve()
