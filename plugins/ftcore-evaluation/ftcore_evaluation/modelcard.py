"""``model/README.md``: the exported model's card in the Hugging Face model-card format.

The metadata (``base_model``, ``license``, ``pipeline_tag``, ``model-index`` with the test
metrics of ``metrics.json``...) is built with ``huggingface_hub``'s ``ModelCardData`` and
``EvalResult``; the body says what the model was trained from and on, how, how well (with
the evaluation's intervals, baseline verdict and forgetting when there are some), how to
use it and what it cannot claim. Written by the evaluation plugin's ``ftcore_run_end``
after every export (a resumed run rewrites it), also with ``evaluation.enabled: false``.
Nothing here reaches the network.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from ftcore.api import atomic_write_text, markdown_escape, markdown_table
from ftcore_evaluation import runreport
from ftcore_evaluation.report import code
from ftcore_evaluation.scoring import fmt, fmt_difference

CARD = Path("model") / "README.md"
PIPELINES = {
    "classification": "text-classification",
    "regression": "text-classification",  # transformers' sequence head, problem_type regression
    "generation": "text-generation",
    "preference": "text-generation",
}
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")
LICENSE_ID = re.compile(r"[a-z0-9][a-z0-9.+-]*")


def write_card(run: Any, summary: dict[str, Any], result: dict[str, Any] | None) -> str:
    """Write ``model/README.md`` atomically; return its text. ``result``: evaluation.json's
    content (None when evaluation is off: point metrics only)."""
    text = str(build_card(run, summary, result))
    atomic_write_text(run.run_dir / CARD, text)
    return text


def build_card(run: Any, summary: dict[str, Any], result: dict[str, Any] | None) -> Any:
    """The card as a ``huggingface_hub.ModelCard`` (metadata parsed back from its YAML)."""
    from huggingface_hub import ModelCard

    data = card_data(run, summary)
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body(run, summary, result)}")


# --- metadata ---------------------------------------------------------------------------


def card_data(run: Any, summary: dict[str, Any]) -> Any:
    from huggingface_hub import ModelCardData

    recipe = run.recipe
    return ModelCardData(
        model_name=str(recipe.name),
        base_model=base_model_id(run),
        license=base_license(run),
        library_name="transformers",
        pipeline_tag=PIPELINES.get(recipe.task),
        tags=["ftcore", str(recipe.task)],
        datasets=[dataset_id(recipe)] if dataset_id(recipe) else None,
        eval_results=eval_results(recipe, summary) or None,
    )


def eval_results(recipe: Any, summary: dict[str, Any]) -> list[Any]:
    """One ``EvalResult`` per test metric of metrics.json (values exactly as there)."""
    from huggingface_hub import EvalResult

    dataset = dataset_id(recipe) or str(recipe.data.source)
    hub = (recipe.data.options or {}) if dataset_id(recipe) else {}
    return [
        EvalResult(
            task_type=PIPELINES.get(recipe.task, str(recipe.task)),
            task_name=str(recipe.task),
            dataset_type=dataset,
            dataset_name=dataset,
            dataset_config=hub.get("config"),
            dataset_split="test",
            dataset_revision=hub.get("revision"),
            metric_type=key.removeprefix("test/"),
            metric_name=f"test {key.removeprefix('test/')}",
            metric_value=value,
        )
        for key, value in summary.get("test", {}).items()
    ]


def _component(run: Any, kind: str, name: str) -> Any:
    found = [e.component for e in run.hooks.components() if e.component.kind == kind]
    return next((c for c in found if c.name == name), None)


def base_model_id(run: Any) -> str | None:
    """``model.name`` when it is a hub id (not a local folder, not a bundled name)."""
    name = str(run.recipe.model.name)
    if Path(name).expanduser().exists() or _component(run, "model", name) is not None:
        return None
    return name if HUB_ID.fullmatch(name) else None


def base_license(run: Any) -> str | None:
    """The base model's licence when known: a bundled model's, or the one its own
    ``README.md`` declares (local folder or hub snapshot); None otherwise."""
    bundled = _component(run, "model", str(run.recipe.model.name))
    found = bundled.details.get("licence") if bundled is not None else None
    readme = Path(run.model_path or "") / "README.md"
    if found is None and run.model_path and readme.is_file():
        found = _card_license(readme)
    found = str(found or "").strip().lower()
    return found if LICENSE_ID.fullmatch(found) else None


def _card_license(path: Path) -> str | None:
    from huggingface_hub import ModelCard

    if not path.read_text(encoding="utf-8", errors="replace").startswith("---"):
        return None  # no metadata (ModelCard.load would log a warning about it)
    try:
        return ModelCard.load(path, ignore_metadata_errors=True).data.get("license")
    except Exception:  # a README without (valid) metadata says nothing about the licence
        return None


def dataset_id(recipe: Any) -> str | None:
    """A Hugging Face dataset id, when the data came from the Hub (``data.source: hf`` with
    ``options.name``); local files and folders and plugin datasets have none."""
    if recipe.data.source != "hf":
        return None
    name = (recipe.data.options or {}).get("name")
    return name if isinstance(name, str) and HUB_ID.fullmatch(name) else None


# --- body -------------------------------------------------------------------------------


def body(run: Any, summary: dict[str, Any], result: dict[str, Any] | None) -> str:
    """The card's Markdown below the metadata."""
    recipe = run.recipe

    def h(depth: int, title: str) -> str:
        return "#" * (1 + depth) + " " + title

    parts = [
        h(0, markdown_escape(recipe.name)),
        intro(run, result),
        h(1, "Base model"),
        base_model_markdown(run),
        h(1, "Data"),
        data_markdown(recipe, summary),
        h(1, "Training recipe"),
        recipe_markdown(run, summary),
        h(1, "Test results"),
        results_markdown(summary, result),
        h(1, "Baseline verdict"),
        baseline_markdown(result),
        h(1, "Forgetting"),
        forgetting_markdown(result),
        h(1, "How to use"),
        usage_markdown(run),
        h(1, "Limitations"),
        limitations_markdown(run, summary, result),
    ]
    return "\n\n".join(p.strip() for p in parts) + "\n"


def intro(run: Any, result: dict[str, Any] | None) -> str:
    recipe = run.recipe
    text = (
        f"A {markdown_escape(recipe.task)} model fine-tuned from {code(recipe.model.name)} "
        f"with ftcore (recipe {code(recipe.name)}, run {code(recipe.get('run_id') or '-')}). "
        f"Card written {time.strftime('%Y-%m-%d %H:%M:%S')} from the run's `metrics.json`"
        f"{' and `evaluation.json`' if result else ''}; every export of the run rewrites it."
    )
    if recipe.get("description"):
        text = markdown_escape(recipe.description, 1000) + "\n\n" + text
    return text


def base_model_markdown(run: Any) -> str:
    name = str(run.recipe.model.name)
    bundled, hub = _component(run, "model", name), base_model_id(run)
    if hub:
        where = f"{code(name)} from the Hugging Face Hub (https://huggingface.co/{hub})."
    elif bundled is not None:
        where = f"{code(name)}, bundled with ftcore: {markdown_escape(bundled.description)}."
    else:
        where = f"{code(name)}, a local model folder."
    licence = base_license(run)
    return where + (f" Licence: {code(licence)}." if licence else " Licence: unknown.")


def data_markdown(recipe: Any, summary: dict[str, Any]) -> str:
    data = summary.get("data", {})
    rows, dropped = data.get("rows", {}), data.get("dropped", {})
    table = markdown_table(
        ["split", "rows used", "rows dropped"],
        [[s, n, dropped.get(s, 0)] for s, n in rows.items()],
    )
    text = (
        f"Source {code(recipe.data.source)}"
        + (f" (Hugging Face dataset {code(dataset_id(recipe))})" if dataset_id(recipe) else "")
        + f", texts cut to {recipe.data.max_length} tokens.\n\n{table}"
    )
    reasons = data.get("drop_reasons") or []
    if reasons:
        text += "\n\nWhy rows were dropped (first ones):\n\n" + "\n".join(
            f"- {markdown_escape(r, 300)}" for r in reasons[:10]
        )
    labels = data.get("labels") or []
    if labels:
        shown = ", ".join(code(label) for label in labels[:50])
        text += f"\n\nLabels ({len(labels)}): {shown}" + (" ..." if len(labels) > 50 else "")
    return text


def recipe_markdown(run: Any, summary: dict[str, Any]) -> str:
    monitor = summary.get("monitor", {})
    trained = (
        f"Trained {summary.get('epochs_trained', 0)} epochs ({summary.get('steps_trained', 0)} "
        f"optimiser steps); the checkpoint tested and exported is the best by "
        f"{code(monitor.get('metric', '-'))} ({monitor.get('mode', '-')})."
    )
    text = f"{runreport.recipe_markdown(run.recipe)}\n\n{trained}"
    path = run.run_dir / "recipe.yaml"
    if not path.is_file():
        return text
    resolved = path.read_text(encoding="utf-8")
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", resolved)), default=0))
    return (
        f'{text}\n\n<details markdown="1">\n<summary>The full resolved recipe '
        f"(the run's recipe.yaml)</summary>\n\n{fence}yaml\n{resolved.rstrip()}\n{fence}\n\n"
        f"</details>"
    )


def results_markdown(summary: dict[str, Any], result: dict[str, Any] | None) -> str:
    if result and result.get("metrics"):
        return runreport.metrics_markdown(result)
    test = summary.get("test", {})
    rows = [[markdown_escape(k.removeprefix("test/")), fmt(v)] for k, v in test.items()]
    return (
        "Test metrics (point values; no intervals, since evaluation was off or failed):\n\n"
        + markdown_table(["metric", "value"], rows)
    )


def baseline_markdown(result: dict[str, Any] | None) -> str:
    best = (result or {}).get("best_baseline")
    if not best:
        return "No baseline was evaluated, so there is no verdict."
    comp, metric = result["comparisons"][best], result["primary_metric"]
    significant = comp["significant_metrics"].get(metric)
    level = f"{result['bootstrap']['confidence']:.0%}"
    return (
        f"Strongest baseline: **{markdown_escape(best)}**. Fine-tuned − baseline on "
        f"{code(metric)}: {fmt_difference(comp['differences'][metric])} (paired bootstrap "
        f"{level} CI); the interval {'excludes' if significant else 'includes'} 0, so the "
        f"difference is {'' if significant else 'not '}significant.\n\n"
        + markdown_escape(comp["verdict"], 2000)
    )


def forgetting_markdown(result: dict[str, Any] | None) -> str:
    found = (result or {}).get("forgetting")
    if not found:
        return "Not measured."
    return runreport.forgetting_markdown(found)


USAGE = {
    "classification": (
        "--text",
        "predicted = model.config.id2label[int(logits.argmax(-1)[0])]  # the label",
    ),
    "regression": ("--text", "predicted = logits[0].tolist()  # the predicted value(s)"),
}


def usage_markdown(run: Any) -> str:
    task = run.recipe.task
    flag = USAGE[task][0] if task in USAGE else "--prompt" if task in PIPELINES else "--text"
    text = (
        "With ftcore, from the run directory this folder was exported to "
        f'({code(run.run_dir)}):\n\n```bash\nftcore predict RUN_DIR {flag} "your text"\n```'
    )
    if task in USAGE:
        return (
            text
            + "\n\nWith plain transformers, from this folder:\n\n"
            + _sequence_usage(run, USAGE[task][1])
        )
    if PIPELINES.get(task) == "text-generation":
        return text + (
            "\n\nWith plain transformers, from this folder:\n\n```python\n"
            "from transformers import pipeline\n\n"
            'generator = pipeline("text-generation", model="path/to/model")\n'
            'predicted = generator("your prompt", max_new_tokens=32)[0]["generated_text"]\n```'
        )
    return text


def _sequence_usage(run: Any, last_line: str) -> str:
    return (
        "```python\nimport torch\n"
        "from transformers import AutoModelForSequenceClassification, AutoTokenizer\n\n"
        'tokenizer = AutoTokenizer.from_pretrained("path/to/model")\n'
        'model = AutoModelForSequenceClassification.from_pretrained("path/to/model").eval()\n'
        f'inputs = tokenizer(["your text"], truncation=True, '
        f'max_length={run.recipe.data.max_length}, return_tensors="pt")\n'
        "with torch.no_grad():\n    logits = model(**inputs).logits\n"
        f"{last_line}\n```"
    )


def limitations_markdown(run: Any, summary: dict[str, Any], result: dict[str, Any] | None) -> str:
    recipe, test_rows = run.recipe, summary.get("data", {}).get("rows", {}).get("test", 0)
    lines = [
        f"Measured on {test_rows} test examples of {code(recipe.data.source)} only: other "
        "data (other domains, time periods, text lengths) may score differently"
        + (", and the intervals above show how far the numbers could move." if result else ".")
    ]
    if not result:
        lines.append("Evaluation was off: no intervals, no baseline and no forgetting check.")
    elif result.get("best_baseline") and not result.get("significant"):
        lines.append(
            f"The model is not shown to be better than the "
            f"{markdown_escape(result['best_baseline'])} baseline (see the verdict)."
        )
    forgot = [n for n, f in (result or {}).get("forgetting", {}).items() if f.get("forgot")]
    if forgot:
        lines.append(
            "Fine-tuning made the backbone forget: " + ", ".join(map(markdown_escape, forgot))
        )
    lines.append(
        "It inherits the biases and licence terms of its base model and training data; "
        "review both before use."
    )
    if recipe.model.trust_remote_code:
        lines.append("Loading it runs Python code shipped with the model (trust_remote_code).")
    return "\n".join(f"- {line}" for line in lines)


def report_markdown(card: str) -> str:
    """The report's "Model card" section: the card's metadata and body, collapsed."""
    from huggingface_hub import ModelCard

    parsed = ModelCard(card)
    text = re.sub(r"^(#{1,4}) ", r"##\1 ", parsed.text.strip(), flags=re.MULTILINE)
    return (
        "`model/README.md`: the exported model's card in the Hugging Face format, "
        "metadata (with `model-index`) first, then the text the Hub shows.\n\n"
        '<details markdown="1">\n<summary>The model card</summary>\n\n'
        f"```yaml\n{parsed.data.to_yaml()}\n```\n\n{text}\n\n</details>"
    )
