"""Versions recorded with every run (read from package metadata, nothing imported)."""

from __future__ import annotations

import platform
from importlib import metadata


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions(plugin_distributions: list[str]) -> dict[str, str]:
    """python, ftcore, each plugin distribution, torch, lightning, transformers."""
    names = [
        "ftcore",
        *sorted(set(plugin_distributions) - {"ftcore"}),
        "torch",
        "lightning",
        "transformers",
        "torchmetrics",
    ]
    return {"python": platform.python_version(), **{n: _version(n) for n in names}}
