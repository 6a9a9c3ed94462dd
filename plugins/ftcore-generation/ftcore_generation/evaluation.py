"""Evaluation parts of the generation head: scores, the pretrained baseline, samples,
worst-loss examples and forgetting on a general text.

Called through :class:`ftcore_generation.plugin.GenerationHead` by an evaluation plugin
(``ftcore-evaluation``). Predictions are the head's decoded rows (``loss`` per token,
``generated``/``answer``/``correct`` for the checked rows) with ``target``, the number
of scored tokens. numpy and torch are imported inside functions.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ftcore.api import ReportSection, evaluation_option, markdown_escape, markdown_table

TOP = 20
SAMPLES = 5
_BEFORE: dict[str, list[dict]] = {}  # run directory -> the pretrained model's predictions


# --- scores (pure) ---------------------------------------------------------------------


def score(predictions: list[dict]) -> dict[str, float]:
    """Mean token loss and perplexity over all scored tokens; answer accuracy if checked."""
    tokens = sum(int(p["target"]) for p in predictions)
    nll = sum(p.get("loss", 0.0) * int(p["target"]) for p in predictions)
    loss = nll / tokens if tokens else math.nan
    out = {"loss": loss, "perplexity": math.exp(min(loss, 50.0)) if tokens else math.nan}
    checked = [bool(p["correct"]) for p in predictions if "correct" in p]
    if checked:
        out["answer_accuracy"] = sum(checked) / len(checked)
    return out


# --- the pretrained baseline ----------------------------------------------------------------


def test_predictions(run: Any, model: Any) -> list[dict]:
    """``model`` on the run's test split, decoded as in the test step (greedy generations)."""
    import torch

    head, options = run.head, run.head_options
    was_training = model.training
    model.eval()
    out: list[dict] = []
    try:
        with torch.inference_mode():
            for batch in run.datamodule.test_dataloader():
                step = head.step(
                    model=model, batch=batch, info=run.info, options=options, stage="test"
                )
                decoded = head.decode(output=step, info=run.info, options=options)
                out += [{**d, "target": t} for d, t in zip(decoded, step.target.tolist())]
    finally:
        model.train(was_training)
    return out


def baselines(run: Any) -> dict[str, list[dict]]:
    """The pretrained model's test predictions (kept for the samples in the report)."""
    found = test_predictions(run, run.module.model)
    _BEFORE[str(run.run_dir)] = found
    return {"pretrained": found}


# --- error analysis ----------------------------------------------------------------------------


def prompt_of(row: dict) -> str:
    """The row's prompt: its text, or the last user message of a conversation."""
    value = row.get("prompt", row.get("messages", row.get("text", "")))
    if isinstance(value, list):
        users = [m.get("content", "") for m in value if m.get("role") == "user"]
        return str(users[-1] if users else "")
    return str(value)


def samples_section(after: list[dict], before: list[dict] | None, rows: list[dict]) -> Any:
    """Generations for the first checked test prompts, before and after fine-tuning."""
    shown = [i for i, p in enumerate(after) if "generated" in p][:SAMPLES]
    if not shown:
        return None
    header = (
        ["#", "prompt", "pretrained", "fine-tuned"] if before else ["#", "prompt", "fine-tuned"]
    )
    cells = []
    for i in shown:
        row = [str(i), markdown_escape(prompt_of(rows[i]), 200)]
        if before:
            row.append(markdown_escape(before[i].get("generated", ""), 300))
        cells.append([*row, markdown_escape(after[i]["generated"], 300)])
    what = "before and after fine-tuning" if before else "after fine-tuning"
    return ReportSection(
        "Sample generations", f"Greedy, {what}.\n\n" + markdown_table(header, cells)
    )


def worst_section(predictions: list[dict], rows: list[dict], out_dir: Path) -> ReportSection:
    order = sorted(
        (i for i, p in enumerate(predictions) if "loss" in p), key=lambda i: -predictions[i]["loss"]
    )
    with (out_dir / "worst_loss.jsonl").open("w", encoding="utf-8") as handle:
        for i in order:
            record = {"index": i, "prompt": prompt_of(rows[i]), **predictions[i]}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    cells = [
        [str(i), f"{predictions[i]['loss']:.3f}", markdown_escape(prompt_of(rows[i]), 200)]
        + [markdown_escape(rows[i].get("response", rows[i].get("answer", "")), 200)]
        for i in order[:TOP]
    ]
    text = (
        f"Every test example by its mean token loss, worst first, is in `worst_loss.jsonl`. "
        f"The {min(TOP, len(order))} worst:\n\n"
        + markdown_table(["#", "token loss", "prompt", "reference"], cells)
    )
    return ReportSection("Worst-loss examples", text)


def error_analysis(predictions: list[dict], rows: list[dict], out_dir: str) -> list[ReportSection]:
    """The worst-loss examples, and generations before and after fine-tuning."""
    sections = [worst_section(predictions, rows, Path(out_dir))]
    samples = samples_section(predictions, _BEFORE.pop(out_dir, None), rows)
    return ([samples] if samples else []) + sections


# --- forgetting -------------------------------------------------------------------------------


def reference_texts(run: Any) -> tuple[str, list[str]]:
    """A general text unrelated to the task: hamlet (rotten_tomatoes when the task is it)."""
    name = evaluation_option(run, "forgetting_dataset", None) or (
        "rotten_tomatoes" if run.recipe.data.source == "hamlet" else "hamlet"
    )
    raw = run.hooks.load_dataset(name=str(name), options=None, seed=run.recipe.seed)
    texts = [str(r["text"]) for r in raw.splits["test"] if str(r.get("text", "")).strip()]
    return str(name), texts[: int(evaluation_option(run, "forgetting_test_rows", 300))]


def token_losses(model: Any, tokenizer: Any, texts: list[str], max_length: int) -> list[float]:
    """Mean next-token loss of ``model`` on each text (eval mode, no gradients)."""
    import torch

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = []
    try:
        with torch.inference_mode():
            for text in texts:
                ids = tokenizer(text, truncation=True, max_length=max_length, return_tensors="pt")
                ids = ids["input_ids"].to(device)
                if ids.shape[1] < 2:
                    continue
                out.append(float(model(input_ids=ids, labels=ids).loss))
    finally:
        model.train(was_training)
    return out


def forgetting(run: Any, model: Any) -> dict[str, Any]:
    """Mean token loss of ``model`` on a general text, per passage."""
    name, texts = reference_texts(run)
    length = int(evaluation_option(run, "forgetting_max_length", 128))
    values = token_losses(model, run.tokenizer, texts, length)
    return {
        f"{name} mean token loss": {
            "values": values,
            "higher_is_better": False,
            "description": (
                f"mean next-token loss per {name} passage ({len(values)} test passages, "
                f"up to {length} tokens); exp of it is the perplexity"
            ),
        }
    }
