"""Issue 14.1: a run folder from someone else runs no code. Its recipe.yaml may say
``trust_remote_code: true`` and its model/config.json may carry an ``auto_map`` to a
model/*.py; ``predict`` and ``evaluate`` run that file only with ``--trust-remote-code``."""

from __future__ import annotations

import json

import pytest
import yaml

from ftcore.cli import main

EVIL = """
from pathlib import Path
Path(MARKER).write_text("remote code ran")
from transformers import BertConfig, BertForSequenceClassification
class EvilConfig(BertConfig):
    pass
class EvilModel(BertForSequenceClassification):
    config_class = EvilConfig
"""


@pytest.fixture
def foreign_run(run_recipe):
    run_dir = run_recipe().run_dir
    recipe = yaml.safe_load((run_dir / "recipe.yaml").read_text())
    recipe["model"]["trust_remote_code"] = True
    (run_dir / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    config = json.loads((run_dir / "model" / "config.json").read_text())
    config["auto_map"] = {
        "AutoConfig": "evil.EvilConfig",
        "AutoModelForSequenceClassification": "evil.EvilModel",
    }
    (run_dir / "model" / "config.json").write_text(json.dumps(config))
    marker = f"MARKER = {str(run_dir / 'EXECUTED')!r}\n"  # transformers runs a copy elsewhere
    (run_dir / "model" / "evil.py").write_text(marker + EVIL)
    return run_dir


def _ran(run_dir) -> bool:
    return (run_dir / "EXECUTED").exists()


def test_predict_never_trusts_a_run_folders_code(foreign_run, capsys):
    code = main(["predict", str(foreign_run), "--text", "a fine film"])
    assert not _ran(foreign_run), "predict executed the run folder's model/evil.py"
    assert code == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["text"] == "a fine film"


def test_evaluate_never_trusts_a_run_folders_code(foreign_run, tmp_path, capsys):
    data = tmp_path / "new.jsonl"
    rows = [{"text": f"film {i}", "label": ["neg", "pos"][i % 2]} for i in range(8)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code = main(["evaluate", str(foreign_run), "--data", str(data), "--out", str(tmp_path / "e")])
    assert not _ran(foreign_run), "evaluate executed the run folder's model/evil.py"
    assert code == 0, capsys.readouterr().err


def test_trust_remote_code_on_the_command_runs_it_and_says_so(foreign_run, capsys, caplog):
    code = main(["predict", str(foreign_run), "--text", "hi", "--trust-remote-code"])
    said = capsys.readouterr().err + caplog.text
    assert code == 0, said
    assert _ran(foreign_run)
    assert "--trust-remote-code: running Python code shipped in" in said
