"""L1, L2, L2-SP and L1-SP penalties, wired into ftcore's hooks.

- ``ftcore_transform_model``: right after the pretrained model is built (before any
  checkpoint is loaded), choose each term's parameters and snapshot θ₀;
- ``ftcore_loss_terms``: every training batch, return ``(name, value)`` per term; core
  adds them to the task loss and logs each as ``train/<name>``.

torch is imported inside the hooks.
"""

from __future__ import annotations

import re
from typing import Any

import ftcore
from ftcore.types import Component
from ftcore_regularization.schema import L1Config, L1SPConfig, L2Config, L2SPConfig

SCHEMAS = {"l2": L2Config, "l1": L1Config, "l2_sp": L2SPConfig, "l1_sp": L1SPConfig}
DESCRIPTIONS = {
    "l2": "L2 penalty toward zero on chosen parameters, logged as train/l2",
    "l1": "L1 penalty toward zero on chosen parameters, logged as train/l1",
    "l2_sp": "L2-SP: L2 penalty toward the pretrained weights (Li et al. 2018)",
    "l1_sp": "L1-SP: L1 penalty toward the pretrained weights (Li et al. 2018)",
}
# LoRA keeps the backbone frozen at its pretrained weights: an SP term has nothing to do.
CONFLICTS = {"l2_sp": ("lora",), "l1_sp": ("lora",)}
ZERO, START = ("l2", "l1"), ("l2_sp", "l1_sp")


@ftcore.hookimpl
def ftcore_components() -> list[Component]:
    return [
        Component(
            kind="strategy",
            name=name,
            schema=schema,
            description=DESCRIPTIONS[name],
            conflicts=CONFLICTS.get(name, ()),
        )
        for name, schema in SCHEMAS.items()
    ]


def enabled(recipe: Any) -> dict[str, Any]:
    """The recipe's penalty sections by name, in a fixed order."""
    strategies = recipe.strategies or {}
    return {name: strategies[name] for name in SCHEMAS if name in strategies}


@ftcore.hookimpl
def ftcore_check_recipe(recipe: Any) -> list[str]:
    from ftcore_regularization.select import KEYWORDS, covered

    terms = enabled(recipe)
    problems = []
    for name, options in terms.items():
        if not options.alpha > 0:
            problems.append(f"strategies.{name}.alpha: must be positive")
        if not options.apply_to:
            problems.append(f"strategies.{name}.apply_to: choose all, backbone, head or a regex")
        for i, entry in enumerate(options.apply_to):
            if entry not in KEYWORDS:
                try:
                    re.compile(entry)
                except re.error as exc:
                    problems.append(f"strategies.{name}.apply_to[{i}]: invalid regex: {exc}")
    sharded = str(recipe.trainer.strategy).startswith(("fsdp", "deepspeed_stage_3"))
    for name in terms if sharded else ():
        problems.append(
            f"strategies.{name}: not supported with trainer.strategy={recipe.trainer.strategy} "
            f"(parameters are sharded across ranks, so the penalty cannot be taken per "
            f"parameter in the training step); use trainer.strategy=ddp"
        )
    for zero in (n for n in ZERO if n in terms):
        for start in (n for n in START if n in terms):
            both = covered(list(terms[zero].apply_to)) & covered(list(terms[start].apply_to))
            if both:
                problems.append(
                    f"strategies.{zero}.apply_to: also covers the {' and '.join(sorted(both))} "
                    f"that {start} pulls toward the pretrained weights, while {zero} pulls them "
                    f"toward zero; apply {zero} to the other part only (Li et al.: SP on the "
                    f"backbone, L2 on the head)"
                )
    return problems


@ftcore.hookimpl
def ftcore_transform_model(model: Any, recipe: Any) -> Any:
    terms = enabled(recipe)
    if not terms:
        return None
    from ftcore_regularization import anchor
    from ftcore_regularization.select import select

    if anchor.find(model) is not None:
        return None  # already anchored: keep the θ₀ taken when it was first built
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    backbone = anchor.backbone_names(model)
    chosen = []
    for name, options in terms.items():
        members = select(names, backbone, list(options.apply_to), options.skip_bias_and_norm)
        if not members:
            raise ftcore.UserError(
                f"strategies.{name}.apply_to: {list(options.apply_to)} selects no trainable "
                f"parameter of {type(model).__name__}"
            )
        chosen.append(anchor.Term(name=name, alpha=float(options.alpha), names=members))
    anchor.attach(model, chosen)
    return None


@ftcore.hookimpl
def ftcore_loss_terms(module: Any, batch: Any, output: Any) -> list[tuple[str, Any]]:
    if not enabled(module.recipe):
        return []
    from ftcore_regularization import anchor

    penalties = anchor.find(module.model)
    if penalties is None:
        raise ftcore.UserError(
            "strategies: the penalties were not attached to the model (ftcore_transform_model "
            "did not run on it); report this to the ftcore-regularization authors"
        )
    return penalties.compute()
