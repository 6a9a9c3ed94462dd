"""LogME against the quantity it is defined as: the maximum over alpha, beta of the
Bayesian linear model's log evidence (You et al., ICML 2021, eq. 2 and algorithm 1)."""

from __future__ import annotations

import numpy as np
import pytest
from ftcore_evaluation.transferability import logme
from scipy.optimize import minimize


def evidence(features: np.ndarray, y: np.ndarray, alpha: float, beta: float) -> float:
    """The log evidence per example of ``y`` (one target column) for given ``alpha, beta``,
    computed directly from the formula (no eigendecomposition)."""
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, d = f.shape
    a = alpha * np.eye(d) + beta * f.T @ f
    m = beta * np.linalg.solve(a, f.T @ y)
    _, logdet = np.linalg.slogdet(a)
    value = (
        d / 2 * np.log(alpha)
        + n / 2 * np.log(beta)
        - n / 2 * np.log(2 * np.pi)
        - logdet / 2
        - beta / 2 * float(((y - f @ m) ** 2).sum())
        - alpha / 2 * float((m**2).sum())
    )
    return float(value / n)


def _brute_max(features: np.ndarray, y: np.ndarray) -> float:
    """The evidence maximised numerically over (log alpha, log beta), from several starts."""
    best = -np.inf
    for start in [(0.0, 0.0), (-3.0, 2.0), (3.0, -2.0), (-6.0, 5.0)]:
        found = minimize(
            lambda p: -evidence(features, y, np.exp(p[0]), np.exp(p[1])),
            np.array(start),
            method="Nelder-Mead",
            options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 4000},
        )
        best = max(best, -found.fun)
    return best


def _synthetic(n: int = 120, d: int = 6, noise: float = 0.3, seed: int = 0):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, d))
    w = rng.normal(size=d)
    return f, f @ w + noise * rng.normal(size=n)


def test_logme_is_the_maximum_evidence_regression():
    f, y = _synthetic()
    assert logme(f, y, regression=True) == pytest.approx(_brute_max(f, y), abs=1e-6)


def test_logme_is_the_mean_maximum_evidence_over_one_hot_columns():
    rng = np.random.default_rng(1)
    f = rng.normal(size=(90, 5))
    labels = np.argmax(f[:, :3] + 0.5 * rng.normal(size=(90, 3)), axis=1)
    expected = np.mean([_brute_max(f, (labels == k).astype(float)) for k in range(3)])
    assert logme(f, labels) == pytest.approx(expected, abs=1e-6)


def test_more_informative_features_score_higher():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, size=200)
    signal = labels[:, None] * 2.0 + rng.normal(size=(200, 8))
    noise = rng.normal(size=(200, 8))
    assert logme(signal, labels) > logme(noise, labels) + 0.05


def test_less_noise_scores_higher_and_value_is_finite_when_d_exceeds_n():
    f, clean = _synthetic(noise=0.05, seed=3)
    _, noisy = _synthetic(noise=1.0, seed=3)
    assert logme(f, clean, regression=True) > logme(f, noisy, regression=True)
    wide = np.random.default_rng(4).normal(size=(20, 64))  # D > N: F^T F is singular
    assert np.isfinite(logme(wide, np.arange(20) % 2))
