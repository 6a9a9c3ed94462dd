"""Splitting rows into train/validation/test: pure, seeded, deterministic functions."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, NamedTuple

from ftcore.types import Row
from ftcore_datasets.common import SPLITS, check_ratios

_MISSING = object()


class Split(NamedTuple):
    """Rows per split and, per split, each row's 1-based source row number."""

    splits: dict[str, list[Row]]
    row_numbers: dict[str, list[int]]


def split_sizes(n: int, val_ratio: float, test_ratio: float) -> tuple[int, int]:
    """Validation and test sizes for ``n`` rows.

    Rounded to the nearest row; a split with a ratio above 0 gets at least one row as
    long as the training split keeps at least one (train first, then validation).
    """
    val_ratio, test_ratio = check_ratios(val_ratio, test_ratio)
    n_val = int(n * val_ratio + 0.5)
    n_test = int(n * test_ratio + 0.5)
    if val_ratio > 0 and n_val == 0:
        n_val = 1
    if test_ratio > 0 and n_test == 0:
        n_test = 1
    while n_val + n_test >= n and (n_val or n_test):
        if n_test > 0:
            n_test -= 1
        else:
            n_val -= 1
    return n_val, n_test


def _strata_key(rows: Sequence[Row], key: str) -> list[Any] | None:
    """The label of every row if all are hashable scalars (str, int, bool, None), else None."""
    labels = []
    for row in rows:
        value = row.get(key, _MISSING) if isinstance(row, dict) else _MISSING
        if value is _MISSING or not (value is None or isinstance(value, (str, int, bool))):
            return None  # floats (regression targets), lists, missing labels: plain shuffle
        labels.append(value)
    return labels


def stratified_split(
    rows: Sequence[Row],
    val_ratio: float,
    test_ratio: float,
    seed: int,
    key: str = "label",
    row_numbers: Sequence[int] | None = None,
) -> Split:
    """Split ``rows`` into train/validation/test, seeded and stratified by ``row[key]``.

    Stratified when every row's ``key`` is a hashable scalar (str, int, bool, None);
    otherwise (float targets, lists, no label) a plain seeded shuffle. The same rows,
    ratios and seed always give the same split. Each split keeps the source order of
    its rows. ``row_numbers`` are the rows' 1-based source rows (default: position + 1);
    they are carried over to the result so errors can name the source row.

    How: each label's rows are shuffled, the k-th of n gets the position (k + 0.5) / n,
    and all rows are ordered by position (random tie-break); the test split takes the
    first rows of that order, validation the next, train the rest. Every label is thus
    spread over the splits in proportion to its size, and the split sizes are exact.
    """
    n = len(rows)
    if row_numbers is None:
        row_numbers = range(1, n + 1)
    elif len(row_numbers) != n:
        raise ValueError(f"{len(row_numbers)} row numbers for {n} rows")
    chosen = split_indices(n, _strata_key(rows, key), val_ratio, test_ratio, seed)
    return Split(
        splits={name: [rows[i] for i in chosen[name]] for name in SPLITS},
        row_numbers={name: [row_numbers[i] for i in chosen[name]] for name in SPLITS},
    )


def stratum_labels(values: Sequence[Any]) -> list[Any] | None:
    """``values`` if all are hashable scalars (str, int, bool, None), else None: the
    labels :func:`split_indices` stratifies by (a label column, as ``_strata_key``)."""
    for value in values:
        if not (value is None or isinstance(value, (str, int, bool))):
            return None
    return list(values)


def split_indices(
    n: int, labels: Sequence[Any] | None, val_ratio: float, test_ratio: float, seed: int
) -> dict[str, list[int]]:
    """The sorted row indices of each split of ``n`` rows; what :func:`stratified_split`
    selects (stratified by ``labels`` unless None: then a plain seeded shuffle)."""
    n_val, n_test = split_sizes(n, val_ratio, test_ratio)
    rng = random.Random(seed)
    groups: dict[Any, list[int]] = {}
    if labels is None:
        groups[None] = list(range(n))
    else:
        for index, label in enumerate(labels):
            # type-tagged so that 1, True and "1" stay different labels
            groups.setdefault((type(label).__name__, label), []).append(index)

    ordered: list[tuple[float, float, int]] = []
    for members in groups.values():  # first-appearance order: deterministic
        rng.shuffle(members)
        size = len(members)
        for k, index in enumerate(members):
            ordered.append(((k + 0.5) / size, rng.random(), index))
    ordered.sort()
    order = [index for _, _, index in ordered]

    return {
        "test": sorted(order[:n_test]),
        "validation": sorted(order[n_test : n_test + n_val]),
        "train": sorted(order[n_test + n_val :]),
    }


def contiguous_split(
    rows: Sequence[Row],
    val_ratio: float,
    test_ratio: float,
    row_numbers: Sequence[int] | None = None,
) -> Split:
    """Split ``rows`` into contiguous blocks, not shuffled: train, then validation, then test.

    For running text (language modelling), so held-out text is really unseen and does not
    sit between training passages.
    """
    n = len(rows)
    if row_numbers is None:
        row_numbers = range(1, n + 1)
    n_val, n_test = split_sizes(n, val_ratio, test_ratio)
    n_train = n - n_val - n_test
    bounds = {
        "train": (0, n_train),
        "validation": (n_train, n_train + n_val),
        "test": (n_train + n_val, n),
    }
    return Split(
        splits={name: list(rows[a:b]) for name, (a, b) in bounds.items()},
        row_numbers={name: list(row_numbers[a:b]) for name, (a, b) in bounds.items()},
    )
