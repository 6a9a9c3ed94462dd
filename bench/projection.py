"""Does ``ftcore assess`` project the full run's score? And does it rank models right?

    python -m bench.projection --out DIR RECIPE [RECIPE ...]
    python -m bench.projection --out DIR --models minilm,smollm2-135m \\
        --set data.limit_train=1000 RECIPE[@KEY=VALUE,...] [RECIPE ...]

For every recipe (and every model of ``--models``): ``ftcore assess RECIPE`` (its wall
time measured around the whole process, loading included) and the full
``ftcore run RECIPE`` with the same overrides, then one table row each: assess wall time
vs budget, projected score [interval] vs the run's test score, |error|, inside the
interval. With ``--models`` the assessment is one ``ftcore assess --models`` per recipe
(they share the budget), its rows show the ranking's own basis (the calibrated probe alone,
which every candidate has, and the rank, shared by candidates the assessment did not tell
apart, with its P(best)), and Kendall's tau between the projected and the real scores is
printed, over all (recipe, model) pairs and within each recipe, with tau-b of the ranks
within each recipe, the pairs the ranking separated (and how many in the real order) and
how its P(best) shares met the real runs (``leanings``).
``RECIPE@KEY=VALUE,...`` adds overrides for that recipe only (for example
``head.standardize=false``, which a regression head on a model without a bias in its
output layer needs). Folders that already hold
a finished assessment or run are reused (delete them to measure again); with
``--assess-only`` no full run is started (rows without a run folder show no real
score, unless the recipe, its overrides and the model are those of a run recorded in
``ftcore_evaluation.projection.REFERENCES`` or ``PAIRED_RUNS``: then the full run's test
score recorded there is used, and the row says so). The table is written to
``DIR/projection.md`` and ``DIR/projection.json``; it also shows what the probe alone
would have projected (the projection's ``probe_only``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def parser() -> argparse.ArgumentParser:
    found = argparse.ArgumentParser(prog="python -m bench.projection")
    found.add_argument("recipes", nargs="+")
    found.add_argument("--out", required=True, type=Path)
    found.add_argument(
        "--budget", type=float, help="assess --budget (default: assess's, 180 s per model)"
    )
    found.add_argument("--models", default="", help="comma-separated candidates")
    found.add_argument("--set", action="append", default=[], help="KEY=VALUE for both")
    found.add_argument(
        "--assess-only", action="store_true", help="no full runs: use the run folders found"
    )
    return found


def ftcore(*args: str) -> float:
    """Run the installed ``ftcore`` command; its wall time in seconds."""
    command = [str(Path(sys.executable).with_name("ftcore")), *args]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"bench.projection: {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - started


def split(recipe: str, args: argparse.Namespace) -> tuple[str, list[str]]:
    """``RECIPE@K=V,K=V`` -> (RECIPE, [--set overrides..., K=V, K=V])."""
    name, _, extra = recipe.partition("@")
    return name, [*args.set, *(e for e in extra.split(",") if e)]


def assess(given: str, folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    found = folder / "assessment.json"
    recipe, overrides = split(given, args)
    if not found.is_file():
        extra = ["--models", args.models] if args.models else []
        extra += ["--budget", str(args.budget)] if args.budget else []
        wall = ftcore(
            "assess",
            recipe,
            *overrides,
            "--out",
            str(folder),
            *extra,
        )
        (folder / "wall_seconds").write_text(f"{wall:.1f}\n")
    result = json.loads(found.read_text())
    result["wall_seconds"] = float((folder / "wall_seconds").read_text())
    return result


def recorded(recipe: str, model: str | None, overrides: list[str]) -> dict[str, Any]:
    """The full run's test score recorded for ``recipe`` with ``overrides``, run with
    ``model`` (None: the recipe's own), in the projection's references or paired runs
    (``{"test": {}}`` if none)."""
    from ftcore_evaluation.projection import PAIRED_RUNS, REFERENCES

    for ref in (*REFERENCES, *PAIRED_RUNS):
        same = set(filter(None, ref.overrides.split(","))) == set(overrides)
        if ref.recipe == recipe and same and (model is None or ref.model == model):
            return {"test": {f"test/{ref.metric}": ref.finetuned}, "recorded": True}
    return {"test": {}}


def full_run(
    recipe: str, folder: Path, overrides: list[str], run: bool, model: str | None = None
) -> dict[str, Any]:
    """The run's metrics: run now, found in ``folder``, or recorded (without ``run``)."""
    if not (folder / "metrics.json").is_file():
        if not run:
            return recorded(recipe, model, overrides)
        chosen = [f"model.name={model}"] if model else []
        ftcore("run", recipe, *overrides, *chosen, "--out", str(folder), "--force", "-q")
    return json.loads((folder / "metrics.json").read_text())


def _pair_counts(xs: list[float], ys: list[float]) -> tuple[int, int, int, int, float]:
    """(concordant, discordant, tied in xs, tied in ys, all pairs) over every pair."""
    concordant = discordant = tied_x = tied_y = 0
    for i in range(len(xs)):
        for j in range(i + 1, len(xs)):
            dx, dy = xs[i] - xs[j], ys[i] - ys[j]
            tied_x += dx == 0
            tied_y += dy == 0
            concordant += dx * dy > 0
            discordant += dx * dy < 0
    return concordant, discordant, tied_x, tied_y, len(xs) * (len(xs) - 1) / 2


def kendall_tau(xs: list[float], ys: list[float]) -> float:
    """Kendall's tau-a between two score lists (pairs tied in either count as 0)."""
    concordant, discordant, _, _, pairs = _pair_counts(xs, ys)
    return (concordant - discordant) / pairs if pairs else float("nan")


def kendall_tau_b(xs: list[float], ys: list[float]) -> float:
    """Kendall's tau-b: pairs tied in one list count in neither direction, and the
    denominator leaves them out (NaN when every pair is tied in one list)."""
    concordant, discordant, tied_x, tied_y, pairs = _pair_counts(xs, ys)
    denominator = ((pairs - tied_x) * (pairs - tied_y)) ** 0.5
    return (concordant - discordant) / denominator if denominator else float("nan")


def ranking_calls(rows: list[dict[str, Any]]) -> tuple[int, int]:
    """(pairs the ranking separated, of them in the real scores' order), within each recipe:
    a pair of rows of one recipe with different ranks is a call; a real tie is never right."""
    calls = right = 0
    for i, a in enumerate(rows):
        for b in rows[i + 1 :]:
            if a["recipe"] == b["recipe"] and a.get("rank") and b.get("rank"):
                if a["rank"] != b["rank"]:
                    calls += 1
                    right += (a["rank"] - b["rank"]) * (a["real"] - b["real"]) < 0
    return calls, right


def ranking_basis(found: dict[str, Any], model: str, projected: dict) -> dict:
    """With ``--models``: the projection the ranking used (the probe alone, for every
    candidate) and the model's rank (shared by candidates the assessment did not separate)."""
    ranked = {r["model"]: r for r in found.get("ranking", [])}
    if model not in ranked:
        return projected
    chosen = ranked[model]
    full = chosen["projected"] or {}
    return {**projected, "full": full, "rank": chosen["rank"], "p_best": chosen.get("p_best")}


def leanings(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """How the ranking's shares (``p_best``) met the real runs, recipe by recipe: the share
    it gave the model whose run scored highest, whether its largest share went to that model
    and the Brier score of the shares (mean squared gap to 1 for the best run, 0 for the
    others; 0.25 for two models called a coin toss)."""
    shares, squares = {}, []
    for recipe in dict.fromkeys(r["recipe"] for r in rows):
        found = [r for r in rows if r["recipe"] == recipe and r.get("p_best") is not None]
        if len(found) < 2:
            continue
        best = max(found, key=lambda r: r["real"])
        shares[recipe] = {
            "best_run": best["model"],
            "its_share": best["p_best"],
            "leaned_right": max(found, key=lambda r: r["p_best"]) is best,
        }
        squares += [(r["p_best"] - (r is best)) ** 2 for r in found]
    brier = round(sum(squares) / len(squares), 4) if squares else None
    return {"recipes": shares, "brier": brier}


def row(recipe: str, model: str, projected: dict, metrics: dict, wall: float, budget: float):
    metric = projected.get("metric", "")
    real = metrics["test"].get(f"test/{metric}")
    full = projected.get("full") or {}
    value = full.get("value")
    inside = None if value is None or real is None else full["low"] <= real <= full["high"]
    alone = projected.get("probe_only") or {}
    return {
        "recipe": recipe,
        "model": model,
        "assess_seconds": round(wall, 1),
        "budget": budget,
        "metric": metric,
        "method": projected.get("method"),
        "projected": full,
        "probe_only": alone,
        "real": real,
        "real_from": "recorded" if metrics.get("recorded") else "run",
        "probe_only_error": (
            None if not alone or real is None else round(abs(alone["value"] - real), 4)
        ),
        "error": None if value is None or real is None else round(abs(value - real), 4),
        "inside": inside,
        "full_run_seconds": metrics.get("timings", {}).get("total_seconds"),
        "rank": projected.get("rank"),
        "p_best": projected.get("p_best"),
    }


def share(found: float | None) -> str:
    return "" if found is None else f", P(best) {found:.2f}"


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| recipe | model | assess wall / budget | projected [interval] | full run | "
        "\\|error\\| | inside | probe alone (\\|error\\|) | rank |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        p, alone = r["projected"], r.get("probe_only") or {}
        shown = f"{p['value']:.3f} [{p['low']:.3f}, {p['high']:.3f}]" if p else "none"
        real = f"{r['metric']} {r['real']:.3f}" if r["real"] is not None else "n/a"
        if r["real"] is not None and r.get("real_from") == "recorded":
            real += " (recorded)"
        error = f"{r['error']:.3f}" if r["error"] is not None else "n/a"
        probe = f"{alone['value']:.3f}" if alone else "n/a"
        if alone and r.get("probe_only_error") is not None:
            probe += f" ({r['probe_only_error']:.3f})"
        lines.append(
            f"| `{r['recipe']}` | `{r['model']}` | {r['assess_seconds']:.0f} s / "
            f"{r['budget']:.0f} s | {shown} | {real} | {error} | "
            f"{ {True: 'yes', False: 'no', None: 'n/a'}[r['inside']] } | {probe} | "
            f"{r.get('rank') or ''}{share(r.get('p_best'))} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    args = parser().parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    models = [m for m in args.models.split(",") if m]
    # every assessment first (a few minutes each), then the full runs (far longer)
    names = [split(r, args)[0] for r in args.recipes]
    found = {n: assess(r, args.out / f"assess-{n}", args) for n, r in zip(names, args.recipes)}
    rows = []
    for recipe, given in zip(names, args.recipes):
        candidates = {found[recipe]["model"]: found[recipe]}
        candidates.update({c["model"]: c for c in found[recipe]["candidates"]})
        for model in models or [found[recipe]["model"]]:
            overrides, chosen = split(given, args)[1], model if models else None
            folder = args.out / f"run-{recipe}-{Path(model).name}"
            metrics = full_run(recipe, folder, overrides, not args.assess_only, chosen)
            projected = candidates[model]["projection"]
            if models:
                projected = ranking_basis(found[recipe], model, projected)
            wall = found[recipe]["wall_seconds"]
            budget = found[recipe].get("budget") or args.budget or 180.0
            rows.append(row(recipe, model, projected, metrics, wall, budget))
    result: dict[str, Any] = {"rows": rows}
    scored = [r for r in rows if r["projected"] and r["real"] is not None]
    if models:
        result["kendall_tau_all"] = kendall_tau(
            [r["projected"]["value"] for r in scored], [r["real"] for r in scored]
        )
        result["kendall_tau_within"] = {
            recipe: kendall_tau(
                [r["projected"]["value"] for r in scored if r["recipe"] == recipe],
                [r["real"] for r in scored if r["recipe"] == recipe],
            )
            for recipe in names
        }
        # the ranking itself: its ranks (ties included) against the real scores
        result["kendall_tau_b_of_ranks_within"] = {
            recipe: kendall_tau_b(
                [-r["rank"] for r in scored if r["recipe"] == recipe and r["rank"]],
                [r["real"] for r in scored if r["recipe"] == recipe and r["rank"]],
            )
            for recipe in names
        }
        result["ranking_calls"], result["ranking_calls_right"] = ranking_calls(scored)
        result["leanings"] = leanings(scored)
    text = markdown(rows)
    if models:
        text += f"\nKendall's tau, all pairs: {result['kendall_tau_all']:.3f}; within each "
        text += (
            "recipe: "
            + ", ".join(f"{k} {v:.3f}" for k, v in result["kendall_tau_within"].items())
            + "\n"
        )
        text += (
            "Kendall's tau-b of the ranking's ranks (a shared rank is a tie) within each "
            "recipe: "
            + ", ".join(f"{k} {v:.3f}" for k, v in result["kendall_tau_b_of_ranks_within"].items())
            + " (nan: the ranking tied every pair)\n"
        )
        text += (
            f"Pairs the ranking separated: {result['ranking_calls']}, in the real runs' order: "
            f"{result['ranking_calls_right']}\n"
        )
        lean = result["leanings"]
        if lean["recipes"]:
            right = sum(v["leaned_right"] for v in lean["recipes"].values())
            text += (
                f"The largest P(best) went to the better fine-tuned model on {right} of "
                f"{len(lean['recipes'])} recipes ("
                + ", ".join(
                    f"{k}: {v['best_run']} {v['its_share']:.2f}" for k, v in lean["recipes"].items()
                )
                + f"); Brier score of the shares {lean['brier']:.3f} (0.25: a coin toss)\n"
            )
    (args.out / "projection.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "projection.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
