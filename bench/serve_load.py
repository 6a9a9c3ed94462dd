"""Load test of ``ftcore serve`` on loopback: ``python -m bench.serve_load RUN_DIR
[--requests N] [--predict-calls N] [--out FILE] [--url URL]``.

Starts ``ftcore serve RUN_DIR`` on a free loopback port, waits for ``/health``, and sends
N requests at each of 1, 8 and 32 concurrent clients (one text or one user message per
request: ``/predict`` for classification and regression runs, ``/v1/chat/completions``
for generation runs), after a few warm-up requests. Then times a loop of ``ftcore
predict RUN_DIR --text ...`` calls, one process per call, as a user would script it.
Prints a table and writes JSON: throughput (requests/s), p50 and p99 latency per level,
and the per-call time of the ``ftcore predict`` loop. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import heavy_lock, load_average, log, machine, write_json

FTCORE = str(Path(sys.executable).with_name("ftcore"))
CLIENTS = (1, 8, 32)
TEXTS = [
    "a gripping, beautifully acted film",
    "dull, predictable and far too long",
    "the plot wanders but the cast saves it",
    "I laughed, I cried, I want my money back",
]


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    run_dir = Path(args.run_dir).resolve()
    task = _task(run_dir)
    extra = [
        "--max-batch-size",
        str(args.max_batch_size),
        "--batch-timeout",
        str(args.batch_timeout),
    ]
    with heavy_lock("serve_load") if args.lock else _nothing():
        with _nothing(args.url) if args.url else _server(run_dir, extra) as url:
            levels = [_level(url, task, clients, args.requests) for clients in CLIENTS]
        loop = _predict_loop(run_dir, task, args.predict_calls)
    result = {
        "run_dir": str(run_dir),
        "task": task,
        "requests_per_level": args.requests,
        "max_batch_size": args.max_batch_size,
        "batch_timeout": args.batch_timeout,
        "serve": levels,
        "ftcore_predict_loop": loop,
        "load_average": load_average(),
        "machine": machine(),
    }
    print(_table(result))
    if args.out:
        write_json(args.out, result)
    return 0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.serve_load", description=__doc__)
    parser.add_argument("run_dir", help="a finished run (classification, regression, generation)")
    parser.add_argument("--requests", type=int, default=200, help="requests per concurrency level")
    parser.add_argument("--predict-calls", type=int, default=5, help="ftcore predict calls timed")
    parser.add_argument("--max-batch-size", type=int, default=8)
    parser.add_argument("--batch-timeout", type=float, default=0.01)
    parser.add_argument("--out", help="write the figures as JSON here")
    parser.add_argument(
        "--url", help="measure the server of RUN_DIR already running there instead of starting one"
    )
    parser.add_argument(
        "--lock", action="store_true", help="hold the machine-wide heavy-job lock while timing"
    )
    return parser.parse_args(argv)


def _task(run_dir: Path) -> str:
    info = json.loads((run_dir / "model" / "ftcore_data_info.json").read_text())
    return str(info["task"])


class _nothing:
    """A context that holds ``value`` and does nothing."""

    def __init__(self, value: Any = None) -> None:
        self.value = value

    def __enter__(self) -> Any:
        return self.value

    def __exit__(self, *exc: object) -> None:
        return None


class _server:
    """``ftcore serve`` in a subprocess; its URL once ``/health`` answers."""

    def __init__(self, run_dir: Path, extra: list[str]) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.command = [FTCORE, "serve", str(run_dir), "--port", str(self.port), *extra]

    def __enter__(self) -> str:
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        url = f"http://127.0.0.1:{self.port}"
        started = time.perf_counter()
        while time.perf_counter() - started < 300:
            if self.process.poll() is not None:
                raise SystemExit(f"ftcore serve exited: {self.process.stderr.read()[-2000:]}")
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as answer:
                    if answer.status == 200:
                        log(f"serve_load: server up in {time.perf_counter() - started:.1f} s")
                        return url
            except OSError:
                time.sleep(0.2)
        raise SystemExit("ftcore serve did not become healthy in 300 s")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _body(task: str, i: int) -> tuple[str, bytes]:
    text = f"{TEXTS[i % len(TEXTS)]} ({i})"
    if task == "generation":
        body = {"model": "ftcore", "messages": [{"role": "user", "content": text}]}
        return "/v1/chat/completions", json.dumps(body).encode()
    return "/predict", json.dumps({"text": text}).encode()


def _send(url: str, task: str, i: int) -> float:
    """Seconds for one request (a failure stops the benchmark)."""
    path, data = _body(task, i)
    headers = {"Content-Type": "application/json"}
    started = time.perf_counter()
    with urllib.request.urlopen(
        urllib.request.Request(url + path, data, headers), timeout=600
    ) as a:
        a.read()
        if a.status != 200:
            raise SystemExit(f"{path}: HTTP {a.status}")
    return time.perf_counter() - started


def _level(url: str, task: str, clients: int, requests: int) -> dict[str, Any]:
    """Throughput and latency of ``requests`` requests sent by ``clients`` threads."""
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda i: _send(url, task, i), range(min(clients, requests))))  # warm-up
        started = time.perf_counter()
        latencies = sorted(pool.map(lambda i: _send(url, task, i), range(requests)))
        elapsed = time.perf_counter() - started
    row = {
        "clients": clients,
        "requests": requests,
        "seconds": round(elapsed, 3),
        "requests_per_s": round(requests / elapsed, 2),
        "p50_ms": round(1000 * _quantile(latencies, 0.50), 1),
        "p99_ms": round(1000 * _quantile(latencies, 0.99), 1),
    }
    log(f"serve_load: {row}")
    return row


def _quantile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def _predict_loop(run_dir: Path, task: str, calls: int) -> dict[str, Any]:
    """Seconds per ``ftcore predict`` call, one process per call."""
    flag = "--prompt" if task == "generation" else "--text"
    times = []
    for i in range(calls):
        command = [FTCORE, "predict", str(run_dir), flag, TEXTS[i % len(TEXTS)]]
        started = time.perf_counter()
        out = subprocess.run(command, capture_output=True, text=True, env=os.environ)
        times.append(time.perf_counter() - started)
        if out.returncode != 0:
            raise SystemExit(f"ftcore predict failed: {out.stderr[-2000:]}")
    per_call = statistics.median(times)
    return {
        "calls": calls,
        "median_s": round(per_call, 3),
        "requests_per_s": round(1 / per_call, 3),
    }


def _table(result: dict[str, Any]) -> str:
    lines = [
        "| clients | requests/s | p50 ms | p99 ms |",
        "|---:|---:|---:|---:|",
        *(
            f"| {r['clients']} | {r['requests_per_s']} | {r['p50_ms']} | {r['p99_ms']} |"
            for r in result["serve"]
        ),
    ]
    loop = result["ftcore_predict_loop"]
    lines.append(
        f"| `ftcore predict` loop ({loop['calls']} calls) | {loop['requests_per_s']} | "
        f"{1000 * loop['median_s']:.0f} (per call) | |"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
