"""``ftcore evaluate RUN_DIR --data FILE``: a finished run on new labelled data.

The run's exported model (through :class:`ftcore.predict.Predictor`) predicts every row;
the same metrics, intervals and error analysis as at the end of a run are written to
``RUN_DIR/evaluations/<file stem>/`` (or ``--out``).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from ftcore.api import (
    UserError,
    atomic_write_json,
    encode_rows,
    markdown_escape,
    normalizer,
    read_jsonl,
    read_text,
    text_problem,
)


def read_rows(path: Path, fmt: str | None, text_column: str, label_column: str) -> list[dict]:
    """Rows ``{"text", "label"}`` from a CSV (header line) or JSON Lines file."""
    if not path.is_file():
        raise UserError(f"--data: {path} does not exist")
    fmt = fmt or ("csv" if path.suffix.lower() in {".csv", ".tsv"} else "jsonl")
    raw = _read_csv(path) if fmt == "csv" else read_jsonl(path, fix=ENCODING_FIX)
    rows = []
    for number, row in raw:
        if text_column not in row or label_column not in row:
            raise UserError(
                f"{path}: row {number}: needs the columns '{text_column}' and '{label_column}' "
                f"(found: {', '.join(map(str, row))}); use --text-column/--label-column"
            )
        rows.append({"text": row[text_column], "label": row[label_column], "_row": number})
    if not rows:
        raise UserError(f"{path}: no rows")
    return rows


ENCODING_FIX = "save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8 IN > OUT)"


def _read_csv(path: Path) -> list[tuple[int, dict]]:
    text = read_text(path, fix=ENCODING_FIX)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    return [(i, row) for i, row in enumerate(reader, 2)]


def check_rows(rows: list[dict], predictor: Any, path: Path, drop: bool) -> tuple[list, list]:
    """Valid rows (text normalised as in training) and the problems of the others."""
    clean = normalizer(list(predictor.recipe.data.normalize))
    kept, problems = [], []
    for row in rows:
        problem = text_problem(row, "text", getattr(predictor.recipe.data, "max_chars", None))
        if problem is None:
            row = {**row, "text": clean(row["text"])}
            problem = predictor.head.check_row(
                row=row, info=predictor.info, options=predictor.head_options
            )
        if problem is None:
            kept.append(row)
        else:
            problems.append(f"{path}: row {row['_row']}: {problem}")
    if problems and not drop:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UserError(f"{problems[0]}{more}; fix the rows or pass --drop-invalid")
    return kept, problems


def predict_with_targets(predictor: Any, rows: list[dict]) -> list[dict]:
    """Decoded predictions plus ``target`` exactly as the test step reports them."""
    import torch

    features = encode_rows(rows, predictor)
    size, out = predictor.recipe.data.eval_batch_size, []
    with torch.inference_mode():
        for start in range(0, len(features), size):
            step = predictor.step(features[start : start + size], stage="test")
            decoded = predictor.decode(step)
            out += [{**d, "target": t} for d, t in zip(decoded, step.target.tolist())]
    return out


def evaluate_file(args: Any, hooks: Any) -> tuple[dict[str, Any], Path]:
    from ftcore.api import Predictor, ReportSection
    from ftcore_evaluation import datasummary, evaluate, report, runreport, schema

    run_dir, path = Path(args.run_dir), Path(args.data)
    rows = read_rows(path, args.format, args.text_column, args.label_column)
    trusted = getattr(args, "trust_remote_code", False)
    predictor = Predictor(run_dir, hooks, trust_remote_code=trusted)
    rows, dropped = check_rows(rows, predictor, path, args.drop_invalid)
    out = Path(args.out) if args.out else run_dir / "evaluations" / path.stem
    out.mkdir(parents=True, exist_ok=True)
    predictions = predict_with_targets(predictor, rows)
    cfg = schema.options(predictor.recipe)
    boot = evaluate.Bootstrap(
        args.samples if args.samples is not None else cfg.bootstrap_samples,
        args.confidence if args.confidence is not None else cfg.confidence,
        cfg.seed,
    )
    head, options, info = predictor.head, predictor.head_options, predictor.info
    result = evaluate.predictions_result(head, options, info, predictions, boot)
    errors = head.error_analysis(
        predictions=predictions, rows=rows, info=info, options=options, out_dir=str(out)
    )
    result.update(run_dir=str(run_dir), data=str(path), dropped=dropped)
    atomic_write_json(out / "evaluation.json", result)
    atomic_write_json(out / "predictions.json", predictions)
    facts = {
        "rows": {"new data": len(rows)},
        "dropped": {"new data": len(dropped)},
        "drop_reasons": dropped[:10],
        "labels": datasummary.label_balance({"new data": rows}),
    }
    sections = [
        ReportSection("Data", datasummary.markdown(facts)),
        ReportSection("Metrics", runreport.metrics_markdown(result) or "No metrics (see notes)."),
        *errors,
    ]
    if result.get("notes"):
        notes = "\n".join(f"- {markdown_escape(n, 500)}" for n in result["notes"])
        sections.append(ReportSection("Notes", notes))
    intro = f"The model of run {report.code(run_dir)} on {report.code(path)}."
    report.write(out, f"Evaluation on {path.name}", intro, sections)
    return result, out
