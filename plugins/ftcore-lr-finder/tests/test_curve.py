"""The LR range test's analysis as pure functions: smoothing, suggestions, reliability."""

from __future__ import annotations

import math
import random

import pytest
from ftcore_lr_finder.curve import (
    analyse,
    before_divergence,
    ema,
    smooth,
    steepest,
    suggest,
    valley,
)

N = 100
LRS = [1e-6 * 10 ** (7 * i / (N - 1)) for i in range(N)]  # 1e-6 .. 10


def sigmoid_curve(centre: float, width: float = 0.3, floor: float = 0.2) -> list[float]:
    """A loss whose log falls from 0 to log(floor) around ``centre`` (steepest there), then
    blows up beyond 30 x centre."""
    out = []
    for lr in LRS:
        x = (math.log10(lr) - math.log10(centre)) / width
        fall = math.exp(math.log(floor) / (1 + math.exp(-x)))
        out.append(fall * (1 + max(0.0, math.log10(lr / (centre * 30))) * 5))
    return out


def test_two_sided_smoothing_has_no_lag():
    ramp = [float(i) for i in range(50)]
    one_sided, two_sided = ema(ramp, 0.8), smooth(ramp, 0.8)
    assert ramp[25] - one_sided[25] == pytest.approx(4.0, abs=0.1)  # lags beta/(1-beta)
    assert two_sided[25] == pytest.approx(ramp[25], abs=0.1)
    assert smooth(ramp, 0.0) == ramp


def test_steepest_descent_finds_the_middle_of_the_fall():
    curve = [math.log(v) for v in sigmoid_curve(1e-3)]
    assert LRS[steepest(LRS, curve)] == pytest.approx(1e-3, rel=0.3)


def test_valley_lies_halfway_down_the_longest_fall():
    rising = [0.9 + 0.1 * i / 29 for i in range(30)]  # the loss first creeps up
    curve = rising + [v * 1.0 for v in sigmoid_curve(1e-3)[30:]]
    bottom = curve.index(min(curve))
    index = valley(curve)
    assert 29 + (bottom - 29) * 0.4 < index < 29 + (bottom - 29) * 0.6


def test_minimum_divided_by_ten():
    curve = sigmoid_curve(1e-3)
    assert suggest(LRS, curve)["minimum"] == LRS[curve.index(min(curve))] / 10


def test_points_after_divergence_are_dropped():
    lrs, losses = before_divergence([1, 2, 3, 4, 5], [1.0, 0.5, 0.6, 2.5, 0.1])
    assert losses == [1.0, 0.5, 0.6]  # 2.5 > 4 x 0.5
    assert before_divergence([1, 2, 3], [1.0, float("nan"), 0.5])[1] == [1.0]


def test_a_clean_curve_is_reliable_and_suggests_near_its_fall():
    curve = analyse(LRS, sigmoid_curve(1e-3), beta=0.8, requested=N)
    assert curve.reliable, curve.reasons
    assert 3e-4 < curve.suggestions["steepest"] < 3e-3
    assert max(curve.losses) < 2  # the blow-up after divergence is cut off


def test_a_flat_curve_is_flagged():
    rng = random.Random(0)
    flat = [0.69 + 0.002 * rng.random() for _ in LRS[:80]] + [5.0] * 20
    curve = analyse(LRS, flat, beta=0.8, requested=N)
    assert not curve.reliable
    assert curve.reasons[0].startswith("flat: the smoothed loss falls by only")


def test_a_noisy_curve_is_flagged():
    rng = random.Random(0)
    noisy = [v + rng.gauss(0, 0.15) for v in sigmoid_curve(1e-3, floor=0.8)[:75]]
    curve = analyse(LRS[:75], noisy, beta=0.8, requested=N)
    assert any(r.startswith("noisy:") for r in curve.reasons), curve.reasons


def test_a_curve_still_falling_at_max_lr_and_a_short_one_are_flagged():
    falling = [1.0 - 0.009 * i for i in range(N)]
    assert analyse(LRS, falling, 0.8, N).reasons == [
        "still falling at max_lr: the range never reached divergence; raise max_lr"
    ]
    short = analyse(LRS[:10], sigmoid_curve(1e-3)[:10], 0.8, N)
    assert short.reasons[0].startswith("too short: 10 of 100 points")
