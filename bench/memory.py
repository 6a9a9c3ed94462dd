"""The plain PyTorch side of the memory benchmark: ``python -m bench.memory RECIPE [KEY=VALUE
...] --out FILE``.

It trains on exactly the batches ``ftcore run RECIPE`` trains on: the same rows, encoding,
collation and length-grouped order (ftcore's data preparation, which imports neither
Lightning nor torchmetrics), one epoch with the same optimiser, schedule and clipping,
then evaluates the validation and test splits, like a run. No Lightning, no loggers, no
checkpoints. The orchestrator reads its peak RSS from ``wait4``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def batches(run: Any, split: str, size: int, order: list[int]) -> Any:
    collate, options = run.head.collate, run.head_options
    features = run.features[split]
    for start in range(0, len(order), size):
        chunk = [features[i] for i in order[start : start + size]]
        yield collate(features=chunk, tokenizer=run.tokenizer, info=run.info, options=options)


def epoch_order(lengths: list[int], batch_size: int, seed: int, grouped: bool) -> list[int]:
    """ftcore's epoch-0 order (``ftcore.data.datamodule.epoch_order``), without Lightning."""
    import torch

    generator = torch.Generator().manual_seed(seed * 100_003)
    if not grouped:
        return torch.randperm(len(lengths), generator=generator).tolist()
    from transformers.trainer_pt_utils import LengthGroupedSampler

    return list(LengthGroupedSampler(batch_size, lengths=lengths, generator=generator))


def prepared_run(recipe_name: str, overrides: list[str]) -> Any:
    """An ftcore ``Run`` with ``recipe_name``'s rows prepared and encoded exactly as
    ``ftcore run`` does (no Lightning, no model yet): ``run.features``, ``run.data``,
    ``run.tokenizer``, ``run.model_path``."""
    import torch
    from transformers import AutoTokenizer

    from ftcore.cli import _recipe
    from ftcore.data.prepare import prepare
    from ftcore.models import resolve_model
    from ftcore.run import Run, encode_splits

    recipe, hooks = _recipe(recipe_name, overrides)
    if recipe.trainer.num_threads:
        torch.set_num_threads(recipe.trainer.num_threads)
    torch.manual_seed(recipe.seed)
    run = Run(recipe=recipe, hooks=hooks, run_dir=Path("."))
    run.model_path = resolve_model(recipe, hooks)
    run.tokenizer = AutoTokenizer.from_pretrained(run.model_path)
    raw = hooks.load_dataset(name=recipe.data.source, options=recipe.data.options, seed=recipe.seed)
    run.data = prepare(raw, recipe, run.head, run.head_options)
    run.features = encode_splits(run)
    return run


def main() -> None:
    import torch

    from bench.common import recipe_arguments, write_json
    from ftcore.optimizer import plan, torch_groups
    from ftcore.schedules import lambdas

    args = recipe_arguments()
    run = prepared_run(args.recipe, args.overrides)
    recipe = run.recipe
    model = run.head.build_model(
        model_path=run.model_path,
        info=run.info,
        options=run.head_options,
        trust_remote_code=False,
    ).train()
    data, optim = recipe.data, recipe.optim
    train = run.features["train"]
    order = epoch_order(
        [len(f["input_ids"]) for f in train], data.batch_size, recipe.seed, data.group_by_length
    )
    steps = -(-len(order) // data.batch_size)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    planned = plan(trainable, [], {}, float(optim.lr), optim.weight_decay)  # core's default
    optimizer = torch.optim.AdamW(
        torch_groups(model, planned), lr=float(optim.lr), fused=bool(optim.fused)
    )
    warmup = optim.warmup_steps or int(optim.warmup_ratio * steps)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambdas(planned, steps, warmup, str(getattr(optim.schedule, "value", "")))
    )
    for batch in batches(run, "train", data.batch_size, order):
        out = model(**batch)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), optim.grad_clip or float("inf"))
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
    model.eval()
    correct = {}
    with torch.no_grad():
        for split in ("validation", "test"):
            right = total = 0
            order = list(range(len(run.features[split])))
            for batch in batches(run, split, data.eval_batch_size, order):
                preds = model(**{k: v for k, v in batch.items() if k != "labels"}).logits.argmax(-1)
                right += int((preds == batch["labels"]).sum())
                total += len(preds)
            correct[split] = round(right / total, 4)
    write_json(
        args.out,
        {
            "steps": steps,
            "accuracy": correct,
            "imports_lightning": "lightning" in sys.modules,
            "imports_torchmetrics": "torchmetrics" in sys.modules,
        },
    )


if __name__ == "__main__":
    main()
