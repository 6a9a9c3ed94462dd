"""Token-level perplexity and answer accuracy as torchmetrics metrics.

Both take the head's ``StepOutput``: ``preds[:, 0]`` is each example's summed negative
log-likelihood, ``preds[:, 1]`` whether its generated answer was right (1/0, NaN when it
was not checked), and ``target`` the number of tokens scored per example.
"""

from __future__ import annotations

import torch
from torchmetrics import Metric, MetricCollection


class Perplexity(Metric):
    """exp(total NLL / total scored tokens) over the whole split (not a mean of batches)."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("nll", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("tokens", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        # out of place: states reset under trainer.validate are inference tensors
        self.nll = self.nll + preds[:, 0].detach().double().sum()
        self.tokens = self.tokens + target.sum()

    def compute(self) -> torch.Tensor:
        return torch.exp(self.nll / self.tokens.clamp(min=1)).float()


class AnswerAccuracy(Metric):
    """Share of checked examples whose generated final answer matches the reference.

    Computes to nothing (no metric logged) when no example was checked, as in
    training and validation, where nothing is generated.
    """

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("correct", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("checked", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        flags = preds[:, 1]
        seen = ~torch.isnan(flags)
        self.correct = self.correct + flags[seen].double().sum()
        self.checked = self.checked + seen.sum()

    def compute(self) -> dict[str, torch.Tensor]:
        if int(self.checked) == 0:
            return {}
        return {"answer_accuracy": (self.correct / self.checked).float()}


def build(with_answers: bool) -> MetricCollection:
    metrics: dict[str, Metric] = {"perplexity": Perplexity()}
    if with_answers:
        metrics["answers"] = AnswerAccuracy()
    return MetricCollection(metrics)
