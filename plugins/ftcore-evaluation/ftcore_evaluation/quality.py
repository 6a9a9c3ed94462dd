"""``ftcore assess``'s data-quality and transferability step, on the frozen features.

One stratified sample of the training split (at most ``rows``) is embedded once with the
pretrained model (mean-pooled, as the probe baseline); on those features:

- LogME (:mod:`ftcore_evaluation.transferability`) of the labels, next to the LogME of
  random features of the same size (a floor: what "no information" scores here);
- likely label errors (:func:`dataquality.label_issues`), the top ones with their rows;
- near-duplicate pairs (cosine >= 0.98);
- and, on the whole training split, classes and length ranges with too few rows.

Single-label classification gets all of it; other tasks get the thin length ranges.
"""

from __future__ import annotations

import random
import time
from typing import Any

import numpy as np

from ftcore_evaluation import dataquality, transferability

ROWS = 2000
TOP_SUSPECTS = 20
TEXT_CHARS = 160


def stratified(labels: list[str], size: int, seed: int) -> list[int]:
    """At most ``size`` row indices, each class kept in proportion (at least one row each),
    in the original order."""
    if len(labels) <= size:
        return list(range(len(labels)))
    by_class: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_class.setdefault(label, []).append(i)
    rng = random.Random(seed)
    keep: list[int] = []
    for members in by_class.values():
        share = max(1, round(size * len(members) / len(labels)))
        keep += rng.sample(members, min(share, len(members)))
    return sorted(keep)


def _single_label(run: Any) -> bool:
    rows = run.data.rows["train"]
    return (  # a label vocabulary and one label per row: single-label classification
        bool(run.info.labels)
        and not getattr(run.head_options, "multi_label", False)
        and bool(rows)
        and isinstance(rows[0].get("label"), (str, int))
    )


def _lengths(run: Any) -> list[int]:
    features = (getattr(run.datamodule, "features", None) or {}).get("train") or []
    return [len(f["input_ids"]) for f in features if "input_ids" in f]


def assess_quality(run: Any, base: Any, rows: int = ROWS) -> dict[str, Any]:
    """The step's findings as plain values (see the module docstring)."""
    from ftcore.api import mean_pooled_embeddings

    started = time.perf_counter()
    train = run.data.rows["train"]
    if not _single_label(run):
        return {
            "thin_spots": dataquality.thin_spots(None, _lengths(run)),
            "seconds": round(time.perf_counter() - started, 1),
        }
    names = list(run.info.labels)
    given = [str(r["label"]) for r in train]
    picked = [i for i in stratified(given, rows, int(run.recipe.seed)) if given[i] in names]
    labels = np.asarray([names.index(given[i]) for i in picked])
    recipe = run.recipe
    features = mean_pooled_embeddings(
        base,
        run.tokenizer,
        [train[i]["text"] for i in picked],
        recipe.data.max_length,
        recipe.data.eval_batch_size,
    )
    noise = np.random.default_rng(int(recipe.seed)).normal(size=features.shape)
    issues = dataquality.label_issues(features, labels, seed=int(recipe.seed))
    suspects = [
        {
            "row": picked[found["index"]],
            "text": str(train[picked[found["index"]]]["text"])[:TEXT_CHARS],
            "given": names[found["given"]],
            "suggested": names[found["suggested"]],
            "confidence": found["confidence"],
        }
        for found in issues[:TOP_SUSPECTS]
    ]
    near = [
        {
            "rows": [picked[i], picked[j]],
            "cosine": cosine,
            "texts": [str(train[picked[k]]["text"])[:TEXT_CHARS] for k in (i, j)],
        }
        for i, j, cosine in dataquality.near_duplicates(features, limit=10)
    ]
    return {
        "sample_rows": len(picked),
        "logme": round(transferability.logme(features, labels), 4),
        "logme_random_features": round(transferability.logme(noise, labels), 4),
        "label_issues": len(issues),
        "suspects": suspects,
        "near_duplicates": near,
        "thin_spots": dataquality.thin_spots(given, _lengths(run)),
        "seconds": round(time.perf_counter() - started, 1),
    }


def meaning(found: dict[str, Any]) -> list[str]:
    """What the numbers mean for the decision, in words."""
    lines = []
    if "logme" in found:
        gap = found["logme"] - found["logme_random_features"]
        if gap <= 0.02:
            lines.append(
                f"LogME {found['logme']:.3f} is no better than random features "
                f"({found['logme_random_features']:.3f}): the pretrained features barely "
                "separate these labels; expect fine-tuning to have to learn most of the task."
            )
        else:
            lines.append(
                f"LogME {found['logme']:.3f} against {found['logme_random_features']:.3f} for "
                "random features: the frozen features already explain part of the labels "
                "(the larger the gap, the closer the task is to what the model learned). "
                "Compare candidates with --models: a higher LogME ranks a model higher."
            )
        share = found["label_issues"] / max(found["sample_rows"], 1)
        lines.append(
            f"{found['label_issues']} of {found['sample_rows']} sampled training rows "
            f"({share:.1%}) disagree with a cross-validated probe on the frozen features. "
            "Where that share is close to the probe's error rate (Baseline), most are hard "
            "rows rather than wrong labels: read the list under Data quality from the top, "
            "where wrong labels gather; fixing them is cheaper than any training run."
        )
    thin = found.get("thin_spots", {})
    if thin.get("classes"):
        lines.append(
            f"Classes with fewer than {thin['min_rows']} training rows: "
            + ", ".join(f"{k} ({v})" for k, v in thin["classes"].items())
            + "; their test scores will be noisy and the model may rarely predict them."
        )
    return lines


def markdown(found: dict[str, Any]) -> str:
    """The "Data quality" section of assessment.md."""
    from ftcore.api import markdown_escape as escape
    from ftcore.api import markdown_table as table

    parts = []
    if "logme" in found:
        parts.append(
            f"On a stratified sample of {found['sample_rows']} training rows, embedded once "
            f"with the pretrained model ({found['seconds']:.0f} s): LogME "
            f"**{found['logme']:.3f}** (random features of the same size: "
            f"{found['logme_random_features']:.3f}); {found['label_issues']} likely label "
            "errors (out-of-fold probe probabilities, cleanlab's confident learning)."
        )
        if found["suspects"]:
            rows = [
                [
                    s["row"],
                    escape(s["text"]),
                    escape(s["given"]),
                    escape(s["suggested"]),
                    f"{s['confidence']:.3f}",
                ]
                for s in found["suspects"]
            ]
            parts.append(
                "Most likely label errors (row of the training split, worst first):\n\n"
                + table(["row", "text", "given", "suggested", "p(given)"], rows)
            )
        if found["near_duplicates"]:
            rows = [
                [
                    f"{d['rows'][0]}, {d['rows'][1]}",
                    f"{d['cosine']:.3f}",
                    escape(d["texts"][0]),
                    escape(d["texts"][1]),
                ]
                for d in found["near_duplicates"]
            ]
            parts.append("Near-duplicates:\n\n" + table(["rows", "cosine", "text", "text"], rows))
    thin = found.get("thin_spots", {})
    if thin.get("length_ranges"):
        ranges = ", ".join(f"{k}: {v}" for k, v in thin["length_ranges"].items())
        parts.append(f"Length ranges with fewer than {thin['min_rows']} rows: {ranges}.")
    return "\n\n".join(parts) or "Nothing to report."
