"""Batches, the causal-LM loss per example, and generation (imports torch)."""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
import torch.nn.functional as F

from ftcore_generation.encoding import IGNORE

TEXT_COLUMNS = ("generated", "answers")


def collate(features: list[dict], pad: int) -> dict[str, torch.Tensor]:
    """Right-pad a list of examples.

    Unpacked examples get an ``attention_mask``. Packed examples get ``position_ids``
    (restarting at 0 for every text and for the padding tail) and no attention mask:
    transformers then builds a block-diagonal causal mask from the position ids, so a
    text never attends to another text of the same block.
    """
    n, width = len(features), max(len(f["input_ids"]) for f in features)
    input_ids = torch.full((n, width), pad, dtype=torch.long)
    labels = torch.full((n, width), IGNORE, dtype=torch.long)
    packed = "positions" in features[0]
    extra = torch.zeros((n, width), dtype=torch.long)  # position ids or attention mask
    for i, f in enumerate(features):
        size = len(f["input_ids"])
        input_ids[i, :size] = torch.tensor(f["input_ids"])
        labels[i, :size] = torch.tensor(f["labels"])
        if packed:
            extra[i, :size] = torch.tensor(f["positions"])
            extra[i, size:] = torch.arange(width - size)
        else:
            extra[i, :size] = 1
    batch = {"input_ids": input_ids, "labels": labels}
    batch["position_ids" if packed else "attention_mask"] = extra
    batch["prompt_length"] = torch.tensor([f["prompt_length"] for f in features])
    batch["index"] = torch.tensor([f["index"] for f in features])
    batch["answer"] = torch.tensor([f["answer"] for f in features], dtype=torch.float64)
    batch["reference"] = [f.get("reference") for f in features]  # the answer texts to check
    return batch


def model_inputs(batch: dict) -> dict:
    keep = ("input_ids", "attention_mask", "position_ids")
    return {k: batch[k] for k in keep if k in batch} | {"use_cache": False}


CHUNK_TOKENS = 1024  # target tokens whose vocabulary logits exist at once (chunked loss)


def output_layer(model: Any) -> torch.nn.Linear | None:
    """The model's vocabulary projection when logits are exactly ``hidden @ W.T (+ b)``.

    None for models that scale or soft-cap their logits (Gemma 2, Cohere...) or whose
    projection is wrapped (a LoRA adapter on ``lm_head``): those keep the full logits.
    """
    config = getattr(model, "config", None)
    if any(getattr(config, k, None) for k in ("final_logit_softcapping", "logit_scale")):
        return None
    layer = model.get_output_embeddings()
    return layer if type(layer) is torch.nn.Linear else None


def _chunk_nll(hidden: torch.Tensor, weight: torch.Tensor, bias: Any, target: torch.Tensor) -> Any:
    logits = F.linear(hidden, weight, bias).float()
    return F.cross_entropy(logits, target, reduction="none")


def chunked_token_nll(
    hidden: torch.Tensor,
    layer: torch.nn.Linear,
    labels: torch.Tensor,
    chunk: int = CHUNK_TOKENS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`token_nll` from the last hidden states, never holding the full logits.

    Only positions with a target are projected onto the vocabulary, ``chunk`` tokens at
    a time; under autograd each chunk is checkpointed, so its logits are recomputed in
    the backward pass instead of being kept (the chunked cross-entropy of torchtune and
    Liger). The logits of a batch of 8 x 384 tokens over SmolLM2's 49,152-token
    vocabulary take 604 MB in fp32; a chunk of 1,024 tokens, 201 MB.
    """
    from torch.utils.checkpoint import checkpoint

    shifted = labels[:, 1:]
    flat = shifted.reshape(-1)
    keep = (flat != IGNORE).nonzero().squeeze(1)
    states = hidden[:, :-1].reshape(-1, hidden.shape[-1]).index_select(0, keep)
    target = flat.index_select(0, keep)
    pieces = []
    for start in range(0, len(keep), chunk):
        args = (
            states[start : start + chunk],
            layer.weight,
            layer.bias,
            target[start : start + chunk],
        )
        if torch.is_grad_enabled():
            pieces.append(checkpoint(_chunk_nll, *args, use_reentrant=False))
        else:
            pieces.append(_chunk_nll(*args))
    values = torch.cat(pieces) if pieces else states.new_zeros(0, dtype=torch.float32)
    nll = torch.zeros(flat.shape, dtype=values.dtype, device=values.device)
    nll = nll.index_copy(0, keep, values).view_as(shifted)
    return nll.sum(-1), (shifted != IGNORE).sum(-1)


def sequence_nll(
    model: Any, batch: dict, chunked: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per example: summed NLL of the target tokens and their count, chunked when possible."""
    layer = output_layer(model) if chunked else None
    if layer is None:
        return token_nll(model(**model_inputs(batch)).logits, batch["labels"])
    hidden = model.get_decoder()(**model_inputs(batch)).last_hidden_state
    return chunked_token_nll(hidden, layer, batch["labels"])


def token_nll(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per example: summed next-token NLL over the target tokens, and their count."""
    shifted = labels[:, 1:]
    nll = F.cross_entropy(
        logits[:, :-1].flatten(0, 1).float(),
        shifted.flatten(),
        ignore_index=IGNORE,
        reduction="none",
    ).view_as(shifted)
    return nll.sum(-1), (shifted != IGNORE).sum(-1)


_TOKENIZERS: dict[str, Any] = {}


def tokenizer_at(path: str, trust_remote_code: bool = False) -> Any:
    """The tokenizer of a model folder, loaded once per process."""
    if path not in _TOKENIZERS:
        from transformers import AutoTokenizer

        _TOKENIZERS[path] = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    return _TOKENIZERS[path]


def tokenizer_of(model: Any) -> Any:
    """The tokenizer saved with the model (core loads the same folder's tokenizer)."""
    return tokenizer_at(str(model.name_or_path))


def greedy(config: Any) -> Any:
    config = copy.deepcopy(config)
    config.do_sample, config.temperature, config.top_p, config.top_k = False, None, None, None
    return config


def left_padded(batch: dict, rows: list[int], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The prompts of ``rows`` (their first ``prompt_length`` tokens), padded on the left."""
    prompts = [batch["input_ids"][i, : int(batch["prompt_length"][i])] for i in rows]
    width = max(len(p) for p in prompts)
    ids = torch.full((len(rows), width), pad, dtype=torch.long, device=prompts[0].device)
    mask = torch.zeros_like(ids)
    for j, prompt in enumerate(prompts):
        ids[j, width - len(prompt) :] = prompt
        mask[j, width - len(prompt) :] = 1
    return ids, mask


def generate(model: Any, batch: dict, rows: list[int], config: Any, seed: int) -> list[str]:
    """Generate from the prompts of ``rows``; the new text of each, special tokens dropped."""
    ids, mask = left_padded(batch, rows, config.pad_token_id or 0)
    devices = [ids.device] if ids.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        out = model.generate(input_ids=ids, attention_mask=mask, generation_config=config)
    tokenizer = tokenizer_of(model)
    return [tokenizer.decode(row, skip_special_tokens=True) for row in out[:, ids.shape[1] :]]


def format_number(value: float) -> str | None:
    if math.isnan(value):
        return None
    return str(int(value)) if value.is_integer() else repr(value)
