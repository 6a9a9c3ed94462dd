"""Evaluation parts of the preference head: the pretrained baseline and the test pairs the
fine-tuned model gets most wrong.

The baseline is the pretrained model on the same test pairs, decoded as the test step
decodes: the evaluation plugin scores it and the fine-tuned predictions on the same
bootstrap resamples, so ``preference_accuracy`` before vs after is a paired comparison.
The pretrained model is its own reference there, so its dpo/ipo rewards are all 0 (reward
accuracy 0: ties count as wrong).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ftcore.api import ReportSection, markdown_escape, markdown_table

TOP = 10


def pretrained_predictions(run: Any) -> list[dict]:
    """The run's model, before training, on the test pairs (with ``target``)."""
    from ftcore_preference import losses, modeling

    model, options = run.module.model, run.head_options
    out: list[dict] = []
    with losses.evaluating(model):
        for batch in run.datamodule.test_dataloader():
            found = modeling.pair_scores(model, batch, options, "test", own=True)
            step = modeling.step_output(found, options)
            decoded = modeling.decode(step.preds)
            out += [{**d, "target": t} for d, t in zip(decoded, step.target.tolist())]
    return out


def margin(p: dict) -> float:
    """Mean log-prob per token of the chosen response minus the rejected one's."""
    return p["chosen_logp"] / max(p["chosen_tokens"], 1) - p["rejected_logp"] / max(
        p["rejected_tokens"], 1
    )


def worst_pairs(
    predictions: list[dict], rows: list[dict], options: Any, out_dir: str
) -> list[ReportSection]:
    """Every test pair by the fine-tuned model's length-normalised margin, lowest first,
    in ``pair_margins.jsonl``; the lowest in the report."""
    order = sorted(range(len(predictions)), key=lambda i: margin(predictions[i]))
    keys = (options.prompt_key, options.chosen_key, options.rejected_key)
    with (Path(out_dir) / "pair_margins.jsonl").open("w", encoding="utf-8") as handle:
        for i in order:
            texts = {k: rows[i].get(k) for k in keys}
            record = {"index": i, "margin": margin(predictions[i]), **texts}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    cells = [
        [str(i), f"{margin(predictions[i]):+.3f}"]
        + [markdown_escape(str(rows[i].get(k, "")), 160) for k in keys]
        for i in order[:TOP]
    ]
    wrong = sum(margin(p) <= 0 for p in predictions)
    text = (
        f"The fine-tuned model prefers the rejected response (mean log-probability per "
        f"token) in {wrong} of {len(predictions)} test pairs. Every pair by margin, "
        f"lowest first, is in `pair_margins.jsonl`; the {min(TOP, len(order))} lowest:\n\n"
        + markdown_table(["#", "margin", "prompt", "chosen", "rejected"], cells)
    )
    return [ReportSection("Pairs the model gets most wrong", text)]
