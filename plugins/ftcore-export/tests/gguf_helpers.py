"""Tiny random Llama folders and runs, and what a user does with a GGUF file (for tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch
from ftcore_devkit.testing import (
    MemoryDataset,
    base_recipe,
    build_hooks,
    execute_recipe,
    make_generation_rows,
    splits_of,
    tiny_bpe_tokenizer,
    tiny_llama_config,
)
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

PROMPTS = [
    "Tom has 3 apples and buys 4 more. How many apples?",
    "the film was really brilliant",
    "Say hello.",
]
FTCORE = str(Path(sys.executable).with_name("ftcore"))  # the installed command


def save_tiny_llama(folder: Path, tie: bool = True, extra_vocab: int = 0, **config: Any) -> Path:
    """A random 2-layer Llama (4 query heads, 2 key-value heads: the Q/K permutation differs
    between them) with the devkit's byte-level BPE tokenizer and ChatML template.

    initializer_range 0.2: at 0.02 greedy decoding repeats one token, too easy to match.
    extra_vocab: embedding rows beyond the tokenizer (ids with no token).
    """
    tokenizer = tiny_bpe_tokenizer()
    torch.manual_seed(0)
    settings = {
        "vocab_size": len(tokenizer) + extra_vocab,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 256,
        "tie_word_embeddings": tie,
        "initializer_range": 0.2,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        **config,
    }
    LlamaForCausalLM(tiny_llama_config(**settings)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def load_gguf(path: Path) -> tuple[Any, Any]:
    """The model and tokenizer transformers builds from the file alone."""
    model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name).eval()
    return model, AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)


def load_folder(folder: Path) -> tuple[Any, Any]:
    """The Hugging Face model and tokenizer of a folder (a run's ``model/``)."""
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    return model, AutoTokenizer.from_pretrained(folder)


def prompt_ids(tokenizer: Any, prompt: str) -> dict[str, torch.Tensor]:
    """The prompt as the generation head lays it out: the chat template, a user message."""
    messages = [{"role": "user", "content": prompt}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return dict(tokenizer(text, return_tensors="pt", add_special_tokens=False))


def greedy(model: Any, tokenizer: Any, prompt: str, max_new_tokens: int) -> list[int]:
    """The new token ids of greedy decoding, stopping at the tokenizer's EOS."""
    inputs = prompt_ids(tokenizer, prompt)
    with torch.no_grad():
        out = model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    return out[0, inputs["input_ids"].shape[1] :].tolist()


def max_new_tokens(run_dir: Path) -> int:
    """What ``ftcore predict`` generates at most: the run's exported generation config."""
    config = json.loads((run_dir / "model" / "generation_config.json").read_text())
    return int(config["max_new_tokens"])


def generation_run(out: Path, *overrides: str) -> Path:
    """A short generation run (3 steps) on a tiny random Llama, finished and exported."""
    model_dir = save_tiny_llama(out.parent / f"{out.name}-base")
    recipe = base_recipe(model_dir, task="generation")
    recipe["data"]["max_length"] = 64
    recipe["head"] = {"max_new_tokens": 24, "eval_generate_limit": 2, "baseline_eval": False}
    hooks = build_hooks([MemoryDataset(splits_of(make_generation_rows))])
    settings = ["trainer.max_steps=3", "optim.lr=5e-3", *overrides]
    execute_recipe(recipe, out, settings, hooks=hooks)
    return out


def ftcore(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed ``ftcore`` command, run from ``cwd`` as a user would."""
    return subprocess.run([FTCORE, *args], capture_output=True, text=True, cwd=cwd, timeout=300)
