"""The pretrained model's evaluation (baselines, forgetting "before") cached across runs.

What ``ftcore_run_start`` measures depends only on the pretrained model, the data and the
options below, never on training settings; a second run of the same recipe (or one that
changes only ``optim``, ``trainer`` or ``strategies``) reads it from
``<cache_dir>/evaluation/<key>.json`` instead of embedding every split again.

The key is :func:`ftcore.api.pretrained_fingerprint` (the model folder's files, the
tokenizer, every row of every split, the head options, plugin and library versions) with
the recipe's ``data`` and ``evaluation`` sections and its seed. A missing or unreadable file is
recomputed and rewritten; ``FTCORE_NO_EVAL_CACHE=1`` (or ``evaluation.cache: false``)
turns the cache off.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ftcore.api import atomic_write_json, pretrained_fingerprint

FORMAT = 1


def key(run: Any) -> str | None:
    """The cache key of ``run``'s start evaluation, or None (model not on disk)."""
    from omegaconf import OmegaConf

    base = pretrained_fingerprint(run)
    if base is None:
        return None
    recipe = run.recipe
    settings = {
        "data": OmegaConf.to_container(recipe.data, resolve=True),
        "evaluation": OmegaConf.to_container(recipe.evaluation, resolve=True)
        if OmegaConf.is_config(recipe.get("evaluation"))
        else recipe.get("evaluation"),
        "seed": recipe.seed,
    }
    h = hashlib.sha256(f"ftcore-evaluation-start-{FORMAT}:{base}".encode())
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return h.hexdigest()[:40]


def cached(run: Any, folder: Path, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``compute()``'s result for ``run``, from ``folder`` when an earlier run stored it.
    The result says where it came from (``"cache": "hit" | "miss" | "off"``)."""
    name = None if os.environ.get("FTCORE_NO_EVAL_CACHE") else key(run)
    path = folder / f"{name}.json" if name else None
    earlier = _read(path) if path is not None else None
    if earlier is not None:
        return {**earlier, "cache": "hit"}
    found = compute()
    if path is not None and not found.get("notes"):  # never cache a failed attempt
        atomic_write_json(path, found)
    return {**found, "cache": "miss" if path is not None else "off"}


def _read(path: Path) -> dict[str, Any] | None:
    """A stored result, or None when there is none or it cannot be read (then the caller
    recomputes and rewrites it)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
