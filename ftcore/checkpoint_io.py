"""Checkpoint files written atomically and read without running code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from ftcore.io import atomic_write


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
        atomic_write(
            path,
            lambda handle: torch.save(checkpoint, handle),
            binary=True,
            what=f"saving {path}",
            hint=lambda: _hint(path),
        )

    def load_checkpoint(
        self, path: Any, map_location: Any = None, weights_only: Any = None
    ) -> dict:
        # always weights_only=True, whatever Lightning passes (None when a recipe or resume
        # does not say): a checkpoint never runs code when it is read
        # mmap: only the tensors used are read; testing the best checkpoint copies its model
        # weights without materialising its optimiser state beside the live one
        return torch.load(path, map_location=map_location or "cpu", weights_only=True, mmap=True)


def _hint(path: Path) -> str:
    run_dir = path.parent.parent
    saved = any(path.parent.glob("*.ckpt"))
    kept = "the previous checkpoints are kept" if saved else "no checkpoint was saved yet"
    return f"{kept}; free space, then resume with: ftcore run --resume {run_dir}"
