"""Running the sweep with Lightning's LR finder (``Tuner.lr_find``).

Lightning saves the model, optimizer and loop state to a temporary checkpoint, trains
``num_steps`` steps with an exponentially growing learning rate (the same rate for every
parameter group; its own callbacks replace the Trainer's during the sweep), and restores
everything afterwards. We record the raw loss of every training step ourselves (Lightning
keeps only its own smoothed curve), keep the RNG states unchanged, and reset the
module's metric states, so that training afterwards is as if no sweep had run.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

SWEEP_EPOCHS = 1_000_000
"""Lets a sweep run through as many epochs as its steps need (small training sets)."""


@dataclass
class Sweep:
    """What one LR range test measured."""

    lrs: list[float]
    losses: list[float]
    lightning_suggestion: float | None


def run_sweep(trainer: Any, module: Any, datamodule: Any, options: Any) -> Sweep:
    """Sweep from ``options.min_lr`` to ``options.max_lr`` in ``options.num_steps`` steps."""
    from lightning.pytorch.tuner import Tuner

    with _recording(module) as losses, _rng_kept(), _epochs(trainer):
        finder = Tuner(trainer).lr_find(
            module,
            datamodule=datamodule,
            min_lr=options.min_lr,
            max_lr=options.max_lr,
            num_training=options.num_steps,
            mode="exponential",
            early_stop_threshold=options.early_stop_threshold,
            update_attr=False,
        )
    _reset_metrics(module)
    if finder is None:  # Lightning skips the finder in fast_dev_run
        return Sweep([], [], None)
    lrs = [float(lr) for lr in finder.results["lr"]]
    per_step = _per_step(losses, trainer.accumulate_grad_batches)
    n = min(len(lrs), len(per_step))
    try:
        suggestion = finder.suggestion()
    except Exception:  # too few points for Lightning's own method
        suggestion = None
    return Sweep(lrs[:n], per_step[:n], suggestion)


def _per_step(losses: list[float], accumulate: int) -> list[float]:
    """The mean loss of each optimiser step's micro-batches."""
    chunks = [losses[i : i + accumulate] for i in range(0, len(losses), accumulate)]
    return [sum(c) / len(c) for c in chunks if len(c) == accumulate]


@contextmanager
def _recording(module: Any) -> Iterator[list[float]]:
    """Record the loss each ``training_step`` returns (NaN for a skipped batch)."""
    losses: list[float] = []
    step = module.training_step

    def recorded(*args: Any, **kwargs: Any) -> Any:
        out = step(*args, **kwargs)
        loss = out.get("loss") if isinstance(out, dict) else out
        losses.append(float(loss.detach()) if loss is not None else float("nan"))
        return out

    module.training_step = recorded
    try:
        yield losses
    finally:
        del module.training_step  # back to the class's method


@contextmanager
def _rng_kept() -> Iterator[None]:
    """Leave the torch (CPU and CUDA) and Python RNGs as they were before the sweep."""
    import torch

    state = random.getstate()
    with torch.random.fork_rng():
        yield
    random.setstate(state)


@contextmanager
def _epochs(trainer: Any) -> Iterator[None]:
    loop = trainer.fit_loop
    before = loop.max_epochs
    loop.max_epochs = SWEEP_EPOCHS
    try:
        yield
    finally:
        loop.max_epochs = before


def _reset_metrics(module: Any) -> None:
    """Forget what the sweep's batches added to the module's metric states."""
    from torchmetrics import Metric

    for child in module.modules():
        if isinstance(child, Metric):
            child.reset()
    pending = getattr(module, "_train_batches", None)  # FtModule's batched train-metric inputs
    if isinstance(pending, list):
        pending.clear()
