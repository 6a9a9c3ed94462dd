"""``ftcore models``: bundled and locally cached models, with what a choice needs."""

from __future__ import annotations

import json
import re
import struct
from importlib import metadata
from pathlib import Path
from typing import Any

FIELDS = ("architecture", "parameters", "licence", "pretrained_on")


def installed(package: str | None) -> str:
    """``yes``/``no`` for a pinned package (``name==version``), ``-`` when unknown."""
    if not package:
        return "-"
    try:
        metadata.version(package.split("==")[0])
        return "yes"
    except metadata.PackageNotFoundError:
        return "no"


def bundled(hooks: Any) -> list[dict[str, Any]]:
    out = []
    for entry in hooks.components():
        comp = entry.component
        if comp.kind != "model":
            continue
        details = dict(comp.details)
        out.append(
            {
                "name": comp.name,
                "source": f"bundled ({entry.distribution})",
                "available": installed(details.get("package")),
                "description": comp.description,
                **{k: str(details.get(k, "?")) for k in FIELDS},
            }
        )
    return out


def safetensors_parameters(folder: Path) -> int:
    """Parameter count from the safetensors headers (no weights are loaded)."""
    total = 0
    for file in folder.glob("*.safetensors"):
        with file.open("rb") as handle:
            (size,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(size))
        for name, tensor in header.items():
            if name != "__metadata__":
                count = 1
                for dim in tensor["shape"]:
                    count *= dim
                total += count
    return total


def card_field(folder: Path, key: str) -> str:
    """A field of the model card's YAML front matter (``license``, ``datasets``)."""
    card = folder / "README.md"
    if not card.is_file():
        return "?"
    text = card.read_text(encoding="utf-8", errors="replace")
    front = text.split("---")[1] if text.startswith("---") else ""
    match = re.search(rf"^{key}:\s*(.*(?:\n\s+-.*)*)", front, re.M)
    if not match:
        return "?"
    return ", ".join(v.strip(" -'\"") for v in match.group(1).splitlines() if v.strip(" -")) or "?"


def human(count: int) -> str:
    return f"{count / 1e6:.1f}M" if count else "?"


def hub_cache() -> list[dict[str, Any]]:
    """Models in the local Hugging Face cache (usable offline by hub id)."""
    try:
        from huggingface_hub import constants
    except ImportError:
        return []
    root = Path(constants.HF_HUB_CACHE)
    out = []
    for repo in sorted(root.glob("models--*")):
        snapshots = sorted((repo / "snapshots").glob("*"), key=lambda p: p.stat().st_mtime)
        folder = next((s for s in reversed(snapshots) if (s / "config.json").is_file()), None)
        if folder is None:
            continue
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        out.append(
            {
                "name": repo.name[len("models--") :].replace("--", "/"),
                "source": "local Hugging Face cache",
                "available": "yes",
                "description": config.get("model_type", ""),
                "architecture": (config.get("architectures") or ["?"])[0],
                "parameters": human(safetensors_parameters(folder)),
                "licence": card_field(folder, "license"),
                "pretrained_on": card_field(folder, "datasets"),
            }
        )
    return out


def listing(hooks: Any) -> list[dict[str, Any]]:
    return bundled(hooks) + hub_cache()
