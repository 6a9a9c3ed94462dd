"""Tiny finished runs (random models, 2 training steps) and ``ftcore serve`` on them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ftcore_devkit.testing import (
    MemoryDataset,
    base_recipe,
    build_hooks,
    execute_recipe,
    make_generation_rows,
    make_regression_rows,
    save_tiny_bert,
    save_tiny_causal_lm,
    splits_of,
    tiny_splits,
)

FTCORE = str(Path(sys.executable).with_name("ftcore"))  # the installed command
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def finished_run(out: Path, task: str) -> Path:
    """A finished ``task`` run (2 steps) on a tiny random model, its ``model/`` exported."""
    if task == "generation":
        model = save_varied_llama(out.parent / "tiny-llama")
        rows = splits_of(make_generation_rows)
    else:
        model = save_tiny_bert(out.parent / "tiny-bert")
        rows = splits_of(make_regression_rows) if task == "regression" else tiny_splits()
    recipe = base_recipe(model, task=task)
    if task == "generation":
        recipe["data"]["max_length"] = 64
        recipe["head"] = {"max_new_tokens": 8, "eval_generate_limit": 2, "baseline_eval": False}
    hooks = build_hooks([MemoryDataset(rows)])
    execute_recipe(recipe, out, ["trainer.max_steps=2", "optim.lr=1e-5"], hooks=hooks)
    return out


def save_varied_llama(folder: Path) -> Path:
    """A tiny random Llama whose greedy answers vary (at the usual initializer_range of
    0.02 it repeats one token), with the devkit's ChatML tokenizer."""
    return save_tiny_causal_lm(folder, initializer_range=0.2, tie_word_embeddings=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(
    url: str, body: Any = None, raw: bytes | None = None, timeout: float = 60
) -> tuple[int, Any]:
    """(status, decoded JSON body) of a GET (no body) or a JSON POST."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    headers = {"Content-Type": "application/json"} if data is not None else {}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data=data, headers=headers), timeout=timeout
        ) as answer:
            return answer.status, _decoded(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, _decoded(error.read())


def _decoded(body: bytes) -> Any:
    """A JSON body decoded; any other (``/health`` answers ``ok``) as text."""
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")


class Server:
    """``ftcore serve RUN_DIR`` in a subprocess on a free loopback port."""

    def __init__(self, run_dir: Path, cwd: Path, *options: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [FTCORE, "serve", str(run_dir), "--port", str(self.port), *options]
        self.log = cwd / f"serve-{self.port}.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                command,
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=os.environ | ONE_THREAD,
                start_new_session=True,  # its own process group: stop() ends all it started
            )

    def wait(self, limit: float = 300) -> Server:
        """Return when ``/health`` answers 200 (fails with the server's log otherwise)."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            if self.process.poll() is not None:
                pytest.fail(f"ftcore serve exited {self.process.returncode}:\n{self.output()}")
            try:
                if request(self.url + "/health", timeout=2)[0] == 200:
                    return self
            except (OSError, ValueError):
                pass
            time.sleep(0.2)
        pytest.fail(f"ftcore serve not healthy after {limit} s:\n{self.output()}")

    def post(self, path: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
        return request(self.url + path, body, raw)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it; then nothing of it may be left."""
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # any worker it left behind
        except ProcessLookupError:
            pass


def serving(run_dir: Path, cwd: Path, *options: str) -> Iterator[Server]:
    server = Server(run_dir, cwd, *options)
    try:
        yield server.wait()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def classification_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return finished_run(tmp_path_factory.mktemp("classification") / "run", "classification")


@pytest.fixture(scope="session")
def regression_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return finished_run(tmp_path_factory.mktemp("regression") / "run", "regression")


@pytest.fixture(scope="session")
def generation_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return finished_run(tmp_path_factory.mktemp("generation") / "run", "generation")
