"""Per-architecture defaults, read from the model itself (no head is special-cased).

- which layers get LoRA: by ``config.model_type``;
- which modules are trained in full and saved with the adapter: the modules the task
  model adds around its backbone (a new classification/regression head), never the
  pretrained output embeddings of a language model;
- peft's task type: by the model class's name (``...ForSequenceClassification``).
"""

from __future__ import annotations

from typing import Any

TARGETS = {"bert": ["query", "value"], "llama": ["q_proj", "v_proj"]}

TASK_TYPES = {
    "ForSequenceClassification": "SEQ_CLS",
    "ForCausalLM": "CAUSAL_LM",
    "ForTokenClassification": "TOKEN_CLS",
    "ForQuestionAnswering": "QUESTION_ANS",
}


def model_type(model: Any) -> str:
    return str(getattr(getattr(model, "config", None), "model_type", "") or "")


def default_targets(kind: str) -> list[str] | None:
    """Layer names to adapt for a model type (ours first, then peft's table), or None."""
    if kind in TARGETS:
        return list(TARGETS[kind])
    from peft.utils import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as PEFT_TARGETS

    found = PEFT_TARGETS.get(kind)
    return list(found) if found else None


def head_modules(model: Any) -> list[str]:
    """Top-level modules around the backbone that hold parameters, except output embeddings."""
    prefix = getattr(model, "base_model_prefix", "")
    backbone = getattr(model, prefix, None) if prefix else None
    if backbone is None:
        return []  # not a task model wrapping a backbone: nothing to tell apart
    output = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    return [
        name
        for name, child in model.named_children()
        if child is not backbone and child is not output and any(True for _ in child.parameters())
    ]


def task_type(model: Any) -> str | None:
    """peft's task type for the model class (SEQ_CLS, CAUSAL_LM...), or None for generic."""
    name = type(model).__name__
    return next((task for suffix, task in TASK_TYPES.items() if name.endswith(suffix)), None)


def linear_names(model: Any) -> list[str]:
    """The distinct last name parts of the model's Linear layers (for error messages)."""
    import torch

    return sorted(
        {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    )


def count_parameters(model: Any) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = total = 0
    for param in model.parameters():
        total += param.numel()
        trainable += param.numel() if param.requires_grad else 0
    return trainable, total
