"""The statistics against independent computations: numpy, scipy, and hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ftcore_evaluation import stats
from scipy import stats as sp


def accuracy(items: list[tuple[int, int]]) -> dict[str, float]:
    return {"accuracy": float(np.mean([p == t for p, t in items]))}


@pytest.fixture
def predictions() -> list[tuple[int, int]]:
    rng = np.random.default_rng(7)
    target = rng.integers(0, 3, 400)
    pred = np.where(rng.random(400) < 0.8, target, rng.integers(0, 3, 400))
    return list(zip(pred.tolist(), target.tolist()))


def test_bootstrap_interval_equals_a_direct_numpy_bootstrap(predictions):
    found = stats.bootstrap(accuracy, predictions, samples=1000, confidence=0.9, seed=3)
    correct = np.array([p == t for p, t in predictions], dtype=float)
    rng = np.random.default_rng(3)  # independent: draw, average, take percentiles by hand
    means = np.sort([correct[rng.integers(0, 400, 400)].mean() for _ in range(1000)])
    expected = np.quantile(means, [0.05, 0.95])
    assert found["accuracy"].value == pytest.approx(correct.mean())
    assert (found["accuracy"].low, found["accuracy"].high) == pytest.approx(tuple(expected))


def test_bootstrap_interval_agrees_with_scipy(predictions):
    found = stats.bootstrap(accuracy, predictions, samples=4000, confidence=0.95, seed=0)
    correct = np.array([p == t for p, t in predictions], dtype=float)
    ref = sp.bootstrap(
        (correct,),
        np.mean,
        n_resamples=4000,
        confidence_level=0.95,
        method="percentile",
        random_state=1,
    ).confidence_interval
    assert found["accuracy"].low == pytest.approx(ref.low, abs=0.01)
    assert found["accuracy"].high == pytest.approx(ref.high, abs=0.01)


def test_vectorised_mean_interval_matches_generic_bootstrap(predictions):
    correct = np.array([p == t for p, t in predictions], dtype=float)
    idx = stats.resample_indices(len(correct), 500, 11)
    fast = stats.mean_interval(correct, idx, 0.95)
    slow = stats.intervals(
        accuracy(predictions), stats.score_draws(accuracy, predictions, idx), 0.95
    )["accuracy"]
    assert (fast.value, fast.low, fast.high) == pytest.approx((slow.value, slow.low, slow.high))


def test_paired_difference_interval_uses_the_same_examples(predictions):
    rng = np.random.default_rng(5)
    flip = rng.random(400) < 0.1  # system b: a with 10% of predictions changed
    other = [((p + 1) % 3 if f else p, t) for (p, t), f in zip(predictions, flip)]
    found = stats.paired_bootstrap(accuracy, predictions, other, 2000, 0.95, seed=2)["accuracy"]
    a = np.array([p == t for p, t in predictions], dtype=float)
    b = np.array([p == t for p, t in other], dtype=float)
    idx = np.random.default_rng(2).integers(0, 400, (2000, 400))
    diffs = a[idx].mean(1) - b[idx].mean(1)
    assert found.value == pytest.approx(a.mean() - b.mean())
    assert (found.low, found.high) == pytest.approx(tuple(np.quantile(diffs, [0.025, 0.975])))
    unpaired = np.quantile(
        a[idx].mean(1) - b[np.random.default_rng(9).integers(0, 400, (2000, 400))].mean(1),
        [0.025, 0.975],
    )
    assert found.high - found.low < 0.75 * (unpaired[1] - unpaired[0])  # pairing removes noise
    assert found.excludes(0.0)


def test_paired_bootstrap_needs_equal_lengths(predictions):
    with pytest.raises(ValueError, match="equal lengths"):
        stats.paired_bootstrap(accuracy, predictions, predictions[:-1], 10, 0.95, 0)


def test_mcnemar_hand_computed_case():
    # 10 examples only A gets right, 2 only B; 30 both right, 8 both wrong.
    a = [1] * 10 + [0] * 2 + [1] * 30 + [0] * 8
    b = [0] * 10 + [1] * 2 + [1] * 30 + [0] * 8
    exact = stats.mcnemar(a, b, exact=True)
    # two-sided binomial: 2 * P(X <= 2), X ~ Bin(12, 1/2) = 2 * (1 + 12 + 66) / 4096
    assert (exact["b"], exact["c"]) == (10, 2)
    assert exact["p_value"] == pytest.approx(158 / 4096)
    assert exact["p_value"] == pytest.approx(sp.binomtest(10, 12, 0.5).pvalue)
    chi = stats.mcnemar(a, b, exact=False)
    # (|10 - 2| - 1)^2 / 12 = 49 / 12, on one degree of freedom
    assert chi["statistic"] == pytest.approx(49 / 12)
    assert chi["p_value"] == pytest.approx(sp.chi2.sf(49 / 12, 1))
    assert chi["p_value"] == pytest.approx(0.04331, abs=1e-5)
    assert stats.mcnemar(a, b)["method"] == "exact binomial"  # b + c < 25


def test_mcnemar_large_and_degenerate_cases():
    rng = np.random.default_rng(0)
    a, b = rng.random(2000) < 0.8, rng.random(2000) < 0.75
    found = stats.mcnemar(a, b)
    n_b, n_c = int(np.sum(a & ~b)), int(np.sum(~a & b))
    assert found["method"].startswith("chi-square")
    assert found["p_value"] == pytest.approx(sp.chi2.sf((abs(n_b - n_c) - 1) ** 2 / (n_b + n_c), 1))
    assert stats.mcnemar([1, 0, 1], [1, 0, 1])["p_value"] == 1.0


def test_power_law_fit_recovers_known_curve():
    sizes = [100, 200, 400, 800]
    gaps = 2.0 * np.asarray(sizes, dtype=float) ** -0.5
    a, b = stats.fit_power_law(sizes, np.stack([gaps, gaps * 1.5]))
    assert a == pytest.approx([2.0, 3.0]) and b == pytest.approx([0.5, 0.5])
    assert stats.power_law(a, b, 1600)[0] == pytest.approx(2.0 / 40)
    rising = stats.fit_power_law(sizes, gaps[::-1][None, :])[1]
    assert rising[0] == 0.0  # more data is never projected to hurt


def test_interval_helpers():
    assert stats.Interval(0.5, -0.1, 0.9).excludes(0.0) is False
    assert stats.Interval(0.5, 0.2, 0.9).excludes(0.1) is True
    assert stats.Interval(0.5).excludes(0.0) is False  # no interval, no claim
    assert stats.Interval(0.5).to_dict() == {"value": 0.5, "low": None, "high": None}
    assert math.isnan(stats.percentile_interval(np.array([]), 0.95)[0])
