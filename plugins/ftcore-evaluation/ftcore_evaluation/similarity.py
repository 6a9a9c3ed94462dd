"""Task similarity: the pretrained language model's loss on the task's texts.

How surprised the pretrained model is by the task's texts, next to how surprised it is by
a reference corpus of ordinary edited English (news articles), in nats per token:

- a causal LM (``*ForCausalLM``): the mean next-token negative log-likelihood;
- a masked LM (``*ForMaskedLM``): the mean loss on 15% of the tokens, masked (seeded)
  as in BERT's pre-training;
- an encoder without its pre-training head (all-MiniLM-L6-v2 ships none): not
  measurable this way; LogME of the frozen features is the similarity figure then.

A task loss close to the reference's says the texts look like what the model was trained
on; a much higher one (a new domain, jargon, another language, code) says fine-tuning has
more to adapt and the pretrained baseline says less.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

ROWS = 64
MASK_SHARE = 0.15


def head_kind(model_path: str) -> tuple[str | None, str]:
    """("causal" | "masked" | None, architecture) from the model folder's config."""
    from transformers import AutoConfig

    architectures = list(
        getattr(AutoConfig.from_pretrained(model_path), "architectures", None) or []
    )
    for name in architectures:
        if name.endswith("ForCausalLM"):
            return "causal", name
        if name.endswith("ForMaskedLM") or name.endswith("ForPreTraining"):
            return "masked", name
    return None, architectures[0] if architectures else "unknown"


def _batch_loss(
    model: Any, batch: dict, kind: str, rng: np.random.Generator, mask_id: int
) -> tuple:
    import torch

    ids, attention = batch["input_ids"], batch["attention_mask"]
    labels = ids.clone()
    labels[attention == 0] = -100
    if kind == "masked":
        special = batch["special_tokens_mask"].bool()  # [CLS], [SEP]: never masked
        chosen = torch.from_numpy(rng.random(ids.shape) < MASK_SHARE) & (attention == 1) & ~special
        labels[~chosen] = -100
        ids = ids.masked_fill(chosen, mask_id)
    with torch.inference_mode():
        logits = model(input_ids=ids, attention_mask=attention).logits.float()
    if kind == "causal":
        logits, labels = logits[:, :-1], labels[:, 1:]
    losses = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction="sum", ignore_index=-100
    )
    return float(losses), int((labels != -100).sum())


def token_loss(
    model: Any, tokenizer: Any, texts: list[str], kind: str, max_length: int, seed: int
) -> float:
    """Mean loss per scored token of ``texts`` (nats)."""
    rng = np.random.default_rng(seed)
    total, count = 0.0, 0
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    for start in range(0, len(texts), 16):
        batch = dict(
            tokenizer(
                texts[start : start + 16],
                truncation=True,
                max_length=max_length,
                padding=True,
                return_special_tokens_mask=True,
                return_tensors="pt",
            )
        )
        loss, tokens = _batch_loss(model, batch, kind, rng, tokenizer.mask_token_id or 0)
        total, count = total + loss, count + tokens
    return total / max(count, 1)


def language_model_loss(
    model_path: str, texts: list[str], reference: list[str], max_length: int, seed: int
) -> dict[str, Any]:
    """The loss on up to :data:`ROWS` task texts and as many reference texts, or why not."""
    started = time.perf_counter()
    kind, architecture = head_kind(model_path)
    if kind is None:
        return {
            "available": False,
            "reason": f"{architecture} has no language-model head to score texts with",
        }
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

    loader = AutoModelForCausalLM if kind == "causal" else AutoModelForMaskedLM
    model = loader.from_pretrained(model_path).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    task = token_loss(model, tokenizer, texts[:ROWS], kind, max_length, seed)
    ref = token_loss(model, tokenizer, reference[:ROWS], kind, max_length, seed)
    del model
    return {
        "available": True,
        "kind": kind,
        "task_loss": round(task, 4),
        "reference_loss": round(ref, 4),
        "ratio": round(task / ref, 3) if ref else None,
        "rows": min(len(texts), ROWS),
        "seconds": round(time.perf_counter() - started, 1),
    }


def meaning(found: dict[str, Any], reference: str) -> str:
    if not found.get("available"):
        return (
            f"Language-model loss on the task's texts: not measured ({found.get('reason')}); "
            "LogME is the similarity figure for this model."
        )
    ratio = found["ratio"]
    verdict = (
        "the texts look like what the model was trained on"
        if ratio <= 1.25
        else "the texts are further from what the model was trained on than the reference: "
        "fine-tuning has more to adapt, and the frozen baseline says less about the task"
    )
    return (
        f"The pretrained model's {found['kind']}-LM loss is {found['task_loss']:.2f} nats per "
        f"token on the task's texts against {found['reference_loss']:.2f} on {reference} "
        f"(ratio {ratio:.2f}): {verdict}."
    )
