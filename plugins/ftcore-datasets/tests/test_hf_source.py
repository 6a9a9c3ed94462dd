"""``data.source: hf``: save_to_disk folders, data files and Hub ids through the
``datasets`` library, kept in Arrow from loading to the DataLoader (issue 18, item 1)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import ftcore_datasets.plugin as plugin
import pytest
from ftcore_datasets.hf import load_hf
from ftcore_datasets.schema import FileOptions, HfOptions
from ftcore_datasets.split import stratified_split
from ftcore_devkit.testing import make_rows

from ftcore.cli import main
from ftcore.data.arrow import ArrowRows
from ftcore.errors import UserError


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FTCORE_CACHE", str(tmp_path / "cache"))


def _dataset(n: int, seed: int = 0) -> datasets.Dataset:
    rows = make_rows(n, seed)
    return datasets.Dataset.from_dict(
        {"review": [r["text"] for r in rows], "stars": [r["label"] for r in rows]}
    )


def _write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def _columns(**extra: str) -> list[str]:
    found = ["data.source=hf", "data.options.text_column=review"]
    found += ["data.options.label_column=stars"]
    return found + [f"data.options.{k}={v}" for k, v in extra.items()]


def _assert_arrow(result) -> None:
    data, features = result.run.data, result.run.datamodule.features
    for split in ("train", "validation", "test"):
        assert isinstance(data.rows[split], ArrowRows)
        assert isinstance(features[split], ArrowRows)
        assert isinstance(features[split].dataset, datasets.Dataset)
        assert "input_ids" in features[split].dataset.column_names


def test_a_saved_datasetdict_keeps_its_splits_and_stays_arrow(run_recipe, tmp_path):
    folder = tmp_path / "saved"
    datasets.DatasetDict(
        {"train": _dataset(60), "validation": _dataset(12, 1), "test": _dataset(10, 2)}
    ).save_to_disk(str(folder))
    result = run_recipe(plugins=[plugin], overrides=_columns(path=folder))
    assert result.summary["data"]["rows"] == {"train": 60, "validation": 12, "test": 10}
    assert 0.0 <= result.test["test/accuracy"] <= 1.0
    _assert_arrow(result)
    assert result.run.data.rows["train"][0]["text"] == make_rows(60)[0]["text"]


def test_a_saved_single_dataset_is_carved_as_the_csv_source_carves(tmp_path):
    folder = tmp_path / "one"
    _dataset(100).save_to_disk(str(folder))
    options = HfOptions(path=str(folder), text_column="review", label_column="stars")
    raw = load_hf(options, seed=3)
    rows = [{"text": r["text"], "label": r["label"]} for r in make_rows(100)]
    expected = stratified_split(rows, 0.1, 0.1, 3)
    for split in ("train", "validation", "test"):
        assert isinstance(raw.splits[split], datasets.Dataset)
        assert raw.splits[split].to_list() == expected.splits[split]
        assert list(raw.row_numbers[split]) == expected.row_numbers[split]


def test_class_label_ids_become_class_names(tmp_path):
    folder = tmp_path / "classlabel"
    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])}
    )
    datasets.Dataset.from_dict(
        {"text": ["a b", "c d"] * 10, "label": [0, 1] * 10}, features
    ).save_to_disk(str(folder))
    raw = load_hf(HfOptions(path=str(folder)), seed=0)
    assert set(raw.splits["train"]["label"]) == {"neg", "pos"}


def test_csv_data_files_with_given_splits_train_end_to_end(run_recipe, tmp_path):
    train = _write_csv(tmp_path / "train.csv", make_rows(50))
    test = _write_csv(tmp_path / "test.csv", make_rows(10, 1))
    overrides = [
        "data.source=hf",
        "data.options.format=csv",
        f"data.options.data_files={{train: '{train}', test: '{test}'}}",
        f"data.options.cache_dir={tmp_path / 'hf'}",
        "data.options.val_ratio=0.2",
    ]
    result = run_recipe(plugins=[plugin], overrides=overrides)
    assert result.summary["data"]["rows"] == {"train": 40, "validation": 10, "test": 10}
    _assert_arrow(result)


def test_one_json_lines_file_is_carved(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in make_rows(40)))
    options = HfOptions(format="json", data_files=str(path), cache_dir=str(tmp_path / "hf"))
    raw = load_hf(options, seed=0)
    assert {s: len(d) for s, d in raw.splits.items()} == {"train": 32, "validation": 4, "test": 4}
    assert raw.origin["test"] == str(path)


def test_the_arrow_path_checks_rows_like_the_list_path(run_recipe, tmp_path):
    rows = make_rows(60)
    rows[7]["label"] = ""  # an empty text would be dropped too; a blank label is invalid
    rows[9]["text"] = "   "
    data = datasets.Dataset.from_list(rows)
    folder = tmp_path / "drops"
    data.save_to_disk(str(folder))
    result = run_recipe(
        plugins=[plugin],
        overrides=[
            "data.source=hf",
            f"data.options.path={folder}",
            "data.on_invalid=drop",
            "data.limit_train=20",
        ],
    )
    summary = result.summary["data"]
    assert summary["rows"]["train"] == 20
    assert sum(result.run.data.dropped.values()) == 2
    assert all(str(folder) in reason for reason in result.run.data.drop_reasons)


def test_offline_hub_id_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    options = HfOptions(name="nobody/no-such-dataset", cache_dir=str(tmp_path / "hf"))
    with pytest.raises(UserError) as err:
        load_hf(options, seed=0)
    message = str(err.value)
    assert "\n" not in message
    assert "'nobody/no-such-dataset'" in message and "HF_HUB_OFFLINE=1" in message


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"path": "missing-folder"}, "missing-folder: folder not found"),
        ({"format": "csv", "data_files": "nope.csv"}, "nope.csv: file not found"),
        ({"format": "xml", "data_files": "x"}, "data.options.format must be one of"),
        ({}, "give exactly one of path"),
        ({"path": "saved", "text_column": "body"}, "has no column 'body'"),
        ({"path": "saved", "label_column": "stars"}, "set data.options.label_column"),
    ],
)
def test_mistakes_are_one_line(tmp_path, monkeypatch, options, expected):
    monkeypatch.chdir(tmp_path)
    datasets.Dataset.from_list(make_rows(10)).save_to_disk(str(tmp_path / "saved"))
    with pytest.raises(UserError) as err:
        load_hf(HfOptions(**options), seed=0)
    assert expected in str(err.value) and "\n" not in str(err.value)


def _ftcore(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    ftcore = Path(sys.executable).with_name("ftcore")
    return subprocess.run(
        [str(ftcore), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=600,
    )


def _recipe(folder: Path, model: Path, options: str) -> Path:
    path = folder / "recipe.yaml"
    path.write_text(f"""
task: classification
seed: 0
model: {{name: "{model}"}}
data: {{source: hf, options: {options}, batch_size: 8, max_length: 16}}
trainer: {{max_epochs: 1, progress_bar: false, accelerator: cpu, devices: "1"}}
""")
    return path


def test_ftcore_run_trains_on_a_saved_folder(tmp_path, tiny_model_dir):
    datasets.Dataset.from_list(make_rows(60)).save_to_disk(str(tmp_path / "saved"))
    recipe = _recipe(tmp_path, tiny_model_dir, "{path: saved}")
    done = _ftcore(["run", str(recipe), "--out", "out"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert summary["data"]["rows"] == {"train": 48, "validation": 6, "test": 6}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("{path: saved, label_column: stars}", "has no column 'stars'"),
        ("{name: nobody/no-such-dataset}", "HF_HUB_OFFLINE=1 forbids downloading it"),
        ("{path: bad_labels}", "bad_labels: row 21: "),
    ],
)
def test_ftcore_run_mistakes_exit_2_with_one_line(
    tmp_path, tiny_model_dir, monkeypatch, capsys, options, expected
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    datasets.Dataset.from_list(make_rows(20)).save_to_disk(str(tmp_path / "saved"))
    rows = make_rows(20) + [{"text": "a text", "label": ""}]
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "bad_labels"))
    recipe = _recipe(tmp_path, tiny_model_dir, options)
    capsys.readouterr()
    code = main(["run", str(recipe), "--out", "out", "-q"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2, lines
    assert len(lines) == 1 and expected in lines[0], lines


def test_file_options_and_hf_options_share_the_column_names():
    shared = {"text_column", "label_column", "val_ratio", "test_ratio"}
    assert shared <= set(FileOptions.__dataclass_fields__) & set(HfOptions.__dataclass_fields__)


def _prepared(tiny_model_dir, splits, *overrides):
    from ftcore_devkit.testing import MemoryDataset, base_recipe, build_hooks
    from omegaconf import OmegaConf

    from ftcore.data.prepare import prepare
    from ftcore.recipe.loader import apply_overrides
    from ftcore.recipe.validate import validate
    from ftcore.types import RawSplits

    hooks = build_hooks([MemoryDataset(splits)])
    raw = apply_overrides(OmegaConf.create(base_recipe(tiny_model_dir)), list(overrides))
    recipe = validate(raw, hooks, source="test recipe", default_name="test")
    head = hooks.head(recipe.task)
    return prepare(RawSplits(splits=splits), recipe, head, hooks.head_options(recipe))


def test_arrow_and_list_splits_prepare_to_the_same_rows(tiny_model_dir):
    splits = {
        s: make_rows(n, i)
        for i, (s, n) in enumerate((("train", 50), ("validation", 20), ("test", 20)))
    }
    splits["train"][3]["label"] = "maybe"  # not one of head.labels: invalid
    splits["train"][5]["text"] = "  Many   spaces  "
    splits["validation"][2]["text"] = ""
    options = ["data.on_invalid=drop", "data.normalize=[whitespace]", "data.limit_train=30"]
    options += ["data.limit_eval=15", "head.labels=[pos, neg]"]
    lists = _prepared(tiny_model_dir, splits, *options)
    arrow = _prepared(
        tiny_model_dir, {s: datasets.Dataset.from_list(r) for s, r in splits.items()}, *options
    )
    for split in ("train", "validation", "test"):
        assert isinstance(arrow.rows[split], ArrowRows)
        assert list(arrow.rows[split]) == lists.rows[split]
    assert arrow.dropped == lists.dropped == {"train": 1, "validation": 1}
    assert arrow.drop_reasons == lists.drop_reasons


def test_a_map_result_is_read_back_from_ftcore_s_cache(tmp_path):
    from ftcore.data.arrow import mapped

    calls = []

    def upper(batch):
        calls.append(1)
        return {"text": [t.upper() for t in batch["text"]]}

    data = datasets.Dataset.from_list(make_rows(10))
    first = mapped(data, upper, "k1", tmp_path / "arrow", fresh=False, num_proc=1)
    again = mapped(data, upper, "k1", tmp_path / "arrow", fresh=False, num_proc=1)
    assert len(calls) == 1 and again["text"] == first["text"]
    assert (tmp_path / "arrow" / "k1.arrow").is_file()
    mapped(data, upper, "k1", tmp_path / "arrow", fresh=True, num_proc=1)
    assert len(calls) == 2
