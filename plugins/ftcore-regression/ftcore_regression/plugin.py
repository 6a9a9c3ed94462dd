"""The regression head: one :class:`RegressionHead`, declared to ftcore.

Targets travel through the data pipeline in original units. The model predicts
standardised targets (when ``head.standardize`` is on); ``step`` computes the loss in that
space and returns predictions and targets in original units, so metrics, test predictions
and ``ftcore predict`` all speak the data's units. ``export`` folds the inverse
standardisation into the output layer (see :mod:`ftcore_regression.fold`).

torch, transformers and torchmetrics are imported inside the methods.
"""

from __future__ import annotations

import copy
from typing import Any

import ftcore
from ftcore.api import BaseHead, Component, DataInfo, Monitor, Row, StepOutput, UserError
from ftcore_regression import evaluation
from ftcore_regression import targets as tg
from ftcore_regression.schema import RegressionConfig

TASK = "regression"
ABOUT = "Single- or multi-target regression of numbers from text"

METRIC_MODES = {
    "mse": "min",
    "rmse": "min",
    "mae": "min",
    "r2": "max",
    "pearson": "max",
    "spearman": "max",
}
"""The names of the head's metric collection (metrics.NAMES) -> best "min"/"max"."""


def _scale(info: DataInfo, options: RegressionConfig, like: Any) -> tuple[Any, Any]:
    """Mean and std tensors (0 and 1 when standardisation is off)."""
    import torch

    n = info.extra["num_targets"]
    if not options.standardize:
        return torch.zeros(n, device=like.device), torch.ones(n, device=like.device)
    mean = torch.tensor(info.extra["mean"], dtype=torch.float32, device=like.device)
    return mean, torch.tensor(info.extra["std"], dtype=torch.float32, device=like.device)


def loss_function(head_config: RegressionConfig) -> Any:
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


class RegressionHead(BaseHead[RegressionConfig]):
    """Single- or multi-target regression of numbers from text."""

    # --- data ---------------------------------------------------------------------------

    def data_info(self, *, rows: list[Row], options: RegressionConfig) -> DataInfo:
        sep = options.target_separator
        values = [row.get("label") for row in rows]
        count = options.num_targets or tg.infer_count(values, sep)
        stats = tg.statistics(values, count, sep)
        extra = {"num_targets": count, "mean": stats["mean"], "std": stats["std"]}
        return DataInfo(task=TASK, extra=extra)

    def check_row(self, *, row: Row, info: DataInfo, options: RegressionConfig) -> str | None:
        return tg.problem(row.get("label"), info.extra["num_targets"], options.target_separator)

    def encode(
        self,
        *,
        rows: list[Row],
        tokenizer: Any,
        max_length: int,
        info: DataInfo,
        options: RegressionConfig,
    ) -> dict[str, list]:
        encoded = dict(tokenizer([r["text"] for r in rows], truncation=True, max_length=max_length))
        if rows and "label" in rows[0]:
            encoded["labels"] = [tg.parse(r["label"], options.target_separator) for r in rows]
        return encoded

    def collate(
        self, *, features: list[dict], tokenizer: Any, info: DataInfo, options: RegressionConfig
    ) -> Any:
        import torch

        labels = [f["labels"] for f in features if "labels" in f]
        inputs = [{k: v for k, v in f.items() if k != "labels"} for f in features]
        batch = tokenizer.pad(inputs, return_tensors="pt")
        if labels:
            batch["labels"] = torch.tensor(labels, dtype=torch.float32)
        return batch

    # --- model --------------------------------------------------------------------------

    def build_model(
        self, *, model_path: str, info: DataInfo, options: RegressionConfig, trust_remote_code: bool
    ) -> Any:
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
        if options.standardize and why is not None:
            raise UserError(
                f"head.standardize: {why}, so the exported model could not predict original "
                f"units; set head.standardize=false for this model"
            )
        return model

    def step(
        self, *, model: Any, batch: Any, info: DataInfo, options: RegressionConfig, stage: str
    ) -> StepOutput:
        z = model(**{k: v for k, v in batch.items() if k != "labels"}).logits.float()
        mean, std = _scale(info, options, z)
        preds, target, loss = z * std + mean, batch.get("labels"), None
        if target is not None:
            loss = loss_function(options)(z, (target - mean) / std)
        if info.extra["num_targets"] == 1:
            preds = preds.squeeze(-1)
            target = target.squeeze(-1) if target is not None else None
        return StepOutput(loss=loss, preds=preds, target=target, extra={"standardized": z})

    def metrics(self, *, info: DataInfo, options: RegressionConfig) -> Any:
        from ftcore_regression.metrics import build_metrics

        return build_metrics(info.extra["num_targets"])

    def decode(
        self, *, output: StepOutput, info: DataInfo, options: RegressionConfig
    ) -> list[dict]:
        values = output.preds.detach().float().cpu().tolist()
        if info.extra["num_targets"] == 1:
            return [{"value": v} for v in values]
        return [{"values": v} for v in values]

    def monitor(self, *, options: RegressionConfig) -> Monitor:
        return Monitor("val/pearson", "max", METRIC_MODES)

    def check(self, *, recipe: Any, options: RegressionConfig) -> list[str]:
        problems = []
        if options.num_targets is not None and options.num_targets < 1:
            problems.append("head.num_targets: must be at least 1, or null to infer it")
        if options.huber_delta <= 0:
            problems.append("head.huber_delta: must be positive")
        return problems

    def export(self, *, model: Any, info: DataInfo, options: RegressionConfig, run: Any) -> Any:
        """Fold the inverse standardisation into a copy of the model (after adapters merged)."""
        if not options.standardize:
            return model
        from ftcore_regression import fold

        exported = copy.deepcopy(model)
        fold.fold(exported, info.extra["mean"], info.extra["std"])
        return exported

    # --- evaluation ---------------------------------------------------------------------

    def score(
        self, *, predictions: list[Row], info: DataInfo, options: RegressionConfig
    ) -> dict[str, float]:
        return evaluation.score(predictions)

    def baseline(self, *, run: Any, options: RegressionConfig) -> dict[str, list[Row]]:
        return evaluation.baselines(run)

    def error_analysis(
        self,
        *,
        predictions: list[Row],
        rows: list[Row],
        info: DataInfo,
        options: RegressionConfig,
        out_dir: str,
    ) -> list[Any]:
        return evaluation.error_analysis(predictions, rows, info, out_dir)

    def forgetting(self, *, run: Any, model: Any, options: RegressionConfig) -> dict[str, Any]:
        return evaluation.forgetting(run, model)


@ftcore.hookimpl
def ftcore_components() -> list[Component]:
    head = RegressionHead()
    return [
        Component(kind="head", name=TASK, schema=RegressionConfig, description=ABOUT, impl=head)
    ]
