"""Option schemas of ``strategies.l1``, ``l2``, ``l2_sp`` and ``l1_sp``.

Plain dataclasses used as omegaconf structured configs; the comment above each field is
its documentation. ``apply_to`` takes ``all``, ``backbone`` (the pretrained base model),
``head`` (everything else: classifier, pooler added by the task) or regular expressions
matched against parameter names; a parameter is penalised if any entry selects it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class L2Config:
    """alpha * sum of squared weights: an L2 penalty toward zero, added to the loss."""

    # Coefficient of the term.
    alpha: float = 1.0e-4
    # Which parameters: all, backbone, head, or regular expressions on parameter names.
    apply_to: list[str] = field(default_factory=lambda: ["all"])
    # Leave out biases and normalisation weights (as decoupled weight decay does).
    skip_bias_and_norm: bool = True


@dataclass
class L1Config(L2Config):
    """alpha * sum of absolute weights: an L1 (sparsity) penalty toward zero."""

    # Coefficient of the term.
    alpha: float = 1.0e-6


@dataclass
class L2SPConfig(L2Config):
    """alpha * ||theta - theta0||^2: L2-SP, toward the pretrained weights (Li et al. 2018)."""

    # Coefficient of the term (Li et al. used 0.01 on the backbone).
    alpha: float = 0.01
    # Which parameters: backbone (default), head, all, or regular expressions.
    apply_to: list[str] = field(default_factory=lambda: ["backbone"])
    # Leave out biases and normalisation weights.
    skip_bias_and_norm: bool = False


@dataclass
class L1SPConfig(L2SPConfig):
    """alpha * sum |theta - theta0|: L1-SP, toward the pretrained weights (Li et al. 2018)."""

    # Coefficient of the term.
    alpha: float = 1.0e-4
