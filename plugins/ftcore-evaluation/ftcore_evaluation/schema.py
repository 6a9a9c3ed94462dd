"""The recipe's ``evaluation:`` section."""

# Optional[...] on purpose: typing.get_origin() gives typing.Union for it, as in core.
# ruff: noqa: UP045

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Optional


@dataclass
class EvaluationConfig:
    """Baselines, confidence intervals, forgetting and the run report.

    Evaluation runs on every ``ftcore run``: baselines before training, the rest after
    the test. Heads provide the task-specific parts (see the plugin's README).
    """

    # Run evaluation at all (false: no baseline, no intervals, no report).
    enabled: bool = True
    # Evaluate the head's baselines (linear probe, majority class...) before training.
    baseline: bool = True
    # Training rows a baseline probe is fitted on (a seeded sample of a larger split).
    baseline_train_rows: int = 2000
    # Bootstrap resamples for every confidence interval (0: no intervals).
    bootstrap_samples: int = 1000
    # Confidence level of the intervals and of the significance verdict.
    confidence: float = 0.95
    # Seed of the bootstrap resamples.
    seed: int = 0
    # Measure forgetting: the pretrained vs the fine-tuned backbone outside the task.
    forgetting: bool = True
    # Also measure forgetting at every validation (logged as forgetting/<name>).
    forgetting_during_training: bool = False
    # Reference dataset for forgetting; null: the head's default (e.g. bbc_news).
    forgetting_dataset: Optional[str] = None
    # Reference rows the forgetting probe is fitted on.
    forgetting_train_rows: int = 400
    # Reference rows the forgetting probe is scored on (the interval's examples).
    forgetting_test_rows: int = 300
    # Tokens per reference example.
    forgetting_max_length: int = 128
    # Reference corpus of `ftcore assess`'s language-model loss (task similarity); null:
    # bbc_news (rotten_tomatoes when the task's data is bbc_news).
    similarity_reference: Optional[str] = None
    # Write report.md and report.html to the run directory.
    report: bool = True
    # Reuse the pretrained model's baselines and forgetting probes from an earlier run of
    # the same model, data and options (in <cache_dir>/evaluation; FTCORE_NO_EVAL_CACHE=1
    # turns it off everywhere).
    cache: bool = True


def options(recipe: Any) -> EvaluationConfig:
    """The recipe's ``evaluation:`` section as an EvaluationConfig (defaults if absent).

    Here, not in ``evaluate``, so that ``ftcore validate`` does not import numpy.
    """
    section = getattr(recipe, "evaluation", None) or {}
    names = {f.name for f in dataclasses.fields(EvaluationConfig)}
    keys = list(section.keys()) if hasattr(section, "keys") else []
    return EvaluationConfig(**{k: section[k] for k in keys if k in names})
