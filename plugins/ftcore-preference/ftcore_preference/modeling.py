"""One batch of pairs through the policy (and its reference): the head's ``step`` and the
pretrained baseline share it. Imports torch."""

from __future__ import annotations

import math
from typing import Any

import torch

from ftcore.errors import UserError
from ftcore_preference import losses, scores
from ftcore_preference.losses import PairScores

NO_REFERENCE = (
    "the preference head has no reference log-probabilities for this training batch: "
    "without an adapter they are computed when the run starts (after the LR range test of "
    "optim.lr=auto, which trains before that); give optim.lr a number, use "
    "strategies.lora (its reference is the base model with the adapter disabled), or "
    "head.loss=simpo (no reference)"
)


def loss_name(options: Any) -> str:
    return str(getattr(options.loss, "value", options.loss))


def reference(
    model: Any, batch: dict, options: Any, stage: str
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """The reference's (chosen, rejected) log-probabilities for ``batch``: none for simpo;
    precomputed ones carried by the batch; else the model with its adapter disabled; else
    none (an error in training)."""
    if loss_name(options) == "simpo":
        return None, None
    if all(k in batch for k in losses.REFERENCE_KEYS):
        return batch["ref_chosen"], batch["ref_rejected"]
    if losses.has_adapter(model):
        return losses.adapter_reference(model, batch)
    if stage == "train":
        raise UserError(NO_REFERENCE)
    return None, None


def pair_scores(model: Any, batch: dict, options: Any, stage: str, own: bool = False) -> PairScores:
    """The policy's scores of ``batch`` with its reference; ``own``: the model is its own
    reference (the pretrained baseline: every DPO reward is 0)."""
    logps, counts = losses.sequence_logps(model, batch)
    chosen, rejected = losses.halves(logps)
    chosen_n, rejected_n = losses.halves(counts)
    if own and loss_name(options) != "simpo":
        ref = (chosen.detach(), rejected.detach())
    else:
        ref = reference(model, batch, options, stage)
    return PairScores(chosen, rejected, chosen_n, rejected_n, *ref)


def step_output(found: PairScores, options: Any) -> Any:
    """The head's :class:`ftcore.api.StepOutput`: mean loss, per-pair ``preds`` columns
    (:data:`ftcore_preference.scores.COLUMNS`); ``target`` 1 per pair (chosen preferred)."""
    from ftcore.api import StepOutput

    per_pair = losses.pair_loss(found, options)
    chosen_reward, rejected_reward = losses.rewards(found, loss_name(options), float(options.beta))
    nan = torch.full_like(found.chosen, math.nan)
    columns = [
        found.chosen,
        found.rejected,
        found.chosen_tokens.to(found.chosen.dtype),
        found.rejected_tokens.to(found.chosen.dtype),
        chosen_reward,
        rejected_reward,
        per_pair if per_pair is not None else nan,
    ]
    preds = torch.stack([c.detach().float() for c in columns], dim=-1)
    return StepOutput(
        loss=per_pair.mean() if per_pair is not None else None,
        preds=preds,
        target=torch.ones(len(preds), dtype=torch.long, device=preds.device),
    )


def decode(preds: torch.Tensor) -> list[dict]:
    """One readable dict per pair: log-probabilities, token counts, and the rewards and
    loss where known (no NaN: they are left out instead)."""
    out = []
    for values in preds.tolist():
        row = dict(zip(scores.COLUMNS, values))
        row["chosen_tokens"] = int(row["chosen_tokens"])
        row["rejected_tokens"] = int(row["rejected_tokens"])
        for key in ("chosen_reward", "rejected_reward", "loss"):
            if math.isnan(row[key]):
                del row[key]
        row["prefers_chosen"] = scores.prefers_chosen(row)
        out.append(row)
    return out
