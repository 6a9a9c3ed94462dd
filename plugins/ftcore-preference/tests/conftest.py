"""Fixtures: a second tiny causal LM (another seed) to be a reference model."""

from __future__ import annotations

from pathlib import Path

import pytest
from ftcore_devkit.testing import save_tiny_causal_lm


@pytest.fixture(scope="session")
def other_causal_lm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama like ``tiny_causal_lm_dir`` (same tokenizer), other weights."""
    return save_tiny_causal_lm(tmp_path_factory.mktemp("tiny-causal-lm-seed1"), seed=1)
