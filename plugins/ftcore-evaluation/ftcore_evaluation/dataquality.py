"""Data quality before spending compute: likely label errors, near-duplicates, thin spots.

- Likely label errors: out-of-fold class probabilities of a linear probe on the frozen
  features (stratified k-fold, so no row is scored by a probe that saw it), handed to
  cleanlab's confident learning (``cleanlab.filter.find_label_issues``, Northcutt et al.,
  JAIR 2021), ranked by self-confidence (the probe's probability of the given label).
- Near-duplicates: pairs of training rows whose feature vectors have cosine similarity
  at least ``threshold`` (exact duplicates are in the data summary already).
- Thin spots: classes and length ranges with fewer than ``min_rows`` training rows.

Every function is pure (arrays in, plain values out), so tests need no model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FOLDS = 5
NEAR_DUPLICATE = 0.98
MIN_ROWS = 20


def out_of_fold_probabilities(
    features: np.ndarray, labels: np.ndarray, seed: int = 0, folds: int = FOLDS
) -> np.ndarray:
    """(N, K) class probabilities, each row's from a logistic-regression probe trained on
    the other folds (stratified; fewer folds when the rarest class is smaller)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    smallest = int(np.bincount(labels).min(initial=0)) if len(labels) else 0
    folds = max(2, min(folds, smallest))
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, C=0.1))
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return cross_val_predict(probe, features, labels, cv=split, method="predict_proba")


def out_of_fold_regression(
    features: np.ndarray, targets: np.ndarray, seed: int = 0, folds: int = FOLDS
) -> np.ndarray:
    """(N,) predictions, each row's from a ridge probe (penalty chosen by efficient
    leave-one-out inside the fold) trained on the other folds."""
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 4, 13)))
    split = KFold(n_splits=max(2, min(folds, len(targets))), shuffle=True, random_state=seed)
    return cross_val_predict(probe, features, targets, cv=split)


def label_issues(
    features: np.ndarray,
    labels: np.ndarray,
    seed: int = 0,
    folds: int = FOLDS,
    probabilities: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """Rows whose given label is likely wrong, worst first: ``{"index", "given",
    "suggested", "confidence"}`` (confidence: the probe's probability of the given label).
    ``labels`` are class indices 0..K-1; classes with fewer than 2 rows are not judged.
    ``probabilities``: :func:`out_of_fold_probabilities` of every row, already computed;
    used when every class has at least ``folds`` rows (they are then exactly what this
    would compute), recomputed on the judged rows otherwise."""
    from cleanlab.filter import find_label_issues

    labels = np.asarray(labels, dtype=int)
    counts = np.bincount(labels)
    keep = counts[labels] >= 2
    if keep.sum() < 4 or len(np.unique(labels[keep])) < 2:
        return []
    rows = np.flatnonzero(keep)
    classes, local = np.unique(labels[keep], return_inverse=True)
    if probabilities is not None and counts[counts > 0].min() >= folds:
        probs = np.asarray(probabilities)  # every row kept: the same folds, the same columns
    else:
        probs = out_of_fold_probabilities(np.asarray(features)[keep], local, seed, folds)
    ranked = find_label_issues(local, probs, return_indices_ranked_by="self_confidence")
    return [
        {
            "index": int(rows[i]),
            "given": int(classes[local[i]]),
            "suggested": int(classes[int(np.argmax(probs[i]))]),
            "confidence": round(float(probs[i, local[i]]), 4),
        }
        for i in ranked
    ]


def near_duplicates(
    features: np.ndarray, threshold: float = NEAR_DUPLICATE, limit: int = 50, block: int = 2048
) -> list[tuple[int, int, float]]:
    """Pairs ``(i, j, cosine)`` with i < j and cosine >= threshold, most similar first (at
    most ``limit``); computed in blocks so memory stays O(block x N)."""
    x = np.asarray(features, dtype=np.float32)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    found: list[tuple[int, int, float]] = []
    for start in range(0, len(x), block):
        sims = x[start : start + block] @ x.T
        rows, cols = np.nonzero(sims >= threshold)
        for r, c in zip(rows, cols):
            i = start + int(r)
            if i < c:
                found.append((i, int(c), round(float(sims[r, c]), 4)))
    found.sort(key=lambda pair: -pair[2])
    return found[:limit]


def thin_spots(
    labels: list[Any] | None, lengths: list[int], min_rows: int = MIN_ROWS
) -> dict[str, Any]:
    """Classes with fewer than ``min_rows`` rows, and token-length ranges (powers of two)
    holding fewer than ``min_rows`` rows while longer ranges exist."""
    classes: dict[str, int] = {}
    if labels is not None:
        values, counts = np.unique(np.asarray([str(v) for v in labels]), return_counts=True)
        classes = {str(v): int(c) for v, c in zip(values, counts) if c < min_rows}
    ranges: dict[str, int] = {}
    if lengths:
        edges = [0, 8]
        while edges[-1] <= max(lengths):
            edges.append(edges[-1] * 2)
        counts = np.histogram(lengths, bins=edges)[0]
        last = int(np.flatnonzero(counts).max())
        for k, count in enumerate(counts[: last + 1]):
            if 0 < count < min_rows or (count == 0 and 0 < k < last):
                ranges[f"{edges[k]}-{edges[k + 1] - 1} tokens"] = int(count)
    return {"min_rows": min_rows, "classes": classes, "length_ranges": ranges}
