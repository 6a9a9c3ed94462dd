"""``ftcore serve`` on tiny finished runs: each head's endpoint answers what ``ftcore
predict`` answers; malformed requests get a 4xx naming the problem and the server stays up;
mistakes on the command line are one line, exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import Server, request
from ftcore.api import Predictor, plugin_hooks
from ftcore.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TEXTS = ["the film was really great", "a dull and tedious plot", "quite a movie"]
PROMPT = "Tom has 3 apples"  # the tiny model answers it with varied tokens


@pytest.fixture(scope="module")
def servers(classification_run, regression_run, generation_run, tmp_path_factory):
    """The three servers, started together (each loads its model in its own process)."""
    cwd = tmp_path_factory.mktemp("serve")
    runs = {
        "classification": classification_run,
        "regression": regression_run,
        "generation": generation_run,
    }
    started = {task: Server(run, cwd, "--max-batch-size", "4") for task, run in runs.items()}
    try:
        yield {task: server.wait() for task, server in started.items()}
    finally:
        for server in started.values():
            server.stop()


def close(a: dict, b: dict) -> bool:
    """Two decoded predictions agree (numbers to 1e-4: a batch pads texts together)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, (int, float)):
        return abs(a - b) < 1e-4
    return a == b


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_predict_answers_what_ftcore_predict_does(task, servers, request_run):
    server, run_dir = servers[task], request_run(task)
    expected = [{"text": t, **p} for t, p in zip(TEXTS, predictions(run_dir, TEXTS))]
    status, one = server.post("/predict", {"text": TEXTS[0]})
    assert status == 200, one
    assert close(one, expected[0])
    status, many = server.post("/predict", {"inputs": [{"text": t} for t in TEXTS]})
    assert status == 200, many
    assert list(many) == ["predictions"] and len(many["predictions"]) == len(TEXTS)
    assert all(close(got, want) for got, want in zip(many["predictions"], expected))
    key = "probabilities" if task == "classification" else "value"
    assert key in one


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(servers):
    server = servers["classification"]
    texts = [f"{TEXTS[i % 3]} {i}" for i in range(24)]
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda t: server.post("/predict", {"text": t}), texts))
    assert [status for status, _ in answers] == [200] * len(texts)
    assert [body["text"] for _, body in answers] == texts


def test_chat_completion_generates_what_ftcore_predict_does(servers, generation_run):
    server = servers["generation"]
    expected = predictions(generation_run, [PROMPT], key="prompt")[0]["generated"]
    assert len(set(expected)) > 3  # a varied answer, not one token repeated
    body = {"model": "tiny", "messages": [{"role": "user", "content": PROMPT}]}
    status, answer = server.post("/v1/chat/completions", body)
    assert status == 200, answer
    assert answer["object"] == "chat.completion" and answer["model"] == "tiny"
    assert answer["choices"][0]["message"] == {
        **answer["choices"][0]["message"],
        "role": "assistant",
        "content": expected,
    }
    parts = [{"type": "text", "text": PROMPT[:10]}, {"type": "text", "text": PROMPT[10:]}]
    status, split = server.post(
        "/v1/chat/completions", {"messages": [{"role": "user", "content": parts}]}
    )
    assert status == 200 and split["choices"][0]["message"]["content"] == expected


def test_chat_completion_streams(servers):
    body = {"messages": [{"role": "user", "content": PROMPT}], "stream": True}
    raw = urlopen_text(servers["generation"].url + "/v1/chat/completions", body)
    events = [line[len("data: ") :] for line in raw.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


MALFORMED_PREDICT = [
    (b"{not json", 422, "JSON decode error"),
    (b"[1, 2]", 422, "valid dictionary"),
    (b'"a text"', 422, "valid dictionary"),
    (b"{}", 422, 'give either \\"text\\"'),
    (b'{"text": ""}', 422, "the text is empty"),
    (b'{"text": "   "}', 422, "the text is empty"),
    (b'{"text": 3}', 422, "valid string"),
    (b'{"text": null, "inputs": null}', 422, "give either"),
    (b'{"text": "a", "inputs": [{"text": "b"}]}', 422, "give either"),
    (b'{"text": "a", "label": "pos"}', 422, "Extra inputs are not permitted"),
    (b'{"inputs": []}', 422, "at least 1 item"),
    (b'{"inputs": "a text"}', 422, "valid list"),
    (b'{"inputs": [{"txt": "a"}]}', 422, "Field required"),
    (b'{"inputs": [{"text": "a"}, {"text": ""}]}', 422, "the text is empty"),
    (json.dumps({"inputs": [{"text": "a"}] * 257}).encode(), 422, "at most 256 items"),
    (json.dumps({"text": "a" * 100_001}).encode(), 422, "at most 100000 characters"),
]

MALFORMED_CHAT = [
    (b"{not json", 422, "JSON decode error"),
    (b"{}", 422, "Field required"),
    (b'{"messages": "hello"}', 422, "valid list"),
    (b'{"messages": []}', 400, "messages: empty"),
    (b'{"messages": [{"content": "hi"}]}', 422, "Field required"),
    (b'{"messages": [{"role": "user", "content": ""}]}', 400, "content is empty"),
    (b'{"messages": [{"role": "user"}]}', 400, "content must be text"),
    (b'{"messages": [{"role": "tool", "content": "hi"}]}', 400, "role 'tool' is not supported"),
    (b'{"messages": [{"role": "assistant", "content": "hi"}]}', 400, "must be the user's"),
    (
        b'{"messages": [{"role": "system", "content": "be brief"}, '
        b'{"role": "user", "content": "hi"}]}',
        400,
        "send one user message",
    ),
    (b'{"messages": [{"role": "user", "content": "hi"}], "n": 2}', 400, "n=1"),
    (
        b'{"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}',
        422,
        "valid number",
    ),
    (
        b'{"messages": [{"role": "user", "content": '
        b'[{"type": "image_url", "image_url": {"url": "x"}}]}]}',
        400,
        "content must be text",
    ),
]


@pytest.mark.parametrize(
    ("task", "path", "cases"),
    [
        ("classification", "/predict", MALFORMED_PREDICT),
        ("generation", "/v1/chat/completions", MALFORMED_CHAT),
    ],
)
def test_malformed_requests_get_a_4xx_naming_the_problem_and_the_server_lives_on(
    task, path, cases, servers
):
    server = servers[task]
    for raw, status, named in cases:
        got, body = server.post(path, raw=raw)
        assert (got, named in json.dumps(body)) == (status, True), (raw[:80], got, body)
    got, body = server.post(path, raw=b"x" * (33 * 2**20))  # over the 32 MiB body limit
    assert got == 413, body
    good = (
        {"text": TEXTS[0]}
        if task == "classification"
        else {"messages": [{"role": "user", "content": PROMPT}]}
    )
    assert server.post(path, good)[0] == 200
    assert request(server.url + "/health")[0] == 200
    assert server.process.poll() is None


def test_a_folder_that_is_not_a_finished_run_is_one_line_exit_2(
    tmp_path, classification_run, capsys
):
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "recipe.yaml").write_text((classification_run / "recipe.yaml").read_text())
    for folder, named in [
        (tmp_path / "missing", "no such folder"),
        (tmp_path, "not an ftcore run directory"),
        (unfinished, "has no exported model/"),
    ]:
        assert main(["serve", str(folder)]) == 2
        err = capsys.readouterr().err
        assert named in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(
    ("option", "named"),
    [
        (["--port", "70000"], "--port: 70000"),
        (["--max-batch-size", "0"], "--max-batch-size: 0"),
        (["--batch-timeout", "-1"], "--batch-timeout: -1"),
        (["--workers", "0"], "--workers: 0"),
        (["--timeout", "0"], "--timeout: 0"),
        (["--host", "example.com"], "--host: example.com"),
    ],
)
def test_options_out_of_range_are_one_line_exit_2(option, named, classification_run, capsys):
    assert main(["serve", str(classification_run), *option]) == 2
    assert named in capsys.readouterr().err


def test_a_port_in_use_is_one_line_exit_2(classification_run, capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        assert main(["serve", str(classification_run), "--port", port]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_without_litserve_the_command_says_what_to_install(classification_run, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "litserve", None)  # import litserve fails
    assert main(["serve", str(classification_run)]) == 2
    assert "pip install litserve" in capsys.readouterr().err


def test_chat_runs_send_the_whole_conversation():
    """A chat-format run gets the conversation under its messages key (the head lays it
    out with the chat template); other formats get the last user message as the prompt."""
    from types import SimpleNamespace

    from ftcore_serve.apis import ChatAPI
    from ftcore_serve.requests import chat_problem
    from litserve.specs.openai import ChatCompletionRequest

    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "bye"},
    ]
    request = ChatCompletionRequest(messages=messages)
    api = ChatAPI(Path("."), adapter=False, trust_remote_code=False)
    api.predictor = SimpleNamespace(head_options=SimpleNamespace(format="chat", messages_key="m"))
    assert chat_problem(request, "chat") is None
    assert api.decode_request(request) == {"m": messages}
    api.predictor.head_options.format = "instruction"
    assert api.decode_request(request) == {"prompt": "bye"}
    assert "send one user message" in chat_problem(request, "instruction")


# --- helpers ---------------------------------------------------------------------------


@pytest.fixture
def request_run(classification_run, regression_run):
    return {"classification": classification_run, "regression": regression_run}.get


def predictions(run_dir: Path, texts: list[str], key: str = "text") -> list[dict]:
    """What ``ftcore predict`` prints for ``texts`` (the same Predictor, in this process)."""
    return Predictor(run_dir, plugin_hooks()).predict([{key: t} for t in texts])


def urlopen_text(url: str, body: dict) -> str:
    import urllib.request

    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=60) as out:
        return out.read().decode()


# --- the load-test script and the documented commands ----------------------------------

REPO = Path(__file__).resolve().parents[3]


def test_load_test_script_runs_in_its_shortest_mode(classification_run, servers, tmp_path):
    """On the running classification server (starting one is what the other tests check)."""
    out = tmp_path / "load.json"
    command = [sys.executable, "-m", "bench.serve_load", str(classification_run)]
    url = servers["classification"].url
    options = ["--requests", "2", "--predict-calls", "1", "--out", str(out), "--url", url]
    env = {**__import__("os").environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        command + options, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert [level["clients"] for level in result["serve"]] == [1, 8, 32]
    assert all(level["requests_per_s"] > 0 for level in result["serve"])
    assert result["ftcore_predict_loop"]["median_s"] > 0
    assert "| 32 |" in done.stdout


def documented_serve_commands() -> list[str]:
    """Every ``ftcore serve ...`` line in docs/serve.md and this plugin's README."""
    found = []
    for path in (REPO / "docs" / "serve.md", REPO / "plugins" / "ftcore-serve" / "README.md"):
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.split(" #")[0].strip().removeprefix("$ ")
            if line.startswith("ftcore serve ") and "[" not in line:  # not the synopsis
                found.append(line)
    return found


def documented_requests() -> list[tuple[str, dict]]:
    """(path, JSON body) of every ``curl ... -d '...'`` line in docs/serve.md and the README."""
    import re
    import shlex

    found = []
    docs = (REPO / "docs" / "serve.md", REPO / "plugins" / "ftcore-serve" / "README.md")
    text = "\n".join(path.read_text(encoding="utf-8") for path in docs)
    for line in text.splitlines():
        if line.strip().startswith("curl ") and " -d " in line:
            words = shlex.split(line)
            path = re.sub(r"^https?://[^/]+", "", next(w for w in words if "://" in w))
            found.append((path, json.loads(words[words.index("-d") + 1])))
    return found


def test_documented_serve_commands_parse():
    from ftcore.cli import _parse

    commands = documented_serve_commands()
    assert len(commands) >= 3
    for line in commands:
        args, _ = _parse(line.split()[1:])
        assert args.command == "serve", line


def test_documented_requests_are_answered(servers):
    found = documented_requests()
    assert {path for path, _ in found} == {"/predict", "/v1/chat/completions"}
    for path, body in found:
        server = servers["generation" if path.startswith("/v1") else "classification"]
        status, answer = server.post(path, body)
        assert status == 200, (path, body, answer)


def test_sigterm_stops_the_server_and_every_process_it_started(servers):
    """Last: it stops the classification server. A service manager stops with SIGTERM;
    LitServe's own shutdown (its workers too) runs only on Ctrl-C, which ftcore serve
    makes of SIGTERM."""
    import os
    import time

    server = servers["classification"]
    server.process.terminate()
    assert server.process.wait(timeout=60) == 0
    end = time.monotonic() + 30
    while time.monotonic() < end:
        try:
            os.killpg(server.process.pid, 0)  # anything left in its process group?
        except ProcessLookupError:
            return
        time.sleep(0.5)
    pytest.fail("ftcore serve left processes behind after SIGTERM")
