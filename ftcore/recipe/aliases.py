"""Where a key from another tool, or a core key in the wrong section, belongs.

An unknown recipe key is looked up by its last part, at any depth; only when neither
table knows it does difflib's did-you-mean (the closest key of the same section) apply:

1. :data:`FOREIGN`: names users bring from Hugging Face ``TrainingArguments``, Lightning's
   ``Trainer`` and common scripts (``learning_rate``, ``num_train_epochs``,
   ``accumulate_grad_batches``...) -> the ftcore key that does the same;
2. a core key written in another section (``max_epochs`` at the top level,
   ``optim.batch_size``, ``trainer.seed``) -> where the schema has it, when only one
   section has a key of that name.

So ``learning_rate=1e-4`` and ``trainer.accumulate_grad_batches=4`` are reported with
``(did you mean 'optim.lr'?)`` and ``(did you mean 'optim.accumulate'?)``.
"""

from __future__ import annotations

import dataclasses
import functools
import typing

FOREIGN: dict[str, str] = {
    # model
    "model_name_or_path": "model.name",
    "pretrained_model_name_or_path": "model.name",
    "model_name": "model.name",
    "model_id": "model.name",
    # data
    "per_device_train_batch_size": "data.batch_size",
    "train_batch_size": "data.batch_size",
    "per_device_eval_batch_size": "data.eval_batch_size",
    "eval_batch_size": "data.eval_batch_size",
    "max_seq_length": "data.max_length",
    "max_seq_len": "data.max_length",
    "max_len": "data.max_length",
    "model_max_length": "data.max_length",
    "dataloader_num_workers": "data.num_workers",
    "dataset": "data.source",
    "dataset_name": "data.source",
    # optim
    "learning_rate": "optim.lr",
    "accumulate_grad_batches": "optim.accumulate",
    "gradient_accumulation_steps": "optim.accumulate",
    "gradient_clip_val": "optim.grad_clip",
    "max_grad_norm": "optim.grad_clip",
    "lr_scheduler_type": "optim.schedule",
    "lr_scheduler": "optim.schedule",
    "scheduler": "optim.schedule",
    "optimizer_type": "optim.optimizer",
    # trainer
    "num_train_epochs": "trainer.max_epochs",
    "epochs": "trainer.max_epochs",
    "num_epochs": "trainer.max_epochs",
    "fp16": "trainer.precision",
    "bf16": "trainer.precision",
    "gpus": "trainer.devices",
    "num_gpus": "trainer.devices",
    "logging_steps": "trainer.log_every_n_steps",
    "enable_progress_bar": "trainer.progress_bar",
    "full_determinism": "trainer.deterministic",
    "torch_compile": "trainer.compile",
    # seed, checkpoints, output
    "random_seed": "seed",
    "data_seed": "seed",
    "save_total_limit": "checkpoint.save_top_k",
    "save_steps": "checkpoint.every_n_steps",
    "metric_for_best_model": "checkpoint.monitor",
    "output_dir": "output.root",
    "default_root_dir": "output.root",
}
"""Foreign key name (last part of the path) -> the ftcore key to use instead."""


@functools.cache
def core_keys() -> dict[str, str]:
    """Last part -> dotted path, for every core schema key whose last part is unique."""
    from ftcore.recipe.schema import RecipeConfig

    seen: dict[str, list[str]] = {}

    def walk(schema: type, prefix: str) -> None:
        hints = typing.get_type_hints(schema)
        for f in dataclasses.fields(schema):
            if dataclasses.is_dataclass(hints[f.name]):
                walk(hints[f.name], f"{prefix}{f.name}.")
            else:
                seen.setdefault(f.name, []).append(f"{prefix}{f.name}")

    walk(RecipeConfig, "")
    return {name: paths[0] for name, paths in seen.items() if len(paths) == 1}


def _other(path: str, target: str | None) -> str | None:
    return target if target and target != path else None


def foreign(path: str) -> str | None:
    """The ftcore key for a name from another tool at dotted ``path``, or None."""
    leaf = path.rsplit(".", 1)[-1]
    return _other(path, FOREIGN.get(leaf) or FOREIGN.get(leaf.lower()))


def misplaced(path: str) -> str | None:
    """Where the schema has a core key written at the wrong ``path``, or None."""
    return _other(path, core_keys().get(path.rsplit(".", 1)[-1]))


def hint(path: str, names: list[str]) -> str:
    """`` (did you mean 'x'?)`` for an unknown key at dotted ``path`` whose section has the
    keys ``names``: a foreign name's ftcore key, else where the schema has a core key of
    that name, else the closest key of the section (difflib); ``""`` if none."""
    from ftcore.errors import did_you_mean

    target = foreign(path) or misplaced(path)
    if target:
        return f" (did you mean '{target}'?)"
    parent, _, leaf = path.rpartition(".")
    return did_you_mean(leaf, names, f"{parent}." if parent else "")
