"""Token-level perplexity and answer accuracy as torchmetrics metrics.

Both take the head's ``StepOutput``: ``preds[:, 0]`` is each example's summed negative
log-likelihood, ``preds[:, 1]`` whether its generated answer was right (1/0, NaN when it
was not checked), and ``target`` the number of tokens scored per example.
"""

from __future__ import annotations

import torch
from torchmetrics import Metric, MetricCollection


class _SumAndCount(Metric):
    """A float64 sum and an integer count over the split, summed across devices."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("total", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def _add(self, total: torch.Tensor, count: torch.Tensor) -> None:
        # out of place: states reset under trainer.validate are inference tensors
        self.total = self.total + total.detach().double().sum()
        self.count = self.count + count.sum()


class Perplexity(_SumAndCount):
    """exp(total NLL / total scored tokens) over the whole split (not a mean of batches)."""

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        self._add(preds[:, 0], target)

    def compute(self) -> torch.Tensor:
        return torch.exp(self.total / self.count.clamp(min=1)).float()


class AnswerAccuracy(_SumAndCount):
    """Share of checked examples whose generated final answer matches the reference.

    Computes to nothing (no metric logged) when no example was checked, as in
    training and validation, where nothing is generated.
    """

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        flags = preds[:, 1]
        seen = ~torch.isnan(flags)
        self._add(flags[seen], seen)

    def compute(self) -> dict[str, torch.Tensor]:
        if int(self.count) == 0:
            return {}
        return {"answer_accuracy": (self.total / self.count).float()}


def build(with_answers: bool) -> MetricCollection:
    metrics: dict[str, Metric] = {"perplexity": Perplexity()}
    if with_answers:
        metrics["answers"] = AnswerAccuracy()
    return MetricCollection(metrics)
