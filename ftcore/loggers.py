"""The run's loggers, from the recipe's ``loggers:`` section, through Lightning's classes.

``loggers:`` absent: ``csv`` (:class:`ftcore.csvlog.RunCSVLogger`, ``logs/``) and
``tensorboard`` (``tensorboard/``). Given: the loggers it lists, each with its options
(``mlflow``: :class:`~lightning.pytorch.loggers.MLFlowLogger`, ``wandb``:
:class:`~lightning.pytorch.loggers.WandbLogger`); ``enabled: false`` or ``null`` turns one
off. Every logger gets the resolved recipe as flat dotted hyperparameters
(:class:`ftcore.hparams.RecipeHyperparams`) and the metrics plugins log until the run
ends; core flushes them after ``ftcore_run_end`` (:func:`close`).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lightning.pytorch import Callback
    from lightning.pytorch.loggers import Logger

    from ftcore.run import Run

NAMES = ("tensorboard", "csv", "mlflow", "wandb")
# logger -> (modules any of which it needs, the pip package to name)
PACKAGES = {
    "tensorboard": (("tensorboard", "tensorboardX"), "tensorboard"),
    "mlflow": (("mlflow",), "mlflow"),
    "wandb": (("wandb",), "wandb"),
}
RUN_ID_TAG = "ftcore.run_id"


def apply_listing(section: Any, data: Any) -> None:
    """A ``loggers:`` mapping turns on exactly the loggers it lists (``section``: the
    validated node, ``data``: the section as written); a ``null`` entry is off."""
    if not isinstance(data, dict):
        return  # absent or null: the schema's defaults (csv and tensorboard)
    for name in NAMES:
        given = data.get(name, None)
        listed = isinstance(given, dict) and given.get("enabled", True) is not False
        section[name].enabled = listed


def enabled(section: Any) -> list[str]:
    """The names of the loggers ``section`` turns on, in :data:`NAMES` order."""
    return [name for name in NAMES if section[name].enabled]


def missing_packages(section: Any) -> list[str]:
    """``loggers.<name>: needs the '<pkg>' package; pip install <pkg>`` for each enabled
    logger whose package is not installed (looked up, not imported)."""
    problems = []
    for name in enabled(section):
        modules, package = PACKAGES.get(name, ((), ""))
        if modules and not any(importlib.util.find_spec(m) for m in modules):
            problems.append(f"loggers.{name}: needs the '{package}' package; pip install {package}")
    return problems


def build(run: Run) -> list[Logger]:
    """Lightning loggers for ``run.recipe.loggers`` (see the module docstring)."""
    builders = {"tensorboard": _tensorboard, "csv": _csv, "mlflow": _mlflow, "wandb": _wandb}
    return [builders[name](run) for name in enabled(run.recipe.loggers)]


def _tensorboard(run: Run) -> Logger:
    from lightning.pytorch.loggers import TensorBoardLogger

    return TensorBoardLogger(run.run_dir, name="tensorboard", version="")


def _csv(run: Run) -> Logger:
    from ftcore.csvlog import RunCSVLogger

    return RunCSVLogger(run.run_dir, name="logs", version="", resume_from=run.resume_from)


def tracking_uri(uri: str | None, run_dir: Path) -> str:
    """MLflow's tracking URI: ``uri`` with a relative local path made absolute (from the
    current folder); None: the file store ``<run_dir>/mlruns``."""
    if not uri:
        return (Path(run_dir) / "mlruns").resolve().as_uri()
    if uri.startswith("file:"):
        path = uri[len("file:") :]
        if path.startswith("//"):  # file:///abs or file://host/...
            return uri
        return Path(path).expanduser().resolve().as_uri()
    if ":" in uri or uri in ("databricks", "databricks-uc"):  # a server or database
        return uri
    return Path(uri).expanduser().resolve().as_uri()


def _mlflow(run: Run) -> Logger:
    from lightning.pytorch.loggers import MLFlowLogger

    cfg, recipe = run.recipe.loggers.mlflow, run.recipe
    uri = tracking_uri(cfg.tracking_uri, run.run_dir)
    if uri.startswith("file:"):
        # MLflow 3 refuses its file store (in "maintenance mode") unless this is set
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    experiment = cfg.experiment_name or recipe.name
    tags = {**dict(cfg.tags), RUN_ID_TAG: str(recipe.get("run_id") or "")}
    tags["ftcore.run_dir"] = str(run.run_dir)
    return MLFlowLogger(
        experiment_name=experiment,
        run_name=cfg.run_name or run.run_dir.name,
        tracking_uri=uri,
        tags=tags,
        run_id=_reachable(uri, lambda: _earlier_mlflow_run(run, uri, experiment)),
    )


def _reachable(uri: str, call: Any) -> Any:
    """``call()``, with MLflow's failure to reach or use the store as one line."""
    from mlflow.exceptions import MlflowException

    from ftcore.errors import UserError

    try:
        return call()
    except MlflowException as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(
            f"loggers.mlflow.tracking_uri: MLflow cannot use {uri}: {first}; start the "
            f"server or fix the URI"
        ) from None


def _earlier_mlflow_run(run: Run, uri: str, experiment: str) -> str | None:
    """Make the experiment if it is missing (quietly, where Lightning would warn); on
    ``--resume``, the MLflow run this run logged to before (tagged with its run id), so
    the resumed run continues it. None: a new MLflow run."""
    from ftcore.run import global_rank

    if global_rank() != 0:
        return None
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        try:
            client.create_experiment(experiment)
        except MlflowException:  # made meanwhile by another run
            pass
        return None
    run_id = run.recipe.get("run_id")
    if run.resume_from is None or not run_id:
        return None
    runs = client.search_runs(
        [found.experiment_id], f"tags.`{RUN_ID_TAG}` = '{run_id}'", max_results=1
    )
    return runs[0].info.run_id if runs else None


def _wandb(run: Run) -> Logger:
    from lightning.pytorch.loggers import WandbLogger

    cfg, recipe = run.recipe.loggers.wandb, run.recipe
    return WandbLogger(
        name=cfg.name or run.run_dir.name,
        save_dir=str(run.run_dir),
        project=cfg.project or recipe.name,
        id=str(recipe.get("run_id") or "") or None,  # --resume continues the same W&B run
        mode=str(getattr(cfg.mode, "value", cfg.mode)),
        entity=cfg.entity,
        group=cfg.group,
        tags=list(cfg.tags),
    )


def callbacks(run: Run) -> list[Callback]:
    """The callbacks that go with the loggers (none without a logger)."""
    if not enabled(run.recipe.loggers):
        return []
    from lightning.pytorch.callbacks import LearningRateMonitor

    from ftcore.hparams import RecipeHyperparams

    return [LearningRateMonitor(logging_interval="step"), RecipeHyperparams(run)]


def close(run: Run) -> None:
    """Flush and close every logger once ``ftcore_run_end`` has run (plugins may log final
    metrics there, e.g. the evaluation plugin's confidence bounds)."""
    trainer = run.trainer
    if trainer is None or not trainer.is_global_zero:
        return
    for logger in trainer.loggers:
        logger.finalize("success")
