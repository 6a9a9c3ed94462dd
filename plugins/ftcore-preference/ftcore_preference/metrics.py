"""The head's torchmetrics collection: the metrics of :func:`ftcore_preference.scores.score`
(but the loss, which core logs itself), accumulated as float64 sums over a split and
summed across devices. Imports torch: the head imports this module inside its methods."""

from __future__ import annotations

import torch
from torchmetrics import Metric, MetricCollection

SUMS = ("pairs", "preferred", "preferred_sum", "rewarded", "won", "margin", "chosen", "rejected")


class PreferenceMetrics(Metric):
    """Updated with the head's ``(preds, target)``: ``preds`` columns as
    :data:`ftcore_preference.scores.COLUMNS`; ``target`` is not used."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        for name in SUMS:
            self.add_state(name, torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        p = preds.detach().double()
        c_lp, r_lp, c_n, r_n, c_rw, r_rw = (p[:, i] for i in range(6))
        known = ~torch.isnan(c_rw)
        c_rw, r_rw = c_rw[known], r_rw[known]
        add = {
            "pairs": float(len(p)),
            "preferred": (c_lp / c_n.clamp(min=1) > r_lp / r_n.clamp(min=1)).sum(),
            "preferred_sum": (c_lp > r_lp).sum(),
            "rewarded": known.sum(),
            "won": (c_rw > r_rw).sum(),
            "margin": (c_rw - r_rw).sum(),
            "chosen": c_rw.sum(),
            "rejected": r_rw.sum(),
        }
        # out of place: states reset under trainer.validate are inference tensors
        for name, value in add.items():
            setattr(self, name, getattr(self, name) + value)

    def compute(self) -> dict[str, torch.Tensor]:
        pairs, rewarded = self.pairs.clamp(min=1), self.rewarded
        out = {
            "preference_accuracy": self.preferred / pairs,
            "preference_accuracy_sum": self.preferred_sum / pairs,
        }
        if float(rewarded) > 0:
            out["reward_accuracy"] = self.won / rewarded
            out["reward_margin"] = self.margin / rewarded
            out["chosen_reward"] = self.chosen / rewarded
            out["rejected_reward"] = self.rejected / rewarded
        return {k: v.float() for k, v in out.items()}


def build() -> MetricCollection:
    return MetricCollection({"preference": PreferenceMetrics()})
