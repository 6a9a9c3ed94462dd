"""Framework overhead: per-step time of one training setup written five ways.

Run by ``bench.run``; each side is one process: ``python -m bench.overhead SIDE --model DIR
--warmup W --steps N --threads T [--device cuda] --out FILE``.

Every side trains the same tiny BERT (``bench.tiny``) on the same rows (batch 8, exactly
32 tokens each) with the same optimisation: fused AdamW, lr 1e-3, weight decay 0.01 except
biases and LayerNorm weights, a linear decay stepped every step, gradient-norm clipping at
1.0, ``torch.set_num_threads(T)``. The clock stamps the end of every step; the first W
steps are a warm-up, the next N are timed (mean = window time / N; median step).
With ``--device cuda`` every side trains on the GPU and the clock calls
``torch.cuda.synchronize()`` before each stamp, so a step ends when its kernels have run.

Sides:
  plain          a hand-written PyTorch loop (HF DataCollatorWithPadding, the model's loss)
  lightning      a minimal LightningModule (training_step returns the loss and logs it
                 with self.log; configure_optimizers as above), Trainer defaults otherwise
                 (CSVLogger, log_every_n_steps=50, no checkpointing, no progress bar)
  ftcore         ``ftcore run`` of a recipe with no strategies (defaults: CSV and
                 TensorBoard loggers, checkpointing, NaN guard, log_every_n_steps=10)
  ftcore_strategies  the same plus gradual_unfreezing (unit step, every 1: all groups train
                 after step 3, before the timed window), l2_sp (alpha 0.01) and
                 early_stopping, so their per-step cost is what is timed
  hf_trainer     transformers' Trainer (optim adamw_torch_fused, logging_steps default 500,
                 save_strategy no, report_to none)
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from bench.common import StepClock, write_json
from bench.tiny import features, rows

SIDES = ["plain", "lightning", "ftcore", "ftcore_strategies", "hf_trainer"]
LR, WEIGHT_DECAY, CLIP = 1e-3, 0.01, 1.0


def _data(args: argparse.Namespace) -> tuple[Any, list[dict]]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    return tokenizer, features(tokenizer, rows(total_steps(args) * args.batch), args.seq)


def total_steps(args: argparse.Namespace) -> int:
    return args.warmup + args.steps


def _model(args: argparse.Namespace) -> Any:
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging

    logging.set_verbosity_error()
    model = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=2)
    return model.train()


def _loader(args: argparse.Namespace, tokenizer: Any, data: list[dict]) -> Any:
    """The shuffled, padded training batches every hand-written side iterates (seeded)."""
    import torch
    from torch.utils.data import DataLoader
    from transformers import DataCollatorWithPadding

    return DataLoader(
        data,
        batch_size=args.batch,
        shuffle=True,
        collate_fn=DataCollatorWithPadding(tokenizer),
        generator=torch.Generator().manual_seed(0),
    )


def _optimizer(model: Any, total: int) -> tuple[Any, Any]:
    """Fused AdamW with decay / no-decay groups and a linear decay: ftcore's defaults."""
    import torch

    from ftcore.module import default_param_groups

    groups = default_param_groups(model, LR, WEIGHT_DECAY)
    optimizer = torch.optim.AdamW(groups, lr=LR, weight_decay=WEIGHT_DECAY, fused=True)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, 1 - step / total))
    return optimizer, schedule


def side_plain(args: argparse.Namespace, clock: StepClock) -> None:
    import torch

    tokenizer, data = _data(args)
    model = _model(args).to(args.device)
    loader = _loader(args, tokenizer, data)
    optimizer, schedule = _optimizer(model, total_steps(args))
    for batch in loader:
        if args.device != "cpu":
            batch = {k: v.to(args.device, non_blocking=True) for k, v in batch.items()}
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        clock.tick()


def _clock_callback(clock: StepClock) -> Any:
    import lightning as L

    class Clock(L.Callback):
        def on_train_batch_end(self, *args: Any) -> None:
            clock.tick()

    return Clock()


def side_lightning(args: argparse.Namespace, clock: StepClock) -> None:
    import lightning as L
    from lightning.pytorch.loggers import CSVLogger

    tokenizer, data = _data(args)
    total = total_steps(args)

    class Bare(L.LightningModule):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            loss = self.model(**batch).loss
            self.log("train_loss", loss)
            return loss

        def configure_optimizers(self) -> Any:
            optimizer, schedule = _optimizer(self.model, total)
            return {
                "optimizer": optimizer,
                "lr_scheduler": {"scheduler": schedule, "interval": "step"},
            }

    loader = _loader(args, tokenizer, data)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = L.Trainer(
            max_steps=total,
            accelerator=args.device,
            devices=1,
            gradient_clip_val=CLIP,
            logger=CSVLogger(tmp),
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            callbacks=[_clock_callback(clock)],
        )
        trainer.fit(Bare(_model(args)), train_dataloaders=loader)


def _ftcore(args: argparse.Namespace, clock: StepClock, strategies: dict | None) -> None:
    from ftcore_devkit.testing import MemoryDataset, base_recipe, execute_recipe

    import ftcore

    class ClockPlugin:
        @ftcore.hookimpl
        def ftcore_lightning_callbacks(self, recipe: Any, run: Any) -> list[Any]:
            return [_clock_callback(clock)]

    total = total_steps(args)
    splits = {"train": rows(total * args.batch), "validation": rows(16, 1), "test": rows(16, 2)}
    recipe = base_recipe(Path(args.model))
    recipe["data"].update(batch_size=args.batch, max_length=args.seq, eval_batch_size=16)
    recipe["optim"] = {"lr": LR, "weight_decay": WEIGHT_DECAY, "grad_clip": CLIP}
    recipe["trainer"] = {
        "max_epochs": 1,
        "accelerator": args.device,
        "devices": "1",
        "progress_bar": False,
        "num_threads": args.threads,
    }
    if strategies:
        recipe["strategies"] = strategies
    with tempfile.TemporaryDirectory() as tmp:
        execute_recipe(
            recipe, Path(tmp) / "run", args.set, plugins=[MemoryDataset(splits), ClockPlugin()]
        )


def side_ftcore(args: argparse.Namespace, clock: StepClock) -> None:
    _ftcore(args, clock, None)


STRATEGIES = {
    "gradual_unfreezing": {"unit": "step", "every": 1},
    "l2_sp": {"alpha": 0.01},
    "early_stopping": {"patience": 3},
}


def side_ftcore_strategies(args: argparse.Namespace, clock: StepClock) -> None:
    names = args.strategies.split(",") if args.strategies else list(STRATEGIES)
    _ftcore(args, clock, {n: STRATEGIES[n] for n in names})


def side_hf_trainer(args: argparse.Namespace, clock: StepClock) -> None:
    from transformers import DataCollatorWithPadding, Trainer, TrainerCallback, TrainingArguments

    tokenizer, data = _data(args)

    class Clock(TrainerCallback):
        def on_step_end(self, *a: Any, **k: Any) -> None:
            clock.tick()

    with tempfile.TemporaryDirectory() as tmp:
        training = TrainingArguments(
            output_dir=tmp,
            max_steps=total_steps(args),
            per_device_train_batch_size=args.batch,
            learning_rate=LR,
            weight_decay=WEIGHT_DECAY,
            max_grad_norm=CLIP,
            lr_scheduler_type="linear",
            optim="adamw_torch_fused",
            save_strategy="no",
            report_to="none",
            use_cpu=args.device == "cpu",
            disable_tqdm=True,
            seed=0,
        )
        trainer = Trainer(
            model=_model(args),
            args=training,
            train_dataset=data,
            data_collator=DataCollatorWithPadding(tokenizer),
            callbacks=[Clock()],
        )
        trainer.train()


def installed_strategies() -> list[str]:
    """Which of the strategies the ftcore_strategies side needs are installed."""
    from ftcore_devkit.testing import build_hooks

    return [n for n in STRATEGIES if n in build_hooks().names("strategy")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("side", choices=SIDES)
    parser.add_argument("--model", required=True)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--strategies", help="ftcore_strategies: a subset, comma-separated")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=32)
    parser.add_argument(
        "--set", action="append", default=[], help="ftcore recipe override KEY=VALUE"
    )
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    sync = torch.cuda.synchronize if args.device == "cuda" else None
    clock = StepClock(args.warmup, sync)
    globals()[f"side_{args.side}"](args, clock)
    write_json(args.out, {"side": args.side, **clock.result()})


if __name__ == "__main__":
    main()
