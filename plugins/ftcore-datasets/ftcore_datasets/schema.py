"""Option schemas of the datasets (a recipe's ``data.options``).

Plain dataclasses usable as omegaconf structured configs. The class docstrings and the
comment above each field are turned into the documentation.
"""

# Optional[...] on purpose: typing.get_origin() gives typing.Union for it, as in core.
# ruff: noqa: UP045

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass
class PackagedOptions:
    """Options of a dataset shipped in a pip package: how its rows are split.

    The split is seeded by the recipe's ``seed`` and stratified by label where the
    dataset has class labels (``hamlet`` is cut into contiguous blocks instead).
    """

    # Fraction of the rows held out for validation (0 for no validation split).
    val_ratio: float = 0.1
    # Fraction of the rows held out for the final test (0 for no test split).
    test_ratio: float = 0.1


@dataclass
class VaderOptions:
    """Options of ``vader_movie``: the split, and where the downloaded data is cached.

    The data comes from the ``vaderSentiment==3.3.2`` source distribution, fetched once
    with ``pip download`` and extracted into ``<cache_dir>/vader``.
    """

    # Fraction of the rows held out for validation (0 for no validation split).
    val_ratio: float = 0.1
    # Fraction of the rows held out for the final test (0 for no test split).
    test_ratio: float = 0.1
    # Cache folder; default: $FTCORE_CACHE, else ~/.cache/ftcore (a "vader" folder is used).
    cache_dir: Optional[str] = None


@dataclass
class FileOptions:
    """Options of the ``csv``, ``jsonl`` and ``parquet`` datasets: your own files.

    Give either ``path`` (one file, split by ``val_ratio``/``test_ratio``, seeded and
    stratified by label) or ``train`` with optional ``validation`` and ``test`` files
    (a missing one is carved from ``train`` by its ratio). Relative paths are resolved
    against the current directory.
    """

    # One file holding every row; it is split into train/validation/test by the ratios.
    path: Optional[str] = None
    # The training file (instead of path).
    train: Optional[str] = None
    # The validation file; if not given, val_ratio of train is held out.
    validation: Optional[str] = None
    # The test file; if not given, test_ratio of train is held out.
    test: Optional[str] = None
    # Column (CSV, Parquet) or key (JSONL) holding the text.
    text_column: str = "text"
    # Column or key holding the label or target; null for unlabelled text.
    label_column: Optional[str] = "label"
    # Fraction held out for validation when it is carved from path or train.
    val_ratio: float = 0.1
    # Fraction held out for the test when it is carved from path or train.
    test_ratio: float = 0.1
    # Text encoding of CSV and JSONL files (e.g. utf-8, latin-1, cp1252).
    encoding: str = "utf-8"
    # CSV field separator (e.g. "," or ";" or "\t").
    delimiter: str = ","
