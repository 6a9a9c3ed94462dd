"""Did tuning pay? The best trial against the recipe's defaults on the test set.

The defaults run is ``SWEEP_DIR/defaults`` (the recipe without any sweep values; reused
when finished, resumed when interrupted). The two runs are compared by ``ftcore
compare`` (the evaluation plugin's paired bootstrap, and McNemar's test for accuracy),
called through its command so the sweep depends on nothing of that plugin but its
command line.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
from pathlib import Path
from typing import Any

from ftcore.api import Hooks, read_json, run_recipe

DEFAULTS = "defaults"


def defaults_run(base: Any) -> Path:
    """``SWEEP_DIR/defaults``, a finished run of the recipe with its own values."""
    folder = base.sweep_dir / DEFAULTS
    if (folder / "metrics.json").is_file():
        return folder
    resume = (folder / "recipe.yaml").is_file()
    run_recipe(base.load({}), base.hooks, run_dir=folder, resume=resume)
    return folder


def _compare_command(hooks: Hooks) -> Any:
    return next((c for c in hooks.commands() if c.name == "compare"), None)


def compare(best: Path, defaults: Path, hooks: Hooks) -> dict[str, Any] | None:
    """``ftcore compare BEST DEFAULTS``: its JSON result and printed tables, or None when
    no installed plugin offers ``ftcore compare``."""
    command = _compare_command(hooks)
    if command is None:
        return None
    parser = argparse.ArgumentParser(prog="ftcore compare")
    command.add_arguments(parser)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "compare.json"
        args = parser.parse_args([str(best), str(defaults), "--out", str(out)])
        shown = io.StringIO()
        with contextlib.redirect_stdout(shown):
            command.run(args)
        result = read_json(out)
    return {"result": result, "markdown": shown.getvalue().strip()}


def comparison(found: dict[str, Any] | None) -> dict[str, Any]:
    """The headline of a comparison: metric, difference with its interval, p-value,
    whether the tuned run is significantly better, and the verdict in words."""
    if found is None:
        return {
            "verdict": "not compared",
            "reason": "no plugin offers `ftcore compare` (install ftcore-evaluation)",
        }
    result = found["result"]
    versus = next(iter(result.get("comparisons", {}).values()), None)
    if versus is None:
        return {"verdict": "not compared", "reason": "; ".join(result.get("notes", []))}
    metric = versus["primary_metric"]
    paid = versus.get("significant") is True
    return {
        "metric": metric,
        "difference": versus["differences"][metric],
        "confidence": result.get("bootstrap", {}).get("confidence"),
        "p_value": (versus.get("mcnemar") or {}).get("p_value"),
        "test": (versus.get("mcnemar") or {}).get("method"),
        "significant": paid,
        "verdict": "tuning paid" if paid else "tuning did not pay",
        "explanation": versus.get("verdict", ""),
        "tables": found["markdown"],
    }


def test_metrics(run_dir: Path) -> dict[str, float]:
    """A finished run's test metrics (``metrics.json``)."""
    return dict(read_json(run_dir / "metrics.json").get("test", {}))


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2)
