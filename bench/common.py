"""What every benchmark shares: alternating runner, medians, the heavy lock, step clocks.

Nothing here imports torch: the orchestrator (``bench.run``) stays light, and every side
of a comparison runs in its own fresh Python process.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LOCK = os.environ.get("FTCORE_BENCH_LOCK", "/tmp/ftcore-heavy.lock")
USE_LOCK = True


@contextlib.contextmanager
def heavy_lock(what: str) -> Iterator[None]:
    """Hold the machine-wide lock for heavy jobs while timing (others take it for real runs)."""
    if not USE_LOCK:
        yield
        return
    with open(LOCK, "a") as handle:
        started = time.perf_counter()
        fcntl.flock(handle, fcntl.LOCK_EX)
        waited = time.perf_counter() - started
        if waited > 1:
            log(f"  waited {waited:.0f} s for {LOCK} ({what})")
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def alternate(sides: list[str], rounds: int, measure: Callable[[str, int], Any]) -> dict:
    """Measure every side ``rounds`` times, alternating A B C, C B A, A B C... back to back.

    Returns {side: [result of each round]}; the reversed order of every second round
    cancels a slow drift of the machine's speed. Each result's numbers are logged as it
    comes, so an interrupted run still shows what it measured.
    """
    found: dict[str, list[Any]] = {side: [] for side in sides}
    for r in range(rounds):
        for side in sides if r % 2 == 0 else list(reversed(sides)):
            found[side].append(measure(side, r))
            log(f"bench:   round {r + 1}/{rounds} {side}: {_numbers(found[side][-1])}")
    return found


def _numbers(result: Any) -> str:
    if not isinstance(result, dict):
        return str(result)
    keys = [k for k, v in result.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return ", ".join(f"{k} {result[k]:g}" for k in keys[:8])


def python_job(
    module: str, args: list[str], timeout: float = 1800, env: dict | None = None
) -> dict:
    """Run ``python -m bench.<module> ARGS --out FILE`` and return the JSON it wrote there.

    Also returns ``peak_rss_mb`` (the child's own peak resident memory, from wait4) and
    ``wall_seconds``.
    """
    with tempfile.TemporaryDirectory(prefix="ftcore-bench-") as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, "-m", f"bench.{module}", *args, "--out", str(out)]
        result = process(command, timeout, env=env, cwd=ROOT)
        if result["returncode"] != 0:
            raise RuntimeError(
                f"{' '.join(command[2:])} failed ({result['returncode']}):\n{result['stderr']}"
            )
        found = json.loads(out.read_text()) if out.exists() else {}
    found.setdefault("peak_rss_mb", result["peak_rss_mb"])
    found.setdefault("wall_seconds", result["wall_seconds"])
    return found


def process(
    command: list[str], timeout: float = 600, env: dict | None = None, cwd: Path | None = None
) -> dict[str, Any]:
    """Run a command; its wall time, exit code, stderr tail and peak RSS (its own, via wait4)."""
    full_env = {**os.environ, **(env or {})}
    with tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=err, env=full_env, cwd=cwd, text=True
        )
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read()[-4000:]
    return {
        "returncode": proc.returncode,
        "wall_seconds": wall,
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux: kilobytes
        "stderr": tail,
    }


def _cpuinfo() -> tuple[str, list[str]]:
    """The CPU's model name and its bf16-related flags (avx512_bf16, amx_*) from /proc."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "?", []
    names = [ln.split(":", 1)[1].strip() for ln in text.splitlines() if "model name" in ln]
    flags = next((ln for ln in text.splitlines() if ln.startswith("flags")), "").split()
    return (names[0] if names else "?"), sorted(
        f for f in flags if f.startswith(("avx512_bf16", "amx"))
    )


def cpu_has_bf16() -> bool:
    """Whether this CPU has bf16 matmul units (AVX512-BF16 or AMX); without them torch
    emulates bf16 and autocast makes training many times slower, not faster."""
    return bool({"avx512_bf16", "amx_bf16"} & set(_cpuinfo()[1]))


def machine(device: str = "cpu") -> dict[str, Any]:
    """The machine the numbers come from (CPU model and flags that matter, memory; the
    accelerator's name, memory, CUDA and driver versions when ``device`` is not cpu)."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    info["cpu"], info["cpu_flags"] = _cpuinfo()
    with contextlib.suppress(OSError):
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        info["memory_gb"] = round(int(mem) / 2**20, 1)
    from ftcore_devkit.testing import run_python  # here, not at the top: workers stay light

    versions = run_python(
        "import importlib.metadata as m, json; print(json.dumps({d: m.version(d) for d in "
        "['torch', 'lightning', 'transformers', 'accelerate', 'torchmetrics']}))"
    )
    with contextlib.suppress(ValueError):
        info["versions"] = json.loads(versions.stdout)
    if device != "cpu":
        info["accelerator"] = accelerator()
    return info


def accelerator() -> dict[str, Any]:
    """The CUDA card (name, memory, multiprocessors), torch's CUDA version and the driver."""
    from ftcore_devkit.testing import run_python

    script = (
        "import json, torch; p = torch.cuda.get_device_properties(0); print(json.dumps({"
        "'name': p.name, 'memory_gib': round(p.total_memory / 2**30, 1), "
        "'multiprocessors': p.multi_processor_count, 'capability': f'{p.major}.{p.minor}', "
        "'cuda': torch.version.cuda, 'count': torch.cuda.device_count()}))"
    )
    found = run_python(script)
    info: dict[str, Any] = {}
    with contextlib.suppress(ValueError):
        info = json.loads(found.stdout)
    with contextlib.suppress(OSError):
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
        )
        info["driver"] = smi.stdout.strip().splitlines()[0] if smi.stdout.strip() else None
    return info


class StepClock:
    """Time stamps at the end of every training step; statistics after the warm-up.

    sync: called before every stamp (``torch.cuda.synchronize`` on a GPU, so a stamp is
    taken once the step's kernels have finished, not when they were queued).
    """

    def __init__(self, warmup: int, sync: Callable[[], Any] | None = None) -> None:
        self.warmup = warmup
        self.sync = sync
        self.stamps: list[float] = []

    def tick(self) -> None:
        if self.sync is not None:
            self.sync()
        self.stamps.append(time.perf_counter())

    def result(self) -> dict[str, Any]:
        """Mean and median step time (ms) over the steps after ``warmup``.

        The mean is the window's wall time over its step count, so periodic costs (logging
        every n steps) count; the median shows the typical step.
        """
        timed = self.stamps[self.warmup - 1 :] if self.warmup > 0 else self.stamps
        if len(timed) < 2:
            return {"steps": 0}
        gaps = [b - a for a, b in zip(timed, timed[1:])]
        return {
            "steps": len(gaps),
            "mean_ms": round(1000 * (timed[-1] - timed[0]) / len(gaps), 3),
            "median_ms": round(1000 * statistics.median(gaps), 3),
        }


def recipe_arguments() -> argparse.Namespace:
    """The command line of a benchmark that measures one recipe: ``RECIPE [key=value ...]
    --out FILE``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("recipe")
    parser.add_argument("overrides", nargs="*")
    parser.add_argument("--out", required=True)
    return parser.parse_args()


def write_json(path: str | Path, data: Any) -> None:
    Path(path).write_text(json.dumps(data, indent=2, default=str))
