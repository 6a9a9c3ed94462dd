"""One ``ftcore run`` of a recipe with a step clock: ``python -m bench.ftrun RECIPE [KEY=VALUE
...] --warmup W --out FILE``.

Writes the step statistics after ``W`` warm-up steps (``bench.common.StepClock``), the
tokens in the training batches (real and padded: the padding share), the run's timings
and test metrics. The run directory is a temporary folder. Evaluation is off
(``evaluation.enabled=false``) unless an override says otherwise: baselines and reports
are not part of what these benchmarks time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any

import ftcore
from bench.common import StepClock, write_json


class TokenCount:
    """Real and padded token counts of the training batches (from ``attention_mask``)."""

    def __init__(self) -> None:
        self.real = 0
        self.padded = 0
        self.samples = 0

    def add(self, batch: Any) -> None:
        mask = batch.get("attention_mask") if hasattr(batch, "get") else None
        if mask is None:
            return
        self.real += int(mask.sum())
        self.padded += mask.numel()
        self.samples += mask.shape[0]


def clock_plugin(clock: StepClock, tokens: TokenCount) -> Any:
    import lightning as L

    class Clock(L.Callback):
        def on_train_batch_start(self, trainer: Any, module: Any, batch: Any, idx: int) -> None:
            if len(clock.stamps) >= clock.warmup:  # count the timed steps only
                tokens.add(batch)

        def on_train_batch_end(self, *args: Any) -> None:
            clock.tick()

    class Plugin:
        @ftcore.hookimpl
        def ftcore_lightning_callbacks(self, recipe: Any, run: Any) -> list[Any]:
            return [Clock()]

    return Plugin()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("recipe")
    parser.add_argument("overrides", nargs="*")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    from ftcore.cli import _recipe
    from ftcore.run import execute

    overrides = ["evaluation.enabled=false", "trainer.progress_bar=false", *args.overrides]
    recipe, hooks = _recipe(args.recipe, overrides)
    clock, tokens = StepClock(args.warmup), TokenCount()
    hooks.pm.register(clock_plugin(clock, tokens))
    with tempfile.TemporaryDirectory(prefix="ftcore-bench-run-") as tmp:
        summary = execute(recipe, hooks, out=tmp)
    steps = clock.result()
    seconds = steps.get("mean_ms", 0) * steps.get("steps", 0) / 1000
    write_json(
        args.out,
        {
            **steps,
            "tokens_real": tokens.real,
            "tokens_padded": tokens.padded,
            "padding_share": round(1 - tokens.real / tokens.padded, 4) if tokens.padded else None,
            "samples_per_s": round(tokens.samples / seconds, 2) if seconds else None,
            "tokens_per_s": round(tokens.padded / seconds, 1) if seconds else None,
            "real_tokens_per_s": round(tokens.real / seconds, 1) if seconds else None,
            "test": summary["test"],
            "validation": summary["validation"],
            "timings": summary["timings"],
            "rows": summary["data"]["rows"],
            "process_seconds": round(time.perf_counter() - started, 1),
        },
    )


if __name__ == "__main__":
    main()
