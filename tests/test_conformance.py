"""Every discovered plugin passes the shared conformance suite (:mod:`ftcore_devkit.conformance`).

Parametrised over the entry points that ``get_plugin_manager()`` finds, so a new plugin
distribution is covered as soon as it is installed. The second half checks that each
conformance check catches what it promises to, on deliberately broken plugins.
"""

from __future__ import annotations

import types
from pathlib import Path

import pytest
from ftcore_devkit import conformance

import ftcore
import ftcore.api
from ftcore.manager import get_plugin_manager
from ftcore.types import Component

PM = get_plugin_manager()
RECORDS = [r for r in PM.records if r.status != "disabled"]
IDS = [r.name for r in RECORDS]


def _plugin(record):
    assert record.status == "loaded", f"{record.name} ({record.distribution}): {record.error}"
    return PM.get_plugin(record.name)


def _ok(problems: list[str]) -> None:
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("record", RECORDS, ids=IDS)
def test_plugin_loads(record):
    assert _plugin(record) is not None


# Each check of the suite, run on every plugin: ids like ``classification-hookimpl_problems``.
CHECKS = [
    conformance.hookimpl_problems,  # hookimpls match the specs
    conformance.component_problems,  # components declare documented schemas
    conformance.section_problems,  # reads only the sections it declares
    conformance.recipe_problems,  # shipped recipes validate
    conformance.callback_problems,  # callbacks survive checkpoint and resume
]


@pytest.mark.parametrize(
    ("record", "check"),
    [
        pytest.param(record, check, id=f"{record.name}-{check.__name__}")
        for record in RECORDS
        for check in CHECKS
    ],
)
def test_plugin_passes_conformance_check(record, check):
    _ok(check(_plugin(record)))


# ftcore-devkit is core's own tooling kept apart from the runtime (test kit, scaffold): it
# drives core's internals (plugin manager, run, recipe validation) and is released with
# core, so only its plugin module (the `ftcore new-plugin` command) keeps to the public API.
DEVKIT = "ftcore-devkit"


@pytest.mark.parametrize("record", RECORDS, ids=IDS)
def test_imports_only_public_ftcore_modules(record):
    plugin = _plugin(record)
    if record.distribution == DEVKIT:
        found = conformance.private_imports(Path(plugin.__file__))
        _ok([f"{plugin.__name__}:{line}: imports private module {name}" for line, name in found])
        return
    _ok(conformance.private_import_problems(plugin))


@pytest.mark.parametrize("record", RECORDS, ids=IDS)
def test_hooks_return_declared_types(record):
    _ok(conformance.result_problems(_plugin(record)))


@pytest.mark.parametrize("record", RECORDS, ids=IDS)
def test_import_is_light(record):
    _ok(conformance.import_problems(record.module))


# --- the checks catch what they promise ------------------------------------------------


def _module(**attrs) -> types.ModuleType:
    module = types.ModuleType("fake_plugin")
    module.__dict__.update(attrs)
    return module


def test_check_catches_wrong_hook_arguments_and_unmarked_hooks():
    @ftcore.hookimpl
    def ftcore_load_dataset(name, opts):  # 'opts' is not an argument of the spec
        return None

    def ftcore_components():  # no @ftcore.hookimpl: would never run
        return []

    problems = conformance.hookimpl_problems(
        _module(ftcore_load_dataset=ftcore_load_dataset, ftcore_components=ftcore_components)
    )
    assert any("lacks @ftcore.hookimpl" in p for p in problems)
    assert any("invalid hook implementation" in p and "opts" in p for p in problems)


def test_check_catches_unknown_hook_name():
    @ftcore.hookimpl
    def ftcore_on_epoch(epoch):
        return None

    problems = conformance.hookimpl_problems(_module(ftcore_on_epoch=ftcore_on_epoch))
    assert any("ftcore_on_epoch" in p for p in problems)


class Undocumented:
    value: int = 1


def test_check_catches_bad_components():
    from dataclasses import dataclass

    @dataclass
    class Options:
        alpha: float = 0.1  # a trailing comment is not a description

    @ftcore.hookimpl
    def ftcore_components():
        return [
            Component(kind="strategy", name="x", schema=Options, description="x"),
            Component(kind="strategy", name="x", description="again"),
            Component(kind="gadget", name="y", schema=Undocumented, description="y"),
        ]

    problems = conformance.component_problems(_module(ftcore_components=ftcore_components))
    assert all(p.startswith("fake_plugin.ftcore_components: ") for p in problems), problems
    assert any("option 'alpha'" in p for p in problems)
    assert any("declared twice" in p for p in problems)
    assert any("y: kind 'gadget' is not one of" in p for p in problems)
    assert any("schema must be a dataclass type or None, got <class" in p for p in problems)


class ReadsUndeclared:
    """Reads strategies.secret but declares nothing."""

    @ftcore.hookimpl
    def ftcore_lightning_callbacks(self, recipe, run):
        return [] if recipe.strategies.get("secret") is None else [object()]


def test_check_catches_section_read_without_component():
    problems = conformance.section_problems(ReadsUndeclared())
    assert problems == [
        "reads recipe section strategies.secret but declares no strategy 'secret' in "
        "ftcore_components (its options would go unvalidated)"
    ]


class Counter:
    """A Lightning-style callback whose state cannot be loaded with weights_only=True."""

    class Opaque:
        pass

    state_key = "counter"

    def __init__(self) -> None:
        self.seen = Counter.Opaque()

    def state_dict(self) -> dict:
        return {"seen": self.seen}

    def load_state_dict(self, state: dict) -> None:
        self.seen = state["seen"]


class StatefulStrategy:
    @ftcore.hookimpl
    def ftcore_components(self):
        return [Component(kind="strategy", name="counter", description="counts")]

    @ftcore.hookimpl
    def ftcore_lightning_callbacks(self, recipe, run):
        return [Counter(), Counter()]  # even when not enabled, and twice the same state_key


def test_check_catches_callback_state_that_cannot_resume(memory_dataset):
    problems = conformance.callback_problems(StatefulStrategy())
    assert any("recipe that enables none" in p for p in problems)
    assert any("weights_only=True" in p for p in problems)
    assert any("share a state_key" in p for p in problems)


def test_check_catches_recipe_without_header_or_invalid(tmp_path):
    (tmp_path / "bad.yaml").write_text("task: classification\nmodel: {name: x}\n")

    class ShipsRecipes:
        @ftcore.hookimpl
        def ftcore_recipe_dirs(self):
            return [str(tmp_path), str(tmp_path / "nowhere")]

    problems = conformance.recipe_problems(ShipsRecipes())
    assert any("nowhere is not a folder" in p for p in problems)
    assert any(p.startswith("bad.yaml: no comment header") for p in problems)
    assert any(p.startswith("bad.yaml: data.source: missing required value") for p in problems)


def test_check_catches_head_without_implementation():
    @ftcore.hookimpl
    def ftcore_components():
        return [
            Component(kind="head", name="empty", description="no impl"),
            Component(kind="head", name="half", description="half", impl=ftcore.api.BaseHead()),
        ]

    problems = conformance.component_problems(_module(ftcore_components=ftcore_components))
    where = "fake_plugin.ftcore_components: "
    assert any(p.startswith(where + "head 'empty': declares no impl") for p in problems)
    assert any(
        p.startswith(where + "head 'half': impl BaseHead lacks data_info, check_row")
        for p in problems
    )


def test_check_catches_private_module_import(tmp_path):
    source = tmp_path / "sneaky.py"
    source.write_text(
        "import ftcore\nfrom ftcore import hookimpl\nfrom ftcore.api import Run\n"
        "from ftcore.run import build_module\nimport ftcore.module\n"
        "def f():\n    from ftcore import predict\n"
    )
    found = conformance.private_imports(source)
    assert found == [(4, "ftcore.run"), (5, "ftcore.module"), (7, "ftcore.predict")]


def test_check_catches_heavy_import():
    assert conformance.import_problems("json") == []
    assert "imports torch" in conformance.import_problems("torch.nn")[0]


def test_assert_conforms_lists_every_problem():
    with pytest.raises(AssertionError, match="ReadsUndeclared does not conform"):
        conformance.assert_conforms(ReadsUndeclared())


def test_check_plugin_fails_a_private_import_naming_the_module(tmp_path, monkeypatch):
    package = tmp_path / "sneaky_plugin"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text("from ftcore.run import build_module\n")
    (package / "plugin.py").write_text(
        "import ftcore\nfrom sneaky_plugin import helpers  # noqa\n\n\n"
        "@ftcore.hookimpl\ndef ftcore_recipe_dirs():\n    return []\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    plugin = importlib.import_module("sneaky_plugin.plugin")
    problems = conformance.check_plugin(plugin, check_import=False)
    assert problems == [
        "sneaky_plugin.helpers line 1: imports private module ftcore.run; use ftcore.api "
        "(public modules: " + ", ".join(conformance.PUBLIC_MODULES) + ")"
    ]
    with pytest.raises(AssertionError, match="sneaky_plugin.helpers line 1"):
        conformance.assert_conforms(plugin, check_import=False)


class WrongResults:
    """One hook of each kind answering with the wrong type."""

    @ftcore.hookimpl
    def ftcore_check_recipe(self, recipe):  # collecting: list[str]
        return "optim.lr: too high"

    @ftcore.hookimpl
    def ftcore_lightning_callbacks(self, recipe, run):  # collecting: list[Callback]
        from lightning.pytorch.callbacks import Callback

        return Callback()

    @ftcore.hookimpl
    def ftcore_resolve_model(self, name, cache_dir):  # first result: str | None
        return 42

    @ftcore.hookimpl
    def ftcore_resolve_lr(self, run):  # first result: float | None
        return "3e-4"

    @ftcore.hookimpl
    def ftcore_transform_model(self, model, recipe):  # fold: Module | None
        return {"model": model}

    @ftcore.hookimpl
    def ftcore_run_end(self, run, summary):  # notification: None
        return {"done": True}


def test_check_catches_a_wrong_result_from_each_hook_kind(memory_dataset):
    problems = conformance.result_problems(WrongResults())
    where = f"{__name__}.WrongResults."
    assert sorted(problems) == sorted(
        [
            where + "ftcore_check_recipe: returned the wrong type: expected list[str], got a str "
            "'optim.lr: too high'",
            where + "ftcore_lightning_callbacks: returned the wrong type: expected "
            "list[Callback], got a Callback",
            where
            + "ftcore_resolve_model: returned the wrong type: expected str | None, got an int 42",
            where
            + "ftcore_resolve_lr: returned the wrong type: expected float | None, got a str '3e-4'",
            where + "ftcore_transform_model: returned the wrong type: expected Module | None, "
            "got a dict",
            where + "ftcore_run_end: returned the wrong type: expected None, got "
            "`return {'done': True}` (ftcore_run_end is a notification: its result is ignored)",
        ]
    ), problems
    assert any(
        "WrongResults.ftcore_check_recipe" in p
        for p in conformance.check_plugin(WrongResults(), check_import=False)
    )


class RightResults:
    @ftcore.hookimpl
    def ftcore_check_recipe(self, recipe):
        return []

    @ftcore.hookimpl
    def ftcore_resolve_model(self, name, cache_dir):
        return None

    @ftcore.hookimpl
    def ftcore_run_end(self, run, summary):
        def inner():
            return 1  # a nested function's return is not the hook's

        inner()
        return None


def test_check_passes_right_results(memory_dataset):
    assert conformance.result_problems(RightResults()) == []
