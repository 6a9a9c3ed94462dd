"""Fixtures: tiny random Llama models with the SmolLM2 and MiniLM tokenizers."""

from __future__ import annotations

from pathlib import Path

import pytest
from ftcore_devkit.testing import minilm_tokenizer_dir
from generation_helpers import save_tiny_llama, smollm2_tokenizer


@pytest.fixture(scope="session")
def smol_tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return smollm2_tokenizer(tmp_path_factory.mktemp("smollm2-tokenizer"))


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory: pytest.TempPathFactory, smol_tokenizer_dir: Path) -> Path:
    """Tiny Llama with the SmolLM2 tokenizer and its chat template."""
    return save_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), smol_tokenizer_dir)


@pytest.fixture(scope="session")
def tiny_llama_minilm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny Llama with the MiniLM tokenizer: no chat template, no EOS (SEP ends texts)."""
    return save_tiny_llama(tmp_path_factory.mktemp("tiny-llama-minilm"), minilm_tokenizer_dir())
