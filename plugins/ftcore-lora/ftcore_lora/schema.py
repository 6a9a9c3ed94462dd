"""The ``strategies.lora`` section."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Optional


class Bias(str, Enum):
    none = "none"
    all = "all"
    lora_only = "lora_only"


@dataclass
class LoraOptions:
    """Options of the LoRA strategy (low-rank adapters on a frozen backbone)."""

    # Rank of the low-rank update matrices.
    r: int = 8
    # Scale of the update: it is multiplied by alpha / r.
    alpha: int = 16
    # Dropout applied to the input of each LoRA update.
    dropout: float = 0.1
    # Layers to adapt, matched against the end of each module name (e.g. [query, value]);
    # null: the architecture's default (BERT query, value; Llama q_proj, v_proj; other
    # architectures from peft's table).
    target_modules: Optional[list[str]] = None
    # A regular expression matching the full names of the layers to adapt, e.g.
    # '.*\.(query|key|value)$'; used instead of target_modules.
    target_regex: Optional[str] = None
    # Modules trained in full and saved with the adapter; null: the task head's own modules
    # (e.g. classifier), never the pretrained output embeddings; [] for none beyond what
    # peft always keeps for sequence classification (classifier, score).
    modules_to_save: Optional[list[str]] = None
    # Biases to train as well: none, all, or lora_only.
    bias: Bias = Bias.none
