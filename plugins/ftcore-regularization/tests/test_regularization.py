"""L1/L2 and L2-SP/L1-SP: the pure penalties, the θ₀ snapshot, and a tiny run."""

from __future__ import annotations

import csv

import pytest
import torch
from ftcore_devkit.testing import (
    MemoryDataset,
    StubComponent,
    base_recipe,
    recipe_problems,
    tiny_bert_config,
    tiny_splits,
)
from ftcore_regularization import anchor
from ftcore_regularization import plugin as reg
from ftcore_regularization.penalties import l1, l1_sp, l2, l2_sp
from ftcore_regularization.select import select
from omegaconf import OmegaConf

import ftcore

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tensors(seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(3, 4, generator=g), torch.randn(5, generator=g)]


def test_l2_sp_is_alpha_times_squared_distance_and_its_gradient_points_back():
    start = tensors(0)
    params = [t.clone().requires_grad_(True) for t in tensors(1)]
    alpha = 0.3
    term = l2_sp(params, start, alpha)
    distance2 = sum(((p - s) ** 2).sum() for p, s in zip(params, start))
    assert term.item() == pytest.approx(alpha * distance2.item(), rel=1e-6)
    term.backward()
    for p, s in zip(params, start):
        assert torch.allclose(p.grad, 2 * alpha * (p.detach() - s))  # away from θ₀...
    before = torch.cat([(p - s).flatten() for p, s in zip(params, start)]).norm()
    with torch.no_grad():
        after = torch.cat([(p - 0.1 * p.grad - s).flatten() for p, s in zip(params, start)])
    assert after.norm() < before  # ...so a descent step moves θ back toward θ₀


def test_other_penalties_values():
    params, start = tensors(1), tensors(0)
    assert l2(params, 0.5).item() == pytest.approx(0.5 * sum((p**2).sum() for p in params).item())
    assert l1(params, 0.5).item() == pytest.approx(0.5 * sum(p.abs().sum() for p in params).item())
    expected = 0.5 * sum((p - s).abs().sum() for p, s in zip(params, start))
    assert l1_sp(params, start, 0.5).item() == pytest.approx(expected.item())
    assert l2_sp(start, start, 1.0).item() == 0.0


NAMES = ["bert.emb.weight", "bert.layer.0.w", "bert.layer.0.bias", "bert.LayerNorm.weight", "cls.w"]
BACKBONE = set(NAMES[:4])


def test_select_by_part_and_regex():
    assert select(NAMES, BACKBONE, ["backbone"], False) == NAMES[:4]
    assert select(NAMES, BACKBONE, ["head"], False) == ["cls.w"]
    assert select(NAMES, BACKBONE, ["all"], True) == ["bert.emb.weight", "bert.layer.0.w", "cls.w"]
    assert select(NAMES, BACKBONE, [r"layer\.0", "head"], False) == NAMES[1:3] + ["cls.w"]


def tiny_classifier():
    from transformers import BertForSequenceClassification

    torch.manual_seed(0)
    return BertForSequenceClassification(
        tiny_bert_config(vocab_size=64, hidden_size=16, intermediate_size=32)
    )


def recipe_with(**strategies):
    """A recipe holding only validated ``strategies`` sections."""
    sections = {
        name: OmegaConf.merge(OmegaConf.structured(reg.SCHEMAS[name]), options)
        for name, options in strategies.items()
    }
    return OmegaConf.create({"strategies": sections})


def test_theta0_is_the_built_model_and_survives_loading_a_checkpoint():
    model = tiny_classifier()
    pretrained = {n: p.detach().clone() for n, p in model.named_parameters()}
    keys = set(model.state_dict())
    recipe = recipe_with(l2_sp={"alpha": 0.5})  # default: the backbone
    assert reg.ftcore_transform_model(model=model, recipe=recipe) is None  # modified in place
    assert set(model.state_dict()) == keys  # θ₀ is not saved in checkpoints or exports
    trained = {n: p + 0.01 * torch.randn_like(p) for n, p in model.state_dict().items()}
    model.load_state_dict(trained)  # what resuming from a checkpoint does
    penalties = anchor.find(model)
    backbone = [n for n in pretrained if n.startswith("bert.")]
    assert penalties.terms[0].names == backbone
    for name in backbone:
        assert torch.equal(penalties.reference(name), pretrained[name])
    expected = 0.5 * sum(((trained[n] - pretrained[n]) ** 2).sum() for n in backbone)
    [(name, value)] = penalties.compute()
    assert name == "l2_sp" and value.item() == pytest.approx(expected.item(), rel=1e-5)
    # transforming again (an already built model) keeps the first θ₀
    reg.ftcore_transform_model(model=model, recipe=recipe)
    assert torch.equal(anchor.find(model).reference(backbone[0]), pretrained[backbone[0]])


def test_frozen_parameters_leave_the_term():
    model = tiny_classifier()
    reg.ftcore_transform_model(model=model, recipe=recipe_with(l2={"apply_to": ["all"]}))
    model.bert.requires_grad_(False)
    [(_, value)] = anchor.find(model).compute()
    head = [
        p for n, p in model.named_parameters() if n.startswith("classifier.") and "bias" not in n
    ]
    assert value.item() == pytest.approx(1e-4 * sum((p**2).sum() for p in head).item())


class Check:
    """Recomputes α‖θ − θ₀‖² of the backbone before each step from the pretrained folder,
    and compares it with what core logged as ``train/l2_sp`` for that step."""

    def __init__(self, model_dir, alpha) -> None:
        self.model_dir, self.alpha, self.pairs = model_dir, alpha, []

    @ftcore.hookimpl
    def ftcore_lightning_callbacks(self, recipe, run):
        import lightning as L
        from transformers import BertModel

        start = dict(BertModel.from_pretrained(self.model_dir).named_parameters())
        check = self

        class _Check(L.Callback):
            def on_train_batch_start(self, trainer, module, batch, batch_idx):
                params = dict(module.model.bert.named_parameters())
                self.manual = check.alpha * sum(
                    ((params[n].detach() - start[n].detach()) ** 2).sum() for n in params
                )

            def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
                logged = trainer.callback_metrics["train/l2_sp"].item()
                check.pairs.append((self.manual.item(), logged))

        return [_Check()]


def test_terms_are_logged_and_equal_the_penalty_in_a_run(run_recipe, tiny_model_dir):
    check = Check(tiny_model_dir, alpha=0.5)
    overrides = [
        "strategies.l2_sp.alpha=0.5",
        "strategies.l2_sp.apply_to=[backbone]",
        "strategies.l2.alpha=0.01",
        "strategies.l2.apply_to=[head]",
    ]
    result = run_recipe(
        overrides, plugins=[check], rows=tiny_splits(train=32, validation=8, test=8)
    )
    assert len(check.pairs) == 4
    assert check.pairs[0] == (0.0, 0.0)  # θ starts at θ₀
    for manual, logged in check.pairs[1:]:
        assert logged > 0 and logged == pytest.approx(manual, rel=1e-4)
    with open(result.run_dir / "logs" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert any(r["train/l2"] for r in rows) and any(r["train/task_loss"] for r in rows)
    from safetensors import safe_open

    with safe_open(result.run_dir / "model" / "model.safetensors", "pt") as f:
        assert not [k for k in f.keys() if "ftcore" in k or ".ref" in k]


def test_validate_reports_bad_combinations(tiny_model_dir):
    found = recipe_problems(
        base_recipe(tiny_model_dir),
        ["strategies.l2_sp.alpha=0.01", "strategies.lora={}"],
        plugins=[MemoryDataset({}), StubComponent("strategy", "lora")],
        disable=["lora"],
    )
    assert found == ["strategies: 'l2_sp' cannot be combined with 'lora'; remove one of them"]
    found = recipe_problems(
        base_recipe(tiny_model_dir),
        ["strategies.l2.apply_to=[all]", "strategies.l2_sp.apply_to=[backbone, '(']"],
        plugins=[MemoryDataset({})],
        disable=["lora"],
    )
    assert [p.split(":")[0] for p in found] == [
        "strategies.l2_sp.apply_to[1]",
        "strategies.l2.apply_to",
    ]
    assert "also covers the backbone that l2_sp pulls toward the pretrained weights" in found[1]
