"""`ftcore new-plugin`: each kind of plugin is written, installs, passes its own tests and
runs its own recipe.

The generated distributions are pip-installed (editable, no dependencies) into this
environment for the module and uninstalled at its end, as tests/test_third_party.py does.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ftcore_devkit import scaffold

from ftcore.cli import main
from ftcore.errors import UserError

KINDS = scaffold.KINDS
PIP = [sys.executable, "-m", "pip"]


def _name(kind: str) -> str:
    return f"scaffold-test-{kind}"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """One plugin of each kind, written by the CLI and pip-installed; uninstalled after."""
    root = tmp_path_factory.mktemp("scaffold")
    folders = {}
    for kind in KINDS:
        folders[kind] = root / f"ftcore-{_name(kind)}"
        assert main(["new-plugin", _name(kind), "--kind", kind, "--dest", str(folders[kind])]) == 0
    editable = [arg for folder in folders.values() for arg in ("-e", str(folder))]
    install = [*PIP, "install", "-q", "--no-deps", "--no-build-isolation", *editable]
    subprocess.run(install, check=True, capture_output=True)
    yield folders
    dists = [f"ftcore-{_name(kind)}" for kind in KINDS]
    subprocess.run([*PIP, "uninstall", "-y", "-q", *dists], capture_output=True)


def test_names_are_derived_from_the_argument():
    names = scaffold.Names.parse("ftcore-Rare_Words")
    assert (names.dist, names.package, names.name, names.class_name) == (
        "ftcore-rare-words",
        "ftcore_rare_words",
        "rare_words",
        "RareWords",
    )
    with pytest.raises(UserError, match="not a usable name"):
        scaffold.Names.parse("3 words!")


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_writes_a_complete_distribution(kind, tmp_path):
    folder = scaffold.create("my-thing", kind, tmp_path / "out")
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert {
        "pyproject.toml",
        "README.md",
        "ftcore_my_thing/__init__.py",
        "ftcore_my_thing/plugin.py",
        "ftcore_my_thing/schema.py",
        "ftcore_my_thing/recipes/my-thing-demo.yaml",
        "tests/test_ftcore_my_thing.py",
    } <= files
    project = (folder / "pyproject.toml").read_text()
    assert '[project.entry-points.ftcore]\nmy_thing = "ftcore_my_thing.plugin"\n' in project
    assert not any("${" in (folder / f).read_text() for f in files if not f.endswith(".jsonl"))
    plugin = (folder / "ftcore_my_thing" / "plugin.py").read_text()
    assert "@ftcore.hookimpl" in plugin and "# Other hooks" in plugin or kind == "callback"


def test_generated_code_is_ruff_clean(tmp_path):
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed")
    for kind in KINDS:
        scaffold.create(f"my-{kind}", kind, tmp_path / kind)
    for args in (["check"], ["format", "--check"]):
        out = subprocess.run([ruff, *args, str(tmp_path)], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr


def test_refuses_a_folder_that_is_not_empty(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["new-plugin", "x", "--kind", "head", "--dest", str(tmp_path)]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_installed_plugins_are_listed(generated):
    out = subprocess.run(
        [sys.executable, "-m", "ftcore.cli", "plugins"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    for kind in KINDS:
        name = _name(kind).replace("-", "_")
        assert f"{name}  (ftcore-{_name(kind)} 0.1.0)  loaded" in out.stdout
        assert f"{kind} {name}:" in out.stdout


def test_generated_tests_pass(generated, tmp_path):
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    out = subprocess.run(
        [*args, *map(str, generated.values())], capture_output=True, text=True, cwd=tmp_path
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert " passed" in out.stdout and "failed" not in out.stdout


@pytest.mark.parametrize("kind", KINDS)
def test_generated_recipe_runs(generated, kind, tiny_model_dir, tmp_path):
    """The shipped recipe, on the tiny model and a slice of its data, through the CLI."""
    recipe = f"{_name(kind)}-demo"
    small = ["data.limit_train=32", "data.limit_eval=16", "trainer.max_epochs=1"]
    cmd = [sys.executable, "-m", "ftcore.cli", "run", recipe, "--out", str(tmp_path / "run")]
    out = subprocess.run(
        [*cmd, f"model.name={tiny_model_dir}", *small], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"ftcore: {recipe} finished" in out.stdout and "test: accuracy=" in out.stdout
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()
