"""``ftcore export RUN_DIR [--format gguf] [--dtype f32|f16] [--out FILE]``."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ftcore.errors import UserError

FORMATS = ("gguf",)
DTYPES = ("f32", "f16")
DEFAULT_DTYPE = "f32"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run_dir", help="a finished run directory (the folder `ftcore run` printed)"
    )
    parser.add_argument(
        "--format",
        default="gguf",
        metavar="FORMAT",
        help="gguf (default): one file for llama.cpp and the runtimes built on it; "
        "transformers loads it too (gguf_file=)",
    )
    parser.add_argument(
        "--dtype",
        default=DEFAULT_DTYPE,
        metavar="DTYPE",
        help="f32 (default): the weights exactly as trained, so the file generates what "
        "`ftcore predict` does; f16: half the size, weights rounded to float16 (norms stay f32)",
    )
    parser.add_argument(
        "--out",
        metavar="FILE",
        help="the file to write (default RUN_DIR/gguf/model-DTYPE.gguf, a folder of its own: "
        "transformers mixes a GGUF file up with the Hugging Face tokenizer files beside it); "
        "its folder must exist; written to a temporary file, then renamed",
    )


def run(args: argparse.Namespace) -> int:
    from ftcore.api import finished_run, plugin_hooks
    from ftcore_export.gguf_file import export_gguf

    choose("--format", args.format, FORMATS)
    dtype = choose("--dtype", args.dtype, DTYPES)
    run_dir = Path(args.run_dir).expanduser()
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such folder; give the run directory `ftcore run` printed")
    finished = finished_run(run_dir, plugin_hooks())
    out = output_path(run_dir, args.out, dtype)
    start = time.perf_counter()
    with _new_folder(out.parent):
        facts = export_gguf(
            run_dir / "model",
            out,
            dtype=dtype,
            name=str(finished.recipe.name),
            task=finished.recipe.task,
        )
    print(
        f"ftcore export: wrote {out} (GGUF, {dtype}, {facts['tensors']} tensors, "
        f"{out.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - start:.1f} s"
    )
    return 0


@contextmanager
def _new_folder(folder: Path) -> Iterator[None]:
    """``folder`` exists in the block; made here, it is removed again if the block fails."""
    made = not folder.exists()
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {folder}: {exc.strerror or exc}") from None
    try:
        yield
    except BaseException:
        if made and not any(folder.iterdir()):
            folder.rmdir()
        raise


def choose(option: str, value: str, allowed: tuple[str, ...]) -> str:
    """``value`` when it is one of ``allowed``, else a one-line error naming them."""
    if value not in allowed:
        raise UserError(
            f"{option}: '{value}' is not supported; choose one of: {', '.join(allowed)}"
        )
    return value


def output_path(run_dir: Path, out: str | None, dtype: str) -> Path:
    """Where the file goes: ``--out`` (its folder must exist), else ``RUN_DIR/gguf/``."""
    if out is None:
        return run_dir / "gguf" / f"model-{dtype}.gguf"
    path = Path(out).expanduser()
    if path.is_dir():
        raise UserError(f"--out: {path} is a folder; give a file name, e.g. {path / 'model.gguf'}")
    if not path.parent.is_dir():
        raise UserError(f"--out: the folder {path.parent} does not exist; create it first")
    return path
