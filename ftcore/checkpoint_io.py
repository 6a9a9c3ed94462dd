"""Checkpoint files written atomically and read without running code."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from ftcore.io import current_umask, disk_full, is_disk_full


class AtomicCheckpointIO(TorchCheckpointIO):
    """``torch.save`` to a temporary file, fsync, rename; ``torch.load(weights_only=True)``.

    Every checkpoint is stamped with its run (``ftcore_run_id``) and the resolved recipe it
    was trained with (``ftcore_recipe``), see :mod:`ftcore.runstamp`; a resume uses only
    its own run's checkpoints and refuses an edited recipe. The temporary file has a unique
    name (``.last.ckpt.<random>.tmp``) and is removed if the write fails; a full disk ends
    in one line (:class:`ftcore.io.DiskFull`) with the previous checkpoint intact.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None
    ) -> None:
        from ftcore import runstamp

        path = Path(path)
        runstamp.stamp_checkpoint(checkpoint, path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        except OSError as exc:
            if is_disk_full(exc):
                raise disk_full(path.parent, f"saving {path}", _hint(path)) from None
            raise
        try:
            os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes 0600; follow the umask
            with os.fdopen(fd, "wb") as handle:
                torch.save(checkpoint, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if is_disk_full(exc):
                raise disk_full(path.parent, f"saving {path}", _hint(path)) from None
            raise

    def load_checkpoint(
        self, path: Any, map_location: Any = None, weights_only: Any = None
    ) -> dict:
        # always weights_only=True, whatever Lightning passes (None when a recipe or resume
        # does not say): a checkpoint never runs code when it is read
        return torch.load(path, map_location=map_location or "cpu", weights_only=True)


def _hint(path: Path) -> str:
    run_dir = path.parent.parent
    saved = any(path.parent.glob("*.ckpt"))
    kept = "the previous checkpoints are kept" if saved else "no checkpoint was saved yet"
    return f"{kept}; free space, then resume with: ftcore run --resume {run_dir}"
