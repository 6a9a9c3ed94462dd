"""Evaluation parts of the classification head: scores, baselines, errors, forgetting.

Pure functions over decoded predictions (``{"label", "probabilities", "target"}``, or
``"labels"`` for multi-label) that
:class:`ftcore_classification.plugin.ClassificationHead` calls for an evaluation plugin
(``ftcore-evaluation``). ``options`` is the head's
:class:`ftcore_classification.schema.ClassificationConfig`. numpy, scikit-learn, torch
and matplotlib are imported inside the functions, so loading the plugin stays cheap.
"""

from __future__ import annotations

import json
import random
import warnings
import weakref
from collections import Counter
from pathlib import Path
from typing import Any

from ftcore import api
from ftcore.api import DataInfo, ReportSection
from ftcore_classification import labels as lab
from ftcore_classification.schema import ClassificationConfig

PROBE_C = (0.01, 0.1, 1.0, 10.0)
PROBE_VALIDATION_ROWS = 1000
ECE_BINS = 15
CELL_CHARS = 200  # report table cells are cut at this many characters


# --- scores (pure) ---------------------------------------------------------------------


def single_arrays(predictions: list[dict], names: list[str]) -> tuple[Any, Any]:
    """Predicted and true class indices."""
    import numpy as np

    index = {name: i for i, name in enumerate(names)}
    pred = np.fromiter((index[p["label"]] for p in predictions), int, len(predictions))
    true = np.fromiter((int(p["target"]) for p in predictions), int, len(predictions))
    return pred, true


def multi_arrays(predictions: list[dict], names: list[str]) -> tuple[Any, Any]:
    """Predicted and true multi-hot matrices ``(examples, labels)``."""
    import numpy as np

    index = {name: i for i, name in enumerate(names)}
    pred = np.zeros((len(predictions), len(names)), dtype=bool)
    for row, p in enumerate(predictions):
        pred[row, [index[name] for name in p["labels"]]] = True
    true = np.array([p["target"] for p in predictions], dtype=float).reshape(pred.shape) > 0.5
    return pred, true


def confusion(pred: Any, true: Any, k: int) -> Any:
    """``k x k`` counts; rows are true classes, columns predicted classes."""
    import numpy as np

    return np.bincount(true * k + pred, minlength=k * k).reshape(k, k)


def _ratio(a: Any, b: Any) -> Any:
    import numpy as np

    return np.divide(a, b, out=np.zeros(np.shape(a), dtype=float), where=np.asarray(b) > 0)


def per_class(tp: Any, fp: Any, fn: Any) -> dict[str, Any]:
    """Per-class precision, recall and F1 (0 where undefined)."""
    return {
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
    }


def score_single(pred: Any, true: Any, k: int) -> dict[str, float]:
    """Accuracy and macro P/R/F1 as torchmetrics computes them (absent classes skipped)."""
    cm = confusion(pred, true, k)
    tp = cm.diagonal().astype(float)
    fp, fn = cm.sum(0) - tp, cm.sum(1) - tp
    present = (tp + fp + fn) > 0
    scores = per_class(tp, fp, fn)
    out = {"accuracy": float(tp.sum() / max(len(pred), 1))}
    for name, values in scores.items():
        out[name] = float(values[present].mean()) if present.any() else 0.0
    return out


def score_multi(pred: Any, true: Any) -> dict[str, float]:
    """Label-averaged accuracy and macro P/R/F1 (torchmetrics' multilabel defaults)."""
    tp = (pred & true).sum(0).astype(float)
    fp, fn = (pred & ~true).sum(0), (~pred & true).sum(0)
    out = {"accuracy": float((pred == true).mean()) if pred.size else 0.0}
    out.update({name: float(v.mean()) for name, v in per_class(tp, fp, fn).items()})
    return out


def score(
    predictions: list[dict], info: DataInfo, options: ClassificationConfig
) -> dict[str, float]:
    if options.multi_label:
        return score_multi(*multi_arrays(predictions, info.labels))
    return score_single(*single_arrays(predictions, info.labels), info.num_labels)


# --- baselines -------------------------------------------------------------------------


def _probe(c: float, multi: bool) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    logistic = LogisticRegression(C=c, max_iter=2000)
    return make_pipeline(StandardScaler(), OneVsRestClassifier(logistic) if multi else logistic)


def probe_probabilities(fitted: Any, x: Any, k: int, multi: bool) -> Any:
    """``(examples, k)`` probabilities; classes never seen in training get 0."""
    import numpy as np

    raw = fitted.predict_proba(x)
    if multi:
        return raw
    full = np.zeros((len(x), k))
    full[:, fitted.classes_.astype(int)] = raw
    return full


def fit_probe(
    x_train: Any, y_train: Any, x_val: Any, y_val: Any, multi: bool, k: int
) -> tuple[Any, float]:
    """Logistic regression on standardised embeddings; C chosen on the validation split."""
    import numpy as np

    best, best_c, best_acc = None, PROBE_C[0], -1.0
    for c in PROBE_C if len(x_val) else (1.0,):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence and constant-label notes
            fitted = _probe(c, multi).fit(x_train, y_train)
        if not len(x_val):
            return fitted, c
        probs = probe_probabilities(fitted, x_val, k, multi)
        pred = probs >= 0.5 if multi else probs.argmax(1)
        acc = float(np.mean(pred == (y_val > 0.5 if multi else y_val)))
        if acc > best_acc:
            best, best_c, best_acc = fitted, c, acc
    return best, best_c


def decode_probabilities(probs: Any, info: DataInfo, options: ClassificationConfig) -> list[dict]:
    """Predictions shaped like the head's ``decode`` output."""
    names = info.labels
    if options.multi_label:
        threshold = options.threshold
        return [
            {
                "labels": [n for n, p in zip(names, row) if p >= threshold],
                "probabilities": dict(zip(names, map(float, row))),
            }
            for row in probs
        ]
    return [
        {"label": names[int(row.argmax())], "probabilities": dict(zip(names, map(float, row)))}
        for row in probs
    ]


def targets(rows: list[dict], info: DataInfo, options: ClassificationConfig) -> list[Any]:
    """Targets as the test step reports them: a class index, or a multi-hot list of 0/1."""
    multi, sep = options.multi_label, options.label_separator
    found = [lab.encode(r["label"], info.labels, multi, sep) for r in rows]
    return [[int(v) for v in t] for t in found] if multi else found


def majority(
    train_targets: list[Any], n: int, info: DataInfo, options: ClassificationConfig
) -> Any:
    """Probabilities of the prior predictor: training label frequencies for every example."""
    import numpy as np

    if options.multi_label:
        freq = np.asarray(train_targets, dtype=float).reshape(-1, info.num_labels).mean(0)
    else:
        counts = np.bincount(np.asarray(train_targets, dtype=int), minlength=info.num_labels)
        freq = counts / max(counts.sum(), 1)
    return np.tile(freq, (n, 1))


def _with_targets(predictions: list[dict], found: list[Any]) -> list[dict]:
    return [{**p, "target": t} for p, t in zip(predictions, found)]


def sample(rows: list[dict], size: int, recipe: Any) -> list[dict]:
    """At most ``size`` rows, a seeded sample in the original order."""
    if len(rows) <= size:
        return rows
    keep = sorted(random.Random(recipe.seed).sample(range(len(rows)), int(size)))
    return [rows[i] for i in keep]


def baselines(run: Any) -> dict[str, list[dict]]:
    """A linear probe on the pretrained backbone's embeddings, and the majority class.

    The probe is fitted on at most ``evaluation.baseline_train_rows`` training rows (a
    logistic probe on frozen embeddings saturates early; embedding is the cost) and its
    regularisation chosen on at most 1,000 validation rows.
    """
    import numpy as np

    info, recipe, options = run.info, run.recipe, run.head_options
    rows = {
        "train": sample(
            run.data.rows["train"], api.evaluation_option(run, "baseline_train_rows", 2000), recipe
        ),
        "validation": sample(run.data.rows["validation"], PROBE_VALIDATION_ROWS, recipe),
        "test": run.data.rows["test"],
    }
    y = {split: targets(rows[split], info, options) for split in ("train", "validation", "test")}
    prior = majority(y["train"], len(rows["test"]), info, options)
    decoded = decode_probabilities(prior, info, options)
    found = {"majority class": _with_targets(decoded, y["test"])}
    if not options.multi_label and len(set(y["train"])) < 2:
        return found  # one class only: nothing for a probe to learn
    key = "text"
    x = {
        split: api.mean_pooled_embeddings(
            run.module.model,
            run.tokenizer,
            [r[key] for r in rows[split]],
            recipe.data.max_length,
            recipe.data.eval_batch_size,
        )
        for split in ("train", "validation", "test")
    }
    multi, k = options.multi_label, info.num_labels
    fitted, _ = fit_probe(
        x["train"], np.asarray(y["train"]), x["validation"], np.asarray(y["validation"]), multi, k
    )
    probe = probe_probabilities(fitted, x["test"], k, multi)
    decoded = decode_probabilities(probe, info, options)
    return {"linear probe": _with_targets(decoded, y["test"]), **found}


# --- error analysis ---------------------------------------------------------------------


def per_class_table(pred: Any, true: Any, names: list[str], multi: bool) -> str:
    if multi:
        tp = (pred & true).sum(0).astype(float)
        fp, fn, support = (pred & ~true).sum(0), (~pred & true).sum(0), true.sum(0)
    else:
        cm = confusion(pred, true, len(names))
        tp = cm.diagonal().astype(float)
        fp, fn, support = cm.sum(0) - tp, cm.sum(1) - tp, cm.sum(1)
    s = per_class(tp, fp, fn)
    rows = [
        [
            api.markdown_escape(n, CELL_CHARS),
            f"{s['precision'][i]:.3f}",
            f"{s['recall'][i]:.3f}",
            f"{s['f1'][i]:.3f}",
        ]
        + [int(support[i])]
        for i, n in enumerate(names)
    ]
    return api.markdown_table(["class", "precision", "recall", "F1", "support"], rows)


def confusion_section(pred: Any, true: Any, names: list[str]) -> ReportSection:
    cm = confusion(pred, true, len(names))
    rows = [
        [f"**{api.markdown_escape(n, CELL_CHARS)}**", *map(int, cm[i])] for i, n in enumerate(names)
    ]
    text = "Rows are true classes, columns predicted classes.\n\n" + api.markdown_table(
        ["true \\ predicted", *(api.markdown_escape(n, CELL_CHARS) for n in names)], rows
    )
    return ReportSection(
        "Confusion matrix", text, {"confusion_matrix.png": confusion_png(cm, names)}
    )


def confusion_png(cm: Any, names: list[str]) -> bytes:
    plt = api.pyplot()
    size = max(3.5, 0.6 * len(names) + 2)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    ax.imshow(cm, cmap="Blues")
    ticks = range(len(names))
    ax.set_xticks(ticks, names, rotation=45, ha="right")
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = cm.max() if cm.size else 0
    for (i, j), count in _cells(cm):
        ax.text(
            j,
            i,
            str(count),
            ha="center",
            va="center",
            color="white" if count > top / 2 else "black",
        )
    ax.set_title("Confusion matrix (test)")
    return api.figure_png(fig)


def _cells(cm: Any) -> list[tuple[tuple[int, int], int]]:
    return [((i, j), int(cm[i, j])) for i in range(cm.shape[0]) for j in range(cm.shape[1])]


def calibration(confidence: Any, correct: Any, bins: int = ECE_BINS) -> dict[str, Any]:
    """Expected calibration error over equal-width confidence bins, and the bins."""
    import numpy as np

    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    conf = _ratio(np.bincount(which, weights=confidence, minlength=bins), count)
    acc = _ratio(np.bincount(which, weights=correct.astype(float), minlength=bins), count)
    ece = float(np.sum(np.abs(acc - conf) * count) / max(len(confidence), 1))
    return {"ece": ece, "edges": edges, "count": count, "confidence": conf, "accuracy": acc}


def reliability_png(cal: dict[str, Any]) -> bytes:
    plt = api.pyplot()
    edges, width = cal["edges"], cal["edges"][1] - cal["edges"][0]
    fig, ax = plt.subplots(figsize=(4.5, 4))
    shown = cal["count"] > 0
    ax.bar(
        edges[:-1][shown],
        cal["accuracy"][shown],
        width=width,
        align="edge",
        alpha=0.7,
        edgecolor="black",
        label="accuracy in bin",
    )
    ax.plot([0, 1], [0, 1], "--", color="gray", label="perfect calibration")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(f"Reliability diagram (ECE {cal['ece']:.3f})")
    ax.legend(loc="upper left")
    return api.figure_png(fig)


def confidences(
    predictions: list[dict], info: DataInfo, options: ClassificationConfig
) -> tuple[Any, Any]:
    """Per-decision confidence and correctness (one per example, or per label)."""
    import numpy as np

    probs = np.array([[p["probabilities"][n] for n in info.labels] for p in predictions])
    if options.multi_label:
        pred, true = multi_arrays(predictions, info.labels)
        conf = np.where(pred, probs, 1.0 - probs)
        return conf.ravel(), (pred == true).ravel()
    pred, true = single_arrays(predictions, info.labels)
    return probs.max(1), pred == true


def error_records(
    predictions: list[dict], rows: list[dict], info: DataInfo, options: ClassificationConfig
) -> list[dict]:
    """Every misclassified example, most confidently wrong first."""
    key = "text"
    found = []
    for i, (p, row) in enumerate(zip(predictions, rows)):
        if options.multi_label:
            true = [n for n, t in zip(info.labels, p["target"]) if t]
            if sorted(true) == sorted(p["labels"]):
                continue
            wrong = [n for n in info.labels if (n in p["labels"]) != (n in true)]
            conf = max(abs(p["probabilities"][n] - 0.5) * 2 for n in wrong)
            predicted = p["labels"]
        else:
            true = info.labels[int(p["target"])]
            if true == p["label"]:
                continue
            conf, predicted = p["probabilities"][p["label"]], p["label"]
        found.append(
            {
                "index": i,
                "text": row[key],
                "target": true,
                "predicted": predicted,
                "confidence": round(float(conf), 6),
                "probabilities": p["probabilities"],
            }
        )
    return sorted(found, key=lambda r: -r["confidence"])


def errors_section(errors: list[dict], n: int, out_dir: Path, top: int) -> ReportSection:
    with (out_dir / "errors.jsonl").open("w", encoding="utf-8") as handle:
        for record in errors:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    rows = [
        [r["index"], f"{r['confidence']:.3f}", api.markdown_escape(_labels(r["target"]), 60)]
        + [
            api.markdown_escape(_labels(r["predicted"]), 60),
            api.markdown_escape(r["text"], CELL_CHARS),
        ]
        for r in errors[:top]
    ]
    text = (
        f"{len(errors)} of {n} test examples are misclassified; all are in `errors.jsonl`. "
        f"The {min(top, len(errors))} most confidently wrong:\n\n"
        + api.markdown_table(["#", "confidence", "true", "predicted", "text"], rows)
    )
    return ReportSection("Most confidently wrong examples", text)


def _labels(value: Any) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)


def length_buckets(lengths: list[int], buckets: int = 4) -> list[tuple[int, int]]:
    """Inclusive word-count ranges at the quantiles of ``lengths`` (distinct, ordered)."""
    import numpy as np

    cuts = np.unique(np.quantile(lengths, np.linspace(0, 1, buckets + 1)).round().astype(int))
    if len(cuts) == 1:
        return [(int(cuts[0]), int(cuts[0]))]
    return [(int(lo) + (i > 0), int(hi)) for i, (lo, hi) in enumerate(zip(cuts[:-1], cuts[1:]))]


def length_section(
    predictions: list[dict], rows: list[dict], info: DataInfo, options: ClassificationConfig
) -> ReportSection:
    key = "text"
    lengths = [len(str(r[key]).split()) for r in rows]
    out = []
    for lo, hi in length_buckets(lengths):
        chosen = [p for p, n in zip(predictions, lengths) if lo <= n <= hi]
        if chosen:
            s = score(chosen, info, options)
            out.append([f"{lo}–{hi}", len(chosen), f"{s['accuracy']:.3f}", f"{s['f1']:.3f}"])
    text = "Test metrics by input length (words), in quartile buckets.\n\n" + api.markdown_table(
        ["words", "examples", "accuracy", "macro F1"], out
    )
    return ReportSection("Metrics by input length", text)


def error_analysis(
    predictions: list[dict],
    rows: list[dict],
    info: DataInfo,
    options: ClassificationConfig,
    out_dir: str,
    top: int = 20,
) -> list[ReportSection]:
    """Per-class scores, confusion matrix, calibration, confident errors, length buckets."""
    out = Path(out_dir)
    multi = options.multi_label
    pred, true = (multi_arrays if multi else single_arrays)(predictions, info.labels)
    sections = [
        ReportSection(
            "Per-class precision, recall and F1", per_class_table(pred, true, info.labels, multi)
        )
    ]
    if not multi:
        sections.append(confusion_section(pred, true, info.labels))
    cal = calibration(*confidences(predictions, info, options))
    what = "per label decision" if multi else "of the predicted class"
    text = (
        f"Expected calibration error (confidence {what}, {ECE_BINS} equal-width bins): "
        f"**{cal['ece']:.3f}**. A well calibrated model's bars follow the diagonal."
    )
    sections.append(ReportSection("Calibration", text, {"reliability.png": reliability_png(cal)}))
    errors = error_records(predictions, rows, info, options)
    sections.append(errors_section(errors, len(rows), out, top))
    sections.append(length_section(predictions, rows, info, options))
    return sections


# --- forgetting -------------------------------------------------------------------------


_REFERENCE: dict[str, Any] = {}


def reference_name(run: Any) -> str:
    """The forgetting dataset: the recipe's choice, else bbc_news (rotten_tomatoes for it)."""
    chosen = api.evaluation_option(run, "forgetting_dataset", None)
    if chosen:
        return str(chosen)
    return "rotten_tomatoes" if run.recipe.data.source == "bbc_news" else "bbc_news"


def reference_rows(run: Any, name: str) -> tuple[list[dict], list[dict]]:
    """A seeded sample of the reference dataset's train and test rows (cached per run)."""
    sizes = (
        api.evaluation_option(run, "forgetting_train_rows", 400),
        api.evaluation_option(run, "forgetting_test_rows", 300),
    )
    key = (name, int(run.recipe.seed), *sizes)
    cached = _REFERENCE.get("value")
    if cached and _REFERENCE["key"] == key and _REFERENCE["run"]() is run:
        return cached
    raw = run.hooks.load_dataset(name=name, options=None, seed=run.recipe.seed)
    rng = random.Random(run.recipe.seed)
    picked = []
    for split, size in zip(("train", "test"), sizes):
        rows = [r for r in raw.splits[split] if r.get("label") not in (None, "")]
        picked.append(rng.sample(rows, min(size, len(rows))))
    _REFERENCE.update(key=key, run=weakref.ref(run), value=tuple(picked))
    return _REFERENCE["value"]


def forgetting(run: Any, model: Any) -> dict[str, Any]:
    """Linear-probe accuracy of ``model``'s embeddings on a reference dataset, per example."""
    import numpy as np

    name = reference_name(run)
    train, test = reference_rows(run, name)
    max_length = int(api.evaluation_option(run, "forgetting_max_length", 128))
    size = int(run.recipe.data.eval_batch_size)

    def features(rows: list[dict]) -> Any:
        return api.mean_pooled_embeddings(
            model, run.tokenizer, [str(r["text"]) for r in rows], max_length, size
        )

    y_train = np.array([str(r["label"]) for r in train])
    y_test = np.array([str(r["label"]) for r in test])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence notes
        fitted = _probe(1.0, False).fit(features(train), y_train)
    correct = (fitted.predict(features(test)) == y_test).astype(float)
    classes = Counter(y_train.tolist())
    return {
        f"{name} linear-probe accuracy": {
            "values": correct.tolist(),
            "higher_is_better": True,
            "description": (
                f"logistic regression on mean-pooled last-layer embeddings, fitted on "
                f"{len(train)} {name} rows ({len(classes)} classes), scored on {len(test)}"
            ),
        }
    }
