"""The head against TRL 1.x as an oracle: the same tokens, log-probabilities and losses.

TRL's ``DPOTrainer`` is built on the same tiny policy and reference models and the same
rows (in its conversational format); its ``compute_loss`` gives the DPO/IPO loss of a
batch its own collator made, and its ``compute_ref_log_probs`` the per-sequence
log-probabilities. SimPO is checked against TRL's ``CPOTrainer.cpo_loss``.
"""

from __future__ import annotations

import types

import pytest
import torch
from ftcore_preference import encoding, losses
from ftcore_preference.losses import PairScores
from ftcore_preference.plugin import PreferenceHead
from ftcore_preference.schema import Loss, PreferenceConfig
from preference_helpers import conversational, perturb, preference_rows
from transformers import AutoModelForCausalLM, AutoTokenizer

trl = pytest.importorskip("trl")
datasets = pytest.importorskip("datasets")

ROWS = preference_rows(6)
TRL_LOSS = {"dpo": "sigmoid", "ipo": "ipo"}


def _trainer(policy, reference, tokenizer, tmp_path, loss: str, beta: float):
    from trl import DPOConfig, DPOTrainer

    args = DPOConfig(
        output_dir=str(tmp_path / "trl"),
        beta=beta,
        loss_type=[TRL_LOSS[loss]],
        report_to=[],
        use_cpu=True,
        bf16=False,  # TRL defaults to bf16 autocast; compare in float32
        max_length=None,
    )
    dataset = datasets.Dataset.from_list(conversational(ROWS))
    return DPOTrainer(
        model=policy,
        ref_model=reference,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
    )


@pytest.fixture
def models(tiny_causal_lm_dir, other_causal_lm_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_causal_lm_dir)
    policy = perturb(AutoModelForCausalLM.from_pretrained(tiny_causal_lm_dir)).eval()
    reference = AutoModelForCausalLM.from_pretrained(other_causal_lm_dir).eval()
    return tokenizer, policy, reference


def _ours(tokenizer, options):
    features = encoding.encode(ROWS, tokenizer, 256, options)
    return features, losses.collate(features, encoding.pad_id(tokenizer))


def test_tokens_and_batch_are_trls(models, tmp_path):
    tokenizer, policy, reference = models
    trainer = _trainer(policy, reference, tokenizer, tmp_path, "dpo", 0.1)
    features, batch = _ours(tokenizer, PreferenceConfig())
    theirs = trainer.train_dataset
    for f, t in zip(features, theirs):
        start = f["prompt_length"]
        assert f["input_ids"][:start] == t["prompt_ids"]
        assert f["input_ids"][start:] == t["chosen_ids"]
        assert f["rejected_ids"][start:] == t["rejected_ids"]
    inputs = trainer.data_collator([theirs[i] for i in range(len(ROWS))])
    assert torch.equal(batch["input_ids"], inputs["input_ids"])
    assert torch.equal(batch["attention_mask"], inputs["attention_mask"])
    # our labels are the tokens where TRL's completion mask is 1, -100 elsewhere
    expected = inputs["input_ids"].masked_fill(inputs["completion_mask"] == 0, -100)
    assert torch.equal(batch["labels"], expected)


@pytest.mark.parametrize("loss", ["dpo", "ipo"])
def test_logps_and_loss_equal_trls(models, tmp_path, loss):
    tokenizer, policy, reference = models
    beta = 0.1
    trainer = _trainer(policy, reference, tokenizer, tmp_path, loss, beta)
    inputs = trainer.data_collator([trainer.train_dataset[i] for i in range(len(ROWS))])
    with torch.no_grad():
        trl_loss = trainer.compute_loss(trainer.model, inputs)
        trl_policy = trainer.compute_ref_log_probs(trainer.model, inputs)
        trl_reference = trainer.compute_ref_log_probs(trainer.ref_model, inputs)

    options = PreferenceConfig(loss=Loss(loss), beta=beta)
    features, batch = _ours(tokenizer, options)
    with torch.no_grad():
        ours_policy = losses.halves(losses.sequence_logps(policy, batch)[0])
        ours_reference = losses.halves(losses.sequence_logps(reference, batch)[0])
    for mine, theirs in zip(ours_policy + ours_reference, trl_policy + trl_reference):
        torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-4)
    # prompt tokens are masked: the sum is over the response tokens only
    tokens = losses.halves((batch["labels"][:, 1:] != -100).sum(-1))
    assert tokens[0].tolist() == [len(f["input_ids"]) - f["prompt_length"] for f in features]

    # the head's step, with the reference's log-probabilities carried by the batch
    batch["ref_chosen"], batch["ref_rejected"] = ours_reference
    with torch.no_grad():
        out = PreferenceHead().step(
            model=policy, batch=batch, info=None, options=options, stage="train"
        )
    torch.testing.assert_close(out.loss, trl_loss, rtol=1e-5, atol=1e-5)
    assert abs(float(out.loss) - 0.6931) > 1e-3 or loss == "ipo"  # not the trivial log 2


def test_logits_are_taken_from_the_first_response_on(models, monkeypatch):
    tokenizer, policy, _ = models
    _, batch = _ours(tokenizer, PreferenceConfig())
    starts = {f["prompt_length"] for f in encoding.encode(ROWS, tokenizer, 256, PreferenceConfig())}
    assert len(starts) == 2  # prompts of two lengths in one batch
    assert losses.first_response(batch["labels"]) == min(starts)
    calls = []
    forward = type(policy).forward

    def spy(self, *args, **kwargs):
        calls.append(kwargs.get("logits_to_keep"))
        return forward(self, *args, **kwargs)

    monkeypatch.setitem(losses._KEEPS, type(policy), True)  # looked up before the spy
    monkeypatch.setattr(type(policy), "forward", spy)
    with torch.no_grad():
        short = losses.sequence_logps(policy, batch)
        monkeypatch.setitem(losses._KEEPS, type(policy), False)  # a model without the option
        full = losses.sequence_logps(policy, batch)
    assert calls == [batch["input_ids"].shape[1] - min(starts) + 1, None]
    torch.testing.assert_close(short[0], full[0], rtol=1e-5, atol=1e-4)
    assert torch.equal(short[1], full[1])


def test_simpo_loss_equals_cpo_trainers():
    from trl.experimental.cpo import CPOTrainer

    generator = torch.Generator().manual_seed(0)
    chosen = -torch.rand(5, generator=generator) * 40
    rejected = -torch.rand(5, generator=generator) * 40
    chosen_n, rejected_n = torch.tensor([9, 12, 7, 20, 15]), torch.tensor([11, 6, 7, 18, 30])
    beta, gamma = 2.0, 0.8
    scores = PairScores(chosen, rejected, chosen_n, rejected_n)
    fake = types.SimpleNamespace(
        alpha=0.0,
        loss_type="simpo",
        simpo_gamma=gamma,
        beta=beta,
        label_smoothing=0.0,
        accelerator=types.SimpleNamespace(device=torch.device("cpu")),
    )
    # CPO's simpo takes the average log-probability per token (average_log_prob=True)
    expected, exp_chosen, exp_rejected = CPOTrainer.cpo_loss(
        fake, chosen / chosen_n, rejected / rejected_n
    )
    torch.testing.assert_close(losses.simpo_loss(scores, beta, gamma), expected)
    rewards = losses.rewards(scores, "simpo", beta)
    torch.testing.assert_close(rewards[0], exp_chosen)
    torch.testing.assert_close(rewards[1], exp_rejected)
