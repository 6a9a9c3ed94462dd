"""From a sweep's (learning rate, loss) pairs to suggestions and a reliability verdict.

Pure functions on lists of floats (no torch, no numpy). The curve is analysed as
``log(loss)`` against ``log10(lr)`` (when every loss is positive): the rates grow
exponentially, and a step's *relative* progress is what a good rate maximises — on a
quadratic the steepest descent of ``log(loss)`` sits at the optimal rate ``1/λ``.
Points after the loss diverged are dropped before smoothing, so that the blow-up does
not leak into the smoothed curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

MIN_POINTS = 20
"""Fewer points than this before the loss diverged: not enough to judge."""
MIN_DROP = 0.05
"""The smoothed loss must fall by at least this fraction of its start."""
MAX_NOISE = 0.5
"""The loss's scatter around the smooth curve, relative to its total fall, must stay below."""
DIVERGED = 4.0
"""A loss above this multiple of the lowest loss so far means the sweep has diverged."""


@dataclass
class Curve:
    """A smoothed LR range test and what it suggests."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestions: dict[str, float]
    reasons: list[str] = field(default_factory=list)

    @property
    def reliable(self) -> bool:
        return not self.reasons


def before_divergence(lrs: list[float], losses: list[float]) -> tuple[list[float], list[float]]:
    """The points before the loss blew up: NaN, infinite, or ``DIVERGED`` times its best."""
    best = math.inf
    for n, loss in enumerate(losses[: len(lrs)]):
        if not math.isfinite(loss) or (best > 0 and loss > DIVERGED * best):
            return list(lrs[:n]), list(losses[:n])
        best = min(best, loss)
    n = min(len(lrs), len(losses))
    return list(lrs[:n]), list(losses[:n])


def ema(values: list[float], beta: float) -> list[float]:
    """Exponential moving average with bias correction (as fastai and Lightning smooth)."""
    out, avg = [], 0.0
    for i, value in enumerate(values):
        avg = beta * avg + (1 - beta) * value
        out.append(avg / (1 - beta ** (i + 1)))
    return out


def smooth(values: list[float], beta: float) -> list[float]:
    """A zero-lag smoothing: the EMA run forwards, then backwards over the result.

    A one-sided EMA lags by about ``beta / (1 - beta)`` points, which shifts every
    suggestion toward larger learning rates; running it both ways cancels the lag.
    """
    if beta <= 0:
        return list(values)
    return ema(ema(values, beta)[::-1], beta)[::-1]


def slopes(lrs: list[float], values: list[float]) -> list[float]:
    """d value / d log10(lr) by central differences (one-sided at the ends)."""
    x = [math.log10(lr) for lr in lrs]
    n = len(values)
    out = []
    for i in range(n):
        lo, hi = max(0, i - 1), min(n - 1, i + 1)
        out.append((values[hi] - values[lo]) / (x[hi] - x[lo]) if x[hi] != x[lo] else 0.0)
    return out


def steepest(lrs: list[float], smoothed: list[float]) -> int:
    """Index of the steepest descent of the smoothed loss (5% of the points skipped at
    each end, where smoothing is least certain), searched before the minimum."""
    n = len(smoothed)
    skip = max(1, n // 20)
    end = max(skip + 1, min(n - skip, smoothed.index(min(smoothed)) + 1))
    grads = slopes(lrs, smoothed)
    return min(range(skip, min(end, n)), key=grads.__getitem__)


def valley(smoothed: list[float]) -> int:
    """fastai's valley: the longest stretch of falling loss, then 2/3 of the way down it.

    The stretch is the longest decreasing subsequence; the point is chosen past its middle
    where the loss still falls but well before the bottom.
    """
    n = len(smoothed)
    run = [1] * n
    start = end = 0
    for i in range(1, n):
        for j in range(i):
            if smoothed[i] < smoothed[j] and run[i] < run[j] + 1:
                run[i] = run[j] + 1
        if run[end] < run[i]:
            end, start = i, i - run[i]
    sections = (end - start) / 3
    return min(n - 1, start + int(sections) + int(sections / 2))


def suggest(lrs: list[float], smoothed: list[float]) -> dict[str, float]:
    """Every method's suggestion: ``steepest``, ``valley`` and ``minimum`` (its lr ÷ 10)."""
    lowest = smoothed.index(min(smoothed))
    return {
        "steepest": lrs[steepest(lrs, smoothed)],
        "valley": lrs[valley(smoothed)],
        "minimum": lrs[lowest] / 10,
    }


def problems(
    losses: list[float], smoothed: list[float], diverged: bool, requested: int
) -> list[str]:
    """Why the curve cannot be trusted (empty when it can): too short, flat, noisy, or
    still falling at the end of the range."""
    n = len(smoothed)
    if n < MIN_POINTS:
        return [
            f"too short: {n} of {requested} points before the loss diverged; "
            f"lower min_lr or raise num_steps"
        ]
    reasons = []
    first, lowest = smoothed[0], min(smoothed)
    fall = first - lowest
    drop = fall / abs(first) if first else 0.0
    if drop < MIN_DROP:
        reasons.append(
            f"flat: the smoothed loss falls by only {drop:.1%} over the sweep (needs "
            f"{MIN_DROP:.0%}); the model may already be near a minimum, as pretrained "
            f"transformers often are"
        )
    scatter = math.sqrt(sum((a - b) ** 2 for a, b in zip(losses, smoothed)) / n)
    if fall > 0 and scatter / fall > MAX_NOISE:
        reasons.append(
            f"noisy: the loss scatters by {scatter:.3g} around the smooth curve, "
            f"{scatter / fall:.0%} of its whole fall {fall:.3g} (at most {MAX_NOISE:.0%}); "
            f"use larger batches or more steps"
        )
    if not diverged and smoothed.index(lowest) >= n - max(2, n // 20):
        reasons.append("still falling at max_lr: the range never reached divergence; raise max_lr")
    return reasons


def analyse(
    lrs: list[float], losses: list[float], beta: float, requested: int | None = None
) -> Curve:
    """Smooth a sweep, suggest learning rates and judge whether to trust them.

    ``smoothed`` and the suggestions are computed on ``log(loss)`` when every loss is
    positive; ``Curve.smoothed`` is given back in loss units.
    """
    requested = requested or len(losses)
    kept_lrs, kept = before_divergence(lrs, losses)
    diverged = len(kept) < len(losses) or len(losses) < requested
    if len(kept) < 3:
        reasons = [f"too short: {len(kept)} of {requested} points before the loss diverged"]
        return Curve(kept_lrs, kept, list(kept), {}, reasons)
    logs = all(loss > 0 for loss in kept)
    values = [math.log(loss) for loss in kept] if logs else kept
    smoothed = smooth(values, beta)
    suggestions = suggest(kept_lrs, smoothed)
    back = [math.exp(v) for v in smoothed] if logs else smoothed
    return Curve(kept_lrs, kept, back, suggestions, problems(kept, back, diverged, requested))
