"""The PNG of an LR range test: raw and smoothed loss, each method's suggestion."""

from __future__ import annotations

from pathlib import Path

from ftcore_lr_finder.curve import Curve

COLOURS = {"steepest": "tab:red", "valley": "tab:green", "minimum": "tab:purple"}


def plot(curve: Curve, chosen: str, path: Path, title: str = "LR range test") -> Path:
    """Draw ``curve`` to ``path`` (PNG) with matplotlib's Agg canvas (no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4.5), dpi=110)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    ax.plot(curve.lrs, curve.losses, color="tab:blue", alpha=0.3, lw=1, label="loss")
    ax.plot(curve.lrs, curve.smoothed, color="tab:blue", lw=2, label="smoothed")
    for method, lr in curve.suggestions.items():
        style = "-" if method == chosen else ":"
        label = f"{method}: {lr:.2e}" + (" (used)" if method == chosen else "")
        ax.axvline(lr, color=COLOURS.get(method, "gray"), ls=style, lw=1.5, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    verdict = "reliable" if curve.reliable else "UNRELIABLE: " + curve.reasons[0].split(":")[0]
    ax.set_title(f"{title} — {verdict}")
    if curve.losses:  # from just below the bottom to just above the start
        low, high = min(curve.smoothed), max(curve.losses[: max(1, len(curve.losses) // 10)])
        if high > low:
            ax.set_ylim(low - 0.1 * (high - low), high + 0.2 * (high - low))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path
