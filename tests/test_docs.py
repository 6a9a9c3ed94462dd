"""Docs generated from the code are current, and every hook is documented."""

from __future__ import annotations

import inspect
from pathlib import Path

from ftcore import hookspecs
from tools.reference import hook_names, hooks_markdown, recipe_markdown

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_reference_docs_are_generated_from_current_code():
    assert (DOCS / "reference" / "hooks.md").read_text() == hooks_markdown(), (
        "run: python tools/reference.py docs/reference"
    )
    assert (DOCS / "reference" / "recipe.md").read_text() == recipe_markdown()


def test_every_hook_documented_with_signature_and_in_architecture():
    reference = (DOCS / "reference" / "hooks.md").read_text()
    architecture = (DOCS / "architecture.md").read_text()
    for name in hook_names():
        func = getattr(hookspecs, name)
        assert f"def {name}{inspect.signature(func)}" in reference
        assert inspect.getdoc(func), f"{name} has no docstring"
        assert name in architecture, f"{name} missing from the loop picture"


def test_ci_runs_exactly_the_readme_test_command():
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    command = next(ln for ln in readme.splitlines() if "python -m pytest" in ln).strip()
    ci = (root / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert command.startswith("bash scripts/setup.sh")
    assert ci[-1].strip() == command


def test_every_head_method_and_public_name_is_in_the_api_reference():
    import re

    import ftcore.api as api
    from ftcore.heads import OPTIONAL, REQUIRED

    page = (DOCS / "api.md").read_text()
    for method in REQUIRED + OPTIONAL:
        assert f"`{method}(*, " in page, f"Head.{method} missing from docs/api.md"
    for name in api.__all__:
        assert re.search(rf"\b{name}\b", page), f"ftcore.api.{name} undocumented"
