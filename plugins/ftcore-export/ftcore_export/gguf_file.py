"""Write a run's exported Llama model (``RUN_DIR/model``) as one GGUF file.

The file is written beside its destination under a temporary name, synced, then renamed
over it: an interrupted or failed export leaves what was there before. Tensors are
streamed one at a time from the safetensors files: the writer never holds the whole model.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ftcore.errors import UserError
from ftcore_export import llama, vocab


def export_gguf(model_dir: Path, out: Path, *, dtype: str, name: str, task: str) -> dict[str, Any]:
    """Write ``model_dir`` to ``out`` with matrices in ``dtype`` (``f32`` or ``f16``);
    what was written (tensor count, bytes of tensor data)."""
    from transformers import AutoConfig, AutoTokenizer

    with _reading(model_dir, OSError):
        llama.check_architecture(json.loads((model_dir / "config.json").read_text("utf-8")), task)
        config = AutoConfig.from_pretrained(model_dir)
        llama.check_options(config)
        vocab.check_layout(model_dir)
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        plans = tensor_plans(model_dir, config)
    with _atomic(out) as tmp, _reading(model_dir):  # write errors are _atomic's
        write(tmp, model_dir, config, tokenizer, plans, dtype=dtype, name=name)
    return {"tensors": len(plans), "bytes": sum(_nbytes(p, dtype) for _, p in plans)}


def weight_files(model_dir: Path) -> list[Path]:
    """The safetensors files holding the model (one, or the shards of an index)."""
    index = model_dir / "model.safetensors.index.json"
    if index.is_file():
        names = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        return [model_dir / n for n in names]
    single = model_dir / "model.safetensors"
    if not single.is_file():
        raise UserError(
            f"{model_dir} has no model.safetensors; the GGUF export reads safetensors weights "
            f"(what `ftcore run` writes)"
        )
    return [single]


def tensor_plans(model_dir: Path, config: Any) -> list[tuple[Path, llama.TensorPlan]]:
    """Every tensor to write, in file order, with the file it is read from."""
    import gguf
    from safetensors import safe_open

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, int(config.num_hidden_layers))
    plans = []
    for path in weight_files(model_dir):
        with safe_open(path, framework="pt") as f:
            for key in f.keys():
                shape = tuple(f.get_slice(key).get_shape())
                plan = llama.plan_tensor(key, shape, config, names)
                if plan is not None:
                    plans.append((path, plan))
    return plans


def tensor_dtype(plan: llama.TensorPlan, dtype: str) -> Any:
    """float16 for matrices of an ``f16`` export; float32 otherwise (norms and other 1-D
    tensors stay float32, as llama.cpp keeps them)."""
    import numpy as np

    return np.dtype(np.float16 if dtype == "f16" and len(plan.shape) >= 2 else np.float32)


def _nbytes(plan: llama.TensorPlan, dtype: str) -> int:
    count = 1
    for size in plan.shape:
        count *= size
    return count * tensor_dtype(plan, dtype).itemsize


def write(
    path: Path,
    model_dir: Path,
    config: Any,
    tokenizer: Any,
    plans: list[tuple[Path, llama.TensorPlan]],
    *,
    dtype: str,
    name: str,
) -> None:
    import gguf

    writer = gguf.GGUFWriter(path=None, arch=gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.LLAMA])
    try:
        add_metadata(writer, config, tokenizer, model_dir, dtype=dtype, name=name)
        for _, plan in plans:
            kind = tensor_dtype(plan, dtype)
            writer.add_tensor_info(plan.name, plan.shape, kind, _nbytes(plan, dtype))
        writer.write_header_to_file(path=path)
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for array in tensor_data(plans, dtype):
            writer.write_tensor_data(array)
    finally:
        writer.close()


def add_metadata(
    writer: Any, config: Any, tokenizer: Any, model_dir: Path, *, dtype: str, name: str
) -> None:
    import gguf

    writer.add_type(gguf.GGUFType.MODEL)
    writer.add_name(name)
    llama.add_hyperparameters(writer, config)
    file_type = gguf.LlamaFileType.MOSTLY_F16 if dtype == "f16" else gguf.LlamaFileType.ALL_F32
    writer.add_file_type(int(file_type))
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    vocab.add_vocab(writer, tokenizer, model_dir, int(config.vocab_size))


def tensor_data(plans: list[tuple[Path, llama.TensorPlan]], dtype: str) -> Iterator[Any]:
    """The arrays to write, in plan order: Q/K permuted, cast to the file's dtype."""
    import torch
    from safetensors import safe_open

    handles: dict[Path, Any] = {}
    try:
        for path, plan in plans:
            if path not in handles:
                handles[path] = safe_open(path, framework="pt").__enter__()
            tensor = handles[path].get_tensor(plan.source).to(torch.float32)
            if plan.permute_heads is not None:
                tensor = llama.permute(tensor, plan.permute_heads)
            yield tensor.numpy().astype(tensor_dtype(plan, dtype), copy=False)
    finally:
        for handle in handles.values():
            handle.__exit__(None, None, None)


@contextmanager
def _atomic(out: Path) -> Iterator[Path]:
    """A temporary path beside ``out``, renamed over it when the block succeeds and
    removed when it fails (``out`` is then untouched)."""
    try:
        fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    except OSError as exc:
        raise UserError(f"cannot write to {out.parent}: {exc.strerror or exc}") from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _sync(tmp)
        os.replace(tmp, out)
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


def _sync(path: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)  # mkstemp makes 0600; follow the umask like other files
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


@contextmanager
def _reading(model_dir: Path, *also: type[BaseException]) -> Iterator[None]:
    """One line for a damaged or unreadable model folder (``also``: more exceptions that
    mean it, such as ``OSError`` while nothing is being written)."""
    from safetensors import SafetensorError

    try:
        yield
    except (SafetensorError, json.JSONDecodeError, EOFError, *also) as exc:
        raise UserError(
            f"{model_dir} cannot be read ({type(exc).__name__}: {str(exc).splitlines()[0][:100]}); "
            f"restore the folder from a copy of the run, or run the recipe again"
        ) from None
