"""The public API (ftcore.api): first-party plugins use nothing else, and it stays light.

Public modules are ``ftcore``, ``ftcore.api``, ``ftcore.types`` and ``ftcore.errors``
(``ftcore.hookspecs`` for reading); every other ftcore module is private.
"""

from __future__ import annotations

import ast
from pathlib import Path

from ftcore_devkit import conformance
from ftcore_devkit.testing import run_python

import ftcore.api as api
from ftcore.types import BaseHead, Head

ROOT = Path(__file__).resolve().parent.parent
# ftcore_devkit (test kit, scaffold) is core's own tooling kept apart from the runtime and
# released with it: it drives core's internals, so only its plugin module is checked here.
DEVKIT = ROOT / "plugins" / "ftcore-devkit" / "ftcore_devkit"
PACKAGES = sorted(p for p in (ROOT / "plugins").glob("*/ftcore_*") if p.is_dir() and p != DEVKIT)


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every ftcore module ``path`` imports (a plain AST scan, independent of conformance)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            if node.module == "ftcore":
                found += [(node.lineno, f"ftcore.{a.name}") for a in node.names]
    return [(n, m) for n, m in found if m.split(".")[0] == "ftcore"]


def test_no_plugin_package_imports_a_private_ftcore_module():
    public = {"ftcore", "ftcore.api", "ftcore.types", "ftcore.errors", "ftcore.hookspecs"}
    public |= {f"ftcore.{name}" for name in ("hookimpl", "UserError", "__version__")}
    assert PACKAGES, "no plugin packages found"
    bad = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for package in PACKAGES
        for path in sorted(package.rglob("*.py"))
        for line, module in _imports(path)
        if module not in public and not module.startswith(tuple(f"{p}." for p in ("ftcore.api",)))
    ]
    assert not bad, "private ftcore imports:\n" + "\n".join(bad)
    assert not [p for pkg in PACKAGES for p in conformance.private_import_problems_of(pkg)]
    assert not conformance.private_imports(DEVKIT / "plugin.py")


def test_every_name_in_all_exists_and_import_stays_light():
    for name in api.__all__:
        assert getattr(api, name) is not None, name
    code = (
        "import sys, ftcore.api; "
        "print(','.join(m for m in ('torch', 'lightning', 'transformers') if m in sys.modules))"
    )
    assert run_python(code, check=True).stdout.strip() == ""


def test_no_task_guard_is_left_in_any_plugin():
    hits = [
        f"{path.relative_to(ROOT)}:{n}"
        for package in PACKAGES
        for path in sorted(package.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "task != " in line or "task == " in line
    ]
    assert not hits, hits


def test_the_first_party_heads_are_head_objects():
    from ftcore_devkit.testing import build_hooks

    hooks = build_hooks([])
    for task in ("classification", "regression", "generation"):
        impl = hooks.find("head", task, "task").component.impl
        assert isinstance(impl, BaseHead) and isinstance(impl, Head)


def test_a_multi_label_head_is_options_of_the_classification_head():
    """Turning single-label into multi-label is ``head.multi_label: true``: the same head
    object learns, checks, encodes and decodes label sets from its options."""
    import torch
    from ftcore_classification.plugin import ClassificationHead
    from ftcore_classification.schema import ClassificationConfig

    from ftcore.types import StepOutput

    head, options = ClassificationHead(), ClassificationConfig(multi_label=True, threshold=0.4)
    rows = [{"text": "a", "label": "x|y"}, {"text": "b", "label": "y"}, {"text": "c", "label": "z"}]
    info = head.data_info(rows=rows, options=options)
    assert info.labels == ["x", "y", "z"] and "multi_label" not in info.extra
    assert head.check_row(row={"label": "x|w"}, info=info, options=options) is not None
    assert head.check_row(row={"label": "x|z"}, info=info, options=options) is None
    out = StepOutput(loss=None, preds=torch.tensor([[0.5, 0.3, 0.9]]))
    (decoded,) = head.decode(output=out, info=info, options=options)
    assert decoded["labels"] == ["x", "z"]
    single = ClassificationConfig()
    (one,) = head.decode(output=out, info=info, options=single)
    assert one["label"] == "z" and "labels" not in one
    names = head.monitor(options=options).logged
    assert "f1_*" in names and "f1_*" not in head.monitor(options=single).logged
