"""Issue 14.12 and 14.13: mistakes in the user's files and arguments end in one line and
exit 2 (what, where, how to fix), never a traceback and never "report it to the plugin's
authors"."""

from __future__ import annotations

import csv
import shutil

import pytest
from ftcore_devkit.testing import (
    MemoryDataset,
    base_recipe,
    build_hooks,
    execute_recipe,
    tiny_splits,
)

from ftcore.cli import main


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_model_dir):
    out = tmp_path_factory.mktemp("mistakes") / "run"
    hooks = build_hooks([MemoryDataset(tiny_splits())])
    return execute_recipe(base_recipe(tiny_model_dir), out, [], hooks=hooks).run_dir


@pytest.fixture
def run_copy(finished_run, tmp_path):
    return shutil.copytree(finished_run, tmp_path / "run")


def _one_line_refusal(capsys, code: int, *expected: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("ftcore: error: "), err
    assert "report it" not in err[0] and "Traceback" not in err[0]
    for text in expected:
        assert text in err[0], err
    return err[0]


def test_predict_input_that_is_not_utf8(finished_run, tmp_path, capsys):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"text": "caf\xe9"}\n')
    code = main(["predict", str(finished_run), "--input", str(path)])
    _one_line_refusal(capsys, code, "line 1: not valid utf-8 (byte 0xe9)")


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_json_nested_100k_deep(finished_run, tmp_path, capsys, command):
    path = tmp_path / "deep.jsonl"
    path.write_text('{"text": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    flag = "--input" if command == "predict" else "--data"
    code = main(
        [
            command,
            str(finished_run),
            flag,
            str(path),
            *(["--out", str(tmp_path / "e")]) * (command == "evaluate"),
        ]
    )
    _one_line_refusal(capsys, code, "line 1: JSON nested too deeply")


def test_evaluate_data_in_latin1(finished_run, tmp_path, capsys):
    path = tmp_path / "new.csv"
    path.write_bytes("text,label\ncafé,pos\n".encode("latin-1"))
    code = main(["evaluate", str(finished_run), "--data", str(path), "--out", str(tmp_path)])
    _one_line_refusal(capsys, code, "line 2: not valid utf-8", "save the file as UTF-8")


def test_compare_confidence_out_of_range(finished_run, capsys):
    code = main(["compare", str(finished_run), str(finished_run), "--confidence", "2"])
    _one_line_refusal(capsys, code, "--confidence 2.0: must be between 0 and 1")


def test_corrupt_data_info(run_copy, capsys):
    (run_copy / "model" / "ftcore_data_info.json").write_text("{not json")
    code = main(["predict", str(run_copy), "--text", "hi"])
    _one_line_refusal(capsys, code, "ftcore_data_info.json is damaged")


def test_truncated_safetensors(run_copy, capsys):
    weights = run_copy / "model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    code = main(["predict", str(run_copy), "--text", "hi"])
    _one_line_refusal(capsys, code, "model cannot be loaded", "SafetensorError")


def test_one_class_data(tmp_path, tiny_model_dir, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open("one.csv", "w", newline="") as f:
        rows = csv.writer(f)
        rows.writerow(["text", "label"])
        rows.writerows([f"text number {i}", "pos"] for i in range(40))
    recipe = tmp_path / "one.yaml"
    recipe.write_text(
        f"task: classification\nmodel: {{name: '{tiny_model_dir}'}}\n"
        "data: {source: csv, options: {path: one.csv}}\n"
        "trainer: {progress_bar: false, accelerator: cpu}\n"
    )
    code = main(["run", str(recipe), "--out", str(tmp_path / "out")])
    _one_line_refusal(capsys, code, "only the class 'pos'", "at least two classes")


def test_recipes_lists_a_non_utf8_recipe_as_unreadable(tmp_path, capsys, monkeypatch):
    (tmp_path / "latin.yaml").write_bytes("description: café\n".encode("latin-1"))
    monkeypatch.setenv("FTCORE_RECIPES_PATH", str(tmp_path))
    assert main(["recipes"]) == 0
    assert any(
        line.startswith("latin") and "(unreadable YAML)" in line
        for line in capsys.readouterr().out.splitlines()
    )


def test_predict_never_prints_nan(run_copy, capsys):
    """Issue 14.5: a model whose weights are not finite is refused, never `{"pos": NaN}`."""
    from safetensors.torch import load_file, save_file

    path = run_copy / "model" / "model.safetensors"
    tensors = load_file(path)
    tensors = {k: v.fill_(float("nan")) if v.is_floating_point() else v for k, v in tensors.items()}
    save_file(tensors, path, metadata={"format": "pt"})
    code = main(["predict", str(run_copy), "--text", "hi"])
    _one_line_refusal(capsys, code, "predicts NaN or Inf")
