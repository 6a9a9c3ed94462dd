"""``ftcore run``: set up from a recipe, let Lightning's Trainer fit and test, export."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftcore import rundir
from ftcore.api import REMOTE_CODE_WARNING
from ftcore.data.prepare import SPLITS, PreparedData, encode_split, prepare
from ftcore.io import atomic_write_json, atomic_write_text
from ftcore.models import resolve_model
from ftcore.types import DataInfo, Head
from ftcore.versions import versions

if TYPE_CHECKING:
    from lightning.pytorch import Trainer
    from omegaconf import DictConfig
    from torch.nn import Module
    from transformers import PreTrainedTokenizerBase

    from ftcore.data.datamodule import FtDataModule
    from ftcore.hooks import Hooks
    from ftcore.module import FtModule

log = logging.getLogger(__name__)


@dataclass
class Run:
    """Everything a run consists of; passed to the lifecycle hooks and the head.

    Set up in this order (see :func:`ftcore.api.setup_run`): ``recipe``, ``hooks``,
    ``run_dir``, ``head`` and ``head_options`` at once; ``model_path``, ``tokenizer``,
    ``data`` (rows and :class:`DataInfo`) and ``datamodule`` by :func:`load_data`;
    ``module`` (the :class:`ftcore.module.FtModule` around the model) by
    :func:`build_module`; ``trainer`` by :func:`build_trainer`.
    """

    recipe: DictConfig
    hooks: Hooks
    run_dir: Path
    model_path: str = ""
    tokenizer: PreTrainedTokenizerBase | None = None
    data: PreparedData | None = None
    datamodule: FtDataModule | None = None
    module: FtModule | None = None
    trainer: Trainer | None = None
    timings: dict[str, float] = field(default_factory=dict)
    # the checkpoint training continues from (``ftcore run --resume``), chosen before loading
    resume_from: str | None = None
    head: Head[Any] = field(init=False)
    """The task's head (:class:`ftcore.types.Head`), looked up once."""
    head_options: Any = field(init=False)
    """The ``head:`` section as an instance of the head's schema dataclass (None without)."""

    def __post_init__(self) -> None:
        self.head = self.hooks.head(self.recipe.task)
        self.head_options = self.hooks.head_options(self.recipe)

    @property
    def info(self) -> DataInfo | None:
        """What the head learned from the training split (after :func:`load_data`)."""
        return self.data.info if self.data else None

    @property
    def model(self) -> Module | None:
        """The task model (``module.model``) once built."""
        return self.module.model if self.module is not None else None


def write_recipe(run: Run) -> None:
    """``recipe.yaml``: the resolved recipe, the run's id and the package versions."""
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
    run.data = prepare(raw, recipe, run.head, run.head_options)
    started = time.perf_counter()
    features = encode_splits(run)
    run.timings["encode_seconds"] = round(time.perf_counter() - started, 2)
    from ftcore.data.datamodule import Collator, FtDataModule

    collate = Collator(run.head, run.head_options, run.tokenizer, run.info)
    run.datamodule = FtDataModule(features, collate, recipe)


def encode_splits(run: Run) -> dict[str, list[dict]]:
    """Tokenise every split (:meth:`Head.encode`), through the on-disk cache unless
    ``data.cache_tokenized`` is false; one feature dict per example. Arrow splits are
    encoded by ``Dataset.map`` and stay Arrow (:class:`ftcore.data.arrow.ArrowRows`)."""
    recipe, hooks = run.recipe, run.hooks
    from ftcore.data.arrow import ArrowRows, encode

    if all(isinstance(run.data.rows[s], ArrowRows) for s in SPLITS):  # Dataset.map, its cache
        return {s: encode(run.data.rows[s].dataset, run, run.data.num_proc) for s in SPLITS}
    if not recipe.data.cache_tokenized:
        return {s: encode_split(run.data.rows[s], run) for s in SPLITS}
    from ftcore.data.cache import TokenCache, encode_options
    from ftcore.models import cache_dir

    def encode(rows: list) -> dict[str, list]:
        return run.head.encode(
            rows=rows,
            tokenizer=run.tokenizer,
            max_length=recipe.data.max_length,
            info=run.info,
            options=run.head_options,
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
    """Build the head's model, let ``ftcore_transform_model`` plugins wrap it, and wrap it
    in the LightningModule (``run.module``)."""
    from ftcore.model_memory import apply_memory_options
    from ftcore.module import FtModule

    recipe, hooks = run.recipe, run.hooks
    model = run.head.build_model(
        model_path=run.model_path,
        info=run.info,
        options=run.head_options,
        trust_remote_code=recipe.model.trust_remote_code,
    )
    model = apply_memory_options(model, recipe)
    model = hooks.transform_model(model=model, recipe=recipe)
    model.train()  # from_pretrained returns eval mode; Lightning keeps modes as found
    if recipe.trainer.compile:
        model.compile()  # in place: parameter names, checkpoints and export are unchanged
    run.module = FtModule(model, recipe, hooks, run.info, head=run.head, options=run.head_options)


def monitor(run: Run) -> tuple[str, str]:
    """The metric that picks the best checkpoint: recipe, else the head's choice."""
    ckpt, chosen = run.recipe.checkpoint, run.head.monitor(options=run.head_options)
    return (ckpt.monitor or chosen.metric, ckpt.mode or chosen.mode)


def build_trainer(run: Run) -> None:
    import lightning as L

    from ftcore import checkpointing, loggers
    from ftcore.checkpoint_io import AtomicCheckpointIO
    from ftcore.module import value
    from ftcore.safety import GracefulStop, NonFiniteGuard

    recipe, t = run.recipe, run.recipe.trainer
    folder = checkpointing.folder(run)
    callbacks = [
        checkpointing.best_checkpoints(run),  # first: trainer.checkpoint_callback
        NonFiniteGuard(value(t.on_nonfinite), t.max_skipped_batches, folder),
        GracefulStop(folder),
        *loggers.callbacks(run),  # LearningRateMonitor, the recipe as hyperparameters
        *run.hooks.lightning_callbacks(recipe=recipe, run=run),
        *periodic_checkpoints(run),  # last: writes last.ckpt once everything else updated
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
        logger=loggers.build(run),  # the recipe's loggers: section
        default_root_dir=run.run_dir,
        enable_model_summary=False,
        plugins=[AtomicCheckpointIO()],
    )


def resolve_lr(run: Run) -> None:
    """``optim.lr: auto``: ask ``ftcore_resolve_lr`` for the rate (the trainer, module and
    data are set up; nothing has trained) and put it in ``run.recipe.optim.lr``, so the
    optimiser, the ``ftcore_run_start`` hooks and the report see the number (``recipe.yaml``,
    written before, keeps ``auto``). A number in the recipe asks nobody."""
    from ftcore.errors import UserError
    from ftcore.optimizer import NO_LR_FINDER

    if run.recipe.optim.lr != "auto":
        return
    rate = run.hooks.resolve_lr(run=run)
    if rate is None:
        raise UserError(NO_LR_FINDER)
    run.recipe.optim.lr = float(rate)


def periodic_checkpoints(run: Run) -> list[Any]:
    """The one writer of last.ckpt: after every validation, at every epoch's end, and every
    ``checkpoint.every_n_steps`` steps / ``every_n_minutes`` minutes (see
    :mod:`ftcore.checkpointing`)."""
    from ftcore import checkpointing

    return [checkpointing.last_checkpoint(run)]


def _scalars(metrics: dict, prefix: str) -> dict[str, float]:
    return {k: float(v) for k, v in sorted(metrics.items()) if k.startswith(prefix)}


def checkpoint_problem(path: Path) -> str | None:
    """Why a checkpoint cannot be resumed from exactly (truncated, corrupt, or lacking
    the weights, loops, optimiser or schedule state), or None if it can."""
    from ftcore.runstamp import facts

    return facts(path).problem


_ANY_RUN = object()


def resume_checkpoint(run_dir: Path, recipe: Any = _ANY_RUN) -> str | None:
    """The newest checkpoint of this run that resumes exactly, or None if it saved none yet.

    Skipped with a warning line, trying the one before: unreadable ones (truncated,
    corrupt), incomplete ones (see :func:`ftcore.runstamp.incomplete`) and, given the
    run's ``recipe``, those of another run (another ``run_id``). If there are checkpoints
    but none is usable, that is an error (starting over would replace them); so is a
    ``recipe`` that differs from the one the chosen checkpoint was trained with.
    """
    from ftcore.errors import UserError
    from ftcore.runstamp import changes, facts, fingerprint

    found = _checkpoints(run_dir)
    run_id = None if recipe is _ANY_RUN else recipe.get("run_id")
    foreign = 0
    for path in found:
        seen = facts(path)
        if seen.unreadable:
            log.warning(
                f"checkpoint {path} is unreadable ({seen.unreadable}); trying the previous one"
            )
        elif seen.incomplete:
            log.warning(
                f"checkpoint {path} cannot resume the run exactly ({seen.incomplete}); trying "
                f"the previous one"
            )
        elif recipe is not _ANY_RUN and seen.run_id != run_id:
            foreign += 1
            log.warning(
                f"checkpoint {path} belongs to another run (run id {seen.run_id or 'none'}, "
                f"this run's is {run_id or 'none'}); ignoring it"
            )
        else:
            if recipe is not _ANY_RUN and seen.recipe is not None:
                changed = changes(seen.recipe, fingerprint(recipe))
                if changed:
                    raise UserError(
                        f"{run_dir / 'recipe.yaml'}: changed since the checkpoint was written "
                        f"({', '.join(changed)}); restore it, or start a new run"
                    )
            return str(path)
    if not found:
        return None
    usable = "belongs to this run" if foreign == len(found) else "is usable"
    raise UserError(
        f"{run_dir}: none of the {len(found)} checkpoints in checkpoints/ {usable}; move "
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
    from ftcore.runstamp import new_run_id

    run.resume_from = resume_checkpoint(run.run_dir, run.recipe)
    if run.resume_from is None and not run.recipe.get("run_id"):
        # no checkpoint to match: a run folder from before run ids gets one now
        run.recipe.run_id = new_run_id()
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


def graceful_stop(run: Run) -> Any:
    """The run's :class:`ftcore.safety.GracefulStop` (it notes SIGINT/SIGTERM)."""
    from ftcore.safety import GracefulStop

    return next(c for c in run.trainer.callbacks if isinstance(c, GracefulStop))


def after_training(run: Run, stop: Any) -> str:
    """The message for a signal that came once training had finished (a
    :class:`ftcore.safety.StopRequested` raised in the test or after it)."""
    return (
        f"{stop.signal_name} received during {stop.where}, after training finished "
        f"(optimiser step {stop.step}): the run stopped there; {resumes_from(run.run_dir)} "
        f"and tests and exports again; resume with: ftcore run --resume {run.run_dir}"
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
    :class:`ftcore.safety.GracefulStop`): :class:`RunInterrupted`, no test or export. One
    after fit (held by ``GracefulStop.guard`` in :func:`execute`) stops the run before the
    test, or after the test batch under way: :class:`RunInterrupted`, nothing saved
    (last.ckpt holds the finished training; resuming tests and exports again).
    """
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    from ftcore.errors import RunInterrupted
    from ftcore.safety import StopRequested

    trainer, hooks, stop = run.trainer, run.hooks, graceful_stop(run)
    started = time.perf_counter()
    try:
        trainer.fit(run.module, datamodule=run.datamodule, ckpt_path=run.resume_from)
    except StopRequested as exc:
        raise RunInterrupted(interrupted(run, exc)) from None
    except SIGTERMException:  # Lightning's own handler, before GracefulStop took over
        exc = StopRequested("SIGTERM", trainer.global_step, None, where="training")
        raise RunInterrupted(interrupted(run, exc)) from None
    run.timings["fit_seconds"] = round(time.perf_counter() - started, 1)
    try:
        stop.check(trainer, "the end of training")
        validation = _scalars(trainer.callback_metrics, "val/") or last_validation(run)
        best = trainer.checkpoint_callback.best_model_path
        started = time.perf_counter()
        try:
            trainer.test(
                run.module, datamodule=run.datamodule, ckpt_path=best or None, verbose=False
            )
        except SIGTERMException:  # Lightning's handler (GracefulStop's stops the test first)
            raise StopRequested("SIGTERM", trainer.global_step, None, where="the test") from None
        stop.check(trainer, "the test")
    except StopRequested as exc:
        raise RunInterrupted(after_training(run, exc)) from None
    run.timings["test_seconds"] = round(time.perf_counter() - started, 1)
    test = _scalars(trainer.callback_metrics, "test/")
    hooks.test_end(run=run, metrics=test, predictions=run.module.test_outputs)
    return validation, test


def finish(run: Run, validation: dict, test: dict, started: float) -> dict[str, Any]:
    """After the test: export ``model/``, write metrics.json and predictions.json, run the
    ``ftcore_run_end`` hooks; the summary. A signal in this part stops the run once the
    step under way is done (:class:`RunInterrupted`): it is complete only after all of it.
    """
    from ftcore import loggers
    from ftcore.errors import RunInterrupted
    from ftcore.safety import StopRequested

    stop = graceful_stop(run)
    try:
        stop.check(run.trainer, "the test")
        if run.trainer.is_global_zero:
            export(run)
        stop.check(run.trainer, "the export")
        run.timings["total_seconds"] = round(time.perf_counter() - started, 1)
        summary = summarize(run, validation, test)
        if run.trainer.is_global_zero:
            atomic_write_json(run.run_dir / "metrics.json", summary)
            atomic_write_json(run.run_dir / "predictions.json", run.module.test_outputs)
        run.head.run_end(run=run, options=run.head_options, summary=summary)
        run.hooks.run_end(run=run, summary=summary)
        loggers.close(run)  # flushes what ftcore_run_end logged (e.g. confidence bounds)
        stop.check(run.trainer, "the end of the run")
    except StopRequested as exc:
        raise RunInterrupted(after_training(run, exc)) from None
    return summary


def export(run: Run) -> Path:
    """Write ``model/`` (Hugging Face format, safetensors) atomically via a temp folder.

    The temp folder has a unique name (``.model.<random>.tmp``) and is removed if the
    export fails; a full disk ends in one line (:class:`ftcore.io.DiskFull`) with the
    checkpoints kept. An earlier ``model/`` (this run's: :func:`ftcore.rundir.claim`
    lets a run write only into its own folder) is replaced only once the new one is
    complete.
    """
    import tempfile

    from ftcore.io import current_umask, disk_full, is_disk_full

    model = run.hooks.export_model(model=run.module.model, run=run)
    model = run.head.export(model=model, info=run.info, options=run.head_options, run=run)
    final = run.run_dir / "model"
    tmp = Path(tempfile.mkdtemp(dir=run.run_dir, prefix=".model.", suffix=".tmp"))
    try:
        tmp.chmod(0o777 & ~current_umask())  # mkdtemp makes 0700; follow the umask
        model.save_pretrained(tmp, safe_serialization=True)
        run.tokenizer.save_pretrained(tmp)
        atomic_write_json(tmp / "ftcore_data_info.json", exported_info(run))
        old = None
        if final.exists():
            old = Path(tempfile.mkdtemp(dir=run.run_dir, prefix=".model.", suffix=".old"))
            final.rename(old / "model")
        tmp.rename(final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if is_disk_full(exc):
            raise disk_full(
                run.run_dir,
                f"exporting {final}",
                f"the checkpoints are kept; free space, then resume with: "
                f"ftcore run --resume {run.run_dir} (it tests and exports again)",
            ) from None
        raise
    return final


def exported_info(run: Run) -> dict[str, Any]:
    """``model/ftcore_data_info.json``: the data info plus the head's options
    (``head_options``, read back by ``predict``; folders exported before it have none)."""
    from ftcore.heads import options_dict

    return {**run.info.to_dict(), "head_options": options_dict(run.head_options)}


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
    recipe: Any, hooks: Any, out: str | None = None, resume: bool = False, force: bool = False
) -> dict[str, Any]:
    """Run a validated recipe end to end; return the summary written to metrics.json.

    resume: ``out`` is an earlier run directory; training continues from its newest
    checkpoint of this run that loads, chosen before anything is loaded (none yet: the run
    starts over there). A new run takes only a new or empty folder (``force``: one holding
    none of the files a run writes), see :func:`ftcore.rundir.claim`; the folder is locked
    until the run ends.
    """
    with ExitStack() as held:  # the run folder's lock and checkpoint stamp, until the end
        return _execute(held, recipe, hooks, out, resume, force)


def _execute(
    held: ExitStack, recipe: Any, hooks: Any, out: str | None, resume: bool, force: bool
) -> dict[str, Any]:
    import lightning as L
    import torch

    from ftcore import runstamp
    from ftcore.model_memory import return_freed_memory

    started = time.perf_counter()
    return_freed_memory(recipe)
    if recipe.trainer.num_threads:
        torch.set_num_threads(recipe.trainer.num_threads)
    L.seed_everything(recipe.seed, workers=True, verbose=False)
    run = Run(recipe=recipe, hooks=hooks, run_dir=shared_run_dir(recipe, out))
    if global_rank() == 0:  # the other ranks of a distributed run write nothing there
        held.enter_context(rundir.claim(run.run_dir, resume=resume, force=force))
    if resume:
        choose_resume_checkpoint(run)
    else:
        run.recipe.run_id = runstamp.new_run_id()
    held.enter_context(runstamp.stamping(run.run_dir, run.recipe))
    if global_rank() == 0:
        write_recipe(run)
    load_data(run)
    build_module(run)
    runstamp.check_fits(run.resume_from, run.module)
    if global_rank() == 0:
        need = rundir.space_needed(run.module, run.recipe, run.run_dir)
        rundir.require_space(run.run_dir, need, resume, "for its checkpoints and the export")
    build_trainer(run)
    resolve_lr(run)
    hooks.run_start(run=run)
    run.head.run_start(run=run, options=run.head_options)
    # ranks Lightning starts in fit use this dir; SIGINT/SIGTERM stop the run resumably
    # from here to its end (see fit_and_test and finish)
    with _env(RUN_DIR_ENV, str(run.run_dir)), graceful_stop(run).guard():
        validation, test = fit_and_test(run)
        return finish(run, validation, test, started)
