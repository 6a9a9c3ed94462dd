"""The ``head:`` section for ``task: regression``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Optional


class Loss(str, Enum):
    mse = "mse"
    huber = "huber"
    smooth_l1 = "smooth_l1"
    l1 = "l1"


@dataclass
class RegressionConfig:
    """Options of the regression head."""

    # Targets per example (a label is one number, or a list of this many); null: inferred
    # from the first numeric label of the training split.
    num_targets: Optional[int] = None
    # Training loss: mse, huber, smooth_l1 or l1 (computed on standardised targets when
    # standardize is on).
    loss: Loss = Loss.mse
    # Huber delta / smooth-L1 beta, in the units the loss sees (standard deviations when
    # standardize is on).
    huber_delta: float = 1.0
    # Standardise targets with the training split's mean and standard deviation; predictions
    # and the exported model are in the original units either way.
    standardize: bool = True
    # Separator of several targets written in one string ("0.5|1.2"), e.g. from a CSV file.
    target_separator: str = "|"
