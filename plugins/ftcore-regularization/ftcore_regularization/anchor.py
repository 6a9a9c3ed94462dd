"""``Penalties``: the chosen parameters of each term and, for the SP terms, θ₀.

It is attached to the model right after the pretrained model is built
(``ftcore_transform_model``), before any checkpoint is loaded, so θ₀ is always the
pretrained starting point, also in a resumed run. θ₀ is held in non-persistent buffers:
they move with the model between devices but are not saved in checkpoints or exports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ftcore_regularization.penalties import TOWARD_START, TOWARD_ZERO

ATTRIBUTE = "ftcore_penalties"


@dataclass
class Term:
    """One enabled penalty: its name (``l2_sp``), coefficient and chosen parameter names."""

    name: str
    alpha: float
    names: list[str]


class Penalties(torch.nn.Module):
    """Computes every enabled term from the current parameters."""

    def __init__(self, model: torch.nn.Module, terms: list[Term]) -> None:
        super().__init__()
        params = dict(model.named_parameters())
        self.terms = terms
        self._params = {n: params[n] for term in terms for n in term.names}  # not registered
        anchored = {n for t in terms if t.name in TOWARD_START for n in t.names}
        self._slots = {name: f"ref{i}" for i, name in enumerate(sorted(anchored))}
        for name, slot in self._slots.items():
            self.register_buffer(slot, params[name].detach().clone(), persistent=False)

    def reference(self, name: str) -> torch.Tensor:
        """θ₀ of parameter ``name``."""
        return getattr(self, self._slots[name])

    def compute(self) -> list[tuple[str, torch.Tensor]]:
        """``(name, value)`` of each term over the parameters that currently train.

        Frozen parameters (``requires_grad=False``) get no gradient from a term and are left
        out; an SP term of a parameter that never trained is 0 anyway.
        """
        return [(t.name, self._term(t)) for t in self.terms]

    def _term(self, term: Term) -> torch.Tensor:
        names = [n for n in term.names if self._params[n].requires_grad]
        if not names:
            return next(iter(self._params.values())).new_zeros(())
        params = [self._params[n] for n in names]
        if term.name in TOWARD_ZERO:
            return TOWARD_ZERO[term.name](params, term.alpha)
        refs = [self.reference(n) for n in names]
        return TOWARD_START[term.name](params, refs, term.alpha)


def attach(model: torch.nn.Module, terms: list[Term]) -> None:
    """Snapshot θ₀ and attach the penalties to ``model`` (replacing earlier ones)."""
    model.add_module(ATTRIBUTE, Penalties(model, terms))


def find(model: torch.nn.Module) -> Penalties | None:
    """The penalties attached to ``model`` or to a module inside it (a wrapper's)."""
    found = getattr(model, ATTRIBUTE, None)
    if isinstance(found, Penalties):
        return found
    return next((m for m in model.modules() if isinstance(m, Penalties)), None)


def backbone_names(model: Any) -> set[str]:
    """Parameter names (as in ``model.named_parameters()``) inside ``model.base_model``."""
    base = getattr(model, "base_model", model)
    inside = {id(p) for p in base.parameters()}
    return {n for n, p in model.named_parameters() if id(p) in inside}
