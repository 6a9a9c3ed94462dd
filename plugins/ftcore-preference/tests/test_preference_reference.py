"""Where the reference comes from: the adapter-disabled base with LoRA (no second copy),
else the pretrained model's log-probabilities computed once, which a resumed run reads
back."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from ftcore_devkit.testing import MemoryDataset, assert_same_training_state, build_hooks
from ftcore_preference import encoding, losses, modeling, reference
from ftcore_preference.schema import PreferenceConfig
from preference_helpers import (
    conversational,
    preference_recipe,
    preference_rows,
    preference_splits,
)
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

from ftcore.api import setup_run

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SPLITS = ("train", "validation", "test")


def _batch(model_dir, rows):
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    features = encoding.encode(rows, tokenizer, 64, PreferenceConfig())
    return losses.collate(features, encoding.pad_id(tokenizer))


def _base_logps(model_dir, batch):
    base = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    with torch.no_grad():
        return losses.halves(losses.sequence_logps(base, batch)[0])


def test_lora_reference_is_the_adapter_disabled_base(tiny_causal_lm_dir):
    from peft import LoraConfig, get_peft_model

    model = AutoModelForCausalLM.from_pretrained(tiny_causal_lm_dir)
    config = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.1, target_modules=["q_proj", "v_proj"])
    model = get_peft_model(model, config).train()
    with torch.no_grad():  # a trained adapter: the policy is no longer the base
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    batch = _batch(tiny_causal_lm_dir, preference_rows(4))
    options = PreferenceConfig()
    constructed = []
    original = LlamaForCausalLM.__init__

    def counting(self, *args, **kwargs):
        constructed.append(1)
        original(self, *args, **kwargs)

    LlamaForCausalLM.__init__ = counting
    try:
        found = modeling.pair_scores(model, batch, options, "train")
    finally:
        LlamaForCausalLM.__init__ = original
    assert not constructed  # no second model was built for the reference
    expected = _base_logps(tiny_causal_lm_dir, batch)
    torch.testing.assert_close(found.ref_chosen, expected[0])
    torch.testing.assert_close(found.ref_rejected, expected[1])
    assert not torch.allclose(found.chosen, expected[0])  # the policy does differ
    assert found.chosen.requires_grad and not found.ref_chosen.requires_grad
    assert all(m.training for m in model.modules())  # train mode restored after the reference


def test_a_lora_run_steps_with_the_adapter_disabled_and_no_copy(
    run_recipe, tiny_causal_lm_dir, monkeypatch
):
    from peft import PeftModel

    calls, built = [], []
    disable = PeftModel.disable_adapter
    init = LlamaForCausalLM.__init__

    def spy(self):
        calls.append(1)
        return disable(self)

    def counting(self, *args, **kwargs):
        built.append(1)
        init(self, *args, **kwargs)

    monkeypatch.setattr(PeftModel, "disable_adapter", spy)
    monkeypatch.setattr(LlamaForCausalLM, "__init__", counting)
    recipe = preference_recipe(tiny_causal_lm_dir)
    recipe["strategies"] = {"lora": {"r": 4, "alpha": 8}}
    result = run_recipe(recipe=recipe, rows=preference_splits())
    steps = result.summary["steps_trained"]
    assert built == [1]  # the policy only: no reference copy
    # a reference pass per training batch, per validation batch and per test batch
    assert len(calls) >= steps + 2
    assert not (result.run_dir / reference.FILE).exists()
    assert (result.run_dir / "adapter").is_dir()
    assert 0.0 <= result.test["test/reward_accuracy"] <= 1.0


def test_precomputed_reference_is_the_pretrained_models(tmp_path, tiny_causal_lm_dir):
    splits = preference_splits()
    recipe = preference_recipe(tiny_causal_lm_dir)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    hooks = build_hooks([MemoryDataset(splits)])
    run = setup_run(str(path), run_dir=tmp_path / "run", hooks=hooks, trainer=True)
    run.head.run_start(run=run, options=run.head_options)
    stored = json.loads((tmp_path / "run" / reference.FILE).read_text())
    for split in SPLITS:
        features = run.datamodule.features[split]
        expected = _base_logps(tiny_causal_lm_dir, _batch(tiny_causal_lm_dir, splits[split]))
        got = torch.tensor([[f["ref_chosen"], f["ref_rejected"]] for f in features])
        torch.testing.assert_close(got, torch.stack(expected, dim=-1))
        assert stored["splits"][split]["chosen"] == [f["ref_chosen"] for f in features]
        batch = run.datamodule.collate(features[:3])  # collate carries them to the step
        torch.testing.assert_close(batch["ref_chosen"], expected[0][:3])


def test_precomputed_reference_equals_trls(tmp_path, tiny_causal_lm_dir):
    """TRL's precompute_ref_log_probs on the same model and rows gives the same numbers."""
    datasets = pytest.importorskip("datasets")
    from trl import DPOConfig, DPOTrainer

    rows = preference_rows(6)
    model = AutoModelForCausalLM.from_pretrained(tiny_causal_lm_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_causal_lm_dir)
    args = DPOConfig(
        output_dir=str(tmp_path / "trl"),
        report_to=[],
        use_cpu=True,
        bf16=False,
        max_length=None,
        precompute_ref_log_probs=True,
    )
    trainer = DPOTrainer(
        model=model,
        args=args,
        train_dataset=datasets.Dataset.from_list(conversational(rows)),
        processing_class=tokenizer,
    )
    splits = {"train": rows, "validation": rows[:2], "test": rows[:2]}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(preference_recipe(tiny_causal_lm_dir)))
    hooks = build_hooks([MemoryDataset(splits)])
    run = setup_run(str(path), run_dir=tmp_path / "run", hooks=hooks, trainer=True)
    found = reference.compute(run)["train"]
    theirs = trainer.train_dataset
    torch.testing.assert_close(
        torch.tensor(found["chosen"]), torch.tensor(theirs["ref_chosen_logps"]), atol=1e-4, rtol=0
    )
    torch.testing.assert_close(
        torch.tensor(found["rejected"]),
        torch.tensor(theirs["ref_rejected_logps"]),
        atol=1e-4,
        rtol=0,
    )


def test_resumed_run_reads_the_reference_and_ends_as_an_uninterrupted_one(
    run_recipe, resume_recipe, tiny_causal_lm_dir, monkeypatch
):
    recipe = preference_recipe(tiny_causal_lm_dir)
    recipe["trainer"]["max_epochs"] = 2
    splits = preference_splits()
    whole = run_recipe(recipe=recipe, rows=splits)
    crashed = run_recipe(recipe=recipe, rows=splits, crash_at_step=5)
    assert crashed.crashed_at == 5 and (crashed.run_dir / reference.FILE).is_file()

    def fail(run):
        raise AssertionError("the resumed run computed the reference again")

    monkeypatch.setattr(reference, "compute", fail)
    resumed = resume_recipe(crashed.run_dir, rows=splits)
    assert resumed.test == whole.test
    assert_same_training_state(whole.run_dir, resumed.run_dir)


def test_reference_of_other_data_is_computed_again(tmp_path, tiny_causal_lm_dir):
    stale = {"format": reference.FORMAT, "fingerprint": "other", "splits": {}}
    path = tmp_path / reference.FILE
    path.write_text(json.dumps(stale))
    assert reference.read(path, "mine", {"train": 1}) is None
    good = {"chosen": [-1.0], "rejected": [-2.0]}
    fitting = {"format": reference.FORMAT, "fingerprint": "mine", "splits": {"train": good}}
    path.write_text(json.dumps(fitting))
    assert reference.read(path, "mine", {"train": 1}) == {"train": good}
    assert reference.read(path, "mine", {"train": 2}) is None  # another number of pairs
    path.write_text("{not json")
    assert reference.read(path, "mine", {"train": 1}) is None
