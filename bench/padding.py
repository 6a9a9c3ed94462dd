"""Padding share of one training epoch, length-grouped vs random batches.

``python -m bench.padding [RECIPE] [--epochs N]``: encodes the recipe's training split with
its tokenizer (as ``ftcore run`` does) and counts real and padded tokens of every batch
that ftcore's length-grouped order (``data.group_by_length: true``) and a random order
(what the Hugging Face Trainer uses by default) would form. No training: a few seconds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch


def padding_share(lengths: list[int], order: list[int], batch_size: int) -> dict[str, float]:
    real = padded = 0
    for start in range(0, len(order), batch_size):
        batch = [lengths[i] for i in order[start : start + batch_size]]
        real += sum(batch)
        padded += max(batch) * len(batch)
    return {"real_tokens": real, "padded_tokens": padded, "padding_share": 1 - real / padded}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("recipe", nargs="?", default="sentiment-rotten-tomatoes")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    from ftcore.cli import _recipe
    from ftcore.data.datamodule import epoch_order
    from ftcore.run import Run, load_data

    recipe, hooks = _recipe(args.recipe, [])
    run = Run(recipe=recipe, hooks=hooks, run_dir=Path("."))
    load_data(run)
    lengths = [len(f["input_ids"]) for f in run.datamodule.features["train"]]
    size, seed = recipe.data.batch_size, int(recipe.seed)
    found = {}
    for name, grouped in (("length-grouped", True), ("random", False)):
        epochs = [
            padding_share(lengths, epoch_order(lengths, size, seed, e, grouped), size)
            for e in range(args.epochs)
        ]
        found[name] = {
            "padded_tokens": sum(e["padded_tokens"] for e in epochs),
            "real_tokens": sum(e["real_tokens"] for e in epochs),
            "padding_share": round(sum(e["padding_share"] for e in epochs) / len(epochs), 4),
        }
    found["padded_tokens ratio (grouped / random)"] = round(
        found["length-grouped"]["padded_tokens"] / found["random"]["padded_tokens"], 3
    )
    found.update(recipe=args.recipe, rows=len(lengths), batch_size=size, epochs=args.epochs)
    print(json.dumps(found, indent=2))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
