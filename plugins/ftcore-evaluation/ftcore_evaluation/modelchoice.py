"""``ftcore assess --models``: the candidates ranked by projected score, then by cost.

Every candidate is ranked on the basis they all have: the calibrated probe alone
(:func:`ftcore_evaluation.projection.calibrated`; only the main model gets a learning
curve), with every probe refitted on the same number of rows: the smallest sample any
candidate embedded in its share of the budget. A probe's score grows with its rows, and a
slower model embeds fewer; without this a model would rank lower for being slow, which its
projected cost already says. Two projections are told apart only when the interval of their
difference excludes 0: the difference of their draws, which share the calibration's ratio
draws (one seed), so what is left is the two probes' own sampling noise. Candidates the
assessment cannot tell apart share a rank, and within a shared rank the cheaper run
(projected minutes, then parameters) comes first: with no measurable difference in the
score, cost decides. ``p_best`` says which way a tie leans: the share of the draws in which
the model's projection is the highest (:func:`best_shares`).

A model without full runs of its own among the references (``Reference.model``) is projected
with their model's factor times its own offset from it, measured on recipes both were
fine-tuned on (``projection.PAIRED_RUNS``); the offset's spread is drawn independently, so
the ranking separates the two only when their probes differ by more than it. A model with
no such runs borrows the factor as it is; nothing then says how it fine-tunes relative to
the others, so the ranking never separates it from them and the cheaper run comes first.
``docs/assess.md`` ("Model choice, measured") has what this gave against real runs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ftcore.api import markdown_escape, markdown_table
from ftcore_evaluation import assess, projection, quality, scoring, stats
from ftcore_evaluation.report import code
from ftcore_evaluation.scoring import Bootstrap, fmt_interval


def strongest_baseline(model: assess.Model) -> tuple[str, str, bool] | None:
    """(baseline name, metric, higher is better) of the strongest baseline."""
    points = model.baselines.points
    if not points:
        return None
    metric = scoring.primary_metric(list(next(iter(points.values()))), model.monitor)
    higher = scoring.higher_is_better(metric, model.monitor)
    return scoring.best_baseline(model.baselines, list(points), metric, higher), metric, higher


def probe_rows(model: assess.Model) -> int | None:
    """The rows of the model's out-of-fold probe (None without one)."""
    return (model.quality.get("probe") or {}).get("rows")


def basis(
    model: assess.Model, boot: Bootstrap, rows: int | None = None
) -> tuple[dict[str, Any], np.ndarray]:
    """The calibrated probe alone (``full`` with ``probe_rows``, and its draws; ``({}, [])``
    without one), the probe refitted on ``rows`` of its sample where it has more."""
    probe, draws = model.quality.get("probe") or {}, model.probe_draws
    if rows and model.probe_sample and rows < (probe_rows(model) or 0):
        sample = model.probe_sample
        probe, draws = quality.probe_on_fewer_rows(sample, rows, int(boot.seed), boot)
    train = model.sizes["train"]
    found = projection.calibrated(probe, draws, model.source, train, boot, model=model.name)
    if not found:
        return {}, np.array([])
    full = {
        **found["full"],
        "probe": probe["value"],
        "probe_rows": probe["rows"],
        "calibration": found["calibration"],
        **({"model_offset": found["model_offset"]} if "model_offset" in found else {}),
    }
    return full, np.asarray(found["draws"].get("full", []), dtype=float)


def separated(a: np.ndarray, b: np.ndarray, confidence: float) -> bool | None:
    """Whether the interval of ``a - b`` excludes 0 (None without paired draws)."""
    if a.size == 0 or a.size != b.size:
        return None
    low, high = stats.percentile_interval(a - b, confidence)
    return bool(low > 0 or high < 0)


def calibration(row: dict[str, Any]) -> str | None:
    """How the row's projection knows its model's factor (``projection.calibrated``)."""
    return (row.get("projected") or {}).get("calibration")


def comparable(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two projections may be told apart: neither borrows another model's factor
    as it is (both rows have projections, each from its model's own runs or its offset
    measured on paired runs). Rows without projections rank by baseline, as before."""
    found = {calibration(a), calibration(b)}
    return "borrowed" not in found


def best_shares(rows: list[tuple[dict[str, Any], np.ndarray]]) -> list[float | None]:
    """For each row, the share of the paired draws in which its projection is the highest
    of all rows: ``None`` for every row unless each has draws of one size and metric, and
    a factor measured for its model (a borrowed factor's draws omit how it fine-tunes)."""
    draws = [d for _, d in rows]
    metrics = {r["metric"] for r, _ in rows}
    if (
        len(rows) < 2
        or len(metrics) != 1
        or len({d.size for d in draws}) != 1
        or draws[0].size == 0
        or not all(calibration(r) in ("own runs", "paired runs") for r, _ in rows)
    ):
        return [None] * len(rows)
    sign = 1.0 if rows[0][0]["higher_is_better"] else -1.0
    stacked = np.nan_to_num(sign * np.vstack(draws), nan=-np.inf)
    best = np.argmax(stacked, axis=0)
    return [round(float(np.mean(best == i)), 3) for i in range(len(rows))]


def _row(
    model: assess.Model, boot: Bootstrap, rows: int | None
) -> tuple[dict[str, Any], np.ndarray]:
    found = strongest_baseline(model)
    value = model.baselines.intervals[found[0]][found[1]] if found else None
    full, draws = basis(model, boot, rows)
    return {
        "model": model.name,
        "baseline": found[0] if found else None,
        "metric": found[1] if found else None,
        "score": value.to_dict() if value else None,
        "projected": full or None,
        "higher_is_better": found[2] if found else True,
        "parameters": model.cost["parameters"]["total"],
        "run_minutes": round(model.cost["run_seconds"] / 60, 1),
        "memory_mib": model.cost["training_memory_estimate_mib"],
        "logme": model.quality.get("logme"),
    }, draws


def _score(row: dict[str, Any]) -> float:
    """Higher is better (NaN last): the projection, else the strongest baseline's score."""
    found = (row["projected"] or row["score"] or {"value": math.nan})["value"]
    if found is None or math.isnan(found):
        return -math.inf
    return found if row["higher_is_better"] else -found


def ranking(models: list[assess.Model], boot: Bootstrap) -> list[dict[str, Any]]:
    """The candidates in rank order, each with ``rank`` (shared by those not told apart)
    and ``tied_with`` (the other models of its rank)."""
    sizes = [n for n in map(probe_rows, models) if n]
    common = min(sizes) if len(sizes) == len(models) else None
    rows = sorted((_row(m, boot, common) for m in models), key=lambda r: -_score(r[0]))
    groups: list[list[tuple[dict[str, Any], np.ndarray]]] = []
    for row, draws in rows:
        if groups:
            leader, drawn = groups[-1][0]
            apart = separated(drawn, draws, boot.confidence)
            if not comparable(leader, row):
                apart = False  # how one of them fine-tunes relative to the other is unknown
            if apart is False and leader["metric"] == row["metric"]:
                groups[-1].append((row, draws))
                continue
        groups.append([(row, draws)])
    shares = dict(zip((r["model"] for r, _ in rows), best_shares(rows), strict=True))
    out = []
    for rank, group in enumerate(groups, start=1):
        names = [r["model"] for r, _ in group]
        for row, _ in sorted(group, key=lambda g: (g[0]["run_minutes"], g[0]["parameters"])):
            others = [n for n in names if n != row["model"]]
            out.append({**row, "rank": rank, "tied_with": others, "p_best": shares[row["model"]]})
    return out


def lean(top: dict[str, Any], ranked: list[dict[str, Any]]) -> str:
    """The sentence on which way the top rank's tie leans, where the shares are known."""
    tied = [r for r in ranked if r["rank"] == top["rank"] and r.get("p_best") is not None]
    if len(tied) < 2:
        return ""
    ahead = max(tied, key=lambda r: r["p_best"])
    return (
        f" The projection leans to {code(ahead['model'])} (the highest in "
        f"{ahead['p_best']:.0%} of the draws); short of a separation, a brief fine-tune of "
        "both settles it."
    )


# The ranking's marks: a projection from the model's offset on paired runs, or borrowed.
MARKS = {"paired runs": " †", "borrowed": " *"}


def markdown(ranked: list[dict[str, Any]]) -> str:
    rows = [
        [
            f"{r['rank']}{' (tie)' if r['tied_with'] else ''}",
            code(r["model"]) + MARKS.get(calibration(r) or "", ""),
            fmt_interval(r["projected"]) if r.get("projected") else "n/a",
            "n/a" if r.get("p_best") is None else f"{r['p_best']:.0%}",
            f"{r['metric']} {fmt_interval(r['score'])} ({markdown_escape(r['baseline'])})"
            if r["score"]
            else "n/a",
            f"{r['parameters'] / 1e6:.1f}M",
            f"{r['run_minutes']:.1f} min",
            f"{r['memory_mib']} MiB",
            "n/a" if r.get("logme") is None else f"{r['logme']:.3f}",
        ]
        for r in ranked
    ]
    head = ["rank", "model", "projected [CI]", "P(best)", "baseline [CI]", "parameters"]
    own = sorted(projection.reference_models())
    sizes = {r["projected"].get("probe_rows") for r in ranked if r.get("projected")}
    common = (
        f", every probe refitted on the same {sizes.pop()} training rows (the smallest "
        "sample a candidate embedded in its share of the budget)"
        if len(sizes) == 1
        else ""
    )
    lines = [
        "Ranked by the projected fine-tuned score (the calibrated probe alone, which every "
        f"candidate has{common}; the strongest baseline's score where no projection exists). "
        "The projection here can differ from the one above, which uses all of the main "
        "model's probe rows and its learning curve. Models "
        "whose projections cannot be told apart (the interval of the difference covers 0) "
        "share a rank, the cheaper run first. P(best): the share of the projection's draws in "
        "which the model's projection is the highest, the way a tie leans (shown where every "
        "candidate's factor was measured). LogME of the frozen features is shown beside it "
        "(higher: the features explain more of the labels).",
        markdown_table([*head, "projected run", "memory", "LogME"], rows),
    ]
    for r in (r for r in ranked if calibration(r) == "paired runs"):
        offset = r["projected"]["model_offset"]
        lines.append(
            f"† {code(r['model'])}: the references are runs of "
            f"{', '.join(code(m) for m in own)}; its projection applies their factor times "
            f"its own offset, measured on {len(offset['recipes'])} recipes both were "
            f"fine-tuned on (the gap left after fine-tuning, relative to the probe's: "
            f"{math.exp(offset['mean']):.2f} times theirs, log spread {offset['sd']:.2f}; "
            f"the spread is in the interval and in the ranking)."
        )
    if any(calibration(r) == "borrowed" for r in ranked):
        lines.append(
            f"\\* No full run of this model is among the projection's references (they are "
            f"runs of {', '.join(code(m) for m in own)}), nor runs of both on a shared recipe: "
            f"its projection applies their factor to its probe as it is, so the ranking does "
            f"not separate it from the others (cheaper run first). Across model families (an "
            f"encoder against a decoder), fine-tune both briefly before choosing."
        )
    top = ranked[0]
    if top["tied_with"]:
        lines.append(
            f"The assessment does not separate {code(top['model'])} from "
            f"{', '.join(code(n) for n in top['tied_with'])}; {code(top['model'])} is the "
            f"cheaper run ({top['run_minutes']:.1f} min projected)." + lean(top, ranked)
        )
    return "\n\n".join(lines)
