"""The classification head, wired into ftcore's hooks.

torch, transformers and torchmetrics are imported inside the hooks so that listing
plugins and validating recipes stays fast.
"""

from __future__ import annotations

from typing import Any

import ftcore
from ftcore.errors import UserError
from ftcore.types import Component, DataInfo, StepOutput
from ftcore_classification import labels as lab
from ftcore_classification.evaluation import (  # noqa: F401 - registers the evaluation hooks
    ftcore_baseline,
    ftcore_error_analysis,
    ftcore_forgetting,
    ftcore_score,
)
from ftcore_classification.schema import ClassificationConfig

TASK = "classification"


@ftcore.hookimpl
def ftcore_components() -> list[Component]:
    return [
        Component(
            kind="head",
            name=TASK,
            schema=ClassificationConfig,
            description="Single- or multi-label text classification (sequence classification head)",
        )
    ]


@ftcore.hookimpl
def ftcore_data_info(task: str, train_rows: list[dict], head_config: Any) -> DataInfo | None:
    if task != TASK:
        return None
    multi, sep = head_config.multi_label, head_config.label_separator
    values = [row.get("label") for row in train_rows]
    names = list(head_config.labels) if head_config.labels else lab.vocabulary(values, multi, sep)
    if len(names) < 2:
        found = f"only the class '{names[0]}'" if names else "no labels"
        raise UserError(
            f"data: the training split has {found}; classification needs at least two "
            f"classes: check data.options.label_column and the data, or list them in head.labels"
        )
    weights = None
    if head_config.class_weights is not None:
        weights = list(head_config.class_weights)
    elif head_config.balanced_weights:
        weights = lab.balanced_weights(values, names, multi, sep)
    extra = {
        "multi_label": multi,
        "label_separator": sep,
        "threshold": head_config.threshold,
        "class_weights": weights,
        "monitor": "val/accuracy",
        "mode": "max",
    }
    return DataInfo(task=TASK, labels=names, extra=extra)


METRICS = ("accuracy", "precision", "recall", "f1")
"""The names of ``ftcore_build_metrics``' collection (all higher-is-better); multi-label adds
``f1_<label>`` per label."""


def logged_metrics(head: Any) -> dict[str, str]:
    """Every metric name this head makes ftcore log during fit -> "min"/"max"."""
    from ftcore.recipe.monitor import head_metrics

    names = dict.fromkeys(METRICS, "max")
    if head.multi_label:
        per_label = [f"f1_{name}" for name in head.labels] if head.labels else ["f1_*"]
        names.update(dict.fromkeys(per_label, "max"))
    return head_metrics(names)


@ftcore.hookimpl
def ftcore_check_recipe(recipe: Any) -> list[str]:
    if recipe.task != TASK:
        return []
    from ftcore.recipe.monitor import monitor_problems

    head, problems = recipe.head, []
    if not 0 <= head.label_smoothing < 1:
        problems.append(
            f"head.label_smoothing: must be in [0, 1) (got {head.label_smoothing!r}); "
            f"e.g. head.label_smoothing=0.1, or 0 for none"
        )
    if not 0 <= head.threshold <= 1:
        problems.append(
            f"head.threshold: must be a probability in [0, 1] (got {head.threshold!r}); "
            f"e.g. head.threshold=0.5"
        )
    weights = head.class_weights
    if weights is not None and (any(w < 0 for w in weights) or not any(w > 0 for w in weights)):
        problems.append(
            f"head.class_weights: must be 0 or more, and at least one above 0 (got "
            f"{list(weights)}); e.g. head.class_weights=[1.0, 3.0]"
        )
    if weights is not None and head.labels and len(weights) != len(head.labels):
        problems.append("head.class_weights: needs one weight per label in head.labels")
    default = ("val/accuracy", "max")  # as ftcore_data_info's extra says
    problems += monitor_problems(recipe.checkpoint, TASK, logged_metrics(head), default)
    return problems


@ftcore.hookimpl
def ftcore_check_row(task: str, row: dict, info: DataInfo) -> str | None:
    if task != TASK:
        return None
    return lab.problem(row.get("label"), info.labels, info.extra["multi_label"], _sep(info))


def _sep(info: DataInfo) -> str:
    return info.extra.get("label_separator", "|")


@ftcore.hookimpl
def ftcore_encode(
    task: str, rows: list[dict], tokenizer: Any, max_length: int, info: DataInfo, head_config: Any
) -> dict[str, list] | None:
    if task != TASK:
        return None
    encoded = dict(tokenizer([r["text"] for r in rows], truncation=True, max_length=max_length))
    if rows and "label" in rows[0]:
        multi = info.extra["multi_label"]
        encoded["labels"] = [lab.encode(r["label"], info.labels, multi, _sep(info)) for r in rows]
    return encoded


@ftcore.hookimpl
def ftcore_collate(task: str, features: list[dict], tokenizer: Any, info: DataInfo) -> Any:
    if task != TASK:
        return None
    batch = tokenizer.pad(features, return_tensors="pt")
    if "labels" in batch and info.extra["multi_label"]:
        batch["labels"] = batch["labels"].float()
    return batch


@ftcore.hookimpl
def ftcore_build_model(
    task: str, model_path: str, info: DataInfo, head_config: Any, trust_remote_code: bool
) -> Any:
    if task != TASK:
        return None
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging

    problem = (
        "multi_label_classification" if info.extra["multi_label"] else "single_label_classification"
    )
    verbosity = logging.get_verbosity()
    logging.set_verbosity_error()  # "newly initialized head" is expected here
    logging.disable_progress_bar()
    try:
        return AutoModelForSequenceClassification.from_pretrained(
            model_path,
            num_labels=info.num_labels,
            problem_type=problem,
            id2label=dict(enumerate(info.labels)),
            label2id={name: i for i, name in enumerate(info.labels)},
            trust_remote_code=trust_remote_code,
        )
    finally:
        logging.set_verbosity(verbosity)
        logging.enable_progress_bar()


def _inputs(batch: Any) -> dict:
    return {k: v for k, v in batch.items() if k != "labels"}


@ftcore.hookimpl
def ftcore_step(task: str, model: Any, batch: Any, info: DataInfo, head_config: Any) -> Any:
    if task != TASK:
        return None
    import torch.nn.functional as F

    logits = model(**_inputs(batch)).logits
    target = batch.get("labels")
    multi = info.extra["multi_label"]
    probs = logits.float().sigmoid() if multi else logits.float().softmax(-1)
    loss = None
    if target is not None:
        weight = _weights(info, logits)
        if multi:
            loss = F.binary_cross_entropy_with_logits(logits.float(), target, pos_weight=weight)
        else:
            loss = F.cross_entropy(
                logits.float(), target, weight=weight, label_smoothing=head_config.label_smoothing
            )
        target = target.long()
    return StepOutput(loss=loss, preds=probs, target=target, extra={"logits": logits})


def _weights(info: DataInfo, logits: Any) -> Any:
    weights = info.extra.get("class_weights")
    if weights is None:
        return None
    import torch

    return torch.tensor(weights, dtype=torch.float32, device=logits.device)


@ftcore.hookimpl
def ftcore_build_metrics(task: str, info: DataInfo, head_config: Any) -> Any:
    if task != TASK:
        return None
    from torchmetrics import ClasswiseWrapper, MetricCollection
    from torchmetrics import classification as C

    n = info.num_labels
    if info.extra["multi_label"]:
        t = head_config.threshold
        return MetricCollection(
            {
                "accuracy": C.MultilabelAccuracy(num_labels=n, threshold=t),
                "precision": C.MultilabelPrecision(num_labels=n, threshold=t, average="macro"),
                "recall": C.MultilabelRecall(num_labels=n, threshold=t, average="macro"),
                "f1": C.MultilabelF1Score(num_labels=n, threshold=t, average="macro"),
                "f1_per_label": ClasswiseWrapper(
                    C.MultilabelF1Score(num_labels=n, threshold=t, average=None),
                    labels=list(info.labels),
                    prefix="f1_",
                ),
            }
        )
    return MetricCollection(
        {
            "accuracy": C.MulticlassAccuracy(num_classes=n, average="micro"),
            "precision": C.MulticlassPrecision(num_classes=n, average="macro"),
            "recall": C.MulticlassRecall(num_classes=n, average="macro"),
            "f1": C.MulticlassF1Score(num_classes=n, average="macro"),
        }
    )


@ftcore.hookimpl
def ftcore_decode(task: str, output: Any, info: DataInfo) -> list[dict] | None:
    if task != TASK:
        return None
    rows = output.preds.detach().cpu().tolist()
    names = info.labels
    if info.extra["multi_label"]:
        threshold = info.extra.get("threshold", 0.5)
        return [
            {
                "labels": [n for n, p in zip(names, ps) if p >= threshold],
                "probabilities": dict(zip(names, ps)),
            }
            for ps in rows
        ]
    return [
        {
            "label": names[max(range(len(ps)), key=ps.__getitem__)],
            "probabilities": dict(zip(names, ps)),
        }
        for ps in rows
    ]
