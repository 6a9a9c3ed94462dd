"""A new user's first hour, walked as they walk it: in a folder outside the repository,
with only the installed ``ftcore`` command.

Copy a shipped recipe, point it at a CSV of one's own, validate, run, predict; then kill
a second run before its first checkpoint and resume it to completion.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
FTCORE = str(Path(sys.executable).with_name("ftcore"))


def _ftcore(cwd: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [FTCORE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=_env(cwd)
    )


def _env(cwd: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FTCORE_")}
    return {**env, "FTCORE_CACHE": str(cwd / ".cache")}


def _write_csv(path: Path, n: int) -> None:
    words = {"good": ["great", "lovely", "fine", "superb"], "bad": ["awful", "dull", "poor"]}
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["review", "mood"])
        for i in range(n):
            mood = "good" if i % 2 else "bad"
            out.writerow([f"a {words[mood][i % len(words[mood])]} film number {i}", mood])


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "my-project"
    folder.mkdir()
    assert not folder.resolve().is_relative_to(REPO)
    return folder


def _edit_copied_recipe(path: Path, model_dir: Path) -> None:
    """What the user does in an editor: own data, own (here: tiny) model, short training."""
    recipe = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert recipe["extends"] == "_minilm-classification"  # the base stays named, not copied
    recipe["model"] = {"name": str(model_dir)}
    recipe["data"] = {
        "source": "csv",
        "options": {"path": "reviews.csv", "text_column": "review", "label_column": "mood"},
        "max_length": 32,
        "batch_size": 8,
    }
    recipe["trainer"] = {"max_epochs": 2, "progress_bar": False, "accelerator": "cpu"}
    path.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")


def test_copy_edit_validate_run_predict_and_resume(user_dir: Path, tiny_model_dir: Path):
    copied = _ftcore(user_dir, "recipes", "copy", "sentiment-rotten-tomatoes", "my.yaml")
    assert copied.returncode == 0, copied.stderr
    unedited = _ftcore(user_dir, "validate", "my.yaml")
    assert unedited.returncode == 0, unedited.stderr

    _write_csv(user_dir / "reviews.csv", 200)
    _edit_copied_recipe(user_dir / "my.yaml", tiny_model_dir)
    checked = _ftcore(user_dir, "validate", "my.yaml")
    assert checked.returncode == 0, checked.stderr
    assert "valid" in checked.stdout

    ran = _ftcore(user_dir, "run", "my.yaml", "--out", "first")
    assert ran.returncode == 0, ran.stderr
    metrics = json.loads((user_dir / "first" / "metrics.json").read_text())
    assert set(metrics["test"]) >= {"test/accuracy"}

    predicted = _ftcore(user_dir, "predict", "first", "--text", "a superb film")
    assert predicted.returncode == 0, predicted.stderr
    line = json.loads(predicted.stdout.strip().splitlines()[-1])
    assert line["text"] == "a superb film" and line["label"] in {"good", "bad"}

    second = user_dir / "second"
    _kill_before_first_checkpoint(user_dir, second)
    resumed = _ftcore(user_dir, "run", "--resume", "second")
    assert resumed.returncode == 0, resumed.stderr
    assert "from the beginning" in resumed.stderr
    assert (second / "metrics.json").is_file() and (second / "model").is_dir()


def _kill_before_first_checkpoint(cwd: Path, run_dir: Path) -> None:
    proc = subprocess.Popen(
        [FTCORE, "run", "my.yaml", "--out", run_dir.name],
        cwd=cwd,
        env=_env(cwd),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not (run_dir / "recipe.yaml").is_file():
        assert proc.poll() is None and time.monotonic() < deadline, "the run never started"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not list((run_dir / "checkpoints").glob("*.ckpt")), "killed too late for this test"
