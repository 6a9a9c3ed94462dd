"""The LR finder on a toy problem with a known good rate, `optim.lr: auto`, `ftcore lr-find`."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import lightning as L
import pytest
import torch
from ftcore_devkit.testing import (
    MemoryDataset,
    base_recipe,
    build_hooks,
    execute_recipe,
    make_rows,
    tiny_splits,
)
from ftcore_lr_finder.curve import analyse
from ftcore_lr_finder.sweep import run_sweep
from safetensors.torch import load_file

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- a toy problem: 4 noisy Gaussian clusters, a small MLP, Adam -----------------------

D, K, ROWS, BATCH, STEPS = 16, 4, 4096, 64, 100


def toy_data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(123)
    centres = torch.randn(K, D, generator=g)
    y = torch.randint(0, K, (ROWS,), generator=g)
    return centres[y] + 2.0 * torch.randn(ROWS, D, generator=g), y


def toy_loader(x, y, seed: int) -> torch.utils.data.DataLoader:
    data = torch.utils.data.TensorDataset(x, y)
    generator = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(data, batch_size=BATCH, shuffle=True, generator=generator)


class Toy(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(D, 32), torch.nn.Tanh(), torch.nn.Linear(32, K)
        )
        torch.nn.init.zeros_(self.net[2].weight)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.cross_entropy(self.net(x), y)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


def loss_after_training(lr: float, x, y) -> float:
    """Full-data loss after STEPS Adam steps at a constant ``lr``."""
    torch.manual_seed(0)
    model = Toy()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    step, epoch = 0, 0
    while step < STEPS:
        for xb, yb in toy_loader(x, y, epoch):
            loss = model.training_step((xb, yb), step)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if step == STEPS:
                break
        epoch += 1
    with torch.no_grad():
        value = model.training_step((x, y), 0).item()
    return value if math.isfinite(value) else math.inf


def test_suggestion_is_near_the_known_good_rate_and_lightnings(tmp_path):
    x, y = toy_data()
    grid = [10 ** (e / 4) for e in range(-16, 1)]  # 1e-4 .. 1, four per decade
    known_good = min(grid, key=lambda lr: loss_after_training(lr, x, y))
    assert 1e-3 < known_good < 1e-1  # the grid has a clear optimum inside it

    class Data(L.LightningDataModule):
        def train_dataloader(self):
            return toy_loader(x, y, 0)

    torch.manual_seed(0)
    trainer = L.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        default_root_dir=tmp_path,
    )
    model = Toy()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    options = SimpleNamespace(min_lr=1e-6, max_lr=10.0, num_steps=STEPS, early_stop_threshold=4.0)
    sweep = run_sweep(trainer, model, Data(), options)
    curve = analyse(sweep.lrs, sweep.losses, beta=0.8, requested=STEPS)
    ours, lightning = curve.suggestions["steepest"], sweep.lightning_suggestion
    assert curve.reliable, curve.reasons
    assert known_good / 3 <= ours <= known_good * 3, (ours, known_good)
    assert lightning / 3 <= ours <= lightning * 3, (ours, lightning)
    for name, tensor in model.state_dict().items():  # Lightning restored the model
        assert torch.equal(tensor, before[name]), name


# --- on a recipe ---------------------------------------------------------------------------

SPLITS = tiny_splits(train=32, validation=8, test=8)
FINDER = ["strategies.lr_finder.num_steps=20", "strategies.lr_finder.max_lr=0.1"]


def test_optim_lr_auto_trains_exactly_as_with_the_suggestion(tmp_path, tiny_model_dir):
    recipe = base_recipe(tiny_model_dir)
    hooks = build_hooks([MemoryDataset(SPLITS)])
    auto = execute_recipe(recipe, tmp_path / "auto", ["optim.lr=auto", *FINDER], hooks=hooks)
    report = json.loads((auto.run_dir / "lr_find.json").read_text())
    assert report["requested_lr"] == "auto" and report["method"] == "steepest"
    assert (auto.run_dir / "lr_find.png").stat().st_size > 10_000
    assert len(report["curve"]["lr"]) == len(report["curve"]["loss"]) > 3
    chosen = report["lr_used"]
    assert chosen == report["suggestion"]  # on_unreliable: warn keeps the suggestion
    assert auto.recipe.optim.lr == chosen
    # the sweep left no trace: the same recipe with that number trains identically
    hooks = build_hooks([MemoryDataset(SPLITS)])
    plain = execute_recipe(recipe, tmp_path / "plain", [f"optim.lr={chosen!r}"], hooks=hooks)
    ours = load_file(auto.run_dir / "model" / "model.safetensors")
    theirs = load_file(plain.run_dir / "model" / "model.safetensors")
    for name in theirs:
        assert torch.equal(ours[name], theirs[name]), name
    assert auto.summary["test"] == plain.summary["test"]


def test_cli_lr_find_prints_suggestion_flag_and_plot(tmp_path, tiny_model_dir, capsys):
    from ftcore.cli import main

    rows = "\n".join(json.dumps(r) for r in make_rows(48))
    (tmp_path / "train.jsonl").write_text(rows + "\n")
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(
        "task: classification\n"
        f"model: {{name: {tiny_model_dir}}}\n"
        f"data: {{source: jsonl, options: {{path: {tmp_path / 'train.jsonl'}}}, batch_size: 8}}\n"
        "trainer: {accelerator: cpu, devices: '1', progress_bar: false}\n"
    )
    out = tmp_path / "found"
    assert main(["lr-find", str(recipe), *FINDER, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "suggestion (steepest): " in printed
    assert "reliable: " in printed
    assert f"plot: {out / 'lr_find.png'}" in printed
    assert (out / "lr_find.png").is_file() and (out / "lr_find.json").is_file()


def test_validate_checks_the_finder_options(tiny_model_dir):
    from omegaconf import OmegaConf

    from ftcore.errors import RecipeError
    from ftcore.recipe.loader import apply_overrides
    from ftcore.recipe.validate import validate

    overrides = ["strategies.lr_finder.max_lr=1e-8", "strategies.lr_finder.on_unreliable=fallback"]
    raw = apply_overrides(OmegaConf.create(base_recipe(tiny_model_dir)), overrides)
    with pytest.raises(RecipeError) as info:
        validate(raw, build_hooks([MemoryDataset(SPLITS)]), source="test", default_name="test")
    assert info.value.problems == [
        "strategies.lr_finder.max_lr: must be larger than min_lr",
        "strategies.lr_finder.fallback_lr: on_unreliable=fallback needs it",
    ]


def test_what_an_unreliable_curve_does():
    from ftcore_lr_finder.finder import choose

    from ftcore.errors import UserError

    facts = {"suggestion": 3e-4, "reliable": False, "reasons": ["flat: ..."], "plot": "p.png"}
    policy = dict(on_unreliable="warn", fallback_lr=None)
    assert choose(facts, SimpleNamespace(**policy))[0] == 3e-4
    policy.update(on_unreliable="fallback", fallback_lr=5e-5)
    assert choose(facts, SimpleNamespace(**policy)) == (
        5e-5,
        "fallback_lr (curve unreliable: flat: ...)",
    )
    with pytest.raises(UserError, match="the LR range test is unreliable .flat: ....; see p.png"):
        choose(facts, SimpleNamespace(on_unreliable="error", fallback_lr=None))
    assert choose({**facts, "reliable": True}, SimpleNamespace(**policy)) == (3e-4, "suggestion")


def test_a_resumed_auto_run_reuses_its_rate(tmp_path):
    from ftcore_lr_finder.plugin import _earlier_choice

    report = tmp_path / "lr_find.json"
    report.write_text(json.dumps({"lr_used": 2e-4}))
    assert _earlier_choice(report, tmp_path) is None  # no checkpoint: a new run sweeps
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    assert _earlier_choice(report, tmp_path) == 2e-4
