"""The LR range test on a set-up run: sweep, analyse, plot, write ``lr_find.json``.

Used by ``optim.lr: auto`` (in ``ftcore_resolve_lr``) and by ``ftcore lr-find``; imported
only inside those (it imports core's LightningModule module, hence torch).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ftcore.api import atomic_write_json, value
from ftcore.errors import UserError

NAME = "lr_finder"
REPORT = "lr_find.json"
PLOT = "lr_find.png"


def options(recipe: Any) -> Any:
    """``strategies.lr_finder``, or its defaults when the section is absent."""
    found = (recipe.strategies or {}).get(NAME)
    if found is not None:
        return found
    from omegaconf import OmegaConf

    from ftcore_lr_finder.schema import LRFinderConfig

    return OmegaConf.structured(LRFinderConfig)


def find(run: Any, opts: Any) -> dict[str, Any]:
    """Run the range test on ``run`` (trainer, module, datamodule set up); write the
    report and plot into ``run.run_dir``; return the report."""
    from ftcore_lr_finder.curve import analyse
    from ftcore_lr_finder.plot import plot
    from ftcore_lr_finder.sweep import run_sweep

    optim = run.recipe.optim
    requested = optim.lr
    if isinstance(requested, str):  # 'auto': any number lets configure_optimizers run
        optim.lr = float(opts.min_lr)
    started = time.perf_counter()
    try:
        sweep = run_sweep(run.trainer, run.module, run.datamodule, opts)
    finally:
        optim.lr = requested
    curve = analyse(sweep.lrs, sweep.losses, float(opts.smoothing), int(opts.num_steps))
    method = value(opts.method)
    folder = Path(run.run_dir)
    plot(curve, method, folder / PLOT, title=f"LR range test: {run.recipe.name}")
    facts = {
        "method": method,
        "suggestion": curve.suggestions.get(method),
        "suggestions": curve.suggestions,
        "lightning_suggestion": sweep.lightning_suggestion,
        "reliable": curve.reliable,
        "reasons": curve.reasons,
        "plot": str(folder / PLOT),
        "requested_lr": requested,
        "range": [float(opts.min_lr), float(opts.max_lr)],
        "steps": len(sweep.losses),
        "seconds": round(time.perf_counter() - started, 1),
        "curve": {"lr": curve.lrs, "loss": curve.losses, "smoothed": curve.smoothed},
    }
    write(run, facts)
    return facts


def write(run: Any, facts: dict[str, Any]) -> None:
    if run.trainer is None or run.trainer.is_global_zero:
        atomic_write_json(Path(run.run_dir) / REPORT, facts)


def choose(facts: dict[str, Any], opts: Any) -> tuple[float, str]:
    """The rate to train with, and why: the suggestion, unless the curve is unreliable
    and ``on_unreliable`` says to stop or to fall back."""
    why = "; ".join(facts["reasons"])
    suggestion = facts["suggestion"]
    if facts["reliable"] and suggestion is not None:
        return float(suggestion), "suggestion"
    policy = value(opts.on_unreliable)
    if policy == "fallback":
        return float(opts.fallback_lr), f"fallback_lr (curve unreliable: {why})"
    if policy == "error" or suggestion is None:
        raise UserError(
            f"optim.lr: auto: the LR range test is unreliable ({why}); see {facts['plot']}; "
            f"set optim.lr to a number, or strategies.{NAME}.on_unreliable: fallback"
        )
    return float(suggestion), f"suggestion, although the curve is unreliable: {why}"


def summary_lines(facts: dict[str, Any]) -> list[str]:
    """What ``ftcore lr-find`` prints and ``optim.lr: auto`` logs."""
    others = ", ".join(
        f"{m} {lr:.2e}" for m, lr in facts["suggestions"].items() if m != facts["method"]
    )
    lightning = facts["lightning_suggestion"]
    lines = [
        f"  suggestion ({facts['method']}): "
        + (f"{facts['suggestion']:.2e}" if facts["suggestion"] is not None else "none"),
        f"  other methods: {others or 'none'}"
        + (f"; Lightning's own: {lightning:.2e}" if lightning else ""),
        "  reliable: yes"
        if facts["reliable"]
        else "  reliable: NO — " + "; ".join(facts["reasons"]),
        f"  plot: {facts['plot']}",
    ]
    return lines
