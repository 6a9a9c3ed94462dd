"""The ``preference_jsonl`` dataset: your own pairs from JSON Lines files."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from ftcore.api import RawSplits, Row, UserError, read_jsonl
from ftcore_preference.schema import JsonlPairsOptions

NAME = "preference_jsonl"
SPLITS = ("train", "validation", "test")
EXAMPLE = '{"prompt": "...", "chosen": "...", "rejected": "..."}'


def options_of(options: Any) -> JsonlPairsOptions:
    if options is None:
        return JsonlPairsOptions()
    return JsonlPairsOptions(**{str(k): options[k] for k in options.keys()})


def read_file(value: str, option: str) -> tuple[Path, list[Row], list[int]]:
    """The rows of one file and their line numbers."""
    path = Path(value).expanduser().resolve()
    if not path.is_file():
        raise UserError(f"data.options.{option}: {path} is not a file")
    found = read_jsonl(path, example=EXAMPLE)
    if not found:
        raise UserError(f"{path}: no rows; write one JSON object per line, e.g. {EXAMPLE}")
    return path, [row for _, row in found], [number for number, _ in found]


def carve(n: int, ratio: float, seed: int, split: str) -> tuple[list[int], list[int]]:
    """Positions of ``n`` rows held out for ``split`` (``ratio`` of them, seeded) and kept,
    each in file order."""
    count = round(n * ratio)
    order = list(range(n))
    random.Random(f"{NAME}:{seed}:{split}").shuffle(order)
    held = sorted(order[:count])
    kept = sorted(order[count:])
    return held, kept


def load(options: Any, seed: int) -> RawSplits:
    opts = options_of(options)
    if not opts.train:
        raise UserError(
            f"data.options.train: dataset '{NAME}' needs the training pairs file, e.g. "
            f"data.options.train=pairs.jsonl (one {EXAMPLE} per line)"
        )
    for option in ("val_ratio", "test_ratio"):
        if not 0 <= getattr(opts, option) < 0.5:
            raise UserError(f"data.options.{option}: must be in [0, 0.5), e.g. 0.1")
    path, rows, numbers = read_file(opts.train, "train")
    splits = {"train": rows}
    lines = {"train": numbers}
    origin = {s: str(path) for s in SPLITS}
    for split, ratio in (("validation", opts.val_ratio), ("test", opts.test_ratio)):
        given = getattr(opts, split)
        if given:
            found, splits[split], lines[split] = read_file(given, split)
            origin[split] = str(found)
            continue
        held, kept = carve(len(splits["train"]), ratio, seed, split)
        splits[split] = [splits["train"][i] for i in held]
        lines[split] = [lines["train"][i] for i in held]
        splits["train"] = [splits["train"][i] for i in kept]
        lines["train"] = [lines["train"][i] for i in kept]
    return RawSplits(splits=splits, origin=origin, row_numbers=lines)
