"""How well frozen features suit the labels, before any training: LogME.

LogME (You, Liu, Wang, Long: "LogME: Practical Assessment of Pre-trained Models for
Transfer Learning", ICML 2021) is the log of the maximum evidence of a Bayesian linear
model ``y = F w + noise`` with prior ``w ~ N(0, 1/alpha)`` and noise ``N(0, 1/beta)``,
maximised over ``alpha`` and ``beta`` and divided by the number of examples; for
classification, the mean over the one-hot columns of the labels. Higher is better; it
ranks models (or the same model on different tasks) by how linearly their features
explain the labels, and it needs no training and no hyperparameters.

The evidence for given ``alpha, beta`` (Bishop, PRML 3.86)::

    log p(y | F, alpha, beta) = D/2 log alpha + N/2 log beta - N/2 log 2 pi
                                - 1/2 log |A| - beta/2 |y - F m|^2 - alpha/2 |m|^2
    A = alpha I + beta F^T F,   m = beta A^-1 F^T y

It is maximised by MacKay's fixed-point updates (``gamma = sum beta s_i / (alpha + beta
s_i)``, ``alpha = gamma / |m|^2``, ``beta = (N - gamma) / |y - F m|^2``) in the eigenbasis of
``F^T F``, so each update costs O(D^2) after one decomposition; the paper's algorithm 1.
The unit test computes the formula directly and maximises it numerically, for checking.
"""

from __future__ import annotations

import numpy as np

MAX_ITERATIONS = 100
TOLERANCE = 1e-6


def _max_evidence(
    s: np.ndarray, v: np.ndarray, f: np.ndarray, y: np.ndarray
) -> tuple[float, float, float]:
    """(log evidence per example, alpha, beta) at the fixed point, for one target column;
    ``s, v``: eigenvalues and eigenvectors of ``F^T F``."""
    n, d = f.shape
    projected = v.T @ (f.T @ y)  # F^T y in the eigenbasis
    alpha, beta = 1.0, 1.0
    for _ in range(MAX_ITERATIONS):
        weights = beta / (alpha + beta * s)
        m = v @ (projected * weights)
        gamma = float((beta * s / (alpha + beta * s)).sum())
        m2 = float((m**2).sum())
        residual = float(((y - f @ m) ** 2).sum())
        new_alpha = gamma / max(m2, 1e-12)
        new_beta = max(n - gamma, 1e-12) / max(residual, 1e-12)
        done = abs(new_alpha / new_beta - alpha / beta) <= TOLERANCE * (alpha / beta)
        alpha, beta = new_alpha, new_beta
        if done:
            break
    m = v @ (projected * (beta / (alpha + beta * s)))
    residual = float(((y - f @ m) ** 2).sum())
    value = (
        d / 2 * np.log(alpha)
        + n / 2 * np.log(beta)
        - n / 2 * np.log(2 * np.pi)
        - float(np.log(alpha + beta * s).sum()) / 2
        - beta / 2 * residual
        - alpha / 2 * float((m**2).sum())
    )
    return float(value / n), alpha, beta


def logme(features: np.ndarray, labels: np.ndarray, regression: bool = False) -> float:
    """LogME of ``features`` (N x D) for ``labels``: class indices (N,) for
    classification, targets (N,) or (N, K) for regression (standardise them first to
    compare tasks). The mean over target columns of the maximum log evidence per example."""
    f = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    if regression:
        targets = labels.reshape(len(labels), -1).astype(np.float64)
    else:
        classes = np.unique(labels)
        targets = (labels[:, None] == classes[None, :]).astype(np.float64)
    s, v = np.linalg.eigh(f.T @ f)
    s = np.clip(s, 0.0, None)
    return float(
        np.mean([_max_evidence(s, v, f, targets[:, k])[0] for k in range(targets.shape[1])])
    )
