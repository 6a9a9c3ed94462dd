"""Batches of pairs, sequence log-probabilities and the preference losses (imports torch).

A batch holds the chosen sequences first and the rejected ones after them (``2B`` rows),
as TRL's ``DataCollatorForPreference`` lays them out, so one forward pass scores both.
The losses are plain functions of per-pair log-probabilities, tested against TRL's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ftcore_preference.encoding import IGNORE

REFERENCE_KEYS = ("ref_chosen", "ref_rejected")


def collate(features: list[dict], pad: int) -> dict[str, torch.Tensor]:
    """Right-pad the chosen then the rejected sequences of ``features`` into one batch.

    ``labels`` hold the response tokens (-100 on the prompt and the padding);
    ``ref_chosen``/``ref_rejected`` are carried when the features hold precomputed
    reference log-probabilities.
    """
    sequences = [f["input_ids"] for f in features] + [f["rejected_ids"] for f in features]
    prompts = [f["prompt_length"] for f in features] * 2
    n, width = len(sequences), max(len(s) for s in sequences)
    input_ids = torch.full((n, width), pad, dtype=torch.long)
    labels = torch.full((n, width), IGNORE, dtype=torch.long)
    mask = torch.zeros((n, width), dtype=torch.long)
    for i, (ids, start) in enumerate(zip(sequences, prompts)):
        row = torch.tensor(ids, dtype=torch.long)
        input_ids[i, : len(ids)] = row
        labels[i, start : len(ids)] = row[start:]
        mask[i, : len(ids)] = 1
    batch = {"input_ids": input_ids, "attention_mask": mask, "labels": labels}
    batch["index"] = torch.tensor([f["index"] for f in features], dtype=torch.long)
    for key in REFERENCE_KEYS:
        if key in features[0]:
            batch[key] = torch.tensor([f[key] for f in features], dtype=torch.float32)
    return batch


def sequence_logps(model: Any, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Per sequence (``2B``): the summed log-probability of its response tokens, and their
    number. Logits are taken in float32, and only from the position before the batch's
    first response token on, where the model supports ``logits_to_keep`` (the LM head is
    not run over the prompts: less time and memory, the same numbers up to rounding)."""
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask")}
    start = first_response(batch["labels"])
    if start > 1 and keeps_logits(model):
        inputs["logits_to_keep"] = batch["labels"].shape[1] - start + 1
    else:
        start = 1
    logits = model(**inputs, use_cache=False).logits[:, :-1]
    labels = batch["labels"][:, start:]
    nll = F.cross_entropy(
        logits.flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE, reduction="none"
    ).view_as(labels)
    return -nll.sum(-1), (labels != IGNORE).sum(-1)


def first_response(labels: torch.Tensor) -> int:
    """The first position holding a response token in any row (at least 1)."""
    scored = (labels != IGNORE).any(dim=0).nonzero()
    return max(int(scored[0]) if len(scored) else 1, 1)


_KEEPS: dict[type, bool] = {}


def keeps_logits(model: Any) -> bool:
    """Whether the (base) model's forward takes ``logits_to_keep`` (transformers' causal LMs)."""
    import inspect

    base = model.get_base_model() if callable(getattr(model, "get_base_model", None)) else model
    kind = type(base)
    if kind not in _KEEPS:
        _KEEPS[kind] = "logits_to_keep" in inspect.signature(kind.forward).parameters
    return _KEEPS[kind]


def halves(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(chosen, rejected) halves of a ``2B`` tensor."""
    chosen, rejected = values.chunk(2, dim=0)
    return chosen, rejected


# --- the reference ----------------------------------------------------------------------


def has_adapter(model: Any) -> bool:
    """True for a peft model: its reference is the same model with the adapter disabled."""
    return callable(getattr(model, "disable_adapter", None)) and hasattr(model, "peft_config")


@contextlib.contextmanager
def evaluating(model: Any) -> Iterator[None]:
    """Eval mode (no dropout) and no gradients for the block; every module's mode is
    restored after it."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for module, training in modes:
            module.training = training


def adapter_reference(model: Any, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """The base model's (chosen, rejected) log-probabilities: the adapter disabled, no
    gradients, no second copy of the model."""
    with evaluating(model), model.disable_adapter():
        logps, _ = sequence_logps(model, batch)
    return halves(logps)


# --- the losses -------------------------------------------------------------------------


@dataclass
class PairScores:
    """Per pair: policy log-probabilities, response token counts and the reference's
    log-probabilities (None for simpo, or where no reference is known)."""

    chosen: torch.Tensor
    rejected: torch.Tensor
    chosen_tokens: torch.Tensor
    rejected_tokens: torch.Tensor
    ref_chosen: torch.Tensor | None = None
    ref_rejected: torch.Tensor | None = None

    def averages(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean log-probability per response token, (chosen, rejected)."""
        return (
            self.chosen / self.chosen_tokens.clamp(min=1),
            self.rejected / self.rejected_tokens.clamp(min=1),
        )

    def log_ratios(self) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.ref_chosen is not None and self.ref_rejected is not None
        return self.chosen - self.ref_chosen, self.rejected - self.ref_rejected


def dpo_loss(scores: PairScores, beta: float) -> torch.Tensor:
    """-log sigmoid(beta * (chosen log-ratio - rejected log-ratio)), per pair."""
    chosen, rejected = scores.log_ratios()
    return -F.logsigmoid(beta * (chosen - rejected))


def ipo_loss(scores: PairScores, beta: float) -> torch.Tensor:
    """(chosen - rejected log-ratio, each averaged per response token, - 1/(2 beta))^2."""
    chosen, rejected = scores.log_ratios()
    delta = chosen / scores.chosen_tokens.clamp(min=1) - rejected / scores.rejected_tokens.clamp(
        min=1
    )
    return (delta - 1 / (2 * beta)) ** 2


def simpo_loss(scores: PairScores, beta: float, gamma: float) -> torch.Tensor:
    """-log sigmoid(beta * (mean chosen log-prob - mean rejected log-prob) - gamma)."""
    chosen, rejected = scores.averages()
    return -F.logsigmoid(beta * (chosen - rejected) - gamma)


def rewards(scores: PairScores, loss: str, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The implicit rewards (chosen, rejected): beta * log-ratio (dpo, ipo; NaN without a
    reference), beta * mean log-prob per token (simpo)."""
    if loss == "simpo":
        chosen, rejected = scores.averages()
        return beta * chosen, beta * rejected
    if scores.ref_chosen is None:
        nan = torch.full_like(scores.chosen, float("nan"))
        return nan, nan.clone()
    chosen, rejected = scores.log_ratios()
    return beta * chosen, beta * rejected


def pair_loss(scores: PairScores, options: Any) -> torch.Tensor | None:
    """The per-pair loss for ``options.loss``; None when it needs a reference and has none."""
    loss = str(getattr(options.loss, "value", options.loss))
    if loss == "simpo":
        return simpo_loss(scores, float(options.beta), float(options.simpo_gamma))
    if scores.ref_chosen is None:
        return None
    return (dpo_loss if loss == "dpo" else ipo_loss)(scores, float(options.beta))
