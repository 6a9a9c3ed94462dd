"""Option schemas of the datasets (a recipe's ``data.options``).

Plain dataclasses usable as omegaconf structured configs. The class docstrings and the
comment above each field are turned into the documentation.
"""

# Optional[...] on purpose: typing.get_origin() gives typing.Union for it, as in core.
# ruff: noqa: UP045

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional


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


@dataclass
class HfOptions:
    """Options of the ``hf`` dataset: data read by the Hugging Face ``datasets`` library.

    Give exactly one of ``path`` (a folder written by ``Dataset.save_to_disk`` or
    ``DatasetDict.save_to_disk``), ``data_files`` with ``format`` (local files read by
    ``load_dataset(format, data_files=...)``) or ``name`` (a dataset on the Hugging Face
    Hub, with ``config`` and ``revision``; offline only if it is in the local cache).
    Splits named train, validation and test are used as given; a missing validation or
    test split is carved from train by its ratio (seeded, stratified by label, as for
    ``csv``). The rows stay in Arrow: core checks and encodes them with ``Dataset.map``.
    """

    # A folder written by save_to_disk (a DatasetDict with splits, or one Dataset).
    path: Optional[str] = None
    # File format of data_files: csv, json (also JSON Lines) or parquet.
    format: Optional[str] = None
    # One file (split by the ratios) or a mapping {train: ..., validation: ..., test: ...}.
    data_files: Optional[Any] = None
    # A dataset id on the Hugging Face Hub (e.g. stanfordnlp/imdb).
    name: Optional[str] = None
    # The Hub dataset's configuration (subset), if it has several.
    config: Optional[str] = None
    # The Hub dataset's revision: a branch, tag or commit hash (pin it for reproducibility).
    revision: Optional[str] = None
    # Column holding the text.
    text_column: str = "text"
    # Column holding the second text of a pair (row key text_pair), for heads that read pairs.
    text_pair_column: Optional[str] = None
    # Column holding the label or target (class names replace ClassLabel ids); null for none.
    label_column: Optional[str] = "label"
    # Fraction held out for validation when there is no validation split.
    val_ratio: float = 0.1
    # Fraction held out for the test when there is no test split.
    test_ratio: float = 0.1
    # Processes for Dataset.map when core checks and encodes the rows.
    num_proc: int = 1
    # The datasets library's download/load cache; default: its own (HF_DATASETS_CACHE).
    cache_dir: Optional[str] = None
