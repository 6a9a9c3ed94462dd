"""Creating the run directory safely (inside the output root, writable)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from ftcore.errors import UserError

MIN_FREE_BYTES = 512 * 1024 * 1024


def run_dir_for(recipe: Any, out: str | None) -> Path:
    """``--out`` if given, else ``<output.root>/<name>/<run_name or timestamp>``."""
    if out:
        return Path(out).expanduser().resolve()
    root = Path(recipe.output.root).expanduser().resolve()
    name = recipe.output.run_name or time.strftime("%Y%m%d-%H%M%S")
    target = (root / _safe(recipe.name) / name).resolve()
    if not target.is_relative_to(root):
        raise UserError(
            f"output.run_name: '{name}' would write outside {root}; use a plain folder name"
        )
    return target


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".") or "run"


def create(path: Path) -> Path:
    """Make the folder; fail early (exit 2) if it cannot be written or the disk is full."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"cannot create run directory {path}: {exc.strerror}; "
            f"choose another with --out or output.root"
        ) from None
    if not os.access(path, os.W_OK):
        raise UserError(f"run directory {path} is not writable; choose another with --out")
    free = shutil.disk_usage(path).free
    if free < MIN_FREE_BYTES:
        raise UserError(
            f"only {free // 2**20} MiB free at {path}; ftcore needs at least "
            f"{MIN_FREE_BYTES // 2**20} MiB for checkpoints; free space or use --out"
        )
    return path
