"""The generation head end to end on tiny random Llama models."""

from __future__ import annotations

import json

import pytest
import torch
from ftcore_devkit.testing import MemoryDataset, build_hooks, execute_recipe
from ftcore_generation import plugin
from ftcore_generation.encoding import encode_instruction, pad_id
from ftcore_generation.modeling import collate
from ftcore_generation.schema import GenerationConfig
from generation_helpers import generation_recipe, instruction_splits, text_splits
from omegaconf import OmegaConf
from transformers import AutoModelForCausalLM, AutoTokenizer

from ftcore.cli import main
from ftcore.errors import RecipeError
from ftcore.predict import Predictor
from ftcore.recipe.validate import validate

PROMPTS = ["Tom has 3 apples and buys 4 more. How many apples?", "Say hello."]


def test_step_loss_is_on_response_tokens_only(tiny_llama_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir).eval()
    rows = instruction_splits()["train"][:4]
    features = encode_instruction(rows, tokenizer, 64, GenerationConfig(), "answer")
    batch = collate(features, pad_id(tokenizer))
    head, options = plugin.GenerationHead(), GenerationConfig()
    info = head.data_info(rows=rows, options=options)
    with torch.no_grad():
        out = head.step(model=model, batch=batch, info=info, options=options, stage="val")
        inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
        response_only = model(**inputs, labels=batch["labels"]).loss
        everything = model(**inputs, labels=batch["input_ids"]).loss
    torch.testing.assert_close(out.loss, response_only)
    assert not torch.isclose(out.loss, everything)
    responses = [len(f["input_ids"]) - f["prompt_length"] for f in features]
    assert out.target.tolist() == responses  # tokens scored per example
    assert (batch["labels"][batch["attention_mask"] == 0] == -100).all()


def _run(tmp_path, recipe, splits, overrides=()):
    hooks = build_hooks([MemoryDataset(splits)])
    return execute_recipe(recipe, tmp_path / "run", list(overrides), hooks=hooks)


def _plain_generate(model_dir, prompts: list[str], chat: bool) -> list[str]:
    """What a user gets from the exported folder with transformers alone."""
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    out = []
    for prompt in prompts:
        if chat:
            messages = [{"role": "user", "content": prompt}]
            inputs = tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
        else:
            inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
            inputs.pop("token_type_ids", None)  # BERT-style tokenizer (MiniLM)
        with torch.no_grad():
            ids = model.generate(**inputs)  # settings from the exported generation_config.json
        new = ids[0, inputs["input_ids"].shape[1] :]
        out.append(tokenizer.decode(new, skip_special_tokens=True))
    return out


def test_instruction_run_metrics_export_and_predict(tmp_path, tiny_llama_dir, capsys):
    recipe = generation_recipe(tiny_llama_dir)
    result = _run(tmp_path, recipe, instruction_splits())
    summary = result.summary
    assert set(summary["test"]) == {"test/loss", "test/perplexity", "test/answer_accuracy"}
    assert {"val/loss", "val/perplexity"} <= set(summary["validation"])
    assert summary["monitor"] == {"metric": "val/loss", "mode": "min"}
    predictions = json.loads((result.run_dir / "predictions.json").read_text())
    checked = [p for p in predictions if "correct" in p]
    assert len(checked) == 4  # head.eval_generate_limit
    assert {"generated", "answer", "reference", "loss"} <= set(checked[0])
    baseline = json.loads((result.run_dir / "baseline.json").read_text())
    assert baseline["pretrained"]["val/perplexity"] > baseline["fine_tuned"]["val/perplexity"]

    model_dir = result.run_dir / "model"
    predictor = Predictor(result.run_dir, result.hooks)
    ours = predictor.predict([{"prompt": p} for p in PROMPTS])
    assert all(set(row) == {"generated"} for row in ours)
    assert len(set(ours[0]["generated"].split())) > 2  # a varied text, not one token repeated
    assert [row["generated"] for row in ours] == _plain_generate(model_dir, PROMPTS, chat=True)

    capsys.readouterr()
    assert main(["predict", str(result.run_dir), "--prompt", PROMPTS[0]]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == {"prompt": PROMPTS[0], "generated": ours[0]["generated"]}


def test_text_format_packing_run_and_predict(tmp_path, tiny_llama_minilm_dir):
    recipe = generation_recipe(tiny_llama_minilm_dir, fmt="text", packing=True)
    result = _run(tmp_path, recipe, text_splits())
    assert set(result.summary["test"]) == {"test/loss", "test/perplexity"}
    predictor = Predictor(result.run_dir, result.hooks)
    (row,) = predictor.predict([{"prompt": "to be or"}])
    model_dir = result.run_dir / "model"
    assert [row["generated"]] == _plain_generate(model_dir, ["to be or"], chat=False)


def test_recipe_checks(tiny_llama_dir):
    hooks = build_hooks([MemoryDataset(instruction_splits())])
    recipe = generation_recipe(tiny_llama_dir, packing=True, max_new_tokens=0)
    with pytest.raises(RecipeError) as err:
        validate(OmegaConf.create(recipe), hooks, source="r.yaml", default_name="r")
    problems = " | ".join(err.value.problems)
    assert "head.packing: packing applies to format: text" in problems
    assert "head.max_new_tokens: must be at least 1" in problems


def test_rows_without_response_are_reported(tmp_path, tiny_llama_dir):
    splits = instruction_splits()
    splits["train"][3] = {"prompt": "no answer here"}
    with pytest.raises(Exception, match="row 4: missing 'response' text"):
        _run(tmp_path, generation_recipe(tiny_llama_dir), splits)
