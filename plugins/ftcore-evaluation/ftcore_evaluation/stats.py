"""Pure statistics: bootstrap intervals, paired differences, McNemar's test, power laws.

numpy and scipy only, no ftcore imports, so every function is tested on fixed numbers.
Intervals are percentile bootstrap intervals. A *paired* comparison resamples the same
examples for both systems, so the difference's interval reflects only how the two
systems differ on the examples, not how hard the examples are.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Score = Callable[[list[Any]], dict[str, float]]


@dataclass(frozen=True)
class Interval:
    """A point estimate and its confidence interval (``low``/``high`` NaN when not computed)."""

    value: float
    low: float = math.nan
    high: float = math.nan

    def excludes(self, x: float) -> bool:
        return not (math.isnan(self.low) or self.low <= x <= self.high)

    def to_dict(self) -> dict[str, float | None]:
        return {k: _clean(getattr(self, k)) for k in ("value", "low", "high")}


def _clean(x: float) -> float | None:
    return None if x is None or math.isnan(x) else round(float(x), 6)


def resample_indices(n: int, samples: int, seed: int) -> np.ndarray:
    """``(samples, n)`` example indices drawn with replacement (seeded)."""
    return np.random.default_rng(seed).integers(0, n, size=(samples, n))


def percentile_interval(draws: np.ndarray, confidence: float) -> tuple[float, float]:
    """The central ``confidence`` share of the bootstrap draws (NaN draws ignored)."""
    draws = np.asarray(draws, dtype=float)
    if draws.size == 0 or np.all(np.isnan(draws)):
        return math.nan, math.nan
    alpha = (1.0 - confidence) / 2.0
    low, high = np.nanquantile(draws, [alpha, 1.0 - alpha])
    return float(low), float(high)


def score_draws(score: Score, items: Sequence[Any], indices: np.ndarray) -> dict[str, np.ndarray]:
    """``score`` of every resample of ``items``: metric -> array of one value per resample."""
    found: list[dict[str, float]] = [score([items[i] for i in row]) for row in indices]
    names = list(found[0]) if found else []
    return {k: np.array([d.get(k, math.nan) for d in found], dtype=float) for k in names}


def intervals(
    point: dict[str, float], draws: dict[str, np.ndarray], confidence: float
) -> dict[str, Interval]:
    """Each metric's point value with the percentile interval of its draws."""
    out = {}
    for name, value in point.items():
        low, high = percentile_interval(draws.get(name, np.array([])), confidence)
        out[name] = Interval(float(value), low, high)
    return out


def bootstrap(
    score: Score, items: Sequence[Any], samples: int, confidence: float, seed: int
) -> dict[str, Interval]:
    """Bootstrap interval of every metric ``score`` returns for ``items``."""
    indices = resample_indices(len(items), samples, seed)
    return intervals(score(list(items)), score_draws(score, items, indices), confidence)


def difference_intervals(
    point_a: dict[str, float],
    point_b: dict[str, float],
    draws_a: dict[str, np.ndarray],
    draws_b: dict[str, np.ndarray],
    confidence: float,
) -> dict[str, Interval]:
    """Paired ``a - b`` per metric; the draws must come from the same resampled indices."""
    out = {}
    for name in point_a:
        if name not in point_b:
            continue
        diff = draws_a.get(name, np.array([])) - draws_b.get(name, np.array([]))
        low, high = percentile_interval(diff, confidence)
        out[name] = Interval(float(point_a[name] - point_b[name]), low, high)
    return out


def paired_bootstrap(
    score: Score,
    items_a: Sequence[Any],
    items_b: Sequence[Any],
    samples: int,
    confidence: float,
    seed: int,
) -> dict[str, Interval]:
    """Interval of ``score(a) - score(b)`` per metric, resampling the same examples."""
    if len(items_a) != len(items_b):
        raise ValueError(f"paired comparison needs equal lengths ({len(items_a)}, {len(items_b)})")
    indices = resample_indices(len(items_a), samples, seed)
    return difference_intervals(
        score(list(items_a)),
        score(list(items_b)),
        score_draws(score, items_a, indices),
        score_draws(score, items_b, indices),
        confidence,
    )


def mean_interval(values: Sequence[float], indices: np.ndarray, confidence: float) -> Interval:
    """Mean of per-example values with its bootstrap interval (vectorised)."""
    values = np.asarray(values, dtype=float)
    draws = values[indices].mean(axis=1) if indices.size else np.array([])
    return Interval(float(values.mean()), *percentile_interval(draws, confidence))


def mean_difference_interval(
    a: Sequence[float], b: Sequence[float], indices: np.ndarray, confidence: float
) -> Interval:
    """Paired mean difference ``a - b`` of per-example values (vectorised)."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    return mean_interval(diff, indices, confidence)


def mcnemar(
    correct_a: Sequence[bool], correct_b: Sequence[bool], exact: bool | None = None
) -> dict[str, Any]:
    """McNemar's test of equal accuracy for two classifiers on the same examples.

    Only discordant pairs count: ``b`` examples only A gets right, ``c`` only B gets
    right. Exact: two-sided binomial test of ``b`` among ``b + c`` at 1/2. Otherwise
    the chi-square statistic with continuity correction ``(|b - c| - 1)^2 / (b + c)``
    on one degree of freedom. ``exact=None`` picks exact when ``b + c < 25``.
    """
    from scipy import stats

    a, b_ = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    b, c = int(np.sum(a & ~b_)), int(np.sum(~a & b_))
    n = b + c
    use_exact = n < 25 if exact is None else exact
    if n == 0:
        p, statistic = 1.0, 0.0
    elif use_exact:
        statistic = float(min(b, c))
        p = min(1.0, 2.0 * float(stats.binom.cdf(min(b, c), n, 0.5)))
    else:
        statistic = (abs(b - c) - 1) ** 2 / n
        p = float(stats.chi2.sf(statistic, 1))
    method = "exact binomial" if use_exact else "chi-square with continuity correction"
    return {"b": b, "c": c, "statistic": statistic, "p_value": p, "method": method}


def fit_power_law(sizes: Sequence[float], gaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fit ``gap = a * n ** -b`` (b >= 0) by least squares in log-log space.

    sizes: training-set sizes ``n`` (at least two distinct). gaps: one row of gaps per
    fit, shape ``(fits, len(sizes))``; a gap is the distance to a perfect score (e.g.
    ``1 - accuracy``, or a loss). Returns ``(a, b)`` arrays, one value per row.
    """
    x = np.log(np.asarray(sizes, dtype=float))
    y = np.log(np.clip(np.atleast_2d(np.asarray(gaps, dtype=float)), 1e-6, None))
    xc = x - x.mean()
    slope = (y - y.mean(axis=1, keepdims=True)) @ xc / float(xc @ xc)
    b = np.clip(-slope, 0.0, None)  # more data is never projected to hurt
    log_a = y.mean(axis=1) + b * x.mean()
    return np.exp(log_a), b


def power_law(a: np.ndarray, b: np.ndarray, n: float) -> np.ndarray:
    return np.asarray(a) * float(n) ** -np.asarray(b)
