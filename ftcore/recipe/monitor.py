"""Checking ``checkpoint.monitor`` and ``checkpoint.mode`` against the metrics a head logs.

Without this check a typo (``checkpoint.monitor=val/typo``) fails in Lightning's
``ModelCheckpoint`` only after the first epoch, and ``checkpoint.monitor=val/loss`` with the
classification head's mode (max) quietly keeps the checkpoint with the *worst* loss.

A head calls :func:`monitor_problems` from its ``ftcore_check_recipe`` with the metrics it
logs during validation and the direction of each (``"min"``: lower is better). A name the
head does not log may still be logged by another plugin (a Lightning callback can log any
``val/...``), which ftcore cannot know before training: such a monitor is accepted when
``checkpoint.mode`` says its direction, and refused (with the head's metrics) when not.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

from ftcore.errors import did_you_mean

STAGES = ("train", "val")  # what is logged during fit (test/... comes after training)


def head_metrics(metrics: Mapping[str, str]) -> dict[str, str]:
    """Logged name -> mode, for a head whose metric collection has ``metrics`` (name ->
    "min"/"max"; a name may be a pattern like ``f1_*``): ftcore's module logs each as
    ``train/<name>`` and ``val/<name>``, with ``train/loss``, ``train/task_loss`` and
    ``val/loss`` (see ftcore.module)."""
    names = {"loss": "min", **metrics}
    logged = {f"{stage}/{name}": mode for stage in STAGES for name, mode in names.items()}
    logged["train/task_loss"] = "min"
    return logged


def _mode_of(metric: str, logged: Mapping[str, str]) -> str | None:
    if metric in logged:
        return logged[metric]
    for pattern, mode in logged.items():
        if any(c in pattern for c in "*?[") and fnmatch.fnmatchcase(metric, pattern):
            return mode
    return None


def monitor_problems(
    checkpoint: Any, head: str, logged: Mapping[str, str], default: tuple[str, str]
) -> list[str]:
    """Problems with ``checkpoint.monitor``/``checkpoint.mode`` for head ``head`` that logs
    ``logged`` (name or pattern -> mode, e.g. from :func:`head_metrics`) and monitors
    ``default`` (metric, mode) when the recipe names none."""
    monitor, mode = checkpoint.monitor, checkpoint.mode
    if mode not in (None, "min", "max"):
        return []  # core reports it (checkpoint.mode: must be 'min' or 'max')
    if monitor is None:
        metric, direction = default
        if mode is not None and mode != direction:
            best, worst = ("lowest", "highest") if direction == "min" else ("highest", "lowest")
            return [
                f"checkpoint.mode: '{mode}' would pick the checkpoint with the {worst} "
                f"{metric} (the {head} head's monitor, best when {best}); set "
                f"checkpoint.mode={direction}, or name another metric in checkpoint.monitor"
            ]
        return []
    val = sorted(n for n in logged if n.startswith("val/"))
    choices = ", ".join(val)
    if monitor.startswith("test/"):
        return [
            f"checkpoint.monitor: '{monitor}' is computed only after training; "
            f"monitor a validation metric: one of {choices}"
        ]
    direction = _mode_of(monitor, logged)
    if direction is None:
        if mode is not None:
            return []  # another plugin may log it; the recipe says which way is better
        exact = [n for n in val if not any(c in n for c in "*?[")]
        hint = did_you_mean(monitor, exact)
        return [
            f"checkpoint.monitor: '{monitor}' is not a metric the {head} head logs{hint}; "
            f"choose one of {choices} (a metric another plugin logs also needs "
            f"checkpoint.mode=min or max)"
        ]
    best, worst = ("lowest", "highest") if direction == "min" else ("highest", "lowest")
    if mode is None and default[1] != direction:
        return [
            f"checkpoint.monitor: '{monitor}' is best when {best}, but the {head} head's "
            f"mode '{default[1]}' (for {default[0]}) would pick the checkpoint with the "
            f"{worst}; also set checkpoint.mode={direction}"
        ]
    if mode is not None and mode != direction:
        return [
            f"checkpoint.mode: '{mode}' would pick the checkpoint with the {worst} "
            f"{monitor}, which is best when {best}; set checkpoint.mode={direction}"
        ]
    return []
