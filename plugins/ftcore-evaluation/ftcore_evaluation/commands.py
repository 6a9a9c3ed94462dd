"""The plugin's CLI sub-commands: compare, evaluate, assess, models.

Each ``run`` imports its heavy modules itself, so building the CLI parser stays fast.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ftcore.types import Command


def _hooks() -> Any:
    from ftcore.api import plugin_hooks

    return plugin_hooks()


def _bootstrap_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--samples", type=int, help="bootstrap resamples (default: recipe's)")
    parser.add_argument("--confidence", type=float, help="interval level (default: 0.95)")


def _check_bootstrap_arguments(args: argparse.Namespace) -> None:
    """--confidence in (0, 1) and --samples not negative: a usage error, not a plugin bug."""
    from ftcore.errors import UserError

    confidence = getattr(args, "confidence", None)
    if confidence is not None and not 0 < confidence < 1:
        raise UserError(f"--confidence {confidence}: must be between 0 and 1, e.g. 0.95")
    samples = getattr(args, "samples", None)
    if samples is not None and samples < 0:
        raise UserError(f"--samples {samples}: must be 0 (no intervals) or more, e.g. 1000")


# --- compare -----------------------------------------------------------------------------------


def compare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_a", help="a finished run directory")
    parser.add_argument("run_b", help="another run tested on the same test set")
    _bootstrap_arguments(parser)
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument("--out", help="also write the comparison as JSON to this file")


def compare_run(args: argparse.Namespace) -> int:
    _check_bootstrap_arguments(args)
    from ftcore_evaluation.compare import compare_runs
    from ftcore_evaluation.runreport import comparisons_markdown, metrics_markdown
    from ftcore_evaluation.scoring import Bootstrap

    boot = Bootstrap(
        args.samples if args.samples is not None else 1000,
        args.confidence if args.confidence is not None else 0.95,
        args.seed,
    )
    result = compare_runs(Path(args.run_a), Path(args.run_b), _hooks(), boot)
    print(metrics_markdown(result) + "\n\n" + comparisons_markdown(result))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


# --- evaluate ----------------------------------------------------------------------------------


def evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="a finished run directory (with model/)")
    parser.add_argument("--data", required=True, help="labelled rows: a CSV or JSONL file")
    parser.add_argument("--format", choices=["csv", "jsonl"], help="default: from the suffix")
    parser.add_argument("--text-column", default="text", help="column/key of the text")
    parser.add_argument("--label-column", default="label", help="column/key of the label")
    parser.add_argument("--drop-invalid", action="store_true", help="drop invalid rows")
    parser.add_argument("--out", help="output folder (default RUN_DIR/evaluations/<stem>)")
    parser.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="run Python code shipped in the run's model/ (never done without this flag)",
    )
    _bootstrap_arguments(parser)


def evaluate_run(args: argparse.Namespace) -> int:
    _check_bootstrap_arguments(args)
    from ftcore_evaluation.newdata import evaluate_file
    from ftcore_evaluation.runreport import metrics_markdown

    result, out = evaluate_file(args, _hooks())
    print(metrics_markdown(result) or "\n".join(result.get("notes", [])))
    if result.get("dropped"):
        print(f"\n{len(result['dropped'])} invalid rows were dropped.")
    print(f"\nreport: {out / 'report.html'}")
    return 0


# --- assess ------------------------------------------------------------------------------------


def assess_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="a recipe name (see `ftcore recipes`) or a YAML path")
    parser.add_argument("overrides", nargs="*", help="key=value overrides")
    parser.add_argument("--models", help="candidate models to rank, comma-separated")
    parser.add_argument(
        "--budget",
        type=float,
        help="time budget in seconds for the whole assessment (default 180 per model: "
        "180, or 360 with one candidate in --models)",
    )
    parser.add_argument("--samples", type=int, help="bootstrap resamples (default: recipe's)")
    parser.add_argument("--out", help="output folder (default <output.root>/<recipe>/assessment-*)")


def assess_run(args: argparse.Namespace) -> int:
    _check_bootstrap_arguments(args)
    from ftcore_evaluation.advice import run_assessment

    out, text = run_assessment(args, _hooks())
    print(text)
    print(f"saved: {out / 'assessment.md'}, {out / 'assessment.json'}")
    return 0


# --- models ------------------------------------------------------------------------------------


def models_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")


def models_run(args: argparse.Namespace) -> int:
    from ftcore_evaluation.models import listing

    found = listing(_hooks())
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    for m in found:
        print(f"{m['name']}  [{m['source']}; available: {m['available']}]")
        print(f"    {m['description']}")
        facts = f"{m['architecture']}, {m['parameters']} parameters, licence {m['licence']}"
        print(f"    architecture {facts}")
        print(f"    pretrained on: {m['pretrained_on']}")
    if not found:
        print("no models: install ftcore-models, or put a model in the Hugging Face cache")
    return 0


COMMANDS = (
    Command(
        "compare",
        "paired comparison of two runs on the same test set",
        compare_arguments,
        compare_run,
    ),
    Command(
        "evaluate", "evaluate a finished run on new labelled data", evaluate_arguments, evaluate_run
    ),
    Command(
        "assess",
        "should I fine-tune? data, baseline, projected score, similarity, cost",
        assess_arguments,
        assess_run,
    ),
    Command("models", "bundled and locally available models", models_arguments, models_run),
)
