"""The calibrated probe projection: the gap arithmetic, leave-own-data-out, the interval."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from ftcore_evaluation import projection, stats
from ftcore_evaluation.projection import Reference
from ftcore_evaluation.scoring import Bootstrap

REFS = (
    Reference("a", "data_a", "accuracy", probe=0.80, finetuned=0.85),  # ratio 0.75
    Reference("b", "data_b", "accuracy", probe=0.90, finetuned=0.93),  # ratio 0.70
    Reference("c", "data_c", "pearson", probe=0.70, finetuned=0.80),  # ratio 0.36/0.51
)


def probe_scores(metric: str, value: float, n: int = 400) -> tuple[dict, np.ndarray]:
    """An out-of-fold probe's score with bootstrap draws spread around it."""
    draws = value + np.random.default_rng(0).normal(0.0, 0.01, size=n)
    interval = stats.Interval(value, *stats.percentile_interval(draws, 0.95))
    return {"metric": metric, **interval.to_dict()}, draws


@pytest.mark.parametrize("metric", ["accuracy", "pearson"])
def test_gap_and_back_are_inverse(metric):
    values = np.array([0.0, 0.3, 0.8, 1.0])
    assert np.allclose(projection.from_gap(projection.gap(values, metric), metric), values)


def test_pearson_gap_is_the_unexplained_variance():
    assert projection.gap(0.6, "pearson") == pytest.approx(0.64)
    assert projection.gap(-0.2, "pearson") == pytest.approx(1.0)  # no negative correlation


def test_projection_scales_the_probe_gap_by_the_references_geometric_mean_ratio():
    boot = Bootstrap(400, 0.95, 0)
    found = projection.calibrated(*probe_scores("accuracy", 0.6), "new_data", 5000, boot, REFS)
    ratios = [0.15 / 0.2, 0.07 / 0.1, (1 - 0.8**2) / (1 - 0.7**2)]
    ratio = math.exp(np.mean(np.log(ratios)))
    assert found["ratio"] == pytest.approx(ratio, abs=1e-4)
    assert found["full"]["value"] == pytest.approx(1 - ratio * 0.4)
    assert found["full"]["rows"] == 5000 and found["references"] == ["a", "b", "c"]
    assert found["full"]["low"] < found["full"]["value"] < found["full"]["high"]
    assert found["draws"]["full"].shape == (400,)


def test_the_assessed_data_is_left_out_of_its_own_calibration():
    boot = Bootstrap(200, 0.95, 0)
    scores = probe_scores("accuracy", 0.8)
    found = projection.calibrated(*scores, "data_a", 100, boot, REFS)
    assert found["references"] == ["b", "c"]
    # With one reference left there is no spread to calibrate with: no projection.
    assert projection.calibrated(*scores, "data_a", 100, boot, REFS[:2]) == {}


def test_no_projection_without_references_for_the_metric():
    boot = Bootstrap(200, 0.95, 0)
    assert projection.calibrated(*probe_scores("perplexity", 12.0), "x", 100, boot, REFS) == {}
    assert projection.calibrated({}, np.array([]), "x", 100, boot, REFS) == {}


def test_wider_spread_across_references_gives_a_wider_interval():
    boot = Bootstrap(2000, 0.95, 0)
    scores = probe_scores("pearson", 0.7)
    close = (
        Reference("a", "a", "accuracy", 0.80, 0.850),
        Reference("b", "b", "accuracy", 0.90, 0.925),
        Reference("c", "c", "accuracy", 0.70, 0.775),
    )
    far = (
        Reference("a", "a", "accuracy", 0.80, 0.82),
        Reference("b", "b", "accuracy", 0.90, 0.96),
        Reference("c", "c", "accuracy", 0.70, 0.775),
    )
    narrow = projection.calibrated(*scores, "x", 100, boot, close)["full"]
    wide = projection.calibrated(*scores, "x", 100, boot, far)["full"]
    assert wide["high"] - wide["low"] > 2 * (narrow["high"] - narrow["low"])


def test_shipped_references_are_measured_pairs_on_distinct_data():
    refs = projection.REFERENCES
    assert len(refs) >= 3 and len({r.data for r in refs}) == len(refs)
    for r in refs:
        assert r.metric in projection.PROBES and 0 < r.probe < 1 and 0 < r.finetuned < 1
        assert (Path(__file__).parents[3] / "recipes" / f"{r.recipe}.yaml").is_file()
