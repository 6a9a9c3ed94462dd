"""What the preference head measures, as a pure function of decoded predictions
(``score``, which evaluation plugins bootstrap); :mod:`ftcore_preference.metrics` computes
the same during training, validation and test (torchmetrics).

Per pair, the head's ``StepOutput.preds`` row holds :data:`COLUMNS`. From them:

- ``reward_accuracy``: share of pairs whose chosen reward is strictly above the rejected
  one (TRL's ``rewards/accuracies``; ties count as wrong, so the pretrained model, whose
  DPO rewards are all 0, scores 0);
- ``reward_margin``, ``chosen_reward``, ``rejected_reward``: means of the rewards
  (beta * log-ratio to the reference; simpo: beta * mean log-prob per token);
- ``preference_accuracy``: share of pairs where the model itself gives the chosen
  response a higher mean log-probability per response token than the rejected one
  (length-normalised; defined for any model, so it compares the pretrained and the
  fine-tuned model);
- ``preference_accuracy_sum``: the same on summed log-probabilities (favours the shorter
  response).

The reward metrics are left out where no reward is known (no reference model).
"""

from __future__ import annotations

import math
from typing import Any

COLUMNS = (
    "chosen_logp",
    "rejected_logp",
    "chosen_tokens",
    "rejected_tokens",
    "chosen_reward",
    "rejected_reward",
    "loss",
)

MODES = {
    "reward_accuracy": "max",
    "reward_margin": "max",
    "chosen_reward": "max",
    "rejected_reward": "min",
    "preference_accuracy": "max",
    "preference_accuracy_sum": "max",
}
"""Every metric the head logs (besides core's loss), and the better direction."""


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _known(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def score(predictions: list[dict]) -> dict[str, float]:
    """The metrics of decoded predictions (see the module docstring); a pure function."""
    if not predictions:
        return {}
    out = {
        "preference_accuracy": _mean([float(prefers_chosen(p)) for p in predictions]),
        "preference_accuracy_sum": _mean(
            [float(p["chosen_logp"] > p["rejected_logp"]) for p in predictions]
        ),
    }
    rewarded = [p for p in predictions if _known(p.get("chosen_reward"))]
    if rewarded:
        chosen = [float(p["chosen_reward"]) for p in rewarded]
        rejected = [float(p["rejected_reward"]) for p in rewarded]
        out["reward_accuracy"] = _mean([float(c > r) for c, r in zip(chosen, rejected)])
        out["reward_margin"] = _mean([c - r for c, r in zip(chosen, rejected)])
        out["chosen_reward"] = _mean(chosen)
        out["rejected_reward"] = _mean(rejected)
    losses = [float(p["loss"]) for p in predictions if _known(p.get("loss"))]
    if losses:
        out["loss"] = _mean(losses)
    return out


def prefers_chosen(p: dict) -> bool:
    """The length-normalised preference of one decoded prediction."""
    chosen = p["chosen_logp"] / max(p["chosen_tokens"], 1)
    return chosen > p["rejected_logp"] / max(p["rejected_tokens"], 1)
