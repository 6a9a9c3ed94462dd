"""Atomic file writes: a later step never reads a half-written file."""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from ftcore.errors import UserError


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``."""
    atomic_write(path, lambda handle: handle.write(text))


def atomic_write(
    path: Path,
    write: Callable[[IO[Any]], object],
    binary: bool = False,
    what: str = "",
    hint: Callable[[], str] | None = None,
) -> None:
    """Call ``write`` with a new temporary file in ``path``'s folder (text, UTF-8, unless
    ``binary``), fsync it, then rename it over ``path``. The temporary file is removed if
    anything fails; a full disk is a :class:`DiskFull` saying ``what`` was being done
    (default "writing <path>"), with the advice ``hint()`` gives (default: free space)."""
    path = Path(path)

    def full() -> DiskFull:
        return disk_full(path.parent, what or f"writing {path}", hint() if hint else "")

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        if is_disk_full(exc):
            raise full() from None
        raise
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes 0600; follow the umask
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if is_disk_full(exc):
            raise full() from None
        raise


class DiskFull(UserError, OSError):
    """The disk filled up while ftcore wrote a file: one line (exit code 2) naming the folder
    and the space left; the file being written was removed and the earlier version kept.
    Also an ``OSError``, for code that handles failed writes as such."""


DISK_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_DISK_FULL_WORDS = ("No space left on device", "Disk quota exceeded")


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from or during) is a full disk or an
    exhausted quota: ``OSError`` ENOSPC/EDQUOT, or a library's error carrying its text
    (safetensors and torch's zip writer re-raise it as their own)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DiskFull):
            return True
        if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
            return True
        if any(words in str(exc) for words in _DISK_FULL_WORDS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def free_space(folder: Path) -> str:
    """The space left at ``folder`` (or the nearest folder above it that exists), in words."""
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return "unknown space"
    return size_text(free) + " free"


def size_text(n: int) -> str:
    """``n`` bytes as MiB, or GiB from 10 GiB up."""
    return f"{n / 2**30:.1f} GiB" if n >= 10 * 2**30 else f"{n // 2**20} MiB"


def disk_full(folder: Path, what: str, hint: str = "") -> DiskFull:
    """The one-line error for a disk that filled up while ``what`` (e.g. "saving
    checkpoints/last.ckpt"), naming ``folder`` and its free space."""
    message = f"disk full while {what} ({free_space(folder)} at {folder})"
    return DiskFull(f"{message}; {hint}" if hint else f"{message}; free space and try again")


def current_umask() -> int:
    """The process's umask (reading it means setting it; it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_text(path: Path, encoding: str = "utf-8", fix: str = "") -> str:
    """A text file decoded with ``encoding`` (a UTF-8 byte-order mark is dropped).

    Bytes that are not ``encoding`` are a :class:`UserError` naming the line and the byte;
    ``fix`` says how to give the encoding (default: save the file as ``encoding``).
    """
    return decode_text(Path(path).read_bytes(), path, encoding, fix)


def decode_text(data: bytes, path: Path, encoding: str = "utf-8", fix: str = "") -> str:
    """``data``, the contents of ``path``, decoded as :func:`read_text` does."""
    from ftcore.errors import UserError

    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise UserError(
            f"{path} line {line}: not valid {encoding} (byte 0x{data[err.start]:02x}); "
            f"{fix or f'save the file as {encoding}'}"
        ) from None
    return text.removeprefix("\ufeff")


JSONL_EXAMPLE = '{"text": "...", "label": "..."}'


def read_jsonl(
    path: Path,
    encoding: str = "utf-8",
    fix: str = "",
    example: str = JSONL_EXAMPLE,
    text: str | None = None,
) -> list[tuple[int, dict]]:
    """(line number, object) for each non-blank line of a JSON Lines file.

    Every problem is one :class:`UserError` naming the line: bytes that are not
    ``encoding`` (``fix`` says what to do), invalid JSON, JSON nested too deep to parse,
    or a line that is not one object (``example`` shows one). ``text``: the file's
    contents, already read.
    """
    from ftcore.errors import UserError

    text = read_text(path, encoding, fix) if text is None else text
    rows: list[tuple[int, dict]] = []
    # split on "\n" only: str.splitlines() would also split on U+2028 inside strings
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            hint = ""
            if not rows and line.lstrip().startswith("["):
                hint = " (this looks like a JSON array: JSONL needs one object per line)"
            raise UserError(
                f"{where}: invalid JSON ({err.msg} at column {err.colno}){hint}; each line "
                f"must hold one JSON object such as {example}"
            ) from None
        except RecursionError:
            raise UserError(
                f"{where}: JSON nested too deeply to read; each line must hold one JSON "
                f"object such as {example}"
            ) from None
        if not isinstance(obj, dict):
            raise UserError(
                f"{where}: expected a JSON object, found a {type(obj).__name__}; each line "
                f"must hold one JSON object such as {example}"
            )
        rows.append((number, obj))
    return rows
