"""The resolved recipe as hyperparameters of every logger (flat dotted keys)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning.pytorch import Callback

if TYPE_CHECKING:
    from lightning.pytorch.loggers import Logger

    from ftcore.run import Run


def hyperparameters(recipe: Any) -> dict[str, Any]:
    """The resolved recipe as flat dotted keys (``optim.lr``); lists and nulls as JSON
    text, empty sections left out."""
    from omegaconf import OmegaConf

    tree = OmegaConf.to_container(recipe, resolve=True, enum_to_str=True)
    tree.pop("versions", None)
    return _flat(tree)


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat(value, f"{path}."))
        elif isinstance(value, (bool, int, float, str)):
            out[path] = value
        else:
            out[path] = json.dumps(value, default=str)
    return out


def has_hyperparameters(logger: Logger, resumed: bool) -> bool:
    """Whether ``logger`` holds the recipe already (from before a ``--resume``): logging
    it again would add a second hparams record (TensorBoard) or is not needed."""
    from lightning.pytorch.loggers import CSVLogger, MLFlowLogger, TensorBoardLogger

    if isinstance(logger, CSVLogger):
        return False  # kept in memory and rewritten to hparams.yaml at every save
    if isinstance(logger, TensorBoardLogger):
        path = Path(logger.log_dir) / "hparams.yaml"
        return path.is_file() and path.read_text(encoding="utf-8").strip() not in ("", "{}")
    if isinstance(logger, MLFlowLogger):
        return bool(logger.experiment.get_run(logger.run_id).data.params)
    return resumed


class RecipeHyperparams(Callback):
    """Logs the resolved recipe as hyperparameters to every logger as fitting starts (after
    ``optim.lr: auto`` was resolved), once per logger across ``--resume``."""

    def __init__(self, run: Run) -> None:
        self.run = run

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.is_global_zero:
            return
        params = hyperparameters(self.run.recipe)
        resumed = self.run.resume_from is not None
        for logger in trainer.loggers:
            if not has_hyperparameters(logger, resumed):
                logger.log_hyperparams(params)
