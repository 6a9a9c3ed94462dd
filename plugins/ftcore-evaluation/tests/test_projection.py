"""The calibrated probe projection: the gap arithmetic, leave-own-data-out, the interval."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from ftcore_evaluation import projection, stats
from ftcore_evaluation.projection import Reference, ShortRun
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


# --- the probe and a short run on the data ------------------------------------------------

SHORT_REFS = (
    # short run left 0.8 of the holdout probe's gap on 1/4 of the rows; full run: 0.6 of it
    Reference("a", "data_a", "accuracy", 0.80, 0.88, ShortRun(0.84, 0.80, 250, 1000)),
    # short run left 0.5 of it on 1/8 of the rows; full run: 0.4 of it
    Reference("b", "data_b", "accuracy", 0.70, 0.88, ShortRun(0.85, 0.70, 125, 1000)),
    Reference("c", "data_c", "pearson", 0.70, 0.80),  # no short run: probe-only calibration
)


def test_exponent_solves_the_formula_for_each_reference():
    a, b, c = SHORT_REFS
    assert a.exponent == pytest.approx(math.log(0.8 / 0.6) / math.log(4))
    assert b.exponent == pytest.approx(math.log(0.5 / 0.4) / math.log(8))
    assert c.exponent is None


def test_short_run_projection_scales_the_probe_gap_by_the_short_run_and_the_power_law():
    boot = Bootstrap(400, 0.95, 0)
    probe, draws = probe_scores("accuracy", 0.6)
    short = {"score": 0.75, "holdout_probe": 0.6, "rows": 500}
    found = projection.with_short_run(probe, draws, short, "new", 4000, boot, SHORT_REFS)
    e = np.mean([SHORT_REFS[0].exponent, SHORT_REFS[1].exponent])
    factor = (0.25 / 0.4) * (500 / 4000) ** e
    assert found["method"] == projection.WITH_SHORT_RUN
    assert found["exponent"] == pytest.approx(e, abs=1e-4)
    assert found["full"]["value"] == pytest.approx(1 - factor * 0.4)
    assert found["references"] == ["a", "b"]  # only references with a short run
    # the probe alone is still reported, from all three references
    alone = projection.calibrated(probe, draws, "new", 4000, boot, SHORT_REFS)
    assert found["probe_only"]["value"] == alone["full"]["value"]
    # no draws for the short run: a point without an interval
    assert found["full"]["low"] is None and not found["draws"]


def test_short_run_interval_covers_the_point_and_uses_the_paired_draws():
    boot = Bootstrap(400, 0.95, 0)
    probe, draws = probe_scores("accuracy", 0.6)
    rng = np.random.default_rng(1)
    short = {
        "score": 0.75,
        "holdout_probe": 0.6,
        "rows": 500,
        "score_draws": 0.75 + rng.normal(0, 0.02, 400),
        "holdout_probe_draws": 0.6 + rng.normal(0, 0.02, 400),
    }
    full = projection.with_short_run(probe, draws, short, "new", 4000, boot, SHORT_REFS)["full"]
    assert full["low"] < full["value"] < full["high"]


def test_without_a_short_run_or_references_the_probe_alone_is_used():
    boot = Bootstrap(200, 0.95, 0)
    probe, draws = probe_scores("accuracy", 0.6)
    alone = projection.calibrated(probe, draws, "new", 4000, boot, SHORT_REFS)
    found = projection.with_short_run(probe, draws, {}, "new", 4000, boot, SHORT_REFS)
    assert found["method"] == projection.PROBE_ONLY and found["full"] == alone["full"]
    short = {"score": 0.75, "holdout_probe": 0.6, "rows": 500}
    # leaving data_a out leaves one reference with a short run: no exponent to calibrate
    found = projection.with_short_run(probe, draws, short, "data_a", 4000, boot, SHORT_REFS)
    assert found["method"] == projection.PROBE_ONLY
    # a perfect holdout probe leaves no gap to scale
    perfect = {**short, "holdout_probe": 1.0}
    found = projection.with_short_run(probe, draws, perfect, "new", 4000, boot, SHORT_REFS)
    assert found["method"] == projection.PROBE_ONLY
    # too few holdout rows to compare the short run with the probe
    tiny = {**short, "holdout_rows": projection.MIN_SHORT_RUN_HOLDOUT - 1}
    found = projection.with_short_run(probe, draws, tiny, "new", 4000, boot, SHORT_REFS)
    assert found["method"] == projection.PROBE_ONLY


def test_shipped_references_have_short_runs_from_the_same_assessment():
    for r in projection.REFERENCES:
        assert r.short is not None and 0 < r.short.rows < r.short.train_rows
        assert 0 < r.exponent < 1  # more data never hurts, and less than proportionally


def paired(recipe: str, data: str, minilm: tuple[float, float], other: tuple[float, float]):
    """One recipe fine-tuned with both models: (probe, fine-tuned) each."""
    return (
        Reference(recipe, data, "accuracy", *minilm, model="minilm", overrides="data.limit=9"),
        Reference(recipe, data, "accuracy", *other, model="decoder", overrides="data.limit=9"),
    )


# The decoder's gap after fine-tuning, relative to its probe's, is half of MiniLM's on p and
# q, and a quarter of it on r; one recipe was run with MiniLM alone.
PAIRED = (
    *paired("p", "data_p", (0.80, 0.90), (0.80, 0.95)),
    *paired("q", "data_q", (0.60, 0.80), (0.70, 0.925)),
    *paired("r", "data_r", (0.90, 0.92), (0.80, 0.96)),
    Reference("s", "data_s", "accuracy", 0.7, 0.8, model="minilm"),
)


def test_model_offsets_pair_runs_of_one_recipe_and_leave_the_data_out():
    offsets, recipes = projection.model_offsets("decoder", "new", PAIRED)
    assert recipes == ["p@data.limit=9", "q@data.limit=9", "r@data.limit=9"]
    assert np.allclose(np.exp(offsets), [0.5, 0.5, 0.25])
    offsets, recipes = projection.model_offsets("decoder", "data_q", PAIRED)
    assert recipes == ["p@data.limit=9", "r@data.limit=9"]
    assert projection.model_offsets("unknown", "new", PAIRED)[0].size == 0


def test_a_model_is_projected_with_its_offset_from_paired_runs():
    boot = Bootstrap(400, 0.95, 0)
    scores = probe_scores("accuracy", 0.6)
    own = projection.calibrated(*scores, "new", 100, boot, REFS, "minilm", PAIRED)
    assert own["calibration"] == "own runs" and "model_offset" not in own
    other = projection.calibrated(*scores, "new", 100, boot, REFS, "decoder", PAIRED)
    offsets = np.log([0.5, 0.5, 0.25])
    assert other["calibration"] == "paired runs"
    assert other["model_offset"]["mean"] == pytest.approx(offsets.mean(), abs=1e-4)
    assert other["ratio"] == pytest.approx(own["ratio"] * math.exp(offsets.mean()), rel=1e-3)
    gap = math.exp(offsets.mean()) * own["ratio"] * 0.4
    assert other["full"]["value"] == pytest.approx(1 - gap, abs=1e-3)
    # the offset's own spread widens the interval beyond the references' alone
    width = {k: v["full"]["high"] - v["full"]["low"] for k, v in (("own", own), ("o", other))}
    assert width["o"] > width["own"]
    # with its own data left out only p and r remain: still two, still paired
    left = projection.calibrated(*scores, "data_q", 100, boot, REFS, "decoder", PAIRED)
    assert left["model_offset"]["recipes"] == ["p@data.limit=9", "r@data.limit=9"]
    # fewer than two paired recipes: the references' factor, borrowed as it is
    few = projection.calibrated(*scores, "new", 100, boot, REFS, "decoder", PAIRED[:3])
    assert few["calibration"] == "borrowed" and few["ratio"] == own["ratio"]


def test_paired_runs_are_measured_pairs_of_both_models():
    runs: dict[str, set[str]] = {}
    for r in projection.PAIRED_RUNS:
        runs.setdefault(f"{r.recipe}@{r.overrides}", set()).add(r.model)
        assert r.metric in projection.PROBES and 0 < r.probe < 1 and 0 < r.finetuned < 1
    assert all(models == {"minilm", "smollm2-135m"} for models in runs.values())
