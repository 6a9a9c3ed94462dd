"""This machine's matmul peak and the FLOPs of one MiniLM training step.

``python -m bench.compute peak --threads T [--device cuda] --out FILE``: the best FLOP/s of
square matmuls (fp32 and bf16) over a few sizes: the peak the training throughput is
compared with. On cuda the sizes are larger, and each timing ends with
``torch.cuda.synchronize()``.

``python -m bench.compute flops --model DIR --batch B --seq S [--device cuda] --out FILE``:
FLOPs of one
training step (forward + backward) of a sequence-classification model, counted with
``torch.utils.flop_counter.FlopCounterMode`` (matmuls and attention), and the 6 x params
x tokens estimate (non-embedding parameters).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench.common import write_json

SIZES = {"cpu": (512, 1024, 2048), "cuda": (2048, 4096, 8192)}


def matmul_peak(dtype: Any, seconds: float = 1.5, device: str = "cpu") -> dict[str, Any]:
    """The best sustained FLOP/s of n x n @ n x n over ``SIZES`` (each timed ~``seconds``).

    On cuda the products are queued in blocks of 10, each block waited for, so the clock
    reads finished work (and the queue stays short)."""
    import torch

    sync = torch.cuda.synchronize if device == "cuda" else lambda: None
    block = 10 if device == "cuda" else 1
    best: dict[str, Any] = {"flops_per_s": 0.0}
    for n in SIZES[device]:
        a = torch.randn(n, n, dtype=dtype, device=device)
        b = torch.randn(n, n, dtype=dtype, device=device)
        for _ in range(block):  # warm-up
            a @ b
        sync()
        runs, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            for _ in range(block):
                a @ b
            sync()
            runs += block
        rate = 2 * n**3 * runs / (time.perf_counter() - started)
        if rate > best["flops_per_s"]:
            best = {"flops_per_s": rate, "n": n}
    return best


def step_flops(model_dir: str, batch: int, seq: int, device: str = "cpu") -> dict[str, Any]:
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging

    logging.set_verbosity_error()
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2)
    model = model.to(device).train()
    ids = torch.randint(1000, 2000, (batch, seq), device=device)
    labels = torch.zeros(batch, dtype=torch.long, device=device)
    with FlopCounterMode(display=False) as counter:
        model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels).loss.backward()
    embeddings = model.base_model.embeddings
    params = sum(p.numel() for p in model.parameters())
    non_embedding = params - sum(p.numel() for p in embeddings.parameters())
    tokens = batch * seq
    return {
        "batch": batch,
        "seq": seq,
        "params": params,
        "non_embedding_params": non_embedding,
        "counted_flops_per_step": counter.get_total_flops(),
        "counted_flops_per_token": counter.get_total_flops() / tokens,
        "estimate_6n_flops_per_token": 6 * non_embedding,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["peak", "flops"])
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--model")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=64)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.what == "peak":
        found = {
            "threads": torch.get_num_threads(),
            "fp32": matmul_peak(torch.float32, device=args.device),
            "bf16": matmul_peak(torch.bfloat16, device=args.device),
        }
        if args.device == "cuda":
            found["device"] = torch.cuda.get_device_name(0)
            found["float32_matmul_precision"] = torch.get_float32_matmul_precision()
    else:
        found = step_flops(args.model, args.batch, args.seq, args.device)
    write_json(args.out, found)


if __name__ == "__main__":
    main()
