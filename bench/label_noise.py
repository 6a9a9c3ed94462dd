"""How well the data-quality check finds wrong labels: flip a share of the training labels
on purpose and measure precision and recall of the reported suspects.

``python -m bench.label_noise [RECIPE] [--flip 0.05] [--rows N] [--seed 0]``: embeds the
recipe's training split (or a seeded sample of ``--rows``) with the pretrained model
(mean-pooled, as the probe baseline does), flips ``--flip`` of the labels to another
class, runs :func:`ftcore_evaluation.dataquality.label_issues` (out-of-fold probe
probabilities + cleanlab), and prints precision and recall of the flipped rows among the
suspects, and the same for the top-k suspects with k = the number flipped.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np


def parser() -> argparse.ArgumentParser:
    found = argparse.ArgumentParser(prog="python -m bench.label_noise")
    found.add_argument("recipe", nargs="?", default="sentiment-rotten-tomatoes")
    found.add_argument("--flip", type=float, default=0.05)
    found.add_argument("--rows", type=int, default=0, help="sample this many (0: all)")
    found.add_argument("--seed", type=int, default=0)
    return found


def main() -> None:
    args = parser().parse_args()
    from ftcore_evaluation.dataquality import label_issues

    from ftcore.api import mean_pooled_embeddings, setup_run

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        run = setup_run(args.recipe, run_dir=tmp)
        rows = run.data.rows["train"]
        rng = np.random.default_rng(args.seed)
        if args.rows and args.rows < len(rows):
            rows = [rows[i] for i in sorted(rng.choice(len(rows), args.rows, replace=False))]
        names = list(run.info.labels)
        labels = np.asarray([names.index(str(r["label"])) for r in rows])
        t0 = time.perf_counter()
        recipe = run.recipe
        features = mean_pooled_embeddings(
            run.module.model,
            run.tokenizer,
            [r["text"] for r in rows],
            recipe.data.max_length,
            recipe.data.eval_batch_size,
        )
        embed_seconds = time.perf_counter() - t0
    flipped = rng.choice(len(labels), int(round(args.flip * len(labels))), replace=False)
    noisy = labels.copy()
    shift = rng.integers(1, len(names), size=len(flipped))
    noisy[flipped] = (labels[flipped] + shift) % len(names)
    t0 = time.perf_counter()
    found = label_issues(features, noisy, seed=args.seed)
    detect_seconds = time.perf_counter() - t0
    truth = set(flipped.tolist())
    suspects = [row["index"] for row in found]
    top = set(suspects[: len(truth)])
    hits = truth & set(suspects)
    result = {
        "recipe": args.recipe,
        "rows": len(labels),
        "flipped": len(truth),
        "suspects": len(suspects),
        "precision": round(len(hits) / max(len(suspects), 1), 3),
        "recall": round(len(hits) / max(len(truth), 1), 3),
        "top_k_precision": round(len(top & truth) / max(len(truth), 1), 3),
        "embed_seconds": round(embed_seconds, 1),
        "detect_seconds": round(detect_seconds, 1),
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
