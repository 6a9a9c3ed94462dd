"""Report building blocks: training curves, Markdown/HTML writing, data summary, verdicts."""

from __future__ import annotations

import json

import pytest
from ftcore_evaluation import datasummary, plots, report, scoring
from ftcore_evaluation.stats import Interval

from ftcore.api import markdown_escape
from ftcore.types import ReportSection

HEADER = (
    "epoch,lr-AdamW/head,lr-AdamW/body,step,train/loss,train/l2sp,train/skipped_batches,"
    "train/accuracy,val/accuracy,val/loss\n"
)
CSV = (
    HEADER
    + """,0.001,0.0,0,,,,,,
0,,,0,0.9,0.1,0,,,
,0.001,0.0005,5,,,,,,
0,,,5,0.6,0.2,0,,,
0,,,9,,,,0.7,0.75,0.5
"""
)


def test_training_curves_and_unfreezing_events(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "metrics.csv").write_text(CSV)
    schedule = [{"name": "head", "start_step": None}, {"name": "body", "start_step": 5}]
    (tmp_path / "unfreeze_schedule.json").write_text(json.dumps(schedule))
    rows = plots.read_metrics_csv(tmp_path / "logs" / "metrics.csv")
    assert plots.unfreeze_steps(tmp_path, rows) == [5.0]
    images = plots.training_curves(tmp_path)
    assert set(images) == {"losses.png", "validation_metrics.png", "learning_rates.png"}
    assert [n for n in plots.columns(rows) if n.startswith("train/") and plots._is_term(n)] == [
        "train/l2sp",
        "train/loss",
    ]


def test_markdown_and_html_escape_data_and_embed_images(tmp_path):
    section = ReportSection(
        "Example", markdown_escape("<script>alert(1)</script> | [x](http://e)"), {"a.png": b"PNG"}
    )
    paths = report.write(tmp_path, "Title", "intro", [section])
    page = (tmp_path / "report.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert 'href="http' not in page and 'src="data:image/png;base64,UE5H"' in page
    assert (tmp_path / "figures" / "a.png").read_bytes() == b"PNG"
    assert "](figures/a.png)" in (tmp_path / "report.md").read_text()
    assert set(paths) == {"markdown", "html"}


def test_data_summary_duplicates_leakage_lengths():
    class Tok:
        def __call__(self, texts, truncation=False):
            return {"input_ids": [t.split() for t in texts]}

    rows = {
        "train": [
            {"text": "a b", "label": "x"},
            {"text": "A  b", "label": "x"},
            {"text": "c d e f", "label": "y"},
        ],
        "validation": [{"text": "z", "label": "y"}],
        "test": [{"text": "a b", "label": "x"}, {"text": "q", "label": "y"}],
    }
    found = datasummary.duplicates(rows)
    assert found["train_duplicates"] == 1 and found["test_in_train"] == 1
    assert found["test_in_train_share"] == 0.5
    lengths = datasummary.length_summary(datasummary.token_lengths(Tok(), ["a b", "c d e f"]), 3)
    assert lengths["truncated_share"] == 0.5 and lengths["max"] == 4
    assert datasummary.label_balance(rows)["train"] == {"x": 2, "y": 1}
    numeric = {"train": [{"label": 0.5}, {"label": 1.5}], "test": [{"label": 1.0}]}
    assert datasummary.label_balance(numeric)["test"]["mean"] == 1.0


def test_verdicts_in_plain_words():
    boot = scoring.Bootstrap(1000, 0.95, 0)
    better = scoring.verdict("accuracy", Interval(0.05, 0.02, 0.08), True, None, boot, "a", "b")
    assert better[0] is True and better[1].startswith("A is significantly better than b")
    unclear = scoring.verdict("accuracy", Interval(0.01, -0.01, 0.03), True, None, boot, "a", "b")
    assert unclear[0] is False and "not statistically significant" in unclear[1]
    test = {"method": "exact binomial", "p_value": 0.2}
    disagree = scoring.verdict("accuracy", Interval(0.05, 0.02, 0.08), True, test, boot, "a", "b")
    assert disagree[0] is False and "McNemar's test disagrees" in disagree[1]
    loss = scoring.verdict("mse", Interval(-0.5, -0.8, -0.2), False, None, boot, "a", "b")
    assert loss[0] is True  # lower is better
    assert scoring.higher_is_better("mse", None) is False


def curve_point(rows: int, accuracy: float):
    """A learning-curve point scoring ``accuracy`` on the holdout."""
    from ftcore_evaluation import assess

    return assess.Point(rows, 10, 1.0, 0.1, 1.0, {"accuracy": {"value": accuracy}})


def probe_and_majority_model():
    """An assessed model whose baselines are a 0.79 probe and a 0.568 majority class."""
    from ftcore_evaluation import assess

    baselines = scoring.Scored(
        intervals={
            "linear probe": {"accuracy": Interval(0.79)},
            "majority class": {"accuracy": Interval(0.568)},
        },
        draws={"linear probe": {}, "majority class": {}},
    )
    return assess.Model("m", None, {}, {"train": 10_000}, 600, baselines, 1.0, source="x")


def test_learning_curve_points_on_the_trivial_plateau_are_left_out_of_the_fit():
    from ftcore_evaluation import advice

    point = curve_point
    model = probe_and_majority_model()
    baselines = model.baselines
    # float32 vs float64 of the same 364/641: equal for our purpose.
    model.curve = [point(160, 0.5680000349), point(320, 0.568), point(640, 0.77), point(1280, 0.8)]
    kept, skipped = advice.learning_points(model, "accuracy", higher=True)
    assert [p.rows for p in kept] == [640, 1280] and skipped == [160, 320]
    # Lower is better (a loss): the plateau is at or above the mean predictor's value.
    baselines.intervals = {"mean": {"mse": Interval(3.6)}, "ridge probe": {"mse": Interval(2.1)}}
    model.curve = [point(160, 3.6), point(320, 2.5)]
    for p, v in zip(model.curve, (3.6, 2.5)):
        p.metrics = {"mse": {"value": v}}
    kept, skipped = advice.learning_points(model, "mse", higher=False)
    assert [p.rows for p in kept] == [320] and skipped == [160]


def test_projection_uses_the_largest_short_run_that_learned():
    import numpy as np
    from ftcore_evaluation import advice, modelchoice, projection
    from ftcore_evaluation.scoring import Bootstrap

    point = curve_point
    model = probe_and_majority_model()
    model.curve = [point(160, 0.568), point(640, 0.77), point(1280, 0.845)]
    short = advice.short_run(model, "accuracy")
    assert (short["rows"], short["score"], short["holdout_probe"]) == (1280, 0.845, 0.79)
    assert short["holdout_rows"] == 600
    probe = {"metric": "accuracy", "rows": 1800, "value": 0.71, "low": 0.69, "high": 0.73}
    model.quality = {"probe": probe}
    found = advice.projected(model, Bootstrap(0, 0.95, 0))
    assert found["method"] == projection.WITH_SHORT_RUN and found["short"]["rows"] == 1280
    assert "short fine-tune of the learning curve (1280 rows)" in advice.projection_markdown(
        found, "accuracy"
    )
    # --models ranks on the probe alone, the projection every candidate has
    model.cost = {"parameters": {"total": 1}, "run_seconds": 60, "training_memory_estimate_mib": 1}
    ranked = modelchoice.ranking([model], Bootstrap(0, 0.95, 0))
    assert ranked[0]["projected"]["value"] == found["probe_only"]["value"]
    # Every point still on the majority plateau: the probe alone.
    model.curve = [point(160, 0.568)]
    assert advice.short_run(model, "accuracy") == {}
    found = advice.projected(model, Bootstrap(0, 0.95, 0))
    assert found["method"] == projection.PROBE_ONLY and np.isfinite(found["full"]["value"])


def ranked_candidate(name: str, probe: float, rows: int, minutes: float, seed: int):
    """An assessed candidate: an out-of-fold probe of ``probe`` on ``rows`` rows (with its
    bootstrap draws) and a projected run of ``minutes``."""
    import numpy as np

    model = probe_and_majority_model()
    model.name = name
    correct = np.random.default_rng(seed).random(rows) < probe
    picked = np.random.default_rng(seed + 1).integers(0, rows, size=(400, rows))
    model.probe_draws = correct[picked].mean(1)
    model.quality = {"probe": {"metric": "accuracy", "rows": rows, "value": correct.mean()}}
    params = {"total": 10**8 if minutes > 10 else 10**7}
    model.cost = {"parameters": params, "run_seconds": minutes * 60}
    model.cost["training_memory_estimate_mib"] = 100
    return model


def paired_decoder_runs(monkeypatch, log_offsets: list[float]) -> None:
    """``slow-decoder`` fine-tuned next to MiniLM on one recipe per offset (other data)."""
    import math

    from ftcore_evaluation import projection
    from ftcore_evaluation.projection import Reference

    runs = []
    for i, offset in enumerate(log_offsets):
        data = f"paired_{i}"  # MiniLM: probe gap 0.4 -> 0.2; the decoder: 0.4 -> 0.2 e^offset
        runs.append(Reference(f"r{i}", data, "accuracy", 0.6, 0.8, model="minilm"))
        tuned = 1 - 0.2 * math.exp(offset)
        runs.append(Reference(f"r{i}", data, "accuracy", 0.6, tuned, model="slow-decoder"))
    monkeypatch.setattr(projection, "PAIRED_RUNS", tuple(runs))


def test_model_choice_ties_go_to_the_cheaper_run(monkeypatch):
    from ftcore_evaluation import modelchoice
    from ftcore_evaluation.scoring import Bootstrap

    boot = Bootstrap(400, 0.95, 0)
    paired_decoder_runs(monkeypatch, [-0.1, 0.0, 0.1])
    cheap = ranked_candidate("minilm", 0.70, 100, 2.0, 1)
    slow = ranked_candidate("slow-decoder", 0.72, 100, 45.0, 2)
    ranked = modelchoice.ranking([slow, cheap], boot)
    # 100 rows each: 0.70 and 0.72 are not told apart, so they share rank 1, cheaper first
    assert [r["model"] for r in ranked] == ["minilm", "slow-decoder"]
    assert [r["rank"] for r in ranked] == [1, 1] and ranked[0]["tied_with"] == ["slow-decoder"]
    assert ranked[0]["projected"]["value"] < ranked[1]["projected"]["value"]
    assert [r["projected"]["calibration"] for r in ranked] == ["own runs", "paired runs"]
    text = modelchoice.markdown(ranked)
    assert "1 (tie)" in text and "does not separate `minilm` from `slow-decoder`" in text
    assert "`slow-decoder` †" in text and "measured on 3 recipes" in text
    # the tie leans to the higher projection: its share of the paired draws
    shares = {r["model"]: r["p_best"] for r in ranked}
    assert shares["slow-decoder"] > 0.5 > shares["minilm"]
    assert abs(shares["slow-decoder"] + shares["minilm"] - 1) < 1e-9
    assert f"leans to `slow-decoder` (the highest in {shares['slow-decoder']:.0%}" in text
    # 2,000 rows each: 0.60 against 0.80 is told apart; the better one ranks first.
    weak = ranked_candidate("minilm", 0.60, 2000, 2.0, 3)
    strong = ranked_candidate("slow-decoder", 0.80, 2000, 45.0, 4)
    ranked = modelchoice.ranking([weak, strong], boot)
    assert [(r["model"], r["rank"], r["tied_with"]) for r in ranked] == [
        ("slow-decoder", 1, []),
        ("minilm", 2, []),
    ]
    assert ranked[0]["p_best"] > 0.975  # separated: nearly every draw has it highest
    # The same probes, but the decoder's offset varied widely between recipes: its spread
    # covers the probes' difference, and the ranking no longer separates them.
    paired_decoder_runs(monkeypatch, [-1.5, 0.0, 1.5])
    assert [r["rank"] for r in modelchoice.ranking([weak, strong], boot)] == [1, 1]
    # No paired runs at all: the factor is borrowed, the models are never told apart.
    paired_decoder_runs(monkeypatch, [])
    ranked = modelchoice.ranking([weak, strong], boot)
    assert [(r["model"], r["rank"]) for r in ranked] == [("minilm", 1), ("slow-decoder", 1)]
    assert ranked[1]["projected"]["calibration"] == "borrowed"
    assert "No full run of this model" in modelchoice.markdown(ranked)
    # a borrowed factor's draws omit how the model fine-tunes: no share is claimed
    assert [r["p_best"] for r in ranked] == [None, None]
    assert "projection leans" not in modelchoice.markdown(ranked)
    # Without bootstrap draws nothing is known about the difference: the value decides.
    paired_decoder_runs(monkeypatch, [-0.1, 0.0, 0.1])
    for m in (cheap, slow):
        m.probe_draws = m.probe_draws[:0]
    ranked = modelchoice.ranking([cheap, slow], boot)
    assert [r["rank"] for r in ranked] == [1, 2] and ranked[0]["model"] == "slow-decoder"


def test_model_choice_compares_probes_on_the_same_number_of_rows():
    import numpy as np
    from ftcore_evaluation import modelchoice, quality
    from ftcore_evaluation.scoring import Bootstrap

    boot = Bootstrap(200, 0.95, 0)
    rng = np.random.default_rng(0)

    def sample(rows: int, signal: float) -> dict:
        labels = np.arange(rows) % 2
        features = rng.normal(size=(rows, 8)) + signal * labels[:, None]
        return {"features": features, "targets": labels, "metric": "accuracy"}

    fast = ranked_candidate("fast", 0.9, 400, 2.0, 5)
    fast.probe_sample = sample(400, 1.0)
    slow = ranked_candidate("slow", 0.6, 80, 45.0, 6)
    slow.probe_sample = sample(80, 1.0)
    ranked = modelchoice.ranking([fast, slow], boot)
    # the fast model's probe was refitted on 80 of its 400 rows, as many as the slow one had
    assert {r["projected"]["probe_rows"] for r in ranked} == {80}
    assert "same 80 training rows" in modelchoice.markdown(ranked)
    refit, draws = quality.probe_on_fewer_rows(fast.probe_sample, 80, 0, boot)
    assert refit["rows"] == 80 and refit["value"] > 0.6 and draws.shape == (200,)
    targets = fast.probe_sample["features"][:, 0] + rng.normal(0, 0.1, 400)
    regression = {"features": fast.probe_sample["features"], "targets": targets}
    refit, _ = quality.probe_on_fewer_rows({**regression, "metric": "pearson"}, 50, 0, boot)
    assert refit["metric"] == "pearson" and refit["rows"] == 50 and refit["value"] > 0.9


def test_probe_only_projection_says_how_it_knows_the_models_factor(monkeypatch):
    import math

    from ftcore_evaluation import advice
    from ftcore_evaluation.scoring import Bootstrap

    model = probe_and_majority_model()
    probe = {"metric": "accuracy", "rows": 900, "value": 0.7, "low": 0.67, "high": 0.73}
    model.quality = {"probe": probe}
    minilm = advice.projected(model, Bootstrap(0, 0.95, 0))
    assert minilm["calibration"] == "borrowed"  # "m": no run of it anywhere
    assert "the factor is borrowed as it is" in advice.projection_markdown(minilm, "accuracy")
    model.name = "minilm"
    minilm = advice.projected(model, Bootstrap(0, 0.95, 0))
    text = advice.projection_markdown(minilm, "accuracy")
    assert minilm["calibration"] == "own runs" and "Those are runs" not in text
    paired_decoder_runs(monkeypatch, [math.log(0.5)] * 2 + [math.log(0.8)])
    model.name = "slow-decoder"
    decoder = advice.projected(model, Bootstrap(0, 0.95, 0))
    text = advice.projection_markdown(decoder, "accuracy")
    offset = math.exp((2 * math.log(0.5) + math.log(0.8)) / 3)
    assert decoder["ratio"] == pytest.approx(minilm["ratio"] * offset, rel=1e-3)
    assert f"removed all but {minilm['ratio']:.2f} of it" in text
    assert f"was {offset:.2f} times `minilm`'s on 3 recipes fine-tuned with both" in text
