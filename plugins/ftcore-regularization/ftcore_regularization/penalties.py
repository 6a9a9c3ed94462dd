"""The penalties as pure functions of parameter tensors (and the reference tensors θ₀).

Each takes non-empty sequences of tensors and returns a scalar tensor; the gradient of
``l2_sp`` with respect to θ is ``2·alpha·(θ − θ₀)``, pointing away from θ₀, so a descent
step moves θ back toward the pretrained weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def l2(params: Sequence[Any], alpha: float) -> Any:
    """``alpha · Σ θ²`` (L2 toward zero)."""
    return alpha * sum(p.pow(2).sum() for p in params)


def l1(params: Sequence[Any], alpha: float) -> Any:
    """``alpha · Σ |θ|`` (L1 toward zero)."""
    return alpha * sum(p.abs().sum() for p in params)


def l2_sp(params: Sequence[Any], refs: Sequence[Any], alpha: float) -> Any:
    """``alpha · ‖θ − θ₀‖²`` (L2-SP, Li et al. 2018)."""
    return alpha * sum((p - r).pow(2).sum() for p, r in zip(params, refs, strict=True))


def l1_sp(params: Sequence[Any], refs: Sequence[Any], alpha: float) -> Any:
    """``alpha · Σ |θ − θ₀|`` (L1-SP, Li et al. 2018)."""
    return alpha * sum((p - r).abs().sum() for p, r in zip(params, refs, strict=True))


TOWARD_ZERO = {"l2": l2, "l1": l1}
TOWARD_START = {"l2_sp": l2_sp, "l1_sp": l1_sp}
