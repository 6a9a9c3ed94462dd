"""Arrow-backed splits: a dataset plugin may hand core a ``datasets.Dataset`` per split.

Core then keeps the data in Arrow from loading to the DataLoader: the row checks and the
normalisation run through ``Dataset.map(batched=True)``, the dropped rows and the seeded
subsets through ``Dataset.select`` (an index mapping, no copy), and the head's ``encode``
through one more ``Dataset.map(batched=True, num_proc=...)``. Each map result is an Arrow
file under ``<cache_dir>/arrow/`` named by a fingerprint of its input dataset and of
everything that decides the output (the same facts as the tokenised cache), so a rerun
reads it back memory-mapped. :class:`ArrowRows` presents a dataset as a read-only
sequence of row dicts, so heads, plugins and the DataLoader see rows and features as
before. This module imports ``datasets`` only in functions that receive an Arrow split.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ftcore.types import Row

PROBLEM = "__ftcore_problem__"  # the column the row check writes, removed afterwards
_BATCH = 1000


def is_arrow(split: Any) -> bool:
    """True for a ``datasets.Dataset`` (checked without importing ``datasets``)."""
    return type(split).__module__.startswith("datasets.") and hasattr(split, "_fingerprint")


class ArrowRows(Sequence):
    """A ``datasets.Dataset`` as a read-only sequence of row dicts.

    ``rows[i]`` is one dict, ``rows[a:b]`` a list of dicts, iteration reads batches
    lazily; ``dataset`` is the Arrow dataset itself. The DataLoader fetches a batch at
    once through ``__getitems__``.
    """

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return self.__getitems__(list(range(len(self))[index]))
        return self.dataset[int(index)]

    def __getitems__(self, indices: list[int]) -> list[Row]:
        return rows_of(self.dataset[list(indices)]) if len(indices) else []

    def __iter__(self) -> Iterator[Row]:
        for batch in self.dataset.iter(batch_size=_BATCH):
            yield from rows_of(batch)

    @property
    def fingerprint(self) -> str:
        """The dataset's fingerprint: it changes whenever its content does."""
        return str(self.dataset._fingerprint)

    def lengths(self, column: str) -> list[int]:
        """The length of ``column``'s list in every row (token counts), read in Arrow."""
        import pyarrow.compute as pc

        flat = self.dataset.flatten_indices() if self.dataset._indices is not None else self.dataset
        return pc.list_value_length(flat.data.column(column)).to_pylist()


def rows_of(batch: dict[str, list]) -> list[Row]:
    names = list(batch)
    return [dict(zip(names, values)) for values in zip(*(batch[n] for n in names))]


def head_facts(recipe: Any, head: Any) -> dict[str, Any]:
    """What besides the rows decides a check or an encoding: task, head and its options,
    the ftcore/transformers/tokenizers versions and the head's distribution version."""
    from importlib import metadata

    from omegaconf import OmegaConf

    from ftcore.data.cache import _versions

    options = recipe.head
    if OmegaConf.is_config(options):
        options = OmegaConf.to_container(options, resolve=True, enum_to_str=True)
    package = type(head).__module__.split(".")[0]
    dists = metadata.packages_distributions().get(package, [])
    found = {d: metadata.version(d) for d in dists}
    return {"task": recipe.task, "head": options, "versions": _versions(), "dists": found}


def fingerprint(*parts: Any) -> str:
    """A stable hash of JSON-able ``parts`` (a dataset fingerprint and options)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(f"ftcore-arrow-1:{text}".encode()).hexdigest()[:32]


def mapped(
    dataset: Any, function: Any, key: str, folder: Path, fresh: bool, num_proc: int, **kwargs: Any
) -> Any:
    """``dataset.map(function, batched=True, num_proc=...)`` into ``folder/<key>.arrow``,
    read back from there when that file exists and ``fresh`` is false."""
    import datasets

    folder.mkdir(parents=True, exist_ok=True)
    shown = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # ftcore reports the encode time itself
    try:
        return dataset.map(
            function,
            batched=True,
            batch_size=_BATCH,
            num_proc=num_proc if num_proc > 1 else None,
            cache_file_name=str(folder / f"{key}.arrow"),
            new_fingerprint=key,
            load_from_cache_file=not fresh,
            **kwargs,
        )
    finally:
        if shown:
            datasets.enable_progress_bars()


def encode(dataset: Any, run: Any, num_proc: int) -> ArrowRows:
    """``run``'s head encodes ``dataset`` batch by batch (``Dataset.map``); the features."""
    from ftcore.models import cache_dir

    recipe, head = run.recipe, run.head

    def encode_batch(batch: dict[str, list]) -> dict[str, list]:
        return head.encode(
            rows=rows_of(batch),
            tokenizer=run.tokenizer,
            max_length=recipe.data.max_length,
            info=run.info,
            options=run.head_options,
        )

    from ftcore.data.cache import tokenizer_fingerprint

    tokenizer = tokenizer_fingerprint(run.tokenizer)
    facts = [dataset._fingerprint, tokenizer, recipe.data.max_length, run.info.to_dict()]
    key = fingerprint("encode", *facts, head_facts(recipe, head))
    fresh = not (recipe.data.cache_tokenized and tokenizer)
    encoded = mapped(
        dataset,
        encode_batch,
        key,
        cache_dir(recipe) / "arrow",
        fresh,
        num_proc,
        remove_columns=dataset.column_names,
    )
    return ArrowRows(encoded)


def problems(dataset: Any) -> tuple[list[int], list[str]]:
    """(indices, messages) of the rows whose check found a problem, in row order."""
    import pyarrow.compute as pc

    column = dataset.data.column(PROBLEM)
    found = pc.indices_nonzero(pc.is_valid(column))
    return found.to_pylist(), pc.take(column, found).to_pylist()


def drop(dataset: Any, bad: list[int]) -> Any:
    """``dataset`` without the rows ``bad`` and without the problem column."""
    if bad:
        import numpy as np

        keep = np.ones(len(dataset), dtype=bool)
        keep[bad] = False
        dataset = dataset.select(np.flatnonzero(keep))
    return dataset.remove_columns(PROBLEM)


def subset(dataset: Any, limit: int | None, seed: int) -> Any:
    """At most ``limit`` rows, sampled exactly as the list path samples them."""
    if limit is None or limit >= len(dataset):
        return dataset
    return dataset.select(sorted(random.Random(seed).sample(range(len(dataset)), limit)))
