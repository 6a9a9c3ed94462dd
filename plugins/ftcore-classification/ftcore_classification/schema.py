"""The ``head:`` section for ``task: classification``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass
class ClassificationConfig:
    """Options of the classification head."""

    # Each example may carry several labels (a list, or a string split by label_separator).
    multi_label: bool = False
    # Separator of labels in a multi-label string ("sport|politics").
    label_separator: str = "|"
    # Label names in the order of their ids; default: the sorted labels of the training split.
    labels: Optional[list[str]] = None
    # Per-class loss weights in label order; null for none (see balanced_weights).
    class_weights: Optional[list[float]] = None
    # Weight classes by inverse training frequency (ignored when class_weights is set).
    balanced_weights: bool = False
    # Label smoothing of the single-label cross-entropy.
    label_smoothing: float = 0.0
    # Probability above which a label is predicted (multi-label).
    threshold: float = 0.5
