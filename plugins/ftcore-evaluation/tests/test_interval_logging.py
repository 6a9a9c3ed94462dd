"""The test metrics' confidence bounds go to every logger of the run (issue 18 item 2)."""

from __future__ import annotations

from types import SimpleNamespace

from ftcore_evaluation.loggers import interval_metrics, log_intervals

RESULT = {
    "metrics": {
        "fine-tuned": {
            "accuracy": {"value": 0.75, "low": 0.5, "high": 0.9},
            "f1": {"value": 0.7, "low": None, "high": None},  # not computed: left out
        },
        "majority": {"accuracy": {"value": 0.5, "low": 0.3, "high": 0.7}},  # a baseline
    }
}


class RecordingLogger:
    def __init__(self) -> None:
        self.logged: list[tuple[dict, int]] = []

    def log_metrics(self, metrics: dict, step: int) -> None:
        self.logged.append((metrics, step))


def test_bounds_of_the_fine_tuned_model_become_separate_test_metrics():
    assert interval_metrics(RESULT) == {
        "test/accuracy_ci_low": 0.5,
        "test/accuracy_ci_high": 0.9,
    }
    assert interval_metrics({"notes": ["no test predictions to evaluate"]}) == {}


def test_every_logger_of_the_run_gets_them_at_the_last_step():
    loggers = [RecordingLogger(), RecordingLogger()]
    run = SimpleNamespace(trainer=SimpleNamespace(loggers=loggers, global_step=12))
    assert log_intervals(run, RESULT) == interval_metrics(RESULT)
    for logger in loggers:
        assert logger.logged == [(interval_metrics(RESULT), 12)]


def test_the_evaluated_run_logged_its_bounds_to_metrics_csv(evaluated_run):
    import csv

    with open(evaluated_run.run_dir / "logs" / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    bounds = [r for r in rows if r.get("test/accuracy_ci_low")]
    assert len(bounds) == 1
    low, high = float(bounds[0]["test/accuracy_ci_low"]), float(bounds[0]["test/accuracy_ci_high"])
    point = next(float(r["test/accuracy"]) for r in rows if r.get("test/accuracy"))
    assert low <= point <= high
