"""The sample_predictions Lightning callback (imported only when a recipe enables it)."""

from __future__ import annotations

import json
from typing import Any

import torch
from lightning.pytorch import Callback
from lightning.pytorch.loggers import TensorBoardLogger

from ftcore_callbacks.samples import due, markdown_table

TAG = "sample_predictions"


class SamplePredictions(Callback):
    """After every n-th validation epoch, predicts the first validation examples and logs
    them as a Markdown table to TensorBoard (tag ``sample_predictions``), and optionally to
    ``sample_predictions.jsonl``. Predictions go through the head's ``step`` and ``decode``
    (``run.head``), so any head works."""

    def __init__(self, options: Any, run: Any) -> None:
        self.num_samples = int(options.num_samples)
        self.every_n_epochs = int(options.every_n_epochs)
        self.max_chars = int(options.max_chars)
        self.write_jsonl = bool(options.write_jsonl)
        self.run = run
        self.last_logged_epoch = -1

    @property
    def state_key(self) -> str:
        return "ftcore_sample_predictions"

    def state_dict(self) -> dict[str, int]:
        return {"last_logged_epoch": self.last_logged_epoch}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        self.last_logged_epoch = int(state_dict["last_logged_epoch"])

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        epoch = trainer.current_epoch
        if trainer.sanity_checking or not due(epoch, self.every_n_epochs, self.last_logged_epoch):
            return
        self.last_logged_epoch = epoch
        if not trainer.is_global_zero:
            return
        samples = self.predict(pl_module)
        text = markdown_table(samples, self.max_chars)
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.experiment.add_text(TAG, text, global_step=trainer.global_step)
        if self.write_jsonl:
            record = {"epoch": epoch, "step": trainer.global_step, "samples": samples}
            with open(self.run.run_dir / f"{TAG}.jsonl", "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")

    def predict(self, pl_module: Any) -> list[dict]:
        """``{"text", "target", "prediction"}`` for the first validation examples."""
        run, options = self.run, self.run.head_options
        rows = run.data.rows["validation"][: self.num_samples]
        features = run.datamodule.features["validation"][: self.num_samples]
        if not rows:
            return []
        batch = run.datamodule.collate(features)
        batch = {k: v.to(pl_module.device) if hasattr(v, "to") else v for k, v in batch.items()}
        with torch.no_grad():
            output = run.head.step(
                model=pl_module.model, batch=batch, info=run.info, options=options, stage="predict"
            )
        decoded = run.head.decode(output=output, info=run.info, options=options)
        key = run.head.text_key(options=options)
        return [
            {"text": str(row.get(key, "")), "target": _target(row, options), "prediction": pred}
            for row, pred in zip(rows, decoded)
        ]


def _target(row: dict, options: Any) -> Any:
    """The row's label, or (a generation head's) response text."""
    key = getattr(options, "response_key", None) if "label" not in row else "label"
    return row.get(key, "") if key else ""
