"""``SWEEP_DIR/summary.json`` and ``summary.md``: every trial, the best, the verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftcore.api import atomic_write_json, atomic_write_text, markdown_escape, markdown_table

STATES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running"}


def trial_rows(the_study: Any, interrupted: list[int]) -> list[dict[str, Any]]:
    """One entry per trial run or running: number, state, params, objective, run folder,
    error (not the trials queued to be tried again)."""
    from optuna.trial import TrialState

    rows = []
    for t in the_study.get_trials(deepcopy=False):
        if t.state == TrialState.WAITING:
            continue
        state = "interrupted" if t.number in interrupted else STATES.get(t.state.name, "")
        rows.append(
            {
                "number": t.number,
                "state": state,
                "params": dict(t.params),
                "value": t.value,
                "run_dir": t.user_attrs.get("run_dir"),
                "error": t.user_attrs.get("error"),
            }
        )
    return rows


def best_trial(the_study: Any) -> Any:
    """The completed trial with the best objective, or None when none completed."""
    from optuna.trial import TrialState

    if not the_study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    return the_study.best_trial


def write(sweep_dir: Path, summary: dict[str, Any]) -> None:
    """Both files; the comparison's tables (``tables``) go into summary.md only."""
    comparison = {k: v for k, v in (summary.get("comparison") or {}).items() if k != "tables"}
    atomic_write_json(sweep_dir / "summary.json", {**summary, "comparison": comparison})
    atomic_write_text(sweep_dir / "summary.md", markdown(summary))


def _number(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.4g}" if isinstance(value, float) else markdown_escape(str(value))


def _trials_table(summary: dict[str, Any]) -> str:
    keys = summary["space"]
    header = ["trial", "state", *keys, summary["objective"]["metric"], "note"]
    rows = [
        [
            str(t["number"]),
            t["state"],
            *(_number(t["params"].get(k)) for k in keys),
            _number(t["value"]),
            markdown_escape(t["error"] or "", 120),
        ]
        for t in summary["trials"]
    ]
    return markdown_table([markdown_escape(h) for h in header], rows)


def markdown(summary: dict[str, Any]) -> str:
    objective = summary["objective"]
    lines = [
        f"# Sweep of {markdown_escape(summary['recipe'])}",
        "",
        f"Objective: best {objective['metric']} over each trial's validations "
        f"({'lower' if objective['mode'] == 'min' else 'higher'} is better). "
        f"{len(summary['trials'])} trials.",
        "",
        "## Trials",
        "",
        _trials_table(summary),
        "",
        "## Best trial",
        "",
    ]
    best = summary.get("best")
    if best is None:
        lines += ["No trial completed.", ""]
    else:
        params = ", ".join(f"`{k}={v}`" for k, v in best["params"].items())
        lines += [f"Trial {best['number']} (`{best['run_dir']}`): {params}.", ""]
    lines += _comparison_lines(summary.get("comparison") or {})
    return "\n".join(lines).rstrip() + "\n"


def _comparison_lines(found: dict[str, Any]) -> list[str]:
    lines = ["## Tuned vs defaults (test set)", ""]
    if "metric" not in found:
        reason = found.get("reason") or "no trial completed"
        return [*lines, f"Not compared: {markdown_escape(reason)}.", ""]
    diff = found["difference"]
    interval = ""
    if diff.get("low") is not None:
        interval = f" [{diff['low']:+.4f}, {diff['high']:+.4f}]"
    p_value = "" if found["p_value"] is None else f", p = {found['p_value']:.3g} ({found['test']})"
    return [
        *lines,
        f"**{found['verdict'].capitalize()}.** {found['metric']}: best trial − defaults = "
        f"{diff['value']:+.4f}{interval}{p_value}.",
        "",
        found.get("tables") or markdown_escape(found["explanation"], 1000),
        "",
    ]
