"""Distributed data parallel through Lightning: 2 CPU processes (gloo) on the tiny recipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ftcore.errors import UserError
from ftcore.run import shared_run_dir

WORKER = Path(__file__).with_name("ddp_worker.py")
LAUNCH_VARS = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT",
               "SLURM_PROCID", "SLURM_NTASKS", "FTCORE_RUN_DIR", "PL_GLOBAL_SEED")  # fmt: skip


def test_ddp_two_cpu_processes_sync_metrics_and_only_rank_zero_writes(tmp_path, tiny_model_dir):
    root, records = tmp_path / "runs", tmp_path / "records"
    env = {k: v for k, v in os.environ.items() if k not in LAUNCH_VARS}
    done = subprocess.run(
        [sys.executable, str(WORKER), str(tiny_model_dir), str(root), str(records)],
        env={**env, "PYTHONWARNINGS": "ignore"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((records / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    # one run directory, the same on both ranks (rank 1 was started later by Lightning)
    assert ranks[0]["run_dir"] == ranks[1]["run_dir"]
    assert [p.name for p in (root / "test").iterdir()] == [Path(ranks[0]["run_dir"]).name]
    # metrics are synchronised: both ranks hold the same validation and test values
    for key in ("val/loss", "val/accuracy", "test/loss", "test/accuracy"):
        assert ranks[0]["metrics"][key] == pytest.approx(ranks[1]["metrics"][key]), key
    # both ranks gathered every test prediction, in dataset order
    assert ranks[0]["predictions"] == ranks[1]["predictions"]
    assert len(ranks[0]["predictions"]) == 16
    run_dir = Path(ranks[0]["run_dir"])
    assert (run_dir / "metrics.json").is_file() and (run_dir / "recipe.yaml").is_file()
    assert len(json.loads((run_dir / "predictions.json").read_text())) == 16
    assert ranks[0]["writes"], "the audit hook saw rank 0 write its run directory"
    assert ranks[1]["writes"] == []  # rank 1 created, opened or renamed nothing there


def test_outside_launcher_needs_a_fixed_run_directory(monkeypatch, tmp_path):
    from omegaconf import OmegaConf

    recipe = OmegaConf.create({"name": "x", "output": {"root": str(tmp_path), "run_name": None}})
    monkeypatch.setenv("WORLD_SIZE", "4")  # as torchrun sets it
    monkeypatch.delenv("FTCORE_RUN_DIR", raising=False)
    with pytest.raises(UserError, match="--out DIR or output.run_name"):
        shared_run_dir(recipe, None)
    assert shared_run_dir(recipe, str(tmp_path / "fixed")) == tmp_path / "fixed"
    recipe.output.run_name = "shared"
    assert shared_run_dir(recipe, None) == tmp_path / "x" / "shared"
