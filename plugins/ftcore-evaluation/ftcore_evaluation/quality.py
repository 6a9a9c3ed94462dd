"""``ftcore assess``'s data-quality and transferability step, on the frozen features.

One stratified sample of the training split (at most ``rows``) is embedded once with the
pretrained model (mean-pooled, as the probe baseline); on those features:

- LogME (:mod:`ftcore_evaluation.transferability`) of the labels, next to the LogME of
  random features of the same size (a floor: what "no information" scores here);
- likely label errors (:func:`dataquality.label_issues`), the top ones with their rows;
- near-duplicate pairs (cosine >= 0.98);
- and, on the whole training split, classes and length ranges with too few rows.

Single-label classification gets all of it; regression gets LogME of its standardised
targets and the thin length ranges. Every task gets the pretrained language model's loss
on a sample of its texts against a reference corpus (:mod:`ftcore_evaluation.similarity`),
where the model has a language-model head.
"""

from __future__ import annotations

import random
import time
from typing import Any

import numpy as np

from ftcore_evaluation import dataquality, similarity, stats, transferability

ROWS = 2000
TOP_SUSPECTS = 20
TEXT_CHARS = 160


def stratified(labels: list[str], size: int, seed: int) -> list[int]:
    """At most ``size`` row indices, each class kept in proportion (at least one row each),
    in the original order."""
    if len(labels) <= size:
        return list(range(len(labels)))
    by_class: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_class.setdefault(label, []).append(i)
    rng = random.Random(seed)
    keep: list[int] = []
    for members in by_class.values():
        share = max(1, round(size * len(members) / len(labels)))
        keep += rng.sample(members, min(share, len(members)))
    return sorted(keep)


def _single_label(run: Any) -> bool:
    rows = run.data.rows["train"]
    return (  # a label vocabulary and one label per row: single-label classification
        bool(run.info.labels)
        and not getattr(run.head_options, "multi_label", False)
        and bool(rows)
        and isinstance(rows[0].get("label"), (str, int))
    )


def _lengths(run: Any) -> list[int]:
    features = (getattr(run.datamodule, "features", None) or {}).get("train") or []
    return [len(f["input_ids"]) for f in features if "input_ids" in f]


def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row pair of two (S, N) arrays."""
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    scale = np.sqrt((a**2).sum(1) * (b**2).sum(1))
    return np.where(scale > 0, (a * b).sum(1) / np.maximum(scale, 1e-300), 0.0)


def out_of_fold_score(
    run: Any, metric: str, predicted: np.ndarray, truth: np.ndarray
) -> tuple[dict[str, Any], np.ndarray]:
    """The out-of-fold probe's accuracy (or Pearson) on the sample, with its bootstrap
    interval and draws (the evaluation section's resamples, confidence and seed)."""
    from ftcore_evaluation.evaluate import bootstrap_of
    from ftcore_evaluation.schema import options

    return scored_probe(bootstrap_of(options(run.recipe)), metric, predicted, truth)


def scored_probe(
    boot: Any, metric: str, predicted: np.ndarray, truth: np.ndarray
) -> tuple[dict[str, Any], np.ndarray]:
    """:func:`out_of_fold_score` with the bootstrap settings given."""
    samples, confidence, seed = boot.samples, boot.confidence, boot.seed
    predicted, truth = np.asarray(predicted), np.asarray(truth)
    if metric == "accuracy":
        correct = (predicted == truth).astype(float)
        value = float(correct.mean())
        draws = correct[stats.resample_indices(len(truth), samples, seed)].mean(1)
    else:
        value = float(_pearson_rows(predicted[None, :], truth[None, :])[0])
        picked = stats.resample_indices(len(truth), samples, seed)
        draws = _pearson_rows(predicted[picked], truth[picked])
    draws = draws if samples else np.array([])
    low, high = stats.percentile_interval(draws, confidence) if samples else (np.nan, np.nan)
    interval = stats.Interval(value, low, high).to_dict()
    return {"metric": metric, "rows": len(truth), **interval}, draws


def probe_on_fewer_rows(
    sample: dict[str, Any], rows: int, seed: int, boot: Any
) -> tuple[dict[str, Any], np.ndarray]:
    """The out-of-fold probe of a quality ``sample`` (its ``features``, ``targets`` and
    ``metric``) refitted on ``rows`` of its rows (stratified for classes, else seeded), so
    that models assessed on samples of different sizes are compared on the same size."""
    features, targets = sample["features"], np.asarray(sample["targets"])
    if sample["metric"] == "accuracy":
        picked = stratified([str(t) for t in targets], rows, seed)
        kept = targets[picked]
        _, labels = np.unique(kept, return_inverse=True)
        probs = dataquality.out_of_fold_probabilities(features[picked], labels, seed=seed)
        return scored_probe(boot, "accuracy", probs.argmax(1), labels)
    picked = sorted(random.Random(seed).sample(range(len(targets)), min(rows, len(targets))))
    predicted = dataquality.out_of_fold_regression(features[picked], targets[picked], seed=seed)
    return scored_probe(boot, "pearson", predicted, targets[picked])


def similarity_reference(run: Any) -> str:
    from ftcore.api import evaluation_option

    chosen = evaluation_option(run, "similarity_reference", None)
    if chosen:
        return str(chosen)
    return "rotten_tomatoes" if run.recipe.data.source == "bbc_news" else "bbc_news"


def row_text(row: dict[str, Any]) -> str | None:
    """A row's text: ``text``, or ``prompt`` + ``response`` for instruction data."""
    if isinstance(row.get("text"), str):
        return row["text"]
    parts = [row.get(k) for k in ("prompt", "response")]
    return "\n".join(p for p in parts if isinstance(p, str)) or None


def lm_similarity(run: Any, texts: list[str]) -> dict[str, Any]:
    """:func:`similarity.language_model_loss` on the task's texts vs the reference data."""
    from ftcore.api import UserError

    name = similarity_reference(run)
    kind, _ = similarity.head_kind(run.model_path)
    if not texts:
        return {"available": False, "reason": "the rows hold no text", "reference": name}
    reference: list[str] = []
    if kind is not None:  # load the reference only when there is a head to score it with
        try:
            raw = run.hooks.load_dataset(name=name, options=None, seed=run.recipe.seed)
        except UserError as err:
            reason = f"the reference dataset {name!r} could not be loaded: {err}"
            return {"available": False, "reason": reason, "reference": name}
        rows = [r for r in raw.splits["train"] if isinstance(r.get("text"), str)]
        picked = random.Random(int(run.recipe.seed)).sample(rows, min(similarity.ROWS, len(rows)))
        reference = [r["text"] for r in picked]
    found = similarity.language_model_loss(
        run.model_path, texts, reference, int(run.recipe.data.max_length), int(run.recipe.seed)
    )
    return {**found, "reference": name}


def _embed(run: Any, base: Any, texts: list[str]) -> np.ndarray:
    """Mean-pooled pretrained features of ``texts`` (as the probe baseline embeds them)."""
    from ftcore.api import mean_pooled_embeddings

    data = run.recipe.data
    return mean_pooled_embeddings(base, run.tokenizer, texts, data.max_length, data.eval_batch_size)


def _logme_pair(run: Any, features: np.ndarray, targets: np.ndarray, regression: bool) -> dict:
    """LogME of the features, and of random features of the same size (the floor)."""
    noise = np.random.default_rng(int(run.recipe.seed)).normal(size=features.shape)
    return {
        "logme": round(transferability.logme(features, targets, regression), 4),
        "logme_random_features": round(transferability.logme(noise, targets, regression), 4),
    }


def _regression_quality(run: Any, base: Any, rows: int) -> dict[str, Any]:
    """LogME of the standardised targets on a seeded sample of the training rows."""

    train = run.data.rows["train"]
    picked = [
        i
        for i in range(len(train))
        if isinstance(train[i].get("text"), str) and isinstance(train[i].get("label"), float)
    ]
    picked = sorted(random.Random(int(run.recipe.seed)).sample(picked, min(rows, len(picked))))
    if len(picked) < 3:
        return {}
    targets = np.asarray([train[i]["label"] for i in picked], dtype=float)
    targets = (targets - targets.mean()) / (targets.std() or 1.0)
    features = _embed(run, base, [train[i]["text"] for i in picked])
    predicted = dataquality.out_of_fold_regression(features, targets, seed=int(run.recipe.seed))
    probe, draws = out_of_fold_score(run, "pearson", predicted, targets)
    return {
        "sample_rows": len(picked),
        **_logme_pair(run, features, targets, regression=True),
        "probe": probe,
        "probe_draws": draws,
        "probe_sample": {"features": features, "targets": targets, "metric": "pearson"},
    }


def assess_quality(run: Any, base: Any, rows: int = ROWS) -> dict[str, Any]:
    """The step's findings as plain values (see the module docstring)."""
    started = time.perf_counter()
    train = run.data.rows["train"]
    texts = [t for t in map(row_text, train) if t]
    sample = random.Random(int(run.recipe.seed)).sample(texts, min(similarity.ROWS, len(texts)))
    found: dict[str, Any] = {"language_model": lm_similarity(run, sample)}
    if _single_label(run):
        found.update(_classification_quality(run, base, rows, train))
    else:
        if train and isinstance(train[0].get("label"), float):
            found.update(_regression_quality(run, base, rows))
        found["thin_spots"] = dataquality.thin_spots(None, _lengths(run))
    found["seconds"] = round(time.perf_counter() - started, 1)  # the whole step
    return found


def _classification_quality(run: Any, base: Any, rows: int, train: list) -> dict[str, Any]:
    names = list(run.info.labels)
    given = [str(r["label"]) for r in train]
    picked = [i for i in stratified(given, rows, int(run.recipe.seed)) if given[i] in names]
    labels = np.asarray([names.index(given[i]) for i in picked])
    recipe = run.recipe
    features = _embed(run, base, [train[i]["text"] for i in picked])
    probs = dataquality.out_of_fold_probabilities(features, labels, seed=int(recipe.seed))
    predicted = np.unique(labels)[probs.argmax(1)]  # columns: the classes present, sorted
    probe, draws = out_of_fold_score(run, "accuracy", predicted, labels)
    issues = dataquality.label_issues(features, labels, seed=int(recipe.seed), probabilities=probs)
    suspects = [
        {
            "row": picked[found["index"]],
            "text": str(train[picked[found["index"]]]["text"])[:TEXT_CHARS],
            "given": names[found["given"]],
            "suggested": names[found["suggested"]],
            "confidence": found["confidence"],
        }
        for found in issues[:TOP_SUSPECTS]
    ]
    near = [
        {
            "rows": [picked[i], picked[j]],
            "cosine": cosine,
            "texts": [str(train[picked[k]]["text"])[:TEXT_CHARS] for k in (i, j)],
        }
        for i, j, cosine in dataquality.near_duplicates(features, limit=10)
    ]
    return {
        "sample_rows": len(picked),
        **_logme_pair(run, features, labels, regression=False),
        "probe": probe,
        "probe_draws": draws,
        "probe_sample": {"features": features, "targets": labels, "metric": "accuracy"},
        "label_issues": len(issues),
        "suspects": suspects,
        "near_duplicates": near,
        "thin_spots": dataquality.thin_spots(given, _lengths(run)),
    }


def meaning(found: dict[str, Any]) -> list[str]:
    """What the numbers mean for the decision, in words."""
    lines = []
    if "logme" in found:
        gap = found["logme"] - found["logme_random_features"]
        if gap <= 0.02:
            lines.append(
                f"LogME {found['logme']:.3f} is no better than random features "
                f"({found['logme_random_features']:.3f}): the pretrained features barely "
                "separate these labels; expect fine-tuning to have to learn most of the task."
            )
        else:
            lines.append(
                f"LogME {found['logme']:.3f} against {found['logme_random_features']:.3f} for "
                "random features: the frozen features already explain part of the labels "
                "(the larger the gap, the closer the task is to what the model learned). "
                "Compare candidates with --models: a higher LogME ranks a model higher."
            )
    if "label_issues" in found:
        share = found["label_issues"] / max(found["sample_rows"], 1)
        lines.append(
            f"{found['label_issues']} of {found['sample_rows']} sampled training rows "
            f"({share:.1%}) disagree with a cross-validated probe on the frozen features. "
            "Where that share is close to the probe's error rate (Baseline), most are hard "
            "rows rather than wrong labels: read the list under Data quality from the top, "
            "where wrong labels gather; fixing them is cheaper than any training run."
        )
    if found.get("language_model"):
        lm = found["language_model"]
        lines.append(similarity.meaning(lm, lm.get("reference", "the reference")))
    thin = found.get("thin_spots", {})
    if thin.get("classes"):
        lines.append(
            f"Classes with fewer than {thin['min_rows']} training rows: "
            + ", ".join(f"{k} ({v})" for k, v in thin["classes"].items())
            + "; their test scores will be noisy and the model may rarely predict them."
        )
    return lines


def markdown(found: dict[str, Any]) -> str:
    """The "Data quality" section of assessment.md."""
    from ftcore.api import markdown_escape as escape
    from ftcore.api import markdown_table as table
    from ftcore_evaluation.report import code

    parts = []
    lm = found.get("language_model") or {}
    if lm.get("available"):
        parts.append(
            f"Language-model loss ({lm['kind']} LM, {lm['rows']} texts each): "
            f"**{lm['task_loss']:.3f}** nats per token on the task's training texts, "
            f"{lm['reference_loss']:.3f} on {code(lm['reference'])} (ratio {lm['ratio']:.2f})."
        )
    elif lm:
        parts.append(f"Language-model loss: not measured ({escape(lm['reason'])}).")
    if "logme" in found:
        issues = (
            f"; {found['label_issues']} likely label errors (out-of-fold probe probabilities, "
            "cleanlab's confident learning)"
            if "label_issues" in found
            else ""
        )
        parts.append(
            f"On a sample of {found['sample_rows']} training rows, embedded once with the "
            f"pretrained model: LogME **{found['logme']:.3f}** (random features of the same "
            f"size: {found['logme_random_features']:.3f}){issues}."
        )
        if found.get("suspects"):
            rows = [
                [
                    s["row"],
                    escape(s["text"]),
                    escape(s["given"]),
                    escape(s["suggested"]),
                    f"{s['confidence']:.3f}",
                ]
                for s in found["suspects"]
            ]
            parts.append(
                "Most likely label errors (row of the training split, worst first):\n\n"
                + table(["row", "text", "given", "suggested", "p(given)"], rows)
            )
        if found.get("near_duplicates"):
            rows = [
                [
                    f"{d['rows'][0]}, {d['rows'][1]}",
                    f"{d['cosine']:.3f}",
                    escape(d["texts"][0]),
                    escape(d["texts"][1]),
                ]
                for d in found["near_duplicates"]
            ]
            parts.append("Near-duplicates:\n\n" + table(["rows", "cosine", "text", "text"], rows))
    thin = found.get("thin_spots", {})
    if thin.get("length_ranges"):
        ranges = ", ".join(f"{k}: {v}" for k, v in thin["length_ranges"].items())
        parts.append(f"Length ranges with fewer than {thin['min_rows']} rows: {ranges}.")
    return "\n\n".join(parts) or "Nothing to report."
