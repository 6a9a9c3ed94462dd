"""The catalog of shipped recipes with their measured results, from the files runs wrote.

    python tools/recipe_catalog.py [--out docs/catalog.md] RUN_DIR [RUN_DIR ...]
    python tools/recipe_catalog.py --update docs/catalog.md [RUN_DIR ...]

Every recipe of this repository that ``ftcore recipes`` lists (``recipes/`` and the
recipes its plugins ship) gets a row (description, task, data, model).
A run directory given on the command line adds what that run measured, read from its own
files and nothing typed by hand:

- ``metrics.json`` (written by ``ftcore run``): test metrics, epochs and wall time;
- ``evaluation.json`` (written by the evaluation plugin, when installed): the primary
  metric with its bootstrap confidence interval, the best baseline and the verdict;
- ``recipe.yaml``: the resolved recipe (threads, accelerator, precision) and versions.

When several run directories belong to one recipe, the last one given wins. A recipe
without a run directory is listed as not measured. ``--update FILE`` rewrites an existing
catalog: the list of recipes afresh, the measured rows it already holds kept as they were
generated (a run directory given replaces its recipe's row).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent  # the repository
MAIN = "fine-tuned"  # the evaluation plugin's name for the fine-tuned model's scores


@dataclass
class Measured:
    """What one run directory says about its recipe."""

    run_dir: Path
    summary: dict[str, Any]
    recipe: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def read_run(run_dir: Path) -> Measured:
    """A run directory's metrics.json (required), recipe.yaml and evaluation.json."""
    import yaml

    metrics = run_dir / "metrics.json"
    if not metrics.is_file():
        raise SystemExit(f"recipe_catalog: {run_dir} has no metrics.json; give finished runs")
    recipe_file = run_dir / "recipe.yaml"
    recipe = {}
    if recipe_file.is_file():
        recipe = yaml.safe_load(recipe_file.read_text(encoding="utf-8"))
    return Measured(run_dir, _json(metrics), recipe or {}, _json(run_dir / "evaluation.json"))


def _num(value: Any) -> str:
    return "–" if value is None else f"{value:.3f}"


def headline(m: Measured) -> str:
    """The primary metric with its interval (evaluation.json), else the test metrics."""
    ev = m.evaluation
    metric = ev.get("primary_metric")
    found = ev.get("metrics", {}).get(MAIN, {}).get(metric) if metric else None
    if found:
        level = ev.get("bootstrap", {}).get("confidence")
        ci = f" [{_num(found.get('low'))}, {_num(found.get('high'))}]"
        shown = f"{metric} {_num(found.get('value'))}{ci}"
        return shown + (f" ({level:.0%} CI)" if level else "")
    tests = {k.split("/", 1)[1]: v for k, v in m.summary.get("test", {}).items() if "/" in k}
    shown = ", ".join(f"{k} {_num(v)}" for k, v in sorted(tests.items()) if k != "loss")
    return (shown or "no test metrics") + " (no interval recorded)"


def baseline(m: Measured) -> str:
    ev = m.evaluation
    best, metric = ev.get("best_baseline"), ev.get("primary_metric")
    found = ev.get("metrics", {}).get(best, {}).get(metric) if best and metric else None
    if not found:
        return "not recorded"
    verdict = " (significant gain)" if ev.get("significant") else ""
    return f"{best}: {_num(found.get('value'))}{verdict}"


def setting(m: Measured) -> str:
    """How the run was run, from its recipe.yaml: accelerator, devices, threads, precision."""
    t = m.recipe.get("trainer", {})
    threads = t.get("num_threads")
    parts = [
        f"{t.get('accelerator', '?')} × {t.get('devices', '?')}",
        f"{threads} threads" if threads else "",
        t.get("precision", ""),
    ]
    return ", ".join(p for p in parts if p)


def measured_row(m: Measured) -> str:
    s = m.summary
    seconds = s.get("timings", {}).get("total_seconds")
    rows = s.get("data", {}).get("rows", {})
    data = " / ".join(str(rows.get(k, "?")) for k in ("train", "validation", "test"))
    cells = [
        f"`{s.get('recipe', '?')}`",
        headline(m),
        baseline(m),
        data,
        str(s.get("epochs_trained", "?")),
        f"{seconds:.0f} s" if seconds is not None else "?",
        setting(m),
        f"torch {m.recipe.get('versions', {}).get('torch', '?')}",
    ]
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def shipped_recipes() -> dict[str, Path]:
    """Recipes of this repository: ``recipes/`` and those its plugins ship."""
    from ftcore.hooks import Hooks
    from ftcore.manager import get_plugin_manager
    from ftcore.recipe import loader

    found = loader.available(Hooks(get_plugin_manager()).recipe_dirs())
    return {name: path for name, path in found.items() if path.resolve().is_relative_to(ROOT)}


def describe(path: Path) -> tuple[str, str, str, str]:
    """(description, task, data source, model) from a recipe file and what it extends."""
    from ftcore.hooks import Hooks
    from ftcore.manager import get_plugin_manager
    from ftcore.recipe import loader

    try:
        raw = loader.load_raw(path, Hooks(get_plugin_manager()).recipe_dirs())
    except Exception:
        return (loader.describe(path), "?", "?", "?")
    data = raw.get("data") or {}
    model = raw.get("model") or {}
    return (
        str(raw.get("description", "")),
        str(raw.get("task", "?")),
        str(data.get("source", "?")),
        str(model.get("name", "?")),
    )


def measured_rows(text: str) -> dict[str, str]:
    """The rows of an existing catalog's measured results, by recipe."""
    _, _, rest = text.partition("## Measured results")
    rows = (re.match(r"\| `([^`]+)` \|", line) for line in rest.splitlines())
    return {m.group(1): m.string for m in rows if m}


def catalog_markdown(runs: list[Measured], kept: dict[str, str] | None = None) -> str:
    """The catalog: every shipped recipe, and a measured row for each of ``runs`` and each
    row of ``kept`` (:func:`measured_rows` of the catalog being updated) not measured anew."""
    measured = {**(kept or {}), **{m.summary.get("recipe"): measured_row(m) for m in runs}}
    lines = [
        "# Recipe catalog",
        "",
        "Generated by `python tools/recipe_catalog.py --out docs/catalog.md RUN_DIR...` from "
        "the files each run wrote (`metrics.json`, `evaluation.json`, `recipe.yaml`); "
        "`--update docs/catalog.md` refreshes the list of recipes and keeps the measured rows. "
        "Do not edit by hand. Run a recipe with `ftcore run NAME`.",
        "",
        "## Shipped recipes",
        "",
        "| recipe | what it does | task | data | model | measured |",
        "|---|---|---|---|---|---|",
    ]
    for name, path in shipped_recipes().items():
        description, task, source, model = describe(path)
        done = "yes" if name in measured else "not yet"
        cells = [f"`{name}`", description, task, source, model, done]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines += ["", "## Measured results", ""]
    if not measured:
        lines.append("No run directories were given, so nothing is measured here yet.")
    else:
        lines += [
            "| recipe | test result (interval) | best baseline | rows train / val / test | "
            "epochs | wall time | trainer settings | versions |",
            "|---|---|---|---|---|---|---|---|",
            *measured.values(),
            "",
            "Wall time is `ftcore run`'s own (`metrics.json` → `timings.total_seconds`); the "
            "trainer settings come from each run's `recipe.yaml`. The machine itself is not "
            "recorded in the run's files.",
        ]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/recipe_catalog.py", description=__doc__)
    parser.add_argument("run_dirs", nargs="*", type=Path, help="finished run directories")
    parser.add_argument("--out", type=Path, help="write here (default: print)")
    parser.add_argument(
        "--update", type=Path, help="rewrite this catalog, keeping the measured rows it holds"
    )
    args = parser.parse_args(argv)
    kept = {}
    if args.update:
        if not args.update.is_file():
            parser.exit(
                2, f"recipe_catalog: {args.update} does not exist; give the catalog to update\n"
            )
        kept = measured_rows(args.update.read_text(encoding="utf-8"))
        args.out = args.out or args.update
    text = catalog_markdown([read_run(d) for d in args.run_dirs], kept)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
