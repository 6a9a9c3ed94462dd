"""The ``hf`` dataset: rows read by the Hugging Face ``datasets`` library, kept in Arrow.

The splits handed to core are ``datasets.Dataset`` objects with the columns ``text``
(and ``text_pair``, ``label`` when mapped): core checks and encodes them with
``Dataset.map`` and never turns them into Python lists. ``datasets`` is imported only
when this dataset is loaded. Every mistake is a one-line :class:`UserError` naming the
folder, file or column and the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftcore.errors import UserError
from ftcore.types import RawSplits
from ftcore_datasets.common import SPLITS, cache_root, check_ratios, offline
from ftcore_datasets.files import _missing_column, resolve_path
from ftcore_datasets.schema import HfOptions
from ftcore_datasets.split import split_indices, stratum_labels

FORMATS = {"csv": "csv", "json": "json", "jsonl": "json", "parquet": "parquet"}
ROW_KEYS = {"text_column": "text", "text_pair_column": "text_pair", "label_column": "label"}


def load_hf(options: HfOptions, seed: int) -> RawSplits:
    """Load the ``hf`` dataset named by ``options``; Arrow splits for core."""
    val_ratio, test_ratio = check_ratios(options.val_ratio, options.test_ratio)
    if int(options.num_proc) < 1:
        raise UserError(f"data.options.num_proc must be 1 or more, not {options.num_proc}")
    found, origin = _load(options)
    if "train" not in found:
        names = ", ".join(found) or "none"
        raise UserError(
            f"{', '.join(origin.values())} has no 'train' split (splits: {names}); "
            f"name the training split 'train'"
        )
    splits = {name: _mapped(found[name], options, origin[name]) for name in SPLITS if name in found}
    row_numbers: dict[str, Any] = {}
    if not all(name in splits for name in SPLITS):
        ratios = [0.0 if s in splits else r for s, r in zip(SPLITS[1:], (val_ratio, test_ratio))]
        carved, numbers = _carve(splits["train"], *ratios, seed)
        for name in SPLITS:
            if name == "train" or name not in splits:
                splits[name], row_numbers[name] = carved[name], numbers[name]
                origin[name] = origin["train"]
    return RawSplits(
        splits=splits, origin=origin, row_numbers=row_numbers, num_proc=int(options.num_proc)
    )


def _load(options: HfOptions) -> tuple[dict[str, Any], dict[str, str]]:
    """The splits found (name -> Dataset) and where each came from."""
    given = [k for k in ("path", "data_files", "name") if getattr(options, k)]
    if len(given) != 1:
        raise UserError(
            "data.options of dataset 'hf': give exactly one of path (a save_to_disk folder), "
            "data_files with format (local files) or name (a Hub dataset id)"
            + (f"; got {', '.join(given)}" if given else "")
        )
    if options.path:
        return _from_disk(options.path)
    if options.data_files:
        return _from_files(options)
    return _from_hub(options)


def _splits_of(loaded: Any) -> dict[str, Any]:
    return dict(loaded) if isinstance(loaded, dict) else {"train": loaded}


def _from_disk(value: str) -> tuple[dict[str, Any], dict[str, str]]:
    import datasets

    path = Path(str(value)).expanduser().absolute()
    if not path.is_dir():
        what = "is a file, not a folder" if path.exists() else "not found"
        raise UserError(
            f"{path}: folder {what} (data.options.path: {value}); give the folder written "
            f"by save_to_disk, or data_files with format for data files"
        )
    try:
        loaded = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError, OSError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(
            f"{path} is not a folder written by Dataset.save_to_disk or "
            f"DatasetDict.save_to_disk ({reason}); save the data with save_to_disk"
        ) from None
    found = _splits_of(loaded)
    return found, {s: f"{path} [{s}]" if len(found) > 1 else str(path) for s in found}


def _file_list(value: Any, option: str) -> list[str]:
    values = [value] if isinstance(value, str) else list(value)
    return [str(resolve_path(v, option)) for v in values]


def _from_files(options: HfOptions) -> tuple[dict[str, Any], dict[str, str]]:
    import datasets

    fmt = FORMATS.get(str(options.format or "").lower())
    if fmt is None:
        raise UserError(
            f"data.options.format must be one of csv, json, parquet (the format of "
            f"data_files), not {options.format!r}"
        )
    files = options.data_files
    if hasattr(files, "items"):
        unknown = [k for k in files if k not in SPLITS]
        if unknown:
            raise UserError(
                f"data.options.data_files.{unknown[0]}: not a split; name the files of "
                f"train, validation and test"
            )
        files = {k: _file_list(v, f"data_files.{k}") for k, v in files.items()}
        origin = {k: ", ".join(v) for k, v in files.items()}
    else:
        files = {"train": _file_list(files, "data_files")}
        origin = {"train": ", ".join(files["train"])}
    try:
        loaded = datasets.load_dataset(fmt, data_files=files, cache_dir=_cache(options))
    except Exception as err:  # the builders raise many kinds: name the file and format
        reason = str(getattr(err, "__cause__", None) or err).strip().splitlines()
        raise UserError(
            f"{', '.join(origin.values())}: cannot read as {fmt} "
            f"({reason[-1] if reason else type(err).__name__}); fix the file or "
            f"data.options.format"
        ) from None
    return _splits_of(loaded), origin


def _from_hub(options: HfOptions) -> tuple[dict[str, Any], dict[str, str]]:
    import datasets

    name = str(options.name)
    forbidden = offline()
    try:
        loaded = datasets.load_dataset(
            name, options.config, revision=options.revision, cache_dir=_cache(options)
        )
    except Exception as err:
        why = (
            f"it is not in the local Hugging Face datasets cache, and {forbidden}=1 forbids "
            f"downloading it"
            if forbidden
            else f"could not download it ({type(err).__name__})"
        )
        raise UserError(
            f"data.options.name: '{name}' is not a Hub dataset ftcore can load: {why}; "
            f"save the data with save_to_disk and set data.options.path, or use data_files"
        ) from None
    found = _splits_of(loaded)
    return found, {s: f"{name} [{s}]" for s in found}


def _cache(options: HfOptions) -> str | None:
    return str(cache_root(options.cache_dir)) if options.cache_dir else None


def _mapped(dataset: Any, options: HfOptions, where: str) -> Any:
    """``dataset`` with only the mapped columns, renamed to ftcore's row keys."""
    present = list(dataset.column_names)
    wanted = {getattr(options, o): key for o, key in ROW_KEYS.items() if getattr(options, o)}
    for option in ROW_KEYS:
        column = getattr(options, option)
        if column and column not in present:
            if option == "text_pair_column":
                raise UserError(
                    f"{where} has no column '{column}' (columns: {', '.join(present)}); set "
                    f"data.options.text_pair_column to the column holding the second text, "
                    f"or to null"
                )
            raise _missing_column(where, column, present, option)
    dataset = dataset.select_columns(list(wanted)).rename_columns(
        {c: k for c, k in wanted.items() if c != k}
    )
    return _label_names(dataset, options)


def _label_names(dataset: Any, options: HfOptions) -> Any:
    """ClassLabel ids replaced by the class names (mapped once, cached by fingerprint)."""
    import datasets

    feature = dataset.features.get("label")
    if not isinstance(feature, datasets.ClassLabel):
        return dataset
    names = list(feature.names)

    def to_names(batch: dict[str, list]) -> dict[str, list]:
        return {"label": [None if i is None or i < 0 else names[i] for i in batch["label"]]}

    folder = cache_root(None) / "arrow"
    folder.mkdir(parents=True, exist_ok=True)
    key = f"labels-{dataset._fingerprint}"
    features = dataset.features.copy()
    features["label"] = datasets.Value("string")
    return dataset.map(
        to_names,
        batched=True,
        features=features,
        cache_file_name=str(folder / f"{key}.arrow"),
        new_fingerprint=key,
    )


def _carve(
    train: Any, val_ratio: float, test_ratio: float, seed: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Carve validation/test from ``train`` exactly as the csv source does (seeded,
    stratified by label); the splits (``Dataset.select``) and their source row numbers."""
    import numpy as np

    labels = None
    if "label" in train.column_names:
        labels = stratum_labels(train.with_format("arrow")["label"].to_pylist())
    chosen = split_indices(len(train), labels, val_ratio, test_ratio, seed)
    splits = {s: train.select(chosen[s]) for s in SPLITS}
    numbers = {s: np.asarray(chosen[s], dtype=np.int64) + 1 for s in SPLITS}
    return splits, numbers
