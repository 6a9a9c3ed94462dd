"""``ftcore run``: set up from a recipe, let Lightning's Trainer fit and test, export."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftcore import rundir
from ftcore.data.prepare import SPLITS, PreparedData, encode_split, prepare
from ftcore.io import atomic_write_json, atomic_write_text
from ftcore.models import resolve_model
from ftcore.versions import versions

log = logging.getLogger(__name__)

REMOTE_CODE_WARNING = (
    "model.trust_remote_code is on: this run executes Python code shipped with the model "
    "folder; use it only for a model whose code you have reviewed"
)


@dataclass
class Run:
    """Everything a run consists of; passed to the lifecycle hooks."""

    recipe: Any
    hooks: Any
    run_dir: Path
    model_path: str = ""
    tokenizer: Any = None
    data: PreparedData | None = None
    datamodule: Any = None
    module: Any = None
    trainer: Any = None
    timings: dict[str, float] = field(default_factory=dict)
    # the checkpoint training continues from (``ftcore run --resume``), chosen before loading
    resume_from: str | None = None

    @property
    def info(self) -> Any:
        return self.data.info if self.data else None


def write_recipe(run: Run) -> None:
    from omegaconf import OmegaConf

    recipe = OmegaConf.to_container(run.recipe, resolve=True, enum_to_str=True)
    dists = [r.distribution for r in run.hooks.pm.records if r.status == "loaded"]
    recipe["versions"] = versions(dists)
    atomic_write_text(run.run_dir / "recipe.yaml", OmegaConf.to_yaml(recipe))


def load_data(run: Run) -> None:
    """Resolve the model and tokenizer, load and check the data, encode every split."""
    from transformers import AutoTokenizer

    recipe, hooks = run.recipe, run.hooks
    run.model_path = resolve_model(recipe, hooks)
    if recipe.model.trust_remote_code:
        log.warning(REMOTE_CODE_WARNING)
    run.tokenizer = AutoTokenizer.from_pretrained(
        run.model_path, trust_remote_code=recipe.model.trust_remote_code
    )
    raw = hooks.load_dataset(name=recipe.data.source, options=recipe.data.options, seed=recipe.seed)
    run.data = prepare(raw, recipe, hooks)
    started = time.perf_counter()
    features = encode_splits(run)
    run.timings["encode_seconds"] = round(time.perf_counter() - started, 2)
    from ftcore.data.datamodule import Collator, FtDataModule

    collate = Collator(hooks, recipe.task, run.tokenizer, run.info)
    run.datamodule = FtDataModule(features, collate, recipe)


def encode_splits(run: Run) -> dict[str, list[dict]]:
    """Tokenise every split (``ftcore_encode``), through the on-disk cache unless
    ``data.cache_tokenized`` is false; one feature dict per example."""
    recipe, hooks = run.recipe, run.hooks
    if not recipe.data.cache_tokenized:
        return {
            s: encode_split(run.data.rows[s], recipe, hooks, run.tokenizer, run.info)
            for s in SPLITS
        }
    from ftcore.data.cache import TokenCache, encode_options
    from ftcore.models import cache_dir

    def encode(rows: list) -> dict[str, list]:
        return hooks.encode(
            task=recipe.task,
            rows=rows,
            tokenizer=run.tokenizer,
            max_length=recipe.data.max_length,
            info=run.info,
            head_config=recipe.head,
        )

    cache = TokenCache(
        cache_dir(recipe) / "tokenized",
        run.tokenizer,
        encode_options(recipe, hooks, run.info),
        write=global_rank() == 0,
    )
    features = {}
    for split in SPLITS:
        columns = cache.encode(run.data.rows[split], encode)
        names = list(columns)
        features[split] = [dict(zip(names, v)) for v in zip(*(columns[n] for n in names))]
    return features


def global_rank() -> int:
    """This process's rank as launchers set it (RANK, LOCAL_RANK, SLURM_PROCID), before
    Lightning's Trainer exists; 0 in a single process."""
    import os

    for key in ("RANK", "LOCAL_RANK", "SLURM_PROCID"):
        if os.environ.get(key, "").isdigit():
            return int(os.environ[key])
    return 0


def build_module(run: Run) -> None:
    from ftcore.module import FtModule

    recipe, hooks = run.recipe, run.hooks
    model = hooks.build_model(
        task=recipe.task,
        model_path=run.model_path,
        info=run.info,
        head_config=recipe.head,
        trust_remote_code=recipe.model.trust_remote_code,
    )
    model = hooks.transform_model(model=model, recipe=recipe)
    model.train()  # from_pretrained returns eval mode; Lightning keeps modes as found
    if recipe.trainer.compile:
        model.compile()  # in place: parameter names, checkpoints and export are unchanged
    run.module = FtModule(model, recipe, hooks, run.info)


def monitor(run: Run) -> tuple[str, str]:
    """The metric that picks the best checkpoint: recipe, else the head's choice."""
    ckpt, extra = run.recipe.checkpoint, run.info.extra
    return (ckpt.monitor or extra.get("monitor", "val/loss"), ckpt.mode or extra.get("mode", "min"))


def build_trainer(run: Run) -> None:
    import lightning as L
    from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    from ftcore.checkpoint_io import AtomicCheckpointIO
    from ftcore.module import value
    from ftcore.safety import GracefulStop, NonFiniteGuard

    recipe, t = run.recipe, run.recipe.trainer
    metric, mode = monitor(run)
    checkpoint = ModelCheckpoint(
        dirpath=run.run_dir / "checkpoints",
        filename="best-{epoch}-{step}",
        monitor=metric,
        mode=mode,
        save_top_k=recipe.checkpoint.save_top_k,
        save_last=True,
        auto_insert_metric_name=False,
    )
    folder = run.run_dir / "checkpoints"
    callbacks = [
        checkpoint,
        *periodic_checkpoints(run),
        NonFiniteGuard(value(t.on_nonfinite), t.max_skipped_batches, folder),
        GracefulStop(folder),
        LearningRateMonitor(logging_interval="step"),
        *run.hooks.lightning_callbacks(recipe=recipe, run=run),
    ]
    loggers = [
        CSVLogger(run.run_dir, name="logs", version=""),
        TensorBoardLogger(run.run_dir, name="tensorboard", version=""),
    ]
    devices: Any = t.devices if isinstance(t.devices, (int, str)) else list(t.devices)
    run.trainer = L.Trainer(
        max_epochs=t.max_epochs,
        max_steps=t.max_steps,
        precision=t.precision,
        accelerator=t.accelerator,
        devices=devices,
        strategy=t.strategy,
        num_nodes=t.num_nodes,
        val_check_interval=t.val_check_interval,
        log_every_n_steps=t.log_every_n_steps,
        deterministic=t.deterministic,
        enable_progress_bar=t.progress_bar,
        gradient_clip_val=recipe.optim.grad_clip,
        accumulate_grad_batches=recipe.optim.accumulate,
        callbacks=callbacks,
        logger=loggers,
        default_root_dir=run.run_dir,
        enable_model_summary=False,
        plugins=[AtomicCheckpointIO()],
    )


def periodic_checkpoints(run: Run) -> list[Any]:
    """last.ckpt every N steps and/or every N minutes, as the recipe asks."""
    from datetime import timedelta

    from lightning.pytorch.callbacks import ModelCheckpoint

    ckpt, found = run.recipe.checkpoint, []
    folder = run.run_dir / "checkpoints"
    if ckpt.every_n_steps:
        found.append(
            ModelCheckpoint(
                dirpath=folder, save_last=True, save_top_k=0, every_n_train_steps=ckpt.every_n_steps
            )
        )
    if ckpt.every_n_minutes:
        found.append(
            ModelCheckpoint(
                dirpath=folder,
                save_last=True,
                save_top_k=0,
                train_time_interval=timedelta(minutes=ckpt.every_n_minutes),
            )
        )
    return found


def _scalars(metrics: dict, prefix: str) -> dict[str, float]:
    return {k: float(v) for k, v in sorted(metrics.items()) if k.startswith(prefix)}


def checkpoint_problem(path: Path) -> str | None:
    """Why a checkpoint cannot be resumed from (truncated, corrupt), or None if it loads."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    return None if "state_dict" in state and "loops" in state else "not a training checkpoint"


def resume_checkpoint(run_dir: Path) -> str | None:
    """The newest readable checkpoint, or None if the run has saved none yet.

    Unreadable ones (truncated, corrupt) are reported and skipped; if there are checkpoints
    but none loads, that is an error (starting over would replace them).
    """
    from ftcore.errors import UserError

    found = _checkpoints(run_dir)
    for path in found:
        problem = checkpoint_problem(path)
        if problem is None:
            return str(path)
        log.warning(f"checkpoint {path} is unreadable ({problem}); trying the previous one")
    if not found:
        return None
    raise UserError(
        f"{run_dir}: none of the {len(found)} checkpoints in checkpoints/ is readable; move "
        f"them away to start the run over in this folder, or start a new run with "
        f"`ftcore run RECIPE`"
    )


def _checkpoints(run_dir: Path) -> list[Path]:
    """The run's checkpoint files, newest first (a last*.ckpt first among equally new ones).

    By time, not by name: last.ckpt is not always the newest (Lightning's ModelCheckpoint
    updates its last checkpoint only when it saves a best one, and several callbacks saving
    a last checkpoint in one folder number theirs last-v1.ckpt, ...).
    """
    return sorted(
        (run_dir / "checkpoints").glob("*.ckpt"),
        key=lambda p: (p.stat().st_mtime_ns, p.name.startswith("last")),
        reverse=True,
    )


def choose_resume_checkpoint(run: Run) -> None:
    """``--resume``: pick the checkpoint to continue from, before any data or model is
    loaded; with none saved yet (killed before the first one), start from the beginning
    in the same folder."""
    run.resume_from = resume_checkpoint(run.run_dir)
    if run.resume_from is None and global_rank() == 0:
        log.info(
            f"{run.run_dir} has no checkpoint yet; starting the run from the beginning in "
            f"the same folder"
        )


def interrupted(run: Run, stop: Any) -> str:
    """The message for a run a signal stopped (a :class:`ftcore.safety.StopRequested`)."""
    resume = f"resume with: ftcore run --resume {run.run_dir}"
    if stop.saved:
        after = f"stopped after optimiser step {stop.step}"
        if stop.where == "the end of training":
            after += " (training had finished; the resumed run tests and exports)"
        elif stop.before_validation:
            after += " (before its validation, which the resumed run does first)"
        return f"{stop.signal_name} received: {after}, checkpoint saved to {stop.saved}; {resume}"
    return (
        f"{stop.signal_name} received during {stop.where}: stopped without saving a new "
        f"checkpoint; {resumes_from(run.run_dir)}; {resume}"
    )


def resumes_from(run_dir: Path) -> str:
    """What ``ftcore run --resume run_dir`` would continue from, in words."""
    found = next((p for p in _checkpoints(run_dir) if checkpoint_problem(p) is None), None)
    if found is None:
        return "no checkpoint saved yet, so resuming starts the run from the beginning"
    return f"resuming continues from {found}"


def stop_on_signal(run: Run) -> None:
    """After fit: a signal that came once training had finished (after the last step and
    its validation) stops the run before testing; resuming then tests and exports."""
    from ftcore.errors import RunInterrupted
    from ftcore.safety import GracefulStop

    stop = next(c for c in run.trainer.callbacks if isinstance(c, GracefulStop))
    if stop.signal_name:
        raise RunInterrupted(
            f"{stop.signal_name} received after training finished (optimiser step "
            f"{run.trainer.global_step}): not tested or exported; "
            f"{resumes_from(run.run_dir)}; resume with: ftcore run --resume {run.run_dir}"
        )


def last_validation(run: Run) -> dict[str, float]:
    """The last validation's metrics as the checkpoint resumed from recorded them (a run
    resumed after training had finished validates no more)."""
    from ftcore.safety import GracefulStop

    stop = next((c for c in run.trainer.callbacks if isinstance(c, GracefulStop)), None)
    return dict(stop.last_validation) if stop else {}


def fit_and_test(run: Run) -> tuple[dict, dict]:
    """Fit (from ``run.resume_from`` when resuming), then test the best checkpoint.

    SIGINT/SIGTERM during fit stops it at once with a resumable checkpoint (see
    :class:`ftcore.safety.GracefulStop`): :class:`RunInterrupted`, no test or export.
    """
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    from ftcore.errors import RunInterrupted
    from ftcore.safety import StopRequested

    trainer, hooks = run.trainer, run.hooks
    started = time.perf_counter()
    try:
        trainer.fit(run.module, datamodule=run.datamodule, ckpt_path=run.resume_from)
    except StopRequested as stop:
        raise RunInterrupted(interrupted(run, stop)) from None
    stop_on_signal(run)
    run.timings["fit_seconds"] = round(time.perf_counter() - started, 1)
    validation = _scalars(trainer.callback_metrics, "val/") or last_validation(run)
    hooks.fit_end(run=run)
    best = trainer.checkpoint_callback.best_model_path
    started = time.perf_counter()
    try:
        trainer.test(run.module, datamodule=run.datamodule, ckpt_path=best or None, verbose=False)
    except SIGTERMException:  # Lightning's own handler during test; it would exit with 0
        raise RunInterrupted(
            f"SIGTERM received during test, after training finished: not tested or exported; "
            f"{resumes_from(run.run_dir)}; resume with: ftcore run --resume {run.run_dir}"
        ) from None
    run.timings["test_seconds"] = round(time.perf_counter() - started, 1)
    test = _scalars(trainer.callback_metrics, "test/")
    hooks.test_end(run=run, metrics=test, predictions=run.module.test_outputs)
    return validation, test


def export(run: Run) -> Path:
    """Write ``model/`` (Hugging Face format, safetensors) atomically via a temp folder."""
    model = run.hooks.export_model(
        model=run.module.model,
        task=run.recipe.task,
        info=run.info,
        recipe=run.recipe,
        run_dir=str(run.run_dir),
    )
    final, tmp = run.run_dir / "model", run.run_dir / ".model.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    run.tokenizer.save_pretrained(tmp)
    atomic_write_json(tmp / "ftcore_data_info.json", run.info.to_dict())
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final


def skipped_batches(run: Run) -> int:
    """Batches dropped for a non-finite loss or gradient (trainer.on_nonfinite=skip)."""
    from ftcore.safety import NonFiniteGuard

    return sum(c.skipped for c in run.trainer.callbacks if isinstance(c, NonFiniteGuard))


def summarize(run: Run, validation: dict, test: dict) -> dict[str, Any]:
    data = run.data
    return {
        "recipe": run.recipe.name,
        "run_dir": str(run.run_dir),
        "validation": validation,
        "test": test,
        "best_checkpoint": run.trainer.checkpoint_callback.best_model_path,
        "monitor": dict(zip(("metric", "mode"), monitor(run))),
        "epochs_trained": run.trainer.current_epoch,
        "skipped_batches": skipped_batches(run),
        "steps_trained": run.trainer.global_step,
        "data": {
            "rows": {s: len(data.rows[s]) for s in SPLITS},
            "dropped": data.dropped,
            "drop_reasons": data.drop_reasons,
            "labels": data.info.labels,
        },
        "timings": run.timings,
    }


RUN_DIR_ENV = "FTCORE_RUN_DIR"


def shared_run_dir(recipe: Any, out: str | None) -> Path:
    """The run directory, the same on every rank of a distributed run.

    Lightning starts the other DDP ranks during ``fit`` by running the same command again;
    they find rank 0's directory in ``$FTCORE_RUN_DIR`` (a timestamp of their own would
    differ). Processes started by an outside launcher (torchrun, SLURM's srun) cannot be
    told, so they need ``--out`` or ``output.run_name``.
    """
    import os

    from ftcore.errors import UserError

    out = out or os.environ.get(RUN_DIR_ENV)
    launched = int(os.environ.get("WORLD_SIZE", "1") or 1) > 1 or (
        "SLURM_PROCID" in os.environ and int(os.environ.get("SLURM_NTASKS", "1") or 1) > 1
    )
    if launched and not out and not recipe.output.run_name:
        raise UserError(
            "a distributed launch (torchrun, srun) needs one run directory for all "
            "processes: give --out DIR or output.run_name=NAME"
        )
    return rundir.run_dir_for(recipe, out)


@contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    """Set an environment variable for the block (child processes inherit it)."""
    import os

    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def execute(
    recipe: Any, hooks: Any, out: str | None = None, resume: bool = False
) -> dict[str, Any]:
    """Run a validated recipe end to end; return the summary written to metrics.json.

    resume: ``out`` is an earlier run directory; training continues from its newest readable
    checkpoint, chosen before anything is loaded (none yet: the run starts over there).
    """
    import lightning as L
    import torch

    started = time.perf_counter()
    if recipe.trainer.num_threads:
        torch.set_num_threads(recipe.trainer.num_threads)
    L.seed_everything(recipe.seed, workers=True, verbose=False)
    run = Run(recipe=recipe, hooks=hooks, run_dir=shared_run_dir(recipe, out))
    if resume:
        choose_resume_checkpoint(run)
    if global_rank() == 0:  # the other ranks of a distributed run write nothing there
        rundir.create(run.run_dir)
        write_recipe(run)
    load_data(run)
    build_module(run)
    build_trainer(run)
    hooks.run_start(run=run)
    with _env(RUN_DIR_ENV, str(run.run_dir)):  # ranks Lightning starts in fit use this dir
        validation, test = fit_and_test(run)
    if run.trainer.is_global_zero:
        export(run)
    run.timings["total_seconds"] = round(time.perf_counter() - started, 1)
    summary = summarize(run, validation, test)
    if run.trainer.is_global_zero:
        atomic_write_json(run.run_dir / "metrics.json", summary)
        atomic_write_json(run.run_dir / "predictions.json", run.module.test_outputs)
    hooks.run_end(run=run, summary=summary)
    return summary
