"""Wrapping a model with peft's LoRA, reporting it, saving the adapter and merging it."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

from ftcore.errors import UserError
from ftcore_lora import defaults


def is_wrapped(model: Any) -> bool:
    """True for a peft model (already carrying adapters)."""
    from peft import PeftModel

    return isinstance(model, PeftModel)


def lora_config(model: Any, options: Any) -> Any:
    """peft's ``LoraConfig`` for ``model`` from the recipe's ``strategies.lora``."""
    from peft import LoraConfig

    targets: Any = options.target_regex or _targets(model, options)
    saved = options.modules_to_save
    return LoraConfig(
        r=int(options.r),
        lora_alpha=int(options.alpha),
        lora_dropout=float(options.dropout),
        target_modules=targets,
        modules_to_save=list(saved) if saved is not None else defaults.head_modules(model),
        bias=str(getattr(options.bias, "value", options.bias)),
        task_type=defaults.task_type(model),
    )


def _targets(model: Any, options: Any) -> list[str]:
    if options.target_modules:
        return list(options.target_modules)
    kind = defaults.model_type(model)
    found = defaults.default_targets(kind)
    if found is None:
        raise UserError(
            f"strategies.lora.target_modules: no default for model type '{kind or '?'}'; "
            f"name the layers to adapt (Linear layers here: {_linears(model)})"
        )
    return found


def _linears(model: Any) -> str:
    names = defaults.linear_names(model)
    return ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")


def wrap(model: Any, options: Any) -> Any:
    """The model with LoRA adapters; an already wrapped model is returned unchanged."""
    if is_wrapped(model):
        return model  # transformed twice, or wrapped already: never stack a second adapter
    import peft

    config = lora_config(model, options)
    no_match = getattr(peft, "NoMatchingPeftModuleError", ())  # peft >= 0.18
    try:
        return peft.get_peft_model(model, config)
    except ValueError as exc:
        if not isinstance(exc, no_match) and "not found in the base model" not in str(exc):
            raise
        wanted = config.target_modules
        shown = sorted(wanted) if isinstance(wanted, (set, list)) else repr(wanted)
        raise UserError(
            f"strategies.lora: no layer of this model matches {shown}; set target_modules "
            f"to some of its Linear layers ({_linears(model)}) or fix target_regex"
        ) from None


def saved_modules(model: Any) -> list[str]:
    """Names of the modules peft trains in full and saves with the adapter."""
    from peft.utils import ModulesToSaveWrapper

    prefix = "base_model.model."
    return [
        name.removeprefix(prefix)
        for name, module in model.named_modules()
        if isinstance(module, ModulesToSaveWrapper)
    ]


def report(model: Any) -> dict[str, Any]:
    """Trainable vs total parameters and what is adapted, for the log and ``lora.json``."""
    trainable, total = defaults.count_parameters(model)
    config = model.peft_config[model.active_adapter]
    targets = config.target_modules
    return {
        "trainable_parameters": trainable,
        "total_parameters": total,
        "trainable_share": trainable / total if total else 0.0,
        "r": config.r,
        "alpha": config.lora_alpha,
        "dropout": config.lora_dropout,
        "target_modules": sorted(targets) if isinstance(targets, (set, list)) else targets,
        "modules_to_save": saved_modules(model),
        "task_type": str(getattr(config.task_type, "value", config.task_type)),
    }


def describe(facts: dict[str, Any]) -> str:
    targets = facts["target_modules"]
    shown = ", ".join(targets) if isinstance(targets, list) else targets
    saved = ", ".join(facts["modules_to_save"]) or "none"
    return (
        f"training {facts['trainable_parameters']:,} of "
        f"{facts['total_parameters']:,} parameters ({facts['trainable_share']:.2%}); "
        f"rank {facts['r']}, alpha {facts['alpha']}, adapted layers: {shown}; "
        f"trained in full and saved: {saved}"
    )


def save_adapter(model: Any, folder: Path) -> Path:
    """Write the adapter (LoRA weights and full-trained modules) atomically to ``folder``."""
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


def merged(model: Any) -> Any:
    """A plain transformers model with the adapter merged in (``model`` is left intact)."""
    return copy.deepcopy(model).merge_and_unload()
