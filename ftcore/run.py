"""``ftcore run``: set up from a recipe, let Lightning's Trainer fit and test, export."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftcore import rundir
from ftcore.data.prepare import SPLITS, PreparedData, encode_split, prepare
from ftcore.io import atomic_write_json, atomic_write_text
from ftcore.models import resolve_model
from ftcore.versions import versions


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
    run.tokenizer = AutoTokenizer.from_pretrained(
        run.model_path, trust_remote_code=recipe.model.trust_remote_code
    )
    raw = hooks.load_dataset(name=recipe.data.source, options=recipe.data.options, seed=recipe.seed)
    run.data = prepare(raw, recipe, hooks)
    features = {
        s: encode_split(run.data.rows[s], recipe, hooks, run.tokenizer, run.info) for s in SPLITS
    }
    from ftcore.data.datamodule import Collator, FtDataModule

    collate = Collator(hooks, recipe.task, run.tokenizer, run.info)
    run.datamodule = FtDataModule(features, collate, recipe)


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
    callbacks = [
        checkpoint,
        *periodic_checkpoints(run),
        LearningRateMonitor(logging_interval="step"),
        *run.hooks.lightning_callbacks(recipe=recipe, run=run),
    ]
    loggers = [
        CSVLogger(run.run_dir, name="logs", version=""),
        TensorBoardLogger(run.run_dir, name="tensorboard", version=""),
    ]
    devices: Any = int(t.devices) if str(t.devices).isdigit() else t.devices
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


def resume_checkpoint(run_dir: Path) -> str:
    """The checkpoint a resumed run continues from: ``checkpoints/last.ckpt``."""
    from ftcore.errors import UserError

    last = run_dir / "checkpoints" / "last.ckpt"
    if not last.is_file():
        raise UserError(
            f"{run_dir}: no checkpoints/last.ckpt to resume from; start a new run "
            f"with `ftcore run RECIPE`"
        )
    return str(last)


def fit_and_test(run: Run, resume: bool = False) -> tuple[dict, dict]:
    """Fit (from last.ckpt when resuming), then test the best checkpoint."""
    trainer, hooks = run.trainer, run.hooks
    started = time.perf_counter()
    ckpt_path = resume_checkpoint(run.run_dir) if resume else None
    trainer.fit(run.module, datamodule=run.datamodule, ckpt_path=ckpt_path)
    run.timings["fit_seconds"] = round(time.perf_counter() - started, 1)
    validation = _scalars(trainer.callback_metrics, "val/")
    hooks.fit_end(run=run)
    best = trainer.checkpoint_callback.best_model_path
    started = time.perf_counter()
    trainer.test(run.module, datamodule=run.datamodule, ckpt_path=best or None, verbose=False)
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
        "steps_trained": run.trainer.global_step,
        "data": {
            "rows": {s: len(data.rows[s]) for s in SPLITS},
            "dropped": data.dropped,
            "drop_reasons": data.drop_reasons,
            "labels": data.info.labels,
        },
        "timings": run.timings,
    }


def execute(
    recipe: Any, hooks: Any, out: str | None = None, resume: bool = False
) -> dict[str, Any]:
    """Run a validated recipe end to end; return the summary written to metrics.json.

    resume: ``out`` is an earlier run directory; training continues from its last.ckpt.
    """
    import lightning as L
    import torch

    started = time.perf_counter()
    if recipe.trainer.num_threads:
        torch.set_num_threads(recipe.trainer.num_threads)
    L.seed_everything(recipe.seed, workers=True, verbose=False)
    run = Run(recipe=recipe, hooks=hooks, run_dir=rundir.create(rundir.run_dir_for(recipe, out)))
    write_recipe(run)
    load_data(run)
    build_module(run)
    build_trainer(run)
    hooks.run_start(run=run)
    validation, test = fit_and_test(run, resume=resume)
    if run.trainer.is_global_zero:
        export(run)
    run.timings["total_seconds"] = round(time.perf_counter() - started, 1)
    summary = summarize(run, validation, test)
    if run.trainer.is_global_zero:
        atomic_write_json(run.run_dir / "metrics.json", summary)
        atomic_write_json(run.run_dir / "predictions.json", run.module.test_outputs)
    hooks.run_end(run=run, summary=summary)
    return summary
