"""One DDP run of the tiny recipe (with L2-SP and early stopping when installed), started
by ``test_ddp.py``: ``python ddp_worker.py MODEL ROOT RECORDS``.

Lightning starts rank 1 by running this same command again (with ``LOCAL_RANK=1``). Every
rank writes ``RECORDS/rank<N>.json``: its metrics after the run, its test predictions and
every file or folder it created or opened for writing under ``ROOT`` (an audit hook sees
all of them), so the test can check that the ranks agree and that only rank 0 wrote the
run directory.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

MODEL, ROOT, RECORDS = sys.argv[1], Path(sys.argv[2]).resolve(), Path(sys.argv[3])
WRITES: list[str] = []
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _audit(event: str, args: tuple) -> None:
    if event == "open":
        path, mode, flags = args
        writing = any(c in (mode or "") for c in "wax+") or bool((flags or 0) & _WRITE_FLAGS)
    elif event in ("os.mkdir", "os.rename", "os.remove", "os.rmdir"):
        path, writing = args[0], True
    else:
        return
    if writing and isinstance(path, (str, bytes, os.PathLike)):
        resolved = Path(os.fsdecode(path)).resolve()
        if resolved.is_relative_to(ROOT):
            WRITES.append(f"{event} {resolved.relative_to(ROOT)}")


def main() -> None:
    sys.addaudithook(_audit)
    from ftcore_devkit.testing import MemoryDataset, base_recipe, build_hooks, tiny_splits

    import ftcore

    class Record:
        @ftcore.hookimpl
        def ftcore_run_end(self, run, summary):
            metrics = {**summary["validation"], **summary["test"]}
            record = {
                "rank": run.trainer.global_rank,
                "world_size": run.trainer.world_size,
                "run_dir": str(run.run_dir),
                "metrics": metrics,
                "predictions": [row["label"] for row in run.module.test_outputs],
                "writes": WRITES,
            }
            RECORDS.mkdir(parents=True, exist_ok=True)
            (RECORDS / f"rank{record['rank']}.json").write_text(json.dumps(record))

    from omegaconf import OmegaConf

    from ftcore.recipe.validate import validate
    from ftcore.run import execute

    recipe = base_recipe(Path(MODEL))
    recipe["output"] = {"root": str(ROOT)}  # no run_name: a timestamped directory
    recipe["trainer"].update(strategy="ddp", devices="2", accelerator="cpu", num_threads=1)
    recipe["evaluation"] = {"enabled": False}
    hooks = build_hooks([MemoryDataset(tiny_splits()), Record()])
    # strategies that must work under plain DDP, when their plugins are installed
    wanted = {"l2_sp": {"alpha": 0.01}, "early_stopping": {"patience": 2}}
    recipe["strategies"] = {k: v for k, v in wanted.items() if k in hooks.names("strategy")}
    execute(
        validate(OmegaConf.create(recipe), hooks, source="ddp test", default_name="test"), hooks
    )


if __name__ == "__main__":
    main()
