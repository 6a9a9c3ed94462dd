"""Tests of the LoRA strategy on tiny random models (BERT for heads, Llama for generation)."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest
import torch
from ftcore_classification import plugin as classification
from ftcore_devkit.testing import (
    MemoryDataset,
    assert_same_training_state,
    base_recipe,
    build_hooks,
    execute_recipe,
    last_checkpoint,
    resume_run,
    tiny_llama_config,
    tiny_splits,
)
from ftcore_lora import adapter, defaults
from ftcore_lora import plugin as lora
from ftcore_lora.schema import LoraOptions
from omegaconf import OmegaConf
from peft import PeftModel
from safetensors.torch import load_file
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    LlamaForCausalLM,
    LlamaForSequenceClassification,
)

from ftcore.errors import RecipeError, UserError
from ftcore.predict import Predictor

SPLITS = tiny_splits()
TEXTS = [r["text"] for r in SPLITS["test"]]
LORA = {"r": 4, "alpha": 8, "dropout": 0.0}
OVERRIDES = ["trainer.max_epochs=2", "optim.lr=5e-3"]


def lora_recipe(model_dir, task: str = "classification", **options) -> dict:
    recipe = base_recipe(model_dir)
    recipe["task"] = task
    recipe["strategies"] = {"lora": {**LORA, **options}}
    return recipe


def hooks_for(*plugins, splits=SPLITS):
    return build_hooks([MemoryDataset(splits), classification, lora, *plugins], autoload=False)


def options(**values) -> LoraOptions:
    return OmegaConf.structured(LoraOptions(**values))


def tiny_llama(cls=LlamaForCausalLM, **extra):
    torch.manual_seed(0)
    return cls(
        tiny_llama_config(vocab_size=64, num_attention_heads=4, num_key_value_heads=2, **extra)
    )


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory, tiny_model_dir):
    """One LoRA classification run shared by the tests that only read its outputs."""
    out = tmp_path_factory.mktemp("lora") / "run"
    return execute_recipe(lora_recipe(tiny_model_dir), out, OVERRIDES, hooks=hooks_for())


def _logits(model, model_dir, texts=TEXTS):
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    with torch.no_grad():
        return model.eval()(**tokenizer(texts, return_tensors="pt", padding=True)).logits


# --- defaults (pure) --------------------------------------------------------------------


def test_defaults_follow_the_architecture(tiny_model_dir):
    bert = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
    assert defaults.default_targets(defaults.model_type(bert)) == ["query", "value"]
    assert defaults.head_modules(bert) == ["classifier"]
    assert defaults.task_type(bert) == "SEQ_CLS"
    causal = tiny_llama()
    assert defaults.default_targets(defaults.model_type(causal)) == ["q_proj", "v_proj"]
    assert defaults.head_modules(causal) == []  # the pretrained LM head is not a new head
    assert defaults.task_type(causal) == "CAUSAL_LM"
    scorer = tiny_llama(LlamaForSequenceClassification, num_labels=1, pad_token_id=0)
    assert defaults.head_modules(scorer) == ["score"]
    assert defaults.default_targets("gpt2") == ["c_attn"]  # peft's table for the rest
    assert defaults.default_targets("no-such-architecture") is None


# --- wrapping ---------------------------------------------------------------------------


def test_wrap_trains_only_adapters_and_head_and_never_wraps_twice(tiny_model_dir):
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
    wrapped = adapter.wrap(model, options(r=4))
    trainable = [n for n, p in wrapped.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n or "modules_to_save" in n for n in trainable)
    assert any("classifier.modules_to_save" in n for n in trainable)
    count = sum("lora_A" in n for n, _ in wrapped.named_modules())
    again = lora.ftcore_transform_model(model=wrapped, recipe=_recipe_with_lora())
    assert again is wrapped
    assert sum("lora_A" in n for n, _ in again.named_modules()) == count
    assert not any("base_model.model.base_model" in n for n, _ in again.named_parameters())
    facts = adapter.report(wrapped)
    # 2 layers x (query, value) x (A: 32x4 + B: 4x32) + classifier 32x2 + 2
    assert facts["trainable_parameters"] == 2 * 2 * 256 + 66
    assert facts["modules_to_save"] == ["classifier"] and facts["task_type"] == "SEQ_CLS"


def _recipe_with_lora(**values):
    return OmegaConf.create({"strategies": {"lora": OmegaConf.structured(LoraOptions(**values))}})


def test_transform_does_nothing_without_the_strategy(tiny_model_dir):
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
    assert lora.ftcore_transform_model(model=model, recipe=OmegaConf.create({})) is None
    plain = OmegaConf.create({"strategies": {}})
    assert lora.ftcore_transform_model(model=model, recipe=plain) is None


def test_target_by_regex_and_clear_error_for_no_match(tiny_model_dir):
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
    wrapped = adapter.wrap(model, options(target_regex=r".*\.(query|key)$"))
    adapted = {n.rsplit(".", 2)[-2] for n, _ in wrapped.named_modules() if n.endswith("lora_A")}
    assert adapted == {"query", "key"}
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
    with pytest.raises(UserError, match=r"no layer of this model matches \['qkv'\].*query"):
        adapter.wrap(model, options(target_modules=["qkv"]))


def test_recipe_checks(tiny_model_dir):
    from ftcore.recipe.validate import validate

    recipe = lora_recipe(tiny_model_dir, r=0, dropout=1.5, target_modules=["a"], target_regex="b")
    with pytest.raises(RecipeError) as err:
        validate(OmegaConf.create(recipe), hooks_for(), source="t", default_name="t")
    problems = "\n".join(err.value.problems)
    assert "strategies.lora.r: must be at least 1" in problems
    assert "strategies.lora.dropout: must be in [0, 1)" in problems
    assert "give either target_modules or target_regex" in problems


def test_lora_on_a_causal_lm_generates_and_merges_exactly():
    model = adapter.wrap(tiny_llama(), options(r=4))
    for name, param in model.named_parameters():
        if "lora_B" in name:  # LoRA starts as a no-op; make it matter
            torch.nn.init.normal_(param, std=0.5)
    ids = torch.tensor([[1, 5, 9, 3]])
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=ids).logits
        out = model.generate(input_ids=ids, max_new_tokens=4, do_sample=False)
        merged = adapter.merged(model).eval()
        assert torch.allclose(merged(input_ids=ids).logits, logits, atol=1e-5)
        assert torch.equal(merged.generate(input_ids=ids, max_new_tokens=4, do_sample=False), out)
    assert adapter.is_wrapped(model)  # merging worked on a copy


# --- a LoRA classification run -------------------------------------------------------------


def test_run_reports_parameters_and_writes_adapter_and_merged_model(lora_run):
    run_dir = lora_run.run_dir
    facts = json.loads((run_dir / "lora.json").read_text())
    assert 0 < facts["trainable_share"] < 0.01
    assert facts["target_modules"] == ["query", "value"]
    assert facts["modules_to_save"] == ["classifier"]
    assert (run_dir / "adapter" / "adapter_config.json").is_file()
    assert (run_dir / "adapter" / "adapter_model.safetensors").is_file()
    merged = AutoModelForSequenceClassification.from_pretrained(run_dir / "model")
    assert not any("lora" in n for n, _ in merged.named_parameters())
    assert merged.config.id2label == {0: "neg", 1: "pos"}


def test_head_is_trained_and_saved_in_the_adapter(lora_run):
    saved = load_file(lora_run.run_dir / "adapter" / "adapter_model.safetensors")
    head = [k for k in saved if "classifier" in k]
    assert sorted(head) == [
        "base_model.model.classifier.bias",
        "base_model.model.classifier.weight",
    ]
    best = torch.load(lora_run.summary["best_checkpoint"], weights_only=True)["state_dict"]
    prefix = "model.base_model.model.classifier"
    initial = best[f"{prefix}.original_module.weight"]  # the frozen copy of the new head
    trained = best[f"{prefix}.modules_to_save.default.weight"]
    assert not torch.allclose(initial, trained)  # the head was trained...
    assert torch.equal(saved["base_model.model.classifier.weight"], trained)  # ...and saved
    assert any(k.endswith("lora_B.weight") and v.abs().sum() > 0 for k, v in saved.items())


def test_adapter_reloaded_gives_identical_predictions(lora_run):
    written = json.loads((lora_run.run_dir / "predictions.json").read_text())
    reloaded = Predictor(lora_run.run_dir, lora_run.hooks, adapter=True)
    assert isinstance(reloaded.model, PeftModel)
    again = reloaded.predict([{"text": t} for t in TEXTS])
    assert [r["label"] for r in again] == [r["label"] for r in written]
    for new, old in zip(again, written):
        assert new["probabilities"] == pytest.approx(old["probabilities"], abs=1e-6)


def test_merged_model_outputs_equal_the_adapter_model(lora_run, tiny_model_dir):
    run_dir = lora_run.run_dir
    merged = AutoModelForSequenceClassification.from_pretrained(run_dir / "model")
    base = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
    with_adapter = PeftModel.from_pretrained(base, run_dir / "adapter")
    assert torch.allclose(
        _logits(merged, run_dir / "model"), _logits(with_adapter, run_dir / "model"), atol=1e-5
    )
    fresh = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir).state_dict()
    layer = "bert.encoder.layer.0.attention.self"
    weights = merged.state_dict()
    assert not torch.equal(weights[f"{layer}.query.weight"], fresh[f"{layer}.query.weight"])
    assert torch.equal(weights[f"{layer}.key.weight"], fresh[f"{layer}.key.weight"])  # frozen
    plain = Predictor(run_dir, lora_run.hooks).predict([{"text": t} for t in TEXTS])
    adapted = Predictor(run_dir, lora_run.hooks, adapter=True).predict([{"text": t} for t in TEXTS])
    for a, b in zip(plain, adapted):
        assert a["label"] == b["label"]
        assert a["probabilities"] == pytest.approx(b["probabilities"], abs=1e-5)


def test_cli_predict_with_adapter(lora_run, tmp_path):
    cmd = [sys.executable, "-m", "ftcore.cli", "predict", str(lora_run.run_dir), "--text"]
    out = subprocess.run([*cmd, TEXTS[0], "--adapter"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    row = json.loads(out.stdout)
    expected = Predictor(lora_run.run_dir, lora_run.hooks).predict([{"text": TEXTS[0]}])[0]
    assert row["label"] == expected["label"]
    assert row["probabilities"] == pytest.approx(expected["probabilities"], abs=1e-5)
    (tmp_path / "recipe.yaml").write_text((lora_run.run_dir / "recipe.yaml").read_text())
    with pytest.raises(UserError, match="has no adapter/"):
        Predictor(tmp_path, lora_run.hooks, adapter=True)


# --- resume --------------------------------------------------------------------------------


def test_resume_continues_the_same_adapter(tmp_path, tiny_model_dir):
    overrides = [*OVERRIDES, "checkpoint.every_n_steps=2", "data.batch_size=16"]
    recipe = lora_recipe(tiny_model_dir)
    reference = execute_recipe(recipe, tmp_path / "ref", overrides, hooks=hooks_for())
    crashed = execute_recipe(
        recipe, tmp_path / "run", overrides, hooks=hooks_for(), crash_at_step=7
    )
    resumed = resume_run(crashed.run_dir, hooks=hooks_for())

    got = last_checkpoint(crashed.run_dir)["state_dict"]
    assert not any("base_model.model.base_model" in k for k in got)  # nothing wrapped twice
    assert_same_training_state(reference.run_dir, crashed.run_dir)  # the same adapter
    assert resumed.test == reference.test


# --- with the regression head ----------------------------------------------------------------


def test_regression_with_lora_exports_original_units(tmp_path, tiny_model_dir):
    regression = pytest.importorskip("ftcore_regression.plugin")
    rng = random.Random(0)

    def scored(rows):
        return [
            {"text": r["text"], "label": 50 + (10 if r["label"] == "pos" else -10) + rng.random()}
            for r in rows
        ]

    splits = {name: scored(rows) for name, rows in SPLITS.items()}
    result = execute_recipe(
        lora_recipe(tiny_model_dir, task="regression"),
        tmp_path / "run",
        ["trainer.max_epochs=1", "optim.lr=5e-3"],
        hooks=hooks_for(regression, splits=splits),
    )
    run_dir = result.run_dir
    merged = AutoModelForSequenceClassification.from_pretrained(run_dir / "model")
    assert merged.config.problem_type == "regression"
    logits = _logits(merged, run_dir / "model").squeeze(-1)
    adapted = Predictor(run_dir, result.hooks, adapter=True).predict([{"text": t} for t in TEXTS])
    assert torch.allclose(logits, torch.tensor([r["value"] for r in adapted]), atol=1e-4)
    assert 40 < float(logits.mean()) < 60  # original units, not standardised ones
    saved = load_file(run_dir / "adapter" / "adapter_model.safetensors")
    assert "base_model.model.classifier.weight" in saved
