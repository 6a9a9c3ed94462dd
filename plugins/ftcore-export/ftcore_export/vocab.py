"""A byte-level BPE tokenizer as GGUF tokenizer metadata (llama.cpp's ``gpt2`` model).

Tokens and token types come from the tokenizer the run exported (what ``ftcore predict``
uses); merges, the special token ids and the chat template through ``gguf.SpecialVocab``,
with the special ids and the add-BOS/EOS flags checked against that tokenizer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ftcore.errors import UserError

LAYOUT = "a byte-level BPE tokenizer with GPT-2 splitting (SmolLM2's, as ftcore bundles it)"
SPECIALS = ("bos", "eos", "unk", "pad")


def check_layout(model_dir: Path) -> None:
    """A one-line error unless ``tokenizer.json`` is a layout llama.cpp calls ``gpt-2``."""
    path = model_dir / "tokenizer.json"
    if not path.is_file():
        raise UserError(f"{model_dir}: no tokenizer.json; the GGUF export needs {LAYOUT}")
    data = json.loads(path.read_text(encoding="utf-8"))
    model = data.get("model") or {}
    found = layout_problem(model, data.get("pre_tokenizer"), data.get("normalizer"))
    if found:
        raise UserError(f"GGUF export: the run's tokenizer has {found}; only {LAYOUT} is exported")


def layout_problem(model: dict, pre: dict | None, normalizer: dict | None) -> str | None:
    if model.get("type") != "BPE":
        return f"model {model.get('type')}"
    if model.get("byte_fallback"):
        return "byte fallback"
    if normalizer is not None:
        return f"normalizer {normalizer.get('type')}"
    pre = pre or {}
    steps = (pre.get("pretokenizers") or []) if pre.get("type") == "Sequence" else [pre]
    if len(steps) != 1 or not _gpt2_byte_level(steps[0]):
        return f"pre-tokenizer {_describe(pre)}"
    return None


def _gpt2_byte_level(step: dict) -> bool:
    return (
        step.get("type") == "ByteLevel"
        and not step.get("add_prefix_space", False)
        and step.get("use_regex", True)
    )


def _describe(pre: dict | None) -> str:
    if not pre:
        return "none"
    inner = pre.get("pretokenizers")
    return "+".join(p.get("type", "?") for p in inner) if inner else str(pre.get("type"))


def token_table(tokenizer: Any, n_vocab: int) -> tuple[list[str], list[int]]:
    """Tokens by id and their llama.cpp types: added special tokens are CONTROL, other
    added tokens USER_DEFINED, ids the tokenizer lacks ``[PADi]`` (UNUSED)."""
    from gguf import TokenType

    reverse = {i: token for token, i in tokenizer.get_vocab().items()}
    if max(reverse) >= n_vocab:
        raise UserError(
            f"GGUF export: the tokenizer has ids up to {max(reverse)} but the "
            f"model's vocab_size is {n_vocab}; the model folder is inconsistent"
        )
    added = tokenizer.added_tokens_decoder
    tokens, types = [], []
    for i in range(n_vocab):
        if i not in reverse:
            tokens.append(f"[PAD{i}]")
            types.append(TokenType.UNUSED)
            continue
        tokens.append(reverse[i])
        if i in added:
            types.append(TokenType.CONTROL if added[i].special else TokenType.USER_DEFINED)
        else:
            types.append(TokenType.NORMAL)
    return tokens, [int(t) for t in types]


def adds_special(tokenizer: Any) -> dict[str, bool]:
    """Whether encoding a text adds BOS in front and EOS at the end, as measured."""
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a")["input_ids"]
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    return {
        "bos": bos is not None and full[:1] == [bos] and plain[:1] != [bos],
        "eos": eos is not None and full[-1:] == [eos] and plain[-1:] != [eos],
    }


def add_vocab(writer: Any, tokenizer: Any, model_dir: Path, n_vocab: int) -> None:
    """Write the tokenizer keys llama.cpp and transformers read."""
    from gguf import SpecialVocab

    check_layout(model_dir)
    tokens, types = token_table(tokenizer, n_vocab)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special = SpecialVocab(model_dir, load_merges=True, n_vocab=n_vocab)
    if not special.merges:
        raise UserError(f"{model_dir}/tokenizer.json has no merges; it cannot be exported")
    for kind in SPECIALS:  # the ids the tokenizer itself uses win
        token_id = getattr(tokenizer, f"{kind}_token_id", None)
        special.special_token_ids.pop(kind, None)
        if token_id is not None:
            special.special_token_ids[kind] = int(token_id)
    special.add_special_token = adds_special(tokenizer)
    chat = getattr(tokenizer, "chat_template", None)
    if isinstance(chat, str):
        special.chat_template = chat
    special.add_to_gguf(writer, quiet=True)
