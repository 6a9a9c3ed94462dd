"""Resolving ``model.name`` to a local Hugging Face folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ftcore.errors import UserError


def cache_dir(recipe: Any) -> Path:
    """The ftcore cache folder: model.cache_dir, $FTCORE_CACHE, or ~/.cache/ftcore."""
    configured = recipe.model.cache_dir or os.environ.get("FTCORE_CACHE")
    return Path(configured or Path.home() / ".cache" / "ftcore").expanduser()


def resolve_model(recipe: Any, hooks: Any) -> str:
    """A local folder, a bundled name (plugin hook), or a hub id from the local HF cache."""
    name = recipe.model.name
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UserError(
                f"model.name: folder {path} has no config.json; "
                f"give a Hugging Face model folder (save_pretrained output)"
            )
        return str(path)
    bundled = hooks.resolve_model(name=name, cache_dir=str(cache_dir(recipe)))
    if bundled is not None:
        return bundled
    return _from_hub(name, hooks)


def _from_hub(name: str, hooks: Any) -> str:
    from huggingface_hub import snapshot_download

    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}
    bundled = ", ".join(hooks.names("model")) or "none installed"
    try:
        return snapshot_download(name, local_files_only=offline)
    except Exception as exc:
        why = (
            "not in the local Hugging Face cache, and HF_HUB_OFFLINE=1 forbids downloading it"
            if offline
            else f"could not download it ({type(exc).__name__})"
        )
        raise UserError(
            f"model.name: '{name}' is not a local folder, not a bundled model ({bundled}), "
            f"and {why}; set model.name to a local Hugging Face folder or a bundled name"
        ) from None
