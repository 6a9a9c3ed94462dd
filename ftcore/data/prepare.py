"""From a dataset plugin's raw splits to validated, normalised, encoded examples."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from ftcore.data.normalize import is_conversation, normalized, normalizer
from ftcore.errors import UserError
from ftcore.types import DataInfo, Head, RawSplits, Row

SPLITS = ("train", "validation", "test")


@dataclass
class PreparedData:
    """Valid rows per split, the head's data facts, and what was dropped."""

    rows: dict[str, list[Row]]
    info: DataInfo
    dropped: dict[str, int] = field(default_factory=dict)
    drop_reasons: list[str] = field(default_factory=list)
    text_key: str = "text"  # the row field the head reads the text from
    num_proc: int = 1  # processes for Dataset.map over Arrow splits (RawSplits.num_proc)


def text_problem(row: Row, key: str, max_chars: int | None = None) -> str | None:
    """Core's own row check: the text must be a non-empty string of at most ``max_chars``."""
    value = row.get(key)
    if value is None:
        return f"missing '{key}'"
    if isinstance(value, list):
        return _conversation_problem(value, key, max_chars)
    if not isinstance(value, str):
        return f"'{key}' is not text (got {type(value).__name__})"
    if not value.strip():
        return f"empty '{key}'"
    if max_chars is not None and len(value) > max_chars:
        return (
            f"'{key}' is {len(value):,} characters long, over data.max_chars={max_chars} "
            "(a stray quote can swallow the rest of a file; check the row, or raise "
            "data.max_chars)"
        )
    return None


def _conversation_problem(value: list, key: str, max_chars: int | None) -> str | None:
    """A chat conversation's check: messages with a role and text content."""
    if not value:
        return f"empty '{key}' (a conversation needs at least one message)"
    if not is_conversation(value):
        return (
            f"'{key}' is a list but not a conversation: every message must be "
            '{"role": "...", "content": "..."} with text content'
        )
    if max_chars is not None and sum(len(m["content"]) for m in value) > max_chars:
        return f"'{key}' is longer than data.max_chars={max_chars} characters in all"
    return None


def _where(raw: RawSplits, split: str, index: int) -> str:
    numbers = raw.row_numbers.get(split)
    number = numbers[index] if numbers is not None and index < len(numbers) else index + 1
    return f"{raw.origin.get(split, split + ' split')}: row {number}"


def _check_split(
    raw: RawSplits, split: str, recipe: Any, head: Head[Any], options: Any, out: PreparedData
) -> list[Row]:
    key, info = out.text_key, out.info
    clean = normalizer(list(recipe.data.normalize))
    kept = []
    for index, row in enumerate(raw.splits[split]):
        problem = text_problem(row, key, recipe.data.max_chars)
        if problem is None:
            row = {**row, key: normalized(row[key], clean)}
            problem = head.check_row(row=row, info=info, options=options)
        if problem is None:
            kept.append(row)
            continue
        where = _where(raw, split, index)
        if recipe.data.on_invalid == "error":
            raise UserError(
                f"{where}: {problem}; fix the row, or set data.on_invalid=drop to drop invalid rows"
            )
        out.dropped[split] = out.dropped.get(split, 0) + 1
        if len(out.drop_reasons) < 20:
            out.drop_reasons.append(f"{where}: {problem}")
    return kept


def _subset(rows: list[Row], limit: int | None, seed: int) -> list[Row]:
    if limit is None or limit >= len(rows):
        return rows
    keep = sorted(random.Random(seed).sample(range(len(rows)), limit))
    return [rows[i] for i in keep]


def _check_arrow_split(
    raw: RawSplits, split: str, recipe: Any, head: Head[Any], options: Any, out: PreparedData
) -> Any:
    """:func:`_check_split` for a ``datasets.Dataset``: the same checks, normalisation,
    messages and counts, run by ``Dataset.map``; the valid rows, still in Arrow."""
    from ftcore.data import arrow
    from ftcore.models import cache_dir

    key, info, data = out.text_key, out.info, recipe.data
    steps = [str(getattr(s, "value", s)) for s in data.normalize]
    clean, max_chars = normalizer(steps), data.max_chars

    def check(batch: dict[str, list]) -> dict[str, list]:
        texts, found = [], []
        for row in arrow.rows_of(batch):
            problem = text_problem(row, key, max_chars)
            if problem is None:
                row[key] = normalized(row[key], clean)
                problem = head.check_row(row=row, info=info, options=options)
            texts.append(row.get(key))
            found.append(problem)
        return {arrow.PROBLEM: found, **({key: texts} if key in batch else {})}

    dataset = raw.splits[split]
    facts = [dataset._fingerprint, key, steps, max_chars, info.to_dict()]
    facts.append(arrow.head_facts(recipe, head))
    folder, name = cache_dir(recipe) / "arrow", arrow.fingerprint("check", *facts)
    checked = arrow.mapped(dataset, check, name, folder, not data.cache_tokenized, raw.num_proc)
    bad, messages = arrow.problems(checked)
    if bad and data.on_invalid == "error":
        raise UserError(
            f"{_where(raw, split, bad[0])}: {messages[0]}; fix the row, or set "
            f"data.on_invalid=drop to drop invalid rows"
        )
    if bad:
        out.dropped[split] = out.dropped.get(split, 0) + len(bad)
        room = max(0, 20 - len(out.drop_reasons))
        out.drop_reasons += [f"{_where(raw, split, i)}: {m}" for i, m in zip(bad[:room], messages)]
    return arrow.drop(checked, bad)


def _checked_subset(
    raw: RawSplits, split: str, recipe: Any, head: Head[Any], options: Any, out: PreparedData
) -> Any:
    """One split's valid rows, subset by ``data.limit_train``/``limit_eval`` (seeded)."""
    limit = recipe.data.limit_train if split == "train" else recipe.data.limit_eval
    if split_is_arrow(raw.splits[split]):
        from ftcore.data.arrow import ArrowRows, subset

        checked = _check_arrow_split(raw, split, recipe, head, options, out)
        return ArrowRows(subset(checked, limit, recipe.seed))
    rows = _check_split(raw, split, recipe, head, options, out)
    return _subset(rows, limit, recipe.seed)


def split_is_arrow(split: Any) -> bool:
    """True for a ``datasets.Dataset`` (an Arrow split), checked without importing it."""
    from ftcore.data.arrow import is_arrow

    return is_arrow(split)


def prepare(raw: RawSplits, recipe: Any, head: Head[Any], options: Any) -> PreparedData:
    """Learn the head's data info, check every row, drop or fail on invalid ones, apply
    subsets (seeded). Arrow splits (``datasets.Dataset``) stay Arrow: their rows are
    :class:`ftcore.data.arrow.ArrowRows`."""
    absent = [s for s in SPLITS if s not in raw.splits]
    if absent:
        raise UserError(
            f"data.source: dataset '{recipe.data.source}' returned no "
            f"{', '.join(absent)} split; its plugin must return {', '.join(SPLITS)}"
        )
    train = raw.splits["train"]
    if split_is_arrow(train):
        from ftcore.data.arrow import ArrowRows

        train = ArrowRows(train)
    info = head.data_info(rows=train, options=options)
    out = PreparedData(rows={}, info=info, text_key=head.text_key(options=options))
    for split in SPLITS:
        out.rows[split] = _checked_subset(raw, split, recipe, head, options, out)
        if not out.rows[split]:
            raise UserError(
                f"{raw.origin.get(split, split)}: the {split} split is empty after "
                f"dropping {out.dropped.get(split, 0)} invalid rows; check the data "
                f"and data.options"
            )
    out.num_proc = raw.num_proc
    return out


def encode_split(rows: list[Row], run: Any) -> list[dict]:
    """Tokenise and encode ``rows`` with ``run``'s head (anything with ``head``,
    ``head_options``, ``tokenizer``, ``info`` and ``recipe``: a Run or a Predictor); one
    feature dict per example."""
    columns = run.head.encode(
        rows=rows,
        tokenizer=run.tokenizer,
        max_length=run.recipe.data.max_length,
        info=run.info,
        options=run.head_options,
    )
    names = list(columns)
    return [dict(zip(names, values)) for values in zip(*(columns[n] for n in names))]
