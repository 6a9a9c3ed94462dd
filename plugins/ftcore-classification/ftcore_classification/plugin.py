"""The classification head: one :class:`ClassificationHead`, declared to ftcore.

torch, transformers and torchmetrics are imported inside the methods so that listing
plugins and validating recipes stays fast.
"""

from __future__ import annotations

from typing import Any

import ftcore
from ftcore.api import BaseHead, Component, DataInfo, Monitor, Row, StepOutput, UserError
from ftcore_classification import evaluation
from ftcore_classification import labels as lab
from ftcore_classification.schema import ClassificationConfig

TASK = "classification"
ABOUT = "Single- or multi-label text classification (sequence classification head)"

METRICS = ("accuracy", "precision", "recall", "f1")
"""The names of the head's metric collection (all higher-is-better); multi-label adds
``f1_<label>`` per label."""


def logged_metrics(head: ClassificationConfig) -> dict[str, str]:
    """Every metric name the head's collection has (no stage prefix) -> "min"/"max"."""
    names = dict.fromkeys(METRICS, "max")
    if head.multi_label:
        per_label = [f"f1_{name}" for name in head.labels] if head.labels else ["f1_*"]
        names.update(dict.fromkeys(per_label, "max"))
    return names


class ClassificationHead(BaseHead[ClassificationConfig]):
    """Single- or multi-label text classification with a sequence-classification model."""

    # --- data ---------------------------------------------------------------------------

    def data_info(self, *, rows: list[Row], options: ClassificationConfig) -> DataInfo:
        multi, sep = options.multi_label, options.label_separator
        values = [row.get("label") for row in rows]
        names = list(options.labels) if options.labels else lab.vocabulary(values, multi, sep)
        if len(names) < 2:
            found = f"only the class '{names[0]}'" if names else "no labels"
            raise UserError(
                f"data: the training split has {found}; classification needs at least two "
                f"classes: check data.options.label_column and the data, or list them in "
                f"head.labels"
            )
        weights = None
        if options.class_weights is not None:
            weights = list(options.class_weights)
        elif options.balanced_weights:
            weights = lab.balanced_weights(values, names, multi, sep)
        return DataInfo(task=TASK, labels=names, extra={"class_weights": weights})

    def check_row(self, *, row: Row, info: DataInfo, options: ClassificationConfig) -> str | None:
        return lab.problem(
            row.get("label"), info.labels, options.multi_label, options.label_separator
        )

    def encode(
        self,
        *,
        rows: list[Row],
        tokenizer: Any,
        max_length: int,
        info: DataInfo,
        options: ClassificationConfig,
    ) -> dict[str, list]:
        encoded = dict(tokenizer([r["text"] for r in rows], truncation=True, max_length=max_length))
        if rows and "label" in rows[0]:
            multi, sep = options.multi_label, options.label_separator
            encoded["labels"] = [lab.encode(r["label"], info.labels, multi, sep) for r in rows]
        return encoded

    def collate(
        self, *, features: list[dict], tokenizer: Any, info: DataInfo, options: ClassificationConfig
    ) -> Any:
        batch = tokenizer.pad(features, return_tensors="pt")
        if "labels" in batch and options.multi_label:
            batch["labels"] = batch["labels"].float()
        return batch

    # --- model --------------------------------------------------------------------------

    def build_model(
        self,
        *,
        model_path: str,
        info: DataInfo,
        options: ClassificationConfig,
        trust_remote_code: bool,
    ) -> Any:
        from transformers import AutoModelForSequenceClassification
        from transformers.utils import logging

        multi = options.multi_label
        problem = "multi_label_classification" if multi else "single_label_classification"
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

    def step(
        self, *, model: Any, batch: Any, info: DataInfo, options: ClassificationConfig, stage: str
    ) -> StepOutput:
        import torch.nn.functional as F

        logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
        target = batch.get("labels")
        multi = options.multi_label
        probs = logits.float().sigmoid() if multi else logits.float().softmax(-1)
        loss = None
        if target is not None:
            weight = _weights(info, logits)
            if multi:
                loss = F.binary_cross_entropy_with_logits(logits.float(), target, pos_weight=weight)
            else:
                loss = F.cross_entropy(
                    logits.float(), target, weight=weight, label_smoothing=options.label_smoothing
                )
            target = target.long()
        return StepOutput(loss=loss, preds=probs, target=target, extra={"logits": logits})

    def metrics(self, *, info: DataInfo, options: ClassificationConfig) -> Any:
        from torchmetrics import ClasswiseWrapper, MetricCollection
        from torchmetrics import classification as C

        n = info.num_labels
        if options.multi_label:
            t = options.threshold
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

    def decode(
        self, *, output: StepOutput, info: DataInfo, options: ClassificationConfig
    ) -> list[dict]:
        rows, names = output.preds.detach().cpu().tolist(), info.labels
        if options.multi_label:
            return [
                {
                    "labels": [n for n, p in zip(names, ps) if p >= options.threshold],
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

    def monitor(self, *, options: ClassificationConfig) -> Monitor:
        return Monitor("val/accuracy", "max", logged_metrics(options))

    def check(self, *, recipe: Any, options: ClassificationConfig) -> list[str]:
        head, problems = options, []
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
        return problems

    # --- evaluation ---------------------------------------------------------------------

    def score(
        self, *, predictions: list[Row], info: DataInfo, options: ClassificationConfig
    ) -> dict[str, float]:
        return evaluation.score(predictions, info, options)

    def baseline(self, *, run: Any, options: ClassificationConfig) -> dict[str, list[Row]]:
        return evaluation.baselines(run)

    def error_analysis(
        self,
        *,
        predictions: list[Row],
        rows: list[Row],
        info: DataInfo,
        options: ClassificationConfig,
        out_dir: str,
    ) -> list[Any]:
        return evaluation.error_analysis(predictions, rows, info, options, out_dir)

    def forgetting(self, *, run: Any, model: Any, options: ClassificationConfig) -> dict[str, Any]:
        return evaluation.forgetting(run, model)


def _weights(info: DataInfo, logits: Any) -> Any:
    weights = info.extra.get("class_weights")
    if weights is None:
        return None
    import torch

    return torch.tensor(weights, dtype=torch.float32, device=logits.device)


@ftcore.hookimpl
def ftcore_components() -> list[Component]:
    head = ClassificationHead()
    return [
        Component(kind="head", name=TASK, schema=ClassificationConfig, description=ABOUT, impl=head)
    ]
