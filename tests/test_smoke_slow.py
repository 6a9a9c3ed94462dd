"""The `smoke` recipe on the real pretrained MiniLM and real rotten_tomatoes rows."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_smoke_recipe_runs_end_to_end(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "ftcore.cli", "run", "smoke", "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["data"]["rows"] == {"train": 256, "validation": 128, "test": 128}
    assert metrics["data"]["labels"] == ["fresh", "rotten"]
    assert 0.0 <= metrics["test"]["test/accuracy"] <= 1.0
    predicted = subprocess.run(
        [
            sys.executable,
            "-m",
            "ftcore.cli",
            "predict",
            str(tmp_path / "run"),
            "--text",
            "A triumph.",
        ],
        capture_output=True,
        text=True,
    )
    assert predicted.returncode == 0, predicted.stderr
    assert json.loads(predicted.stdout)["label"] in {"fresh", "rotten"}
