"""Evaluation parts of the regression head: scores, baselines, residuals, forgetting.

Called through :class:`ftcore_regression.plugin.RegressionHead` by an evaluation plugin
(``ftcore-evaluation``). Pure numpy functions over decoded predictions (``{"value": v,
"target": t}`` or ``{"values": [...], "target": [...]}``); numpy, scipy, scikit-learn, torch and
matplotlib are imported inside the functions.
"""

from __future__ import annotations

import json
import random
import warnings
import weakref
from pathlib import Path
from typing import Any

from ftcore import api
from ftcore.api import DataInfo, ReportSection
from ftcore_regression import targets as tg

RIDGE_ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0)
TOP = 20
CELL_CHARS = 200  # report table cells are cut at this many characters


# --- scores (pure) ---------------------------------------------------------------------


def arrays(predictions: list[dict]) -> tuple[Any, Any]:
    """Predicted and true values, shape ``(examples, targets)``."""
    import numpy as np

    pred = np.array([p["values"] if "values" in p else [p["value"]] for p in predictions], float)
    true = np.array([p["target"] for p in predictions], dtype=float).reshape(pred.shape)
    return pred, true


def _pearson(a: Any, b: Any) -> Any:
    """Column-wise Pearson correlation (NaN for a constant column)."""
    import numpy as np

    a, b = a - a.mean(0), b - b.mean(0)
    denom = np.sqrt((a * a).sum(0) * (b * b).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a * b).sum(0) / denom


def score(predictions: list[dict]) -> dict[str, float]:
    """MSE, RMSE, MAE, R², Pearson and Spearman, averaged over targets (as torchmetrics)."""
    import numpy as np
    from scipy.stats import rankdata

    pred, true = arrays(predictions)
    err = pred - true
    mse = (err**2).mean(0)
    total = ((true - true.mean(0)) ** 2).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = 1.0 - (err**2).sum(0) / total
    ranks = _pearson(rankdata(pred, axis=0), rankdata(true, axis=0))
    return {
        "mse": float(mse.mean()),
        "rmse": float(np.sqrt(mse).mean()),
        "mae": float(np.abs(err).mean()),
        "r2": float(r2.mean()),
        "pearson": float(_pearson(pred, true).mean()),
        "spearman": float(ranks.mean()),
    }


# --- embeddings and probes ----------------------------------------------------------------


def sample(rows: list[dict], size: int, seed: int) -> list[dict]:
    """At most ``size`` rows, a seeded sample in the original order."""
    if len(rows) <= size:
        return rows
    return [rows[i] for i in sorted(random.Random(seed).sample(range(len(rows)), int(size)))]


def _decode(values: Any) -> list[dict]:
    multi = values.shape[1] > 1
    return [
        {"values": [float(v) for v in row]} if multi else {"value": float(row[0])} for row in values
    ]


def _target(row: dict, info: DataInfo, sep: str) -> Any:
    found = tg.parse(row["label"], sep)
    return found if info.extra["num_targets"] > 1 else found[0]


def baselines(run: Any) -> dict[str, list[dict]]:
    """A ridge probe on the pretrained backbone's embeddings, and the training mean."""
    import numpy as np
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    info, recipe = run.info, run.recipe
    train = sample(
        run.data.rows["train"], api.evaluation_option(run, "baseline_train_rows", 2000), recipe.seed
    )
    test = run.data.rows["test"]
    key, sep = "text", run.head_options.target_separator
    y_train = np.array([tg.parse(r["label"], sep) for r in train], dtype=float)
    y_test = [_target(r, info, sep) for r in test]

    def features(rows: list[dict]) -> Any:
        texts = [r[key] for r in rows]
        model, size = run.module.model, recipe.data.eval_batch_size
        return api.mean_pooled_embeddings(model, run.tokenizer, texts, recipe.data.max_length, size)

    probe = make_pipeline(StandardScaler(), RidgeCV(alphas=RIDGE_ALPHAS))
    predicted = probe.fit(features(train), y_train).predict(features(test)).reshape(len(test), -1)
    mean = np.tile(y_train.mean(0), (len(test), 1))
    return {
        "ridge probe": [{**p, "target": t} for p, t in zip(_decode(predicted), y_test)],
        "mean": [{**p, "target": t} for p, t in zip(_decode(mean), y_test)],
    }


# --- error analysis -------------------------------------------------------------------------


def plots(pred: Any, true: Any) -> dict[str, bytes]:
    """Predicted-vs-true and residual-vs-predicted scatter plots (first target)."""
    plt = api.pyplot()
    p, t = pred[:, 0], true[:, 0]
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.scatter(t, p, s=8, alpha=0.5)
    low, high = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
    ax.plot([low, high], [low, high], "--", color="gray", label="perfect")
    ax.set_xlabel("true")
    ax.set_ylabel("predicted")
    ax.set_title("Predicted vs true (test)")
    ax.legend(loc="upper left")
    scatter = api.figure_png(fig)
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.scatter(p, p - t, s=8, alpha=0.5)
    ax.axhline(0.0, color="gray", linestyle="--")
    ax.set_xlabel("predicted")
    ax.set_ylabel("residual (predicted − true)")
    ax.set_title("Residuals (test)")
    return {"predicted_vs_true.png": scatter, "residuals.png": api.figure_png(fig)}


def worst(pred: Any, true: Any, rows: list[dict], key: str) -> list[dict]:
    """Every example, largest absolute residual (summed over targets) first."""
    residual = pred - true
    order = (-abs(residual).sum(1)).argsort(kind="stable")
    return [
        {
            "index": int(i),
            "text": rows[i][key],
            "target": true[i].tolist(),
            "predicted": pred[i].tolist(),
            "residual": residual[i].tolist(),
        }
        for i in order
    ]


def error_analysis(
    predictions: list[dict], rows: list[dict], info: DataInfo, out_dir: str
) -> list[ReportSection]:
    pred, true = arrays(predictions)
    records = worst(pred, true, rows, "text")
    with (Path(out_dir) / "residuals.jsonl").open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    shown = [
        [r["index"]]
        + [", ".join(f"{v:.3g}" for v in r[k]) for k in ("target", "predicted", "residual")]
        + [api.markdown_escape(r["text"], CELL_CHARS)]
        for r in records[:TOP]
    ]
    text = (
        f"Every test example with its residual, largest first, is in `residuals.jsonl`. "
        f"The {min(TOP, len(records))} worst:\n\n"
        + api.markdown_table(["#", "true", "predicted", "residual", "text"], shown)
    )
    what = "first target; " if pred.shape[1] > 1 else ""
    return [
        ReportSection(
            "Predictions and residuals",
            f"Test predictions against the truth and residuals ({what}dashed: perfect).",
            plots(pred, true),
        ),
        ReportSection("Worst residuals", text),
    ]


# --- forgetting --------------------------------------------------------------------------------

_REFERENCE: dict[str, Any] = {}


def reference_rows(run: Any, name: str) -> tuple[list[dict], list[dict]]:
    """A seeded sample of the reference dataset's train and test rows (cached per run)."""
    sizes = (
        api.evaluation_option(run, "forgetting_train_rows", 400),
        api.evaluation_option(run, "forgetting_test_rows", 300),
    )
    key = (name, int(run.recipe.seed), *sizes)
    if _REFERENCE.get("key") == key and _REFERENCE["run"]() is run:
        return _REFERENCE["value"]
    raw = run.hooks.load_dataset(name=name, options=None, seed=run.recipe.seed)
    picked = tuple(
        sample([r for r in raw.splits[s] if r.get("label") not in (None, "")], n, run.recipe.seed)
        for s, n in zip(("train", "test"), sizes)
    )
    _REFERENCE.update(key=key, run=weakref.ref(run), value=picked)
    return picked


def forgetting(run: Any, model: Any) -> dict[str, Any]:
    """Linear-probe accuracy of ``model``'s embeddings on a topic dataset, per example."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    name = api.evaluation_option(run, "forgetting_dataset", None) or (
        "rotten_tomatoes" if run.recipe.data.source == "bbc_news" else "bbc_news"
    )
    train, test = reference_rows(run, str(name))
    length, size = (
        int(api.evaluation_option(run, "forgetting_max_length", 128)),
        run.recipe.data.eval_batch_size,
    )

    def features(rows: list[dict]) -> Any:
        return api.mean_pooled_embeddings(
            model, run.tokenizer, [str(r["text"]) for r in rows], length, size
        )

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence notes
        probe.fit(features(train), [str(r["label"]) for r in train])
    correct = probe.predict(features(test)) == np.array([str(r["label"]) for r in test])
    return {
        f"{name} linear-probe accuracy": {
            "values": correct.astype(float).tolist(),
            "higher_is_better": True,
            "description": (
                f"logistic regression on mean-pooled last-layer embeddings, fitted on "
                f"{len(train)} {name} rows, scored on {len(test)}"
            ),
        }
    }
