"""Which first-party distribution provides which component name.

Core never imports a plugin; this table only lets an error message say what to
install when a recipe names a component that no installed plugin provides.
"""

from __future__ import annotations

FIRST_PARTY: dict[tuple[str, str], str] = {
    ("head", "classification"): "ftcore-classification",
    ("head", "regression"): "ftcore-regression",
    ("head", "generation"): "ftcore-generation",
    ("strategy", "lora"): "ftcore-lora",
    ("strategy", "gradual_unfreezing"): "ftcore-unfreeze",
    ("strategy", "discriminative_lr"): "ftcore-unfreeze",
    ("strategy", "l1"): "ftcore-regularization",
    ("strategy", "l2"): "ftcore-regularization",
    ("strategy", "l2_sp"): "ftcore-regularization",
    ("strategy", "l1_sp"): "ftcore-regularization",
    ("strategy", "early_stopping"): "ftcore-early-stopping",
    ("strategy", "lr_finder"): "ftcore-lr-finder",
    ("dataset", "rotten_tomatoes"): "ftcore-datasets",
    ("dataset", "bbc_news"): "ftcore-datasets",
    ("dataset", "gsm8k"): "ftcore-datasets",
    ("dataset", "hamlet"): "ftcore-datasets",
    ("dataset", "vader_movie"): "ftcore-datasets",
    ("callback", "sample_predictions"): "ftcore-callbacks",
    ("dataset", "csv"): "ftcore-datasets",
    ("dataset", "jsonl"): "ftcore-datasets",
    ("dataset", "parquet"): "ftcore-datasets",
    ("model", "minilm"): "ftcore-models",
    ("model", "smollm2-135m"): "ftcore-models",
    ("evaluation", "evaluation"): "ftcore-evaluation",
}


def provider_hint(kind: str, name: str) -> str:
    """``"install it with: pip install X; "`` for a known first-party name, else ``""``."""
    dist = FIRST_PARTY.get((kind, name))
    if dist is None:
        return ""
    return f"it is provided by the '{dist}' distribution: pip install -e plugins/{dist}; "
