"""Every CLI command: output and exit codes."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from ftcore_devkit.testing import run_python

from ftcore.cli import main


def test_recipes_lists_names_with_descriptions(capsys):
    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^sentiment-rotten-tomatoes +Binary sentiment", out, re.M)
    assert "smoke" in out and "topic-bbc-news" in out
    assert "_minilm-classification" not in out  # bases are not listed


def test_recipes_show_and_copy(capsys, tmp_path):
    assert main(["recipes", "show", "smoke"]) == 0
    assert capsys.readouterr().out.startswith("# Smoke test")
    assert main(["recipes", "copy", "smoke", str(tmp_path)]) == 0
    assert (tmp_path / "smoke.yaml").read_text().startswith("# Smoke test")
    assert main(["recipes", "copy", "smoke", str(tmp_path)]) == 2  # never overwrite
    assert "already exists" in capsys.readouterr().err


def test_unknown_recipe_suggests_name(capsys):
    assert main(["validate", "smok"]) == 2
    assert "no recipe named 'smok' (did you mean 'smoke'?)" in capsys.readouterr().err


def test_validate_ok(capsys):
    assert main(["validate", "topic-bbc-news", "data.max_length=64"]) == 0
    assert "topic-bbc-news: valid" in capsys.readouterr().out


def test_plugins_shows_hooks_and_components(capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "classification  (ftcore-classification 0.1.0)  loaded" in out
    lines = out.splitlines()
    hooks_line = lines[lines.index(next(x for x in lines if x.startswith("classification "))) + 1]
    assert "ftcore_components" in hooks_line  # a head is one object, declared there
    assert "model minilm:" in out and "dataset rotten_tomatoes:" in out


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["predict", "--help"]])
def test_help(args):
    out = subprocess.run(
        [sys.executable, "-m", "ftcore.cli", *args], capture_output=True, text=True
    )
    assert out.returncode == 0 and "usage: ftcore" in out.stdout


def test_commands_that_do_not_train_do_not_import_torch():
    code = (
        "import sys; from ftcore.cli import main; main(['validate', 'smoke']); "
        "main(['recipes']); main(['plugins']); "
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    )
    run_python(code, check=True)
