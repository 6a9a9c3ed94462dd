"""The regression head, wired into ftcore's hooks.

Targets travel through the data pipeline in original units. The model predicts
standardised targets (when ``head.standardize`` is on); ``ftcore_step`` computes the loss
in that space and returns predictions and targets in original units, so metrics, test
predictions and ``ftcore predict`` all speak the data's units. Export folds the inverse
standardisation into the output layer (see :mod:`ftcore_regression.fold`).

torch, transformers and torchmetrics are imported inside the hooks.
"""

from __future__ import annotations

import copy
from typing import Any

import ftcore
from ftcore.errors import UserError
from ftcore.types import Component, DataInfo, StepOutput
from ftcore_regression import targets as tg
from ftcore_regression.evaluation import (  # noqa: F401 - registers the evaluation hooks
    ftcore_baseline,
    ftcore_error_analysis,
    ftcore_forgetting,
    ftcore_score,
)
from ftcore_regression.schema import RegressionConfig

TASK = "regression"


@ftcore.hookimpl
def ftcore_components() -> list[Component]:
    return [
        Component(
            kind="head",
            name=TASK,
            schema=RegressionConfig,
            description="Single- or multi-target regression of numbers from text",
        )
    ]


METRIC_MODES = {
    "mse": "min",
    "rmse": "min",
    "mae": "min",
    "r2": "max",
    "pearson": "max",
    "spearman": "max",
}
"""The names of ``ftcore_build_metrics``' collection (metrics.NAMES) -> best "min"/"max"."""


@ftcore.hookimpl
def ftcore_check_recipe(recipe: Any) -> list[str]:
    if recipe.task != TASK:
        return []
    from ftcore.recipe.monitor import head_metrics, monitor_problems

    head, problems = recipe.head, []
    if head.num_targets is not None and head.num_targets < 1:
        problems.append("head.num_targets: must be at least 1, or null to infer it")
    if head.huber_delta <= 0:
        problems.append("head.huber_delta: must be positive")
    default = ("val/pearson", "max")  # as ftcore_data_info's extra says
    problems += monitor_problems(recipe.checkpoint, TASK, head_metrics(METRIC_MODES), default)
    return problems


@ftcore.hookimpl
def ftcore_data_info(task: str, train_rows: list[dict], head_config: Any) -> DataInfo | None:
    if task != TASK:
        return None
    sep = head_config.target_separator
    values = [row.get("label") for row in train_rows]
    count = head_config.num_targets or tg.infer_count(values, sep)
    stats = tg.statistics(values, count, sep)
    extra = {
        "num_targets": count,
        "standardize": bool(head_config.standardize),
        "mean": stats["mean"],
        "std": stats["std"],
        "target_separator": sep,
        "monitor": "val/pearson",
        "mode": "max",
    }
    return DataInfo(task=TASK, extra=extra)


@ftcore.hookimpl
def ftcore_check_row(task: str, row: dict, info: DataInfo) -> str | None:
    if task != TASK:
        return None
    return tg.problem(row.get("label"), info.extra["num_targets"], _sep(info))


def _sep(info: DataInfo) -> str:
    return info.extra.get("target_separator", "|")


@ftcore.hookimpl
def ftcore_encode(
    task: str, rows: list[dict], tokenizer: Any, max_length: int, info: DataInfo, head_config: Any
) -> dict[str, list] | None:
    if task != TASK:
        return None
    encoded = dict(tokenizer([r["text"] for r in rows], truncation=True, max_length=max_length))
    if rows and "label" in rows[0]:
        encoded["labels"] = [tg.parse(r["label"], _sep(info)) for r in rows]
    return encoded


@ftcore.hookimpl
def ftcore_collate(task: str, features: list[dict], tokenizer: Any, info: DataInfo) -> Any:
    if task != TASK:
        return None
    import torch

    labels = [f["labels"] for f in features if "labels" in f]
    inputs = [{k: v for k, v in f.items() if k != "labels"} for f in features]
    batch = tokenizer.pad(inputs, return_tensors="pt")
    if labels:
        batch["labels"] = torch.tensor(labels, dtype=torch.float32)
    return batch


@ftcore.hookimpl
def ftcore_build_model(
    task: str, model_path: str, info: DataInfo, head_config: Any, trust_remote_code: bool
) -> Any:
    if task != TASK:
        return None
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging

    from ftcore_regression import fold

    verbosity = logging.get_verbosity()
    logging.set_verbosity_error()  # "newly initialized head" is expected here
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            model_path,
            num_labels=info.extra["num_targets"],
            problem_type="regression",
            trust_remote_code=trust_remote_code,
        )
    finally:
        logging.set_verbosity(verbosity)
    fold.unfold(model)  # a model exported by this head predicts original units
    why = fold.can_fold(model, info.extra["num_targets"])
    if info.extra["standardize"] and why is not None:
        raise UserError(
            f"head.standardize: {why}, so the exported model could not predict original "
            f"units; set head.standardize=false for this model"
        )
    return model


def _scale(info: DataInfo, like: Any) -> tuple[Any, Any]:
    """Mean and std tensors (0 and 1 when standardisation is off)."""
    import torch

    n = info.extra["num_targets"]
    if not info.extra["standardize"]:
        return torch.zeros(n, device=like.device), torch.ones(n, device=like.device)
    mean = torch.tensor(info.extra["mean"], dtype=torch.float32, device=like.device)
    return mean, torch.tensor(info.extra["std"], dtype=torch.float32, device=like.device)


def loss_function(head_config: Any) -> Any:
    """The configured elementwise-mean loss ``f(prediction, target)``."""
    import functools

    import torch.nn.functional as F

    name = str(getattr(head_config.loss, "value", head_config.loss))
    delta = float(head_config.huber_delta)
    return {
        "mse": F.mse_loss,
        "huber": functools.partial(F.huber_loss, delta=delta),
        "smooth_l1": functools.partial(F.smooth_l1_loss, beta=delta),
        "l1": F.l1_loss,
    }[name]


@ftcore.hookimpl
def ftcore_step(task: str, model: Any, batch: Any, info: DataInfo, head_config: Any) -> Any:
    if task != TASK:
        return None
    z = model(**{k: v for k, v in batch.items() if k != "labels"}).logits.float()
    mean, std = _scale(info, z)
    preds, target, loss = z * std + mean, batch.get("labels"), None
    if target is not None:
        loss = loss_function(head_config)(z, (target - mean) / std)
    if info.extra["num_targets"] == 1:
        preds = preds.squeeze(-1)
        target = target.squeeze(-1) if target is not None else None
    return StepOutput(loss=loss, preds=preds, target=target, extra={"standardized": z})


@ftcore.hookimpl
def ftcore_build_metrics(task: str, info: DataInfo, head_config: Any) -> Any:
    if task != TASK:
        return None
    from ftcore_regression.metrics import build_metrics

    return build_metrics(info.extra["num_targets"])


@ftcore.hookimpl
def ftcore_decode(task: str, output: Any, info: DataInfo) -> list[dict] | None:
    if task != TASK:
        return None
    values = output.preds.detach().float().cpu().tolist()
    if info.extra["num_targets"] == 1:
        return [{"value": v} for v in values]
    return [{"values": v} for v in values]


@ftcore.hookimpl(trylast=True)
def ftcore_export_model(model: Any, task: str, info: DataInfo, recipe: Any, run_dir: str) -> Any:
    """Fold the inverse standardisation into a copy of the model (after adapters merged)."""
    if task != TASK or not info.extra["standardize"]:
        return None
    from ftcore_regression import fold

    exported = copy.deepcopy(model)
    fold.fold(exported, info.extra["mean"], info.extra["std"])
    return exported
