"""The documentation site builds strictly; generated pages are current; every CLI command
is documented and tested."""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools.reference import cli_markdown, command_names, plugins_markdown

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def test_plugin_and_cli_reference_are_generated_from_current_code():
    hint = "run: python tools/reference.py docs/reference"
    assert (DOCS / "reference" / "plugins.md").read_text() == plugins_markdown(), hint
    assert (DOCS / "cli.md").read_text() == cli_markdown(), hint


def test_every_cli_command_is_documented():
    documented = (DOCS / "cli.md").read_text()
    for name in command_names():
        assert f"\n## ftcore {name}\n" in documented, f"ftcore {name} is not in docs/cli.md"


@pytest.mark.parametrize("name", command_names())
def test_every_cli_command_answers_help(name):
    out = subprocess.run(
        [sys.executable, "-m", "ftcore.cli", name, "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"usage: ftcore {name}")


def _literals_in_calls_and_lists(path: Path) -> set[str]:
    """String constants used as command-line words: in lists or as call arguments."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        items = []
        if isinstance(node, (ast.List, ast.Tuple)):
            items = node.elts
        elif isinstance(node, ast.Call):
            items = node.args
        found |= {
            i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str)
        }
    return found


def test_every_cli_command_is_tested():
    files = [*(ROOT / "tests").glob("test_*.py"), *(ROOT / "plugins").glob("*/tests/test_*.py")]
    words = set().union(*(_literals_in_calls_and_lists(f) for f in files))
    untested = [name for name in command_names() if name not in words]
    assert not untested, f"commands no test runs (e.g. main([NAME, ...])): {untested}"


def test_every_doc_page_is_in_the_site_navigation():
    import yaml

    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]

    def pages(items) -> set[str]:
        found = set()
        for item in items:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            found |= pages(value) if isinstance(value, list) else {value}
        return found

    on_disk = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert on_disk <= pages(nav)


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason="mkdocs not installed")
def test_mkdocs_build_strict(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / "reference" / "hooks" / "index.html").is_file()
