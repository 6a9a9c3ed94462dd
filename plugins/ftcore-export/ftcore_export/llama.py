"""A Llama causal LM in llama.cpp's layout: what can be exported, its hyper-parameters,
its tensor names and the Q/K permutation (as llama.cpp's ``convert_hf_to_gguf.py``
``LlamaModel`` does; transformers' GGUF loader undoes the permutation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ftcore.errors import UserError

SUPPORTED = (
    "Llama-family causal language models (LlamaForCausalLM, e.g. smollm2-135m, task: generation)"
)


def check_architecture(config: dict[str, Any], task: str) -> None:
    """A one-line error unless ``config`` (``config.json`` as read, before transformers
    sees it) describes a Llama causal LM."""
    archs = list(config.get("architectures") or [])
    model_type = config.get("model_type")
    if model_type != "llama" or archs != ["LlamaForCausalLM"]:
        what = archs[0] if archs else f"model type {model_type}"
        raise UserError(
            f"GGUF export: this run's model is {what} (task: {task}); only "
            f"{SUPPORTED} can be exported"
        )


def check_options(config: Any) -> None:
    """A one-line error for a Llama config whose settings this exporter would lose."""
    problems = unsupported_options(config)
    if problems:
        raise UserError(
            f"GGUF export: this Llama model uses {', '.join(problems)}, "
            f"which the GGUF export does not write; only the plain layout is supported "
            f"(LlamaForCausalLM without biases, SiLU activation, default RoPE)"
        )


def unsupported_options(config: Any) -> list[str]:
    """The config settings a GGUF file written here would silently lose."""
    kind = rope(config)[1]
    checks = [
        (f"rope_type={kind}", kind != "default"),
        ("attention_bias=true", bool(getattr(config, "attention_bias", False))),
        ("mlp_bias=true", bool(getattr(config, "mlp_bias", False))),
        (f"hidden_act={config.hidden_act}", config.hidden_act != "silu"),
    ]
    return [name for name, bad in checks if bad]


def rope(config: Any) -> tuple[float, str]:
    """RoPE base frequency and type: ``rope_parameters`` (transformers 5), else the older
    ``rope_theta`` and ``rope_scaling`` attributes."""
    params = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None)
    params = dict(params or {})
    theta = params.get("rope_theta", getattr(config, "rope_theta", None) or 10000.0)
    return float(theta), str(params.get("rope_type", params.get("type", "default")))


def head_dim(config: Any) -> int:
    return int(
        getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    )


def kv_heads(config: Any) -> int:
    return int(getattr(config, "num_key_value_heads", None) or config.num_attention_heads)


def add_hyperparameters(writer: Any, config: Any) -> None:
    """The ``llama.*`` keys llama.cpp reads (transformers maps them back to the config)."""
    writer.add_context_length(int(config.max_position_embeddings))
    writer.add_embedding_length(int(config.hidden_size))
    writer.add_block_count(int(config.num_hidden_layers))
    writer.add_feed_forward_length(int(config.intermediate_size))
    writer.add_head_count(int(config.num_attention_heads))
    writer.add_head_count_kv(kv_heads(config))
    writer.add_rope_freq_base(rope(config)[0])
    writer.add_layer_norm_rms_eps(float(config.rms_norm_eps))
    writer.add_vocab_size(int(config.vocab_size))
    writer.add_rope_dimension_count(head_dim(config))
    writer.add_key_length(head_dim(config))
    writer.add_value_length(head_dim(config))


@dataclass(frozen=True)
class TensorPlan:
    """One tensor of the file: its GGUF name, where it comes from, how it is changed."""

    name: str
    source: str  # the Hugging Face parameter name
    shape: tuple[int, ...]
    permute_heads: int | None  # Q/K: the head count of llama.cpp's permutation


def plan_tensor(source: str, shape: tuple[int, ...], config: Any, names: Any) -> TensorPlan | None:
    """How ``source`` goes into the file, or None for a tensor llama.cpp does not store
    (the output matrix of tied embeddings, RoPE buffers)."""
    if source.endswith("rotary_emb.inv_freq"):
        return None
    if source == "lm_head.weight" and config.tie_word_embeddings:
        return None  # tied: llama.cpp reuses token_embd.weight (no output.weight)
    base, _, suffix = source.rpartition(".")
    mapped = names.get_name(base)
    if mapped is None:
        raise UserError(
            f"GGUF export: the model has a tensor '{source}' that the Llama "
            f"GGUF layout has no place for; only {SUPPORTED} can be exported"
        )
    heads = None
    if base.endswith("self_attn.q_proj"):
        heads = int(config.num_attention_heads)
    elif base.endswith("self_attn.k_proj"):
        heads = kv_heads(config)
    return TensorPlan(f"{mapped}.{suffix}", source, tuple(shape), heads)


def permute(weights: Any, heads: int) -> Any:
    """llama.cpp's Q/K row order: within each head, the interleaved RoPE pairs of the
    original Llama checkpoints (Hugging Face keeps the two halves apart)."""
    rows = weights.shape[0]
    return (
        weights.reshape(heads, 2, rows // heads // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )
