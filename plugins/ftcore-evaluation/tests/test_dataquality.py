"""Data-quality checks on synthetic features with planted problems."""

from __future__ import annotations

import numpy as np
from ftcore_evaluation.dataquality import label_issues, near_duplicates, thin_spots


def _blobs(n: int = 600, classes: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=n)
    centres = rng.normal(scale=4.0, size=(classes, 16))
    return centres[labels] + rng.normal(size=(n, 16)), labels


def test_flipped_labels_are_found_with_high_precision_and_recall():
    features, labels = _blobs()
    rng = np.random.default_rng(1)
    flipped = rng.choice(len(labels), size=30, replace=False)  # 5%
    noisy = labels.copy()
    noisy[flipped] = (labels[flipped] + 1) % 3
    found = label_issues(features, noisy, seed=0)
    suspects = {row["index"] for row in found}
    hits = suspects & set(flipped.tolist())
    assert len(hits) / len(flipped) >= 0.9  # recall
    assert len(hits) / max(len(suspects), 1) >= 0.8  # precision
    first = found[0]
    assert first["given"] == noisy[first["index"]]
    assert first["suggested"] == labels[first["index"]]
    assert [row["confidence"] for row in found] == sorted(row["confidence"] for row in found)


def test_precomputed_probabilities_give_the_same_suspects():
    """The quality step computes the out-of-fold probabilities once (for the probe's score
    too) and hands them over; a class with one row is left out of the judgement alike."""
    from ftcore_evaluation.dataquality import out_of_fold_probabilities

    features, labels = _blobs()
    noisy = labels.copy()
    noisy[:30] = (labels[:30] + 1) % 3
    for rare in (False, True):
        if rare:
            noisy[100] = 3  # a class with a single row: fewer folds than the rest would get
        probs = out_of_fold_probabilities(features, noisy, seed=0)
        shared = label_issues(features, noisy, seed=0, probabilities=probs)
        assert shared == label_issues(features, noisy, seed=0)
        assert shared and 100 not in {r["index"] for r in shared}


def test_clean_labels_give_few_suspects_and_tiny_inputs_none():
    features, labels = _blobs(seed=2)
    assert len(label_issues(features, labels)) <= 3
    assert label_issues(features[:3], labels[:3]) == []


def test_near_duplicates_are_paired_most_similar_first():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 8))
    x[10] = x[3] * 2.0  # same direction: cosine 1
    x[20] = x[4] + 0.01 * rng.normal(size=8)
    pairs = near_duplicates(x, threshold=0.98, block=7)
    assert [(i, j) for i, j, _ in pairs] == [(3, 10), (4, 20)]
    assert pairs[0][2] >= pairs[1][2] >= 0.98


def test_thin_classes_and_length_ranges():
    labels = ["a"] * 50 + ["b"] * 5
    lengths = [12] * 50 + [300] * 5
    spots = thin_spots(labels, lengths, min_rows=20)
    assert spots["classes"] == {"b": 5}
    assert spots["length_ranges"]["256-511 tokens"] == 5
    assert "8-15 tokens" not in spots["length_ranges"]
    assert spots["length_ranges"]["16-31 tokens"] == 0  # a gap below longer texts
