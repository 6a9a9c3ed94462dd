"""The public API of ftcore for plugins: everything a plugin may use, and nothing else.

A plugin imports from ``ftcore`` (``hookimpl``), ``ftcore.api`` (this module),
``ftcore.types`` and ``ftcore.errors``; ``ftcore.hookspecs`` documents the hooks. Every
other ``ftcore`` module is private and may change in any release; the conformance suite
fails a plugin whose package imports one. See docs/api.md.

Importing this module stays light (no torch, Lightning or transformers): the names that
need them are imported when first used.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftcore import hookimpl
from ftcore.errors import UserError
from ftcore.io import (
    atomic_write_json,
    atomic_write_text,
    decode_text,
    read_json,
    read_jsonl,
    read_text,
)
from ftcore.optimizer import NO_DECAY
from ftcore.reporting import (
    evaluation_option,
    figure_png,
    markdown_escape,
    markdown_table,
    mean_pooled_embeddings,
    pyplot,
)
from ftcore.types import (
    BaseHead,
    Batch,
    Command,
    Component,
    DataInfo,
    GroupOptions,
    Head,
    LayerGroup,
    Monitor,
    OptimizerGroup,
    RawSplits,
    ReportSection,
    Row,
    StepOutput,
    TrainingSteps,
)

if TYPE_CHECKING:
    import torch
    from lightning.pytorch import LightningDataModule, LightningModule
    from omegaconf import DictConfig

    from ftcore.hooks import Hooks
    from ftcore.predict import Predictor
    from ftcore.run import Run

__all__ = [
    "NO_DECAY",
    "REMOTE_CODE_WARNING",
    "BaseHead",
    "Batch",
    "Command",
    "Component",
    "DataInfo",
    "GroupOptions",
    "Head",
    "Hooks",
    "LayerGroup",
    "Monitor",
    "OptimizerGroup",
    "Predictor",
    "RawSplits",
    "ReportSection",
    "Row",
    "Run",
    "StepOutput",
    "TrainingSteps",
    "UserError",
    "atomic_write_json",
    "atomic_write_text",
    "build_module",
    "cache_dir",
    "data_module",
    "decode_text",
    "encode_rows",
    "evaluation_option",
    "figure_png",
    "finished_run",
    "hookimpl",
    "learning_rate",
    "lightning_module",
    "load_recipe",
    "markdown_escape",
    "markdown_table",
    "mean_pooled_embeddings",
    "monitor",
    "no_decay",
    "normalizer",
    "plugin_hooks",
    "pretrained_fingerprint",
    "pyplot",
    "read_json",
    "read_jsonl",
    "read_text",
    "run_recipe",
    "setup_run",
    "text_problem",
    "value",
]

REMOTE_CODE_WARNING = (
    "model.trust_remote_code is on: this run executes Python code shipped with the model "
    "folder; use it only for a model whose code you have reviewed"
)


def __getattr__(name: str) -> Any:
    """The classes that live in heavier modules, imported on first use."""
    if name == "Run":
        from ftcore.run import Run

        return Run
    if name == "Hooks":
        from ftcore.hooks import Hooks

        return Hooks
    if name == "Predictor":
        from ftcore.predict import Predictor

        return Predictor
    raise AttributeError(f"module 'ftcore.api' has no attribute {name!r}")


# --- parameters and recipe values ------------------------------------------------------------


def no_decay(name: str) -> bool:
    """Whether core exempts parameter ``name`` from weight decay (biases and norms)."""
    return name.endswith(NO_DECAY)


def value(option: Any) -> str:
    """The string value of an enum-typed recipe option (``optim.schedule`` -> "cosine")."""
    return str(getattr(option, "value", option))


def learning_rate(optim: Any) -> float:
    """``optim.lr`` as a number (a UserError while it is still ``auto``)."""
    from ftcore.optimizer import learning_rate as rate

    return rate(optim)


# --- recipes and plugins -------------------------------------------------------------------


def plugin_hooks() -> Hooks:
    """The installed plugins behind ftcore's typed facade, as the command line builds them
    (a failure inside a plugin then names the plugin)."""
    from ftcore.cli import _hooks

    return _hooks()


def load_recipe(
    name_or_path: str, overrides: Sequence[str] = (), hooks: Hooks | None = None
) -> tuple[DictConfig, Hooks]:
    """Find, read once, override and validate a recipe as ``ftcore run`` does; the recipe
    and the plugins it runs with (its ``plugins:`` section applied). With ``hooks``, those
    plugins are used as they are."""
    if hooks is None:
        from ftcore.cli import _recipe

        return _recipe(name_or_path, list(overrides))
    from ftcore.recipe import load_recipe as load

    return load(name_or_path, list(overrides), hooks), hooks


# --- runs ------------------------------------------------------------------------------------


def finished_run(run_dir: str | Path, hooks: Hooks) -> Any:
    """A finished run's ``recipe``, ``head``, ``head_options`` and ``info`` (data info), as
    its exported ``model/`` was trained with (folders of older versions included)."""
    from ftcore.predict import finished_run as read

    return read(Path(run_dir), hooks)


def setup_run(
    recipe: DictConfig | str,
    overrides: Sequence[str] = (),
    *,
    run_dir: str | Path,
    hooks: Hooks | None = None,
    model: bool = True,
    trainer: bool = False,
    save_recipe: bool = False,
    seed: bool = True,
) -> Run:
    """A :class:`Run` set up as ``ftcore run`` sets it up, without fitting: for commands
    such as ``assess`` and ``lr-find``.

    recipe: a validated recipe, or a recipe name or path (loaded with ``overrides``).
    run_dir: the folder the run works in (created). model: also build ``run.module``
    (the head's model in the LightningModule); trainer: also build ``run.trainer`` (the
    checkpointing, logging and plugin callbacks of a real run). save_recipe: write
    ``recipe.yaml`` there. seed: seed everything with the recipe's seed first (and
    apply ``trainer.num_threads``), as ``ftcore run`` does.
    """
    import lightning as L
    import torch

    from ftcore import run as runs
    from ftcore import rundir

    if isinstance(recipe, str):
        recipe, hooks = load_recipe(recipe, overrides, hooks)
    elif overrides:
        raise UserError("setup_run: overrides apply to a recipe name, not a loaded recipe")
    if hooks is None:
        hooks = plugin_hooks()
    if seed and recipe.trainer.num_threads:
        torch.set_num_threads(recipe.trainer.num_threads)
    if seed:
        L.seed_everything(recipe.seed, workers=True, verbose=False)
    run = runs.Run(recipe=recipe, hooks=hooks, run_dir=rundir.create(Path(run_dir)))
    if save_recipe:
        runs.write_recipe(run)
    runs.load_data(run)
    if model or trainer:
        runs.build_module(run)
    if trainer:
        runs.build_trainer(run)
    return run


def run_recipe(
    recipe: DictConfig, hooks: Hooks, *, run_dir: str | Path, resume: bool = False
) -> dict[str, Any]:
    """Run a validated recipe (from :func:`load_recipe`) end to end in ``run_dir``, as
    ``ftcore run --out run_dir`` does: fit, test, export, reports. The summary written to
    ``metrics.json``. ``run_dir`` must be new or empty; resume: continue the interrupted
    run there (``ftcore run --resume``). A signal stops it with
    :class:`ftcore.errors.RunInterrupted`; for commands such as ``ftcore sweep``."""
    from ftcore.run import execute

    return execute(recipe, hooks, out=str(run_dir), resume=resume)


def build_module(run: Run) -> None:
    """Build ``run.module``: the head's model, wrapped by the ``ftcore_transform_model``
    plugins, in ftcore's LightningModule (after :func:`setup_run` with ``model=False``)."""
    from ftcore import run as runs

    runs.build_module(run)


def lightning_module(run: Run, model: torch.nn.Module) -> LightningModule:
    """ftcore's LightningModule around ``model`` with ``run``'s recipe, head and data info
    (e.g. a fresh copy of the pretrained model for a short trial run)."""
    from ftcore.module import FtModule

    return FtModule(model, run.recipe, run.hooks, run.info, head=run.head, options=run.head_options)


def data_module(run: Run, features: dict[str, list[dict]]) -> LightningDataModule:
    """ftcore's resumable DataModule over encoded ``features`` per split, collated by
    ``run``'s head (e.g. a subset of ``run.datamodule.features``)."""
    from ftcore.data.datamodule import Collator, FtDataModule

    collate = Collator(run.head, run.head_options, run.tokenizer, run.info)
    return FtDataModule(features, collate, run.recipe)


def cache_dir(recipe: DictConfig) -> Path:
    """ftcore's cache folder for ``recipe``: ``model.cache_dir``, else ``$FTCORE_CACHE``,
    else ``~/.cache/ftcore`` (converted models, tokenised splits, cached baselines)."""
    from ftcore.models import cache_dir as folder

    return folder(recipe)


def pretrained_fingerprint(run: Run) -> str | None:
    """A hash of what ``run``'s pretrained model sees: the model folder's files, the
    tokenizer, every row of every split, and the encode options (task, max_length, head
    options, data info, plugin and library versions); None when the model is not a folder
    on disk. Key for caching what depends only on the pretrained model and the data (the
    evaluation plugin caches its baselines by it)."""
    from ftcore.data.cache import pretrained_fingerprint as fingerprint

    return fingerprint(run)


def monitor(run: Run) -> tuple[str, str]:
    """``(metric, mode)`` that picks the best checkpoint: the recipe's, else the head's."""
    from ftcore.run import monitor as chosen

    return chosen(run)


# --- rows --------------------------------------------------------------------------------------


def normalizer(steps: Sequence[str]) -> Any:
    """The text normaliser ``data.normalize`` names (a ``str -> str`` function)."""
    from ftcore.data.normalize import normalizer as build

    return build(list(steps))


def text_problem(row: Row, key: str, max_chars: int | None = None) -> str | None:
    """Core's own row check: ``row[key]`` must be non-empty text of at most ``max_chars``."""
    from ftcore.data.prepare import text_problem as problem

    return problem(row, key, max_chars)


def encode_rows(rows: list[Row], run: Any) -> list[dict]:
    """``rows`` encoded by ``run``'s head (a :class:`Run` or a :class:`Predictor`), one
    feature dict per example."""
    from ftcore.data.prepare import encode_split

    return encode_split(rows, run)
