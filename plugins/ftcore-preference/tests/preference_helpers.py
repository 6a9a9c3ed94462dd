"""Preference rows made from the test kit's sentiment texts, a recipe, and small tools."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftcore_devkit.testing import base_recipe, make_rows

PROMPTS = ["Write a positive review.", "Write a positive review of the film you saw last night."]


def preference_rows(n: int, seed: int = 0) -> list[dict]:
    """``n`` pairs: a positive kit text chosen over a negative one (two prompts of
    different lengths, in turn)."""
    rows = make_rows(2 * n, seed)
    good = [r["text"] for r in rows if r["label"] == "pos"]
    bad = [r["text"] for r in rows if r["label"] == "neg"]
    return [
        {"prompt": PROMPTS[i % 2], "chosen": g, "rejected": b}
        for i, (g, b) in enumerate(zip(good, bad))
    ]


def preference_splits(train: int = 32, validation: int = 8, test: int = 8) -> dict:
    return {
        "train": preference_rows(train, 0),
        "validation": preference_rows(validation, 1),
        "test": preference_rows(test, 2),
    }


def preference_recipe(model_dir: Path, **head: Any) -> dict:
    recipe = base_recipe(model_dir, task="preference")
    recipe["data"] = {**recipe["data"], "max_length": 64, "batch_size": 8, "eval_batch_size": 8}
    recipe["head"] = dict(head)
    return recipe


def conversational(rows: list[dict]) -> list[dict]:
    """The rows in TRL's conversational preference format."""
    return [
        {
            "prompt": [{"role": "user", "content": r["prompt"]}],
            "chosen": [{"role": "assistant", "content": r["chosen"]}],
            "rejected": [{"role": "assistant", "content": r["rejected"]}],
        }
        for r in rows
    ]


def perturb(model: Any, scale: float = 0.05, seed: int = 3) -> Any:
    """Add seeded noise to every weight: a policy clearly unlike its reference."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * scale)
    return model
