"""The run directory: where it is, who may write there, and whether it has room.

- :func:`run_dir_for`: ``--out``, else ``<output.root>/<recipe>/<run_name or timestamp>``.
- :func:`claim`: a new run takes only a new or empty folder (``--force``: a non-empty one
  holding none of the files a run writes), never one holding another run or files that
  would be replaced; it then holds ``RUN/.lock`` (an OS file lock) until it ends, so a
  second ``ftcore run`` on the same folder stops at once with one line.
  A resumed run first removes what a killed process left half-written
  (:func:`remove_leftovers`).
- :func:`require_space`: before training, room for the checkpoints and the export,
  estimated from the model's size (:func:`space_needed`).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ftcore.errors import UserError
from ftcore.io import size_text

# the floor checked as the folder is made (recipe, logs, the tokenizer); the real need,
# sized from the model, is checked once it is built (require_space)
MIN_FREE_BYTES = 64 * 1024 * 1024

LOCK = ".lock"

# What a run (core and this repository's plugins) writes into its folder. ``--force``
# puts a run into a non-empty folder only if none of these is there.
RUN_FILES = (
    "recipe.yaml",
    "checkpoints",
    "logs",
    "tensorboard",
    "model",
    "metrics.json",
    "predictions.json",
    "mlruns",  # loggers.mlflow's default store
    "wandb",  # loggers.wandb's files
    # plugins of this repository
    "adapter",
    "lora.json",
    "baseline.json",
    "early_stopping.json",
    "evaluation",
    "evaluation.json",
    "evaluations",
    "errors.jsonl",
    "residuals.jsonl",
    "worst_loss.jsonl",
    "figures",
    "report.md",
    "report.html",
    "lr_find.json",
    "lr_find.png",
    "unfreeze_schedule.json",
    "epoch_times.json",
)


def run_dir_for(recipe: Any, out: str | None) -> Path:
    """``--out`` if given, else ``<output.root>/<name>/<run_name or timestamp>``; a
    timestamp already taken (two runs started in one second) gets ``-2``, ``-3``..."""
    if out:
        return Path(out).expanduser().resolve()
    root = Path(recipe.output.root).expanduser().resolve()
    name = recipe.output.run_name or time.strftime("%Y%m%d-%H%M%S")
    target = (root / _safe(recipe.name) / name).resolve()
    if not target.is_relative_to(root):
        raise UserError(
            f"output.run_name: '{name}' would write outside {root}; use a plain folder name"
        )
    if not recipe.output.run_name:
        number = 2
        while target.exists():
            target = target.with_name(f"{name}-{number}")
            number += 1
    return target


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".") or "run"


@contextmanager
def claim(path: Path, resume: bool = False, force: bool = False) -> Iterator[Path]:
    """Make ``path`` this run's folder and hold it for the block (rank 0 only).

    A new run (not ``resume``) is refused, before anything is written, a folder with
    files in it (:func:`check_new_folder`). The folder is made if needed, and locked
    (:class:`RunLock`); the check is repeated under the lock (another process may have
    written there meanwhile).
    """
    path = Path(path)
    RunLock(path).check(resume)  # in use: say so first (nothing is written to find out)
    if not resume:
        check_new_folder(path, force)
    create(path, resume=resume)
    lock = RunLock(path)
    lock.acquire(resume)
    try:
        if not resume:
            check_new_folder(path, force)
        else:
            remove_leftovers(path)
        yield path
    finally:
        lock.release()


def remove_leftovers(path: Path) -> list[Path]:
    """Remove the temporary files an earlier process of this run left when it was killed
    (or the disk filled up) mid-write: ``checkpoints/.*.ckpt.*.tmp``, ``.model.*.tmp``,
    ``.model.*.old`` and ``.<run file>.*.tmp``. Only under the run's lock: no other process
    is writing them."""
    found = [
        *(path / "checkpoints").glob(".*.ckpt*.tmp"),
        *path.glob(".model.*tmp"),
        *path.glob(".model.*.old"),
        *(p for name in RUN_FILES for p in path.glob(f".{name}.*.tmp")),
    ]
    for leftover in found:
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
    return found


def check_new_folder(path: Path, force: bool = False) -> None:
    """Refuse to start a new run in ``path`` unless it is new or empty.

    Empty: no file at any depth (empty folders and ftcore's ``.lock`` do not count). With
    ``force``, files are allowed but none of :data:`RUN_FILES`: ftcore never replaces or
    deletes a file it did not write. A folder holding an earlier run is pointed at
    ``--resume``.
    """
    if not path.is_dir():
        return
    entries = sorted((e.name for e in path.iterdir() if e.name != LOCK), key=_run_files_first)
    if not any(_has_files(path / name) for name in entries):
        return
    earlier_run = (path / "recipe.yaml").is_file()
    resume = f"continue it with `ftcore run --resume {path}`, or " if earlier_run else ""
    if force:
        taken = [n for n in entries if n in RUN_FILES and _has_files(path / n)]
        if not taken:
            return
        raise UserError(
            f"{path} already has {_names(path, taken)}, which a run writes; --force never "
            f"replaces files another run or you wrote: {resume}choose another --out"
        )
    if earlier_run:
        raise UserError(
            f"{path} holds an earlier run ({_names(path, entries)}); {resume}choose "
            f"another --out for a new run"
        )
    raise UserError(
        f"{path} is not empty ({_names(path, entries)}); a new run needs a new or empty "
        f"folder: choose another --out, or add --force to write the run beside these files "
        f"(none of which it replaces)"
    )


def _run_files_first(name: str) -> tuple[int, str]:
    return (RUN_FILES.index(name) if name in RUN_FILES else len(RUN_FILES), name)


def _has_files(path: Path) -> bool:
    if not path.is_dir() or path.is_symlink():
        return True
    try:
        return any(_has_files(e) for e in path.iterdir())
    except OSError:
        return True


def _names(path: Path, names: list[str], shown: int = 4) -> str:
    text = [f"{n}/" if (path / n).is_dir() else n for n in names[:shown]]
    if len(names) > shown:
        text.append(f"{len(names) - shown} more")
    return ", ".join(text)


def create(path: Path, resume: bool = False) -> Path:
    """Make the folder; fail early (exit 2) if it cannot be written or the disk is full."""
    elsewhere = "free space" if resume else "choose another with --out or output.root"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"cannot create run directory {path}: {exc.strerror}; {elsewhere}"
        ) from None
    if not os.access(path, os.W_OK):
        raise UserError(
            f"run directory {path} is not writable"
            + ("" if resume else "; choose another with --out")
        )
    require_space(path, MIN_FREE_BYTES, resume)
    return path


def require_space(path: Path, need: int, resume: bool = False, what: str = "") -> None:
    """Refuse to start (exit 2) with less than ``need`` bytes free at ``path``."""
    free = shutil.disk_usage(path).free
    if free >= need:
        return
    then = f", then resume with: ftcore run --resume {path}" if resume else " or use --out"
    raise UserError(
        f"only {size_text(free)} free at {path}; this run needs about {size_text(need)}"
        f"{' ' + what if what else ''}; free space{then}"
    )


def space_needed(module: Any, recipe: Any, run_dir: Path) -> int:
    """Bytes the run will still write: its checkpoints and the exported model.

    A checkpoint holds every weight plus the optimiser's state for the trained ones (AdamW:
    two values per parameter, as large as the parameter): ``weights + 2 × trainable``.
    At most ``checkpoint.save_top_k`` best ones (at least 1), ``last.ckpt`` and the
    temporary file of the one being written exist at once; the export adds the weights
    once more. Checkpoints and a ``model/`` already in the folder (a resumed run) are
    replaced, so their size counts as available. Plus 64 MiB for logs and the tokenizer.
    """
    weights = trainable = 0
    for param in module.parameters():
        size = param.numel() * param.element_size()
        weights += size
        trainable += size if param.requires_grad else 0
    checkpoint = weights + 2 * trainable
    top_k = recipe.checkpoint.save_top_k
    copies = (top_k if top_k and top_k > 0 else 1) + 2
    need = copies * checkpoint + weights + MIN_FREE_BYTES
    there = sum(_size(p) for p in (run_dir / "checkpoints").glob("*.ckpt"))
    there += sum(_size(p) for p in (run_dir / "model").rglob("*") if p.is_file())
    return max(need - there, checkpoint + MIN_FREE_BYTES)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


class RunLock:
    """An exclusive, non-blocking OS lock (``flock``) on ``RUN/.lock``, held while a run
    writes its folder; the OS drops it when the process ends, however it ends.

    The file stays (removing a lock file races with a process about to lock it); it holds
    the pid of the last process that locked it, for the message.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK
        self._fd: int | None = None

    def acquire(self, resume: bool = False) -> None:
        try:
            import fcntl
        except ImportError:  # not a POSIX system: no lock
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._in_use(fd, resume)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def check(self, resume: bool = False) -> None:
        """Raise the "in use" error if another process holds the lock now; creates
        nothing (a folder without ``.lock`` is not in use)."""
        try:
            import fcntl

            fd = os.open(self.path, os.O_RDONLY)
        except (ImportError, OSError):
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._in_use(fd, resume)
        os.close(fd)  # drops the lock just taken

    def _in_use(self, fd: int, resume: bool) -> None:
        holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        instead = "" if resume else " or choose another --out"
        raise UserError(
            f"{self.folder} is in use by another ftcore process (pid {holder}); wait "
            f"for it{instead}"
        )

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file drops the lock
            self._fd = None
