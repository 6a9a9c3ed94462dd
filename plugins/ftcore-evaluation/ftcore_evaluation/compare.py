"""``ftcore compare RUN_A RUN_B``: a paired comparison of two runs on the same test set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftcore.api import DataInfo, Monitor, UserError, finished_run, read_json


def load_run(run_dir: Path) -> tuple[str, DataInfo, list[dict]]:
    """A finished run's task, data facts and test predictions (with targets)."""
    from omegaconf import OmegaConf

    files = [run_dir / "recipe.yaml", run_dir / "predictions.json"]
    info_file = run_dir / "model" / "ftcore_data_info.json"
    missing = [f.name for f in (*files, info_file) if not f.is_file()]
    if missing:
        raise UserError(
            f"{run_dir}: not a finished ftcore run (missing {', '.join(missing)}); "
            f"give the folder `ftcore run` printed"
        )
    task = str(OmegaConf.load(files[0]).task)
    return task, DataInfo.from_dict(read_json(info_file)), read_json(files[1])


def answer_rows(info: DataInfo, predictions: list[dict]) -> list[dict] | None:
    """Per test row, whether the run answered right and the reference answer: what a
    classifier (a ``label`` per row) and a language model answering with the label text
    (``correct`` and ``reference`` per row) share. None when the predictions say neither
    (a regression run, generations left unchecked)."""
    if predictions and all("correct" in p for p in predictions):
        return [{"correct": bool(p["correct"]), "truth": p.get("reference")} for p in predictions]
    if info.labels and predictions and all("label" in p for p in predictions):
        names = [info.labels[int(p["target"])] for p in predictions]
        return [{"correct": p["label"] == n, "truth": n} for p, n in zip(predictions, names)]
    return None


class AnswerAccuracy:
    """The share of test rows answered right: the score two runs of different tasks share."""

    def score(self, *, predictions: list[dict], info: Any, options: Any) -> dict[str, float]:
        return {"accuracy": sum(p["correct"] for p in predictions) / max(len(predictions), 1)}

    def monitor(self, *, options: Any) -> Monitor:
        return Monitor("val/accuracy", "max")


def _truth(value: Any) -> str:
    return " ".join(str(value).lower().split())


def check_same_answers(a: tuple, b: tuple, names: tuple[str, str]) -> tuple[list, list]:
    """Two runs of different tasks as answer rows, checked to be the same test rows."""
    rows = [answer_rows(info, preds) for _, info, preds in (a, b)]
    for name, run, found in zip(names, (a, b), rows):
        if found is None:
            raise UserError(
                f"{name} ({run[0]}) has no checked answer for every test row, so it cannot be "
                f"compared with a run of another task; a generation run needs head.answer_key "
                f"and head.eval_generate_limit of at least its test rows"
            )
    if len(rows[0]) != len(rows[1]):
        raise UserError(
            f"{names[0]} has {len(rows[0])} test predictions and {names[1]} {len(rows[1])}; "
            f"a paired comparison needs the same test set"
        )
    for i, (ra, rb) in enumerate(zip(*rows)):
        if _truth(ra["truth"]) != _truth(rb["truth"]):
            raise UserError(
                f"test example {i} has answer {ra['truth']!r} in {names[0]} but "
                f"{rb['truth']!r} in {names[1]}; the runs were tested on different data"
            )
    return rows[0], rows[1]


def check_same_test_set(a: tuple, b: tuple, names: tuple[str, str]) -> None:
    (task_a, info_a, preds_a), (task_b, info_b, preds_b) = a, b
    if task_a != task_b or info_a.labels != info_b.labels:
        raise UserError(
            f"{names[0]} ({task_a}) and {names[1]} ({task_b}) have different tasks or labels; "
            f"compare runs of the same task and data"
        )
    if len(preds_a) != len(preds_b):
        raise UserError(
            f"{names[0]} has {len(preds_a)} test predictions and {names[1]} {len(preds_b)}; "
            f"a paired comparison needs the same test set"
        )
    for i, (pa, pb) in enumerate(zip(preds_a, preds_b)):
        if pa.get("target") != pb.get("target"):
            raise UserError(
                f"test example {i} has target {pa.get('target')!r} in {names[0]} but "
                f"{pb.get('target')!r} in {names[1]}; the runs were tested on different data"
            )


def names_of(a: Path, b: Path) -> tuple[str, str]:
    """Short distinct names for the two runs (folder names where they differ)."""
    if a.name != b.name:
        return a.name, b.name
    if str(a) != str(b):
        return str(a), str(b)
    return f"A ({a})", f"B ({b})"


def compare_runs(run_a: Path, run_b: Path, hooks: Any, boot: Any) -> dict[str, Any]:
    from ftcore_evaluation.evaluate import predictions_result

    names = names_of(run_a, run_b)
    a, b = load_run(run_a), load_run(run_b)
    if a[0] != b[0]:  # a classifier against a language model answering with the label
        rows_a, rows_b = check_same_answers(a, b, names)
        result = predictions_result(
            AnswerAccuracy(), None, a[1], rows_a, boot, {names[1]: rows_b}, main=names[0]
        )
        result.update(run_a=str(run_a), run_b=str(run_b), scored_as="answer accuracy")
        return result
    check_same_test_set(a, b, names)
    _, info, preds_a = a
    first = finished_run(run_a, hooks)
    others = {names[1]: b[2]}
    result = predictions_result(
        first.head, first.head_options, info, preds_a, boot, others, main=names[0]
    )
    result.update(run_a=str(run_a), run_b=str(run_b))
    return result
