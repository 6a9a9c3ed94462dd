"""The regression metrics (torchmetrics), in the original target units.

With several targets each metric is computed per target and averaged (R² uses
torchmetrics' ``uniform_average``), so every logged value is a scalar.
"""

from __future__ import annotations

import warnings
from typing import Any

NAMES = ("mse", "rmse", "mae", "r2", "pearson", "spearman")


def build_metrics(num_targets: int) -> Any:
    """A ``MetricCollection`` of MSE, RMSE, MAE, R², Pearson and Spearman."""
    from torchmetrics import MetricCollection
    from torchmetrics import regression as R

    n = num_targets
    with warnings.catch_warnings():  # Spearman warns that it keeps every prediction
        warnings.simplefilter("ignore", UserWarning)
        per_target = {
            "mse": R.MeanSquaredError(num_outputs=n),
            "rmse": R.MeanSquaredError(squared=False, num_outputs=n),
            "mae": R.MeanAbsoluteError(num_outputs=n),
            "pearson": R.PearsonCorrCoef(num_outputs=n),
            "spearman": R.SpearmanCorrCoef(num_outputs=n),
        }
    if n > 1:
        per_target = {name: averaged(metric) for name, metric in per_target.items()}
    return MetricCollection({**per_target, "r2": R.R2Score()}, compute_groups=False)


def averaged(metric: Any) -> Any:
    """Wrap a per-target metric so that ``compute`` returns the mean over targets."""
    from torchmetrics.wrappers.abstract import WrapperMetric

    class Averaged(WrapperMetric):
        full_state_update = False

        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        @property
        def update_count(self) -> int:
            return self.inner.update_count

        def update(self, preds: Any, target: Any) -> None:
            self.inner.update(preds, target)

        def compute(self) -> Any:
            return self.inner.compute().float().mean()

        def reset(self) -> None:
            self.inner.reset()
            super().reset()

    return Averaged(metric)
