"""Helpers shared by ftcore's own tests (not for plugin authors: those are in
``ftcore_devkit.testing``). Import as ``from tests.helpers import ...``: pytest puts the
repository root on ``sys.path`` (``pythonpath = ["."]`` in pyproject.toml)."""

from __future__ import annotations

import csv
import dataclasses
import typing
from pathlib import Path
from typing import Any

from ftcore_devkit.testing import MemoryDataset, build_hooks, make_rows, tiny_splits


def memory_hooks(*plugins: object) -> Any:
    """The installed plugins, a memory dataset of ``tiny_splits(train=40, validation=8,
    test=8)`` (5 steps an epoch at batch size 8) and ``plugins``: the run and resume tests'."""
    return build_hooks([MemoryDataset(tiny_splits(train=40, validation=8, test=8)), *plugins])


def write_csv(path: Path, rows: int = 60) -> Path:
    """``make_rows(rows)`` as a CSV file with columns ``text`` and ``label``; ``path``."""
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(make_rows(rows))
    return path


def write_csv_recipe(
    folder: Path,
    model_dir: str | Path,
    extra: str = "",
    *,
    rows: int = 120,
    batch_size: int = 4,
    max_epochs: int = 2,
    recipe: Path | None = None,
) -> Path:
    """A classification recipe the command line can run on CPU: ``rows`` rows of
    ``make_rows`` in ``folder/data.csv``, the model in ``model_dir``, ``extra`` YAML lines
    appended. Written to ``recipe`` (default ``folder/recipe.yaml``); its path."""
    data = write_csv(folder / "data.csv", rows)
    path = recipe or folder / "recipe.yaml"
    path.write_text(f"""
task: classification
seed: 0
model: {{name: "{model_dir}"}}
data: {{source: csv, options: {{path: "{data}"}}, batch_size: {batch_size}, max_length: 16}}
trainer: {{max_epochs: {max_epochs}, progress_bar: false, accelerator: cpu, devices: "1"}}
{extra}
""")
    return path


def schema_leaves(schema: type, prefix: str = "") -> list[tuple[str, set, dataclasses.Field]]:
    """(dotted path, the types it takes without None, the field) of every field of a
    dataclass schema that is not itself a dataclass; nested dataclasses are walked."""
    found = []
    hints = typing.get_type_hints(schema)
    for f in dataclasses.fields(schema):
        tp, path = hints[f.name], f"{prefix}{f.name}"
        if dataclasses.is_dataclass(tp):
            found += schema_leaves(tp, f"{path}.")
            continue
        found.append((path, {a for a in typing.get_args(tp) if a is not type(None)} or {tp}, f))
    return found
