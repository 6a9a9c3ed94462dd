"""Every ``ftcore run`` and ``ftcore validate`` command that README.md, docs/*.md and the
plugins' READMEs show is at least validated: a documented command that does not validate
fails CI. Runs are too long for CI, so a ``run`` is checked as the ``validate`` of the same
recipe and overrides. Where the docs show the error a command prints, the error is
checked too.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from ftcore.cli import main

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
DOCS += sorted((REPO / "plugins").glob("*/README.md"))
COMMAND = re.compile(r"(?:^|[\s/])ftcore(?:\.cli)? (run|validate)\s+(.*)$")
# Names a reader creates first (by `ftcore recipes copy` or `ftcore new-plugin`), and
# placeholders; tests/test_newcomer_path.py and tests/test_scaffold.py walk those paths.
USER_MADE = {"my.yaml", "my-strategy-demo"}
PLACEHOLDER = re.compile(r"^[A-Z][A-Z_]+$|\.\.\.|^\[|^RECIPE|^NAME")


def _fenced_lines(text: str) -> tuple[list[list[str]], str]:
    """The fenced code blocks (lines, with ``\\`` continuations joined) and the prose."""
    blocks, prose, current = [], [], None
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            if current is None:
                current = []
            else:
                blocks.append(_join_continuations(current))
                current = None
            continue
        (prose if current is None else current).append(line)
    return blocks, "\n".join(prose)


def _join_continuations(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if out and out[-1].endswith("\\"):
            out[-1] = out[-1][:-1].rstrip() + " " + line.strip()
        else:
            out.append(line)
    return out


def _shown_errors(block: list[str], i: int) -> list[str]:
    """The ``ftcore: error:`` lines a block shows after the command on line ``i``."""
    shown: list[str] = []
    for line in block[i + 1 :]:
        if line.startswith("$ "):
            break
        if line.startswith("ftcore: error:"):
            shown.append(line.strip())
        elif shown and line.strip():
            shown[-1] += " " + line.strip()  # an error line wrapped in the docs
    return shown


def documented() -> list[tuple[str, str, str, list[str]]]:
    """(where, verb, arguments, errors the docs show) for every documented command."""
    found = []
    for path in DOCS:
        blocks, prose = _fenced_lines(path.read_text(encoding="utf-8"))
        where = str(path.relative_to(REPO))
        for block in blocks:
            for i, line in enumerate(block):
                match = COMMAND.search(line.split(" #")[0].strip())
                if match:
                    found.append((where, *match.groups(), _shown_errors(block, i)))
        for span in re.findall(r"`([^`]+)`", prose):
            match = COMMAND.search(" ".join(span.split()))
            if match:
                found.append((where, *match.groups(), []))
    return found


def _validate_args(verb: str, arguments: str) -> list[str] | None:
    """The ``ftcore validate`` arguments of a documented command; None: not checkable."""
    words = shlex.split(arguments)
    args: list[str] = []
    while words:
        word = words.pop(0)
        if word == "--out":
            words.pop(0)
        elif word.startswith("--out="):
            continue
        elif word == "--resume" or word in USER_MADE or PLACEHOLDER.search(word):
            return None
        else:
            args.append(word)
    return args or None


CASES = [
    pytest.param(verb, args, errors, id=f"{where}: ftcore {verb} {args}"[:120])
    for where, verb, arguments, errors in documented()
    if (args := _validate_args(verb, arguments)) is not None
]


def test_the_docs_show_commands_to_check():
    assert len(CASES) >= 20
    assert any(verb == "run" for verb, *_ in (c.values for c in CASES))


@pytest.mark.parametrize(("verb", "args", "errors"), CASES)
def test_documented_command_validates(verb, args, errors, capsys):
    code = main(["validate", *args])
    err = capsys.readouterr().err.strip().splitlines()
    if not errors:
        assert code == 0, f"ftcore {verb} {' '.join(args)} does not validate: {err}"
        return
    assert code == 2, f"the docs show an error for ftcore validate {' '.join(args)}"
    for shown in errors:
        pattern = ".*".join(re.escape(" ".join(p.split())) for p in shown.split("..."))
        assert any(re.fullmatch(pattern, " ".join(e.split())) for e in err), (shown, err)
