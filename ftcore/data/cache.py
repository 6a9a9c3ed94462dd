"""Tokenised splits cached on disk, keyed by the tokenizer, the rows and the encode options.

The head's ``encode`` runs once per distinct (tokenizer files, rows, task, max_length, head
options, data facts, plugin versions); later runs load the columns from
``<cache_dir>/tokenized/<key>.npz``. The files hold plain numpy arrays, read with
``allow_pickle=False``: a cache file cannot run code. Columns must be flat lists of
ints, floats, bools or strings, or lists of int/float lists (token ids, multi-hot
labels); anything else is encoded every time, as without the cache. A missing,
truncated or unreadable file is re-encoded and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ftcore.types import DataInfo, Row

FORMAT = 1  # bump when the file layout changes
_TOKENIZER_FILES = ("tokenizer", "vocab", "merges", "special_tokens", "added_tokens", "spiece")


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """A hash of the tokenizer's files (its folder), class and settings."""
    h = hashlib.sha256(type(tokenizer).__name__.encode())
    h.update(
        json.dumps(getattr(tokenizer, "init_kwargs", {}), sort_keys=True, default=str).encode()
    )
    folder = Path(str(getattr(tokenizer, "name_or_path", "")))
    files = sorted(p for p in folder.glob("*") if p.name.startswith(_TOKENIZER_FILES))
    for path in files if folder.is_dir() else []:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    if not (folder.is_dir() and files):  # built in memory: hash its full serialisation
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None:
            return ""  # nothing stable to key on: do not cache
        h.update(backend.to_str().encode())
    return h.hexdigest()


def cache_key(tokenizer_id: str, rows: list[Row], options: dict[str, Any]) -> str:
    """The file name of one encoded split: a hash of the tokenizer, options and every row."""
    h = hashlib.sha256(f"ftcore-tokenized-{FORMAT}:{tokenizer_id}".encode())
    h.update(json.dumps(options, sort_keys=True, default=str).encode())
    for row in rows:
        h.update(json.dumps(row, sort_keys=True, ensure_ascii=False, default=str).encode())
        h.update(b"\n")
    return h.hexdigest()[:40]


def encode_options(recipe: Any, hooks: Any, info: DataInfo) -> dict[str, Any]:
    """What besides tokenizer and rows decides the encoding (plugin versions included)."""
    from omegaconf import OmegaConf

    head = recipe.head
    if OmegaConf.is_config(head):
        head = OmegaConf.to_container(head, resolve=True, enum_to_str=True)
    plugins = sorted(
        f"{r.distribution}=={r.version}" for r in hooks.pm.records if r.status == "loaded"
    )
    return {
        "task": recipe.task,
        "max_length": recipe.data.max_length,
        "head": head,
        "info": info.to_dict(),
        "plugins": plugins,
        "versions": _versions(),
    }


def _versions() -> dict[str, str]:
    from importlib import metadata

    found = {}
    for dist in ("ftcore", "transformers", "tokenizers"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = "-"
    return found


# --- columns <-> arrays ---------------------------------------------------------------

_SCALARS = {int: np.int64, float: np.float64, bool: np.bool_, str: np.str_}


def to_arrays(columns: dict[str, list]) -> dict[str, np.ndarray] | None:
    """Columns as numpy arrays (ragged lists as values + lengths), or None if not storable."""
    arrays: dict[str, np.ndarray] = {}
    for name, values in columns.items():
        kinds = {type(v) for v in values}
        if len(kinds) != 1:
            return None
        kind = kinds.pop()
        if kind in _SCALARS:
            arrays[f"s:{name}"] = np.asarray(values, dtype=_SCALARS[kind])
        elif kind is list:
            inner = {type(x) for v in values for x in v}
            if len(inner) > 1 or not inner <= {int, float}:
                return None
            dtype = np.float64 if inner == {float} else np.int64
            arrays[f"v:{name}"] = np.asarray([x for v in values for x in v], dtype=dtype)
            arrays[f"n:{name}"] = np.asarray([len(v) for v in values], dtype=np.int64)
        else:
            return None
    return arrays


def from_arrays(arrays: Any) -> dict[str, list]:
    columns: dict[str, list] = {}
    for key in arrays.files:
        kind, name = key.split(":", 1)
        if kind == "s":
            columns[name] = arrays[key].tolist()
        elif kind == "v":
            flat, lengths = arrays[key].tolist(), arrays[f"n:{name}"].tolist()
            out, start = [], 0
            for n in lengths:
                out.append(flat[start : start + n])
                start += n
            columns[name] = out
    return columns


# --- the cache ------------------------------------------------------------------------


class TokenCache:
    """Encoded splits under ``folder``; ``encode`` returns the columns, cached or fresh."""

    def __init__(self, folder: Path, tokenizer: Any, options: dict[str, Any], write: bool = True):
        self.folder = folder
        self.tokenizer_id = tokenizer_fingerprint(tokenizer)
        self.options = options
        self.write = write
        self.hits = 0
        self.misses = 0

    def encode(self, rows: list[Row], encode: Any) -> dict[str, list]:
        """``encode(rows)`` -> columns, read from the cache when this exact input was seen."""
        if not self.tokenizer_id:
            return encode(rows)
        path = self.folder / f"{cache_key(self.tokenizer_id, rows, self.options)}.npz"
        found = self._read(path, len(rows))
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        columns = encode(rows)
        arrays = to_arrays(columns)
        if arrays is not None and self.write:
            self._write(path, arrays)
        return columns

    def _read(self, path: Path, n: int) -> dict[str, list] | None:
        try:
            with np.load(path, allow_pickle=False) as arrays:
                columns = from_arrays(arrays)
        except Exception:  # missing, truncated, not a zip, wrong layout: encode again
            return None
        if not columns or any(len(v) != n for v in columns.values()):
            return None
        return columns

    def _write(self, path: Path, arrays: dict[str, np.ndarray]) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)
            os.replace(tmp, path)
        except OSError:  # a read-only or full cache folder only costs the speed-up
            tmp.unlink(missing_ok=True)


_MODEL_FILES = (".safetensors", ".bin", ".json", ".model", ".txt", ".gguf")


def pretrained_fingerprint(run: Any) -> str | None:
    """A hash of everything the pretrained model sees in ``run``: the model folder's files
    (weights included), the tokenizer, every row of every split and the encode options
    (task, max_length, head options, data info, plugin and library versions). None when
    the model is not a folder on disk (nothing stable to key on)."""
    folder = Path(run.model_path or "")
    if not run.model_path or not folder.is_dir():
        return None
    h = hashlib.sha256(f"ftcore-pretrained-{FORMAT}".encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix in _MODEL_FILES:
            h.update(str(path.relative_to(folder)).encode())
            with path.open("rb") as f:
                for chunk in iter(lambda f=f: f.read(1 << 20), b""):
                    h.update(chunk)
    h.update(tokenizer_fingerprint(run.tokenizer).encode())
    options = encode_options(run.recipe, run.hooks, run.info)
    h.update(json.dumps(options, sort_keys=True, default=str).encode())
    for split in sorted(run.data.rows):
        rows = run.data.rows[split]
        arrow = getattr(rows, "fingerprint", None)  # Arrow rows: their dataset's fingerprint
        h.update((arrow or cache_key("", rows, {"split": split})).encode())
    return h.hexdigest()[:40]
