"""The ``csv``, ``jsonl`` and ``parquet`` datasets: the user's own files.

Every problem with a file is a :class:`ftcore.errors.UserError` on one line that names
the file (and the line or row where there is one) and says how to fix it. pandas and
pyarrow are imported only when a file is read.
"""

from __future__ import annotations

import codecs
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftcore.api import decode_text
from ftcore.api import read_jsonl as core_read_jsonl
from ftcore.errors import UserError
from ftcore.types import RawSplits, Row
from ftcore_datasets.common import SPLITS, check_ratios
from ftcore_datasets.schema import FileOptions
from ftcore_datasets.split import stratified_split

FORMATS = ("csv", "jsonl", "parquet")


@dataclass
class Loaded:
    """Rows read from one file, with the 1-based source row (line) of each."""

    path: Path
    rows: list[Row]
    row_numbers: list[int]


def resolve_path(value: str, option: str) -> Path:
    """An existing file named by ``data.options.<option>``; relative to the current directory."""
    path = Path(str(value)).expanduser()
    if not path.is_absolute():
        path = Path.cwd() / path
    if not path.exists():
        raise UserError(
            f"{path}: file not found (data.options.{option}: {value}; relative paths are "
            f"resolved against the current directory {Path.cwd()}); fix the path"
        )
    if path.is_dir():
        raise UserError(
            f"{path} is a folder, not a file (data.options.{option}); name the file inside it"
        )
    return path


def _preview(names: list[str], limit: int = 20) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    more = f", ... ({len(names)} in all)" if len(names) > limit else ""
    return (shown + more) if names else "none"


def _missing_column(
    where: str, column: str, present: list[str], option: str, kind: str = "column", hint: str = ""
) -> UserError:
    if option == "text_column":
        fix = f"set data.options.text_column to the {kind} holding the text"
    else:
        fix = (
            f"set data.options.label_column to the {kind} holding the label, "
            f"or to null for unlabelled text"
        )
    return UserError(
        f"{where} has no {kind} '{column}' ({kind}s: {_preview(present)}){hint}; {fix}"
    )


def _is_messages(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(m, dict) for m in value)


def _text_value(value: Any, where: str, column: str) -> Any:
    """Text as a string; None stays None (core reports it as missing)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return str(value)
    raise UserError(
        f"{where}: '{column}' holds a {type(value).__name__}, not text; "
        f"set data.options.text_column to the field holding the text"
    )


def _empty(path: Path) -> UserError:
    return UserError(f"{path} is empty; put the rows in it or point data.options at another file")


def read_text(path: Path, encoding: str) -> str:
    """A text file decoded with ``encoding`` (a UTF-8 byte-order mark is dropped)."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise UserError(
            f"data.options.encoding: unknown encoding {encoding!r} (reading {path}); "
            f"use e.g. utf-8, latin-1 or cp1252"
        ) from None
    data = path.read_bytes()
    if not data.strip():
        raise _empty(path)
    fix = (
        f"set data.options.encoding to the file's encoding (e.g. latin-1 or cp1252) "
        f"or save the file as {encoding}"
    )
    return decode_text(data, path, encoding, fix)


def _delimiter(value: str) -> str:
    value = {"\\t": "\t", "tab": "\t"}.get(value, value)
    if len(value) != 1:
        raise UserError(
            f"data.options.delimiter must be one character such as ',' ';' or '\\t', not {value!r}"
        )
    return value


def _record_line(text: str, delimiter: str, record: int) -> int | None:
    """The file line where CSV record ``record`` (1-based, header = 1) starts."""
    import csv

    reader = csv.reader(io.StringIO(text, newline="\n"), delimiter=delimiter)
    start, count = 1, 0
    try:
        for _ in reader:
            count += 1
            if count == record:
                return start
            start = reader.line_num + 1
    except csv.Error:
        return None
    return None


def _parser_error(path: Path, message: str, text: str, delimiter: str) -> UserError:
    message = message.strip().splitlines()[-1] if message.strip() else "unknown error"
    found = re.search(r"\b(line|row) (\d+)", message)
    where = str(path)
    if found:
        # pandas numbers records, not lines: "line N" counts from 1 (header = 1) and
        # "row N" (an unclosed quote) from 0; map the record to the line it starts on
        record = int(found[2]) + (1 if found[1] == "row" else 0)
        line = _record_line(text, delimiter, record)
        where = f"{path} line {line}" if line else f"{path} record {record}"
    counts = re.search(r"Expected (\d+) fields in line \d+, saw (\d+)", message)
    if counts:
        what = f"{counts[2]} fields where the header has {counts[1]}"
    elif "EOF inside string" in message:
        what = "a quoted field is never closed"
    else:
        what = message.removeprefix("Error tokenizing data. ")
    return UserError(
        f"{where}: cannot parse CSV ({what}); put fields that contain the delimiter "
        f"{delimiter!r}, quotes or line breaks in double quotes (doubling quotes inside "
        f"them), or set data.options.delimiter if the file uses another separator"
    )


def parse_csv_text(
    text: str, path: Path, delimiter: str = ","
) -> tuple[list[str], list[list[str]], list[int]]:
    """Parse CSV text with pandas: column names, records (all strings) and their lines.

    Every value is read as a string and nothing becomes NaN, so empty text stays ``""``.
    Blank lines are skipped; each record's number is the file line where it starts
    (the header is line 1, as in a spreadsheet), correct also when quoted fields hold
    line breaks.
    """
    import pandas as pd

    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
        )
    except pd.errors.EmptyDataError:
        raise _empty(path) from None
    except pd.errors.ParserError as err:
        raise _parser_error(path, str(err), text, delimiter) from None
    columns = [str(c) for c in frame.columns]
    lines = text.split("\n")
    records: list[list[str]] = []
    numbers: list[int] = []
    line = 2 + sum(c.count("\n") for c in columns)
    for values in frame.itertuples(index=False, name=None):
        values = ["" if v is None else str(v) for v in values]
        breaks = sum(v.count("\n") for v in values)
        blank = breaks == 0 and line <= len(lines) and not lines[line - 1].strip()
        if not blank:
            records.append(values)
            numbers.append(line)
        line += 1 + breaks
    return columns, records, numbers


def read_csv(path: Path, options: FileOptions) -> Loaded:
    """Rows of a CSV file with a header line."""
    delimiter = _delimiter(options.delimiter)
    text = read_text(path, options.encoding)
    columns, records, numbers = parse_csv_text(text, path, delimiter)
    wanted = [options.text_column] + ([options.label_column] if options.label_column else [])
    for column, option in zip(wanted, ("text_column", "label_column")[: len(wanted)], strict=True):
        if column not in columns:
            hint = ""
            others = [sep for sep in ",;\t|" if sep != delimiter and sep in columns[0]]
            if len(columns) == 1 and others:
                hint = f" (is the separator {others[0]!r}? set data.options.delimiter)"
            raise _missing_column(str(path), column, columns, option, hint=hint)
    if not records:
        raise UserError(f"{path} has a header line but no rows; add rows below the header")
    text_at = columns.index(options.text_column)
    label_at = columns.index(options.label_column) if options.label_column else None
    rows: list[Row] = []
    for values in records:
        row: Row = {"text": values[text_at]}
        if label_at is not None:
            row["label"] = values[label_at]
        rows.append(row)
    return Loaded(path, rows, numbers)


def read_jsonl(path: Path, options: FileOptions) -> Loaded:
    """Rows of a JSON Lines file: one JSON object per line (blank lines are skipped)."""
    text = read_text(path, options.encoding)
    rows: list[Row] = []
    numbers: list[int] = []
    for lineno, obj in core_read_jsonl(path, text=text):
        where = f"{path} line {lineno}"
        keys = [str(k) for k in obj]
        if options.text_column not in obj:
            raise _missing_column(where, options.text_column, keys, "text_column", "key")
        mapped = (options.text_column, options.label_column)
        row: Row = {k: v for k, v in obj.items() if k not in mapped}  # prompt, completion...
        value = obj[options.text_column]
        if _is_messages(value):  # a chat conversation: also under its own key (head.format: chat)
            row[options.text_column] = value
            row["text"] = value
        else:
            row["text"] = _text_value(value, where, options.text_column)
        if options.label_column:
            if options.label_column not in obj:
                raise _missing_column(where, options.label_column, keys, "label_column", "key")
            row["label"] = obj[options.label_column]
        rows.append(row)
        numbers.append(lineno)
    if not rows:
        raise _empty(path)
    return Loaded(path, rows, numbers)


def read_parquet(path: Path, options: FileOptions) -> Loaded:
    """Rows of a Parquet file; row numbers count the rows from 1."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.stat().st_size == 0:
        raise _empty(path)
    try:
        parquet = pq.ParquetFile(path)
        columns = list(parquet.schema_arrow.names)
    except (pa.ArrowException, OSError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(
            f"{path} is not a readable Parquet file ({reason}); write it with "
            f"pandas.DataFrame.to_parquet, or use data.source: csv or jsonl for text files"
        ) from None
    wanted = [options.text_column] + ([options.label_column] if options.label_column else [])
    for column, option in zip(wanted, ("text_column", "label_column")[: len(wanted)], strict=True):
        if column not in columns:
            raise _missing_column(str(path), column, columns, option)
    try:
        table = parquet.read(columns=wanted)
    except (pa.ArrowException, OSError) as err:
        raise UserError(f"{path}: cannot read the Parquet data ({err}); rewrite the file") from None
    if table.num_rows == 0:
        raise UserError(f"{path} has no rows; write the rows into it")
    texts = table.column(options.text_column).to_pylist()
    labels = table.column(options.label_column).to_pylist() if options.label_column else None
    rows: list[Row] = []
    for i, text in enumerate(texts):
        row: Row = {"text": _text_value(text, f"{path} row {i + 1}", options.text_column)}
        if labels is not None:
            row["label"] = labels[i]
        rows.append(row)
    return Loaded(path, rows, list(range(1, len(rows) + 1)))


READERS = {"csv": read_csv, "jsonl": read_jsonl, "parquet": read_parquet}


def load_files(fmt: str, options: FileOptions, seed: int) -> RawSplits:
    """Load dataset ``fmt`` (csv, jsonl, parquet) from the files named in ``options``."""
    reader = READERS[fmt]
    val_ratio, test_ratio = check_ratios(options.val_ratio, options.test_ratio)
    given = {name: getattr(options, name) for name in SPLITS}
    if options.path and any(given.values()):
        raise UserError(
            "data.options: give either path (one file, split by val_ratio/test_ratio) or "
            "train with optional validation/test files, not both"
        )
    if not options.path and not given["train"]:
        if given["validation"] or given["test"]:
            raise UserError(
                "data.options.train is missing: validation/test files are given, so name "
                "the training file too"
            )
        raise UserError(
            f"data.options.path is missing: dataset '{fmt}' needs a file; set path "
            f"(one file, split by val_ratio/test_ratio) or train (and optionally "
            f"validation/test)"
        )

    if options.path:
        loaded = {"train": reader(resolve_path(options.path, "path"), options)}
        carve_val, carve_test = val_ratio, test_ratio
    else:
        loaded = {
            name: reader(resolve_path(value, name), options)
            for name, value in given.items()
            if value
        }
        carve_val = val_ratio if "validation" not in loaded else 0.0
        carve_test = test_ratio if "test" not in loaded else 0.0

    train = loaded["train"]
    split = stratified_split(train.rows, carve_val, carve_test, seed, row_numbers=train.row_numbers)
    splits, row_numbers = split.splits, split.row_numbers
    origin = {name: str(train.path) for name in SPLITS}
    for name in ("validation", "test"):
        if name in loaded:
            splits[name] = loaded[name].rows
            row_numbers[name] = loaded[name].row_numbers
            origin[name] = str(loaded[name].path)
    return RawSplits(splits=splits, origin=origin, row_numbers=row_numbers)
