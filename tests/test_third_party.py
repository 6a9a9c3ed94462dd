"""A plugin installed from outside the repository is discovered through its entry point."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from ftcore.testing import base_recipe

GOOD = """
import ftcore
from ftcore.types import Component, RawSplits

WORDS = {"pos": "sunny bright warm", "neg": "rainy grey cold"}

@ftcore.hookimpl
def ftcore_components():
    return [Component(kind="dataset", name="weather", description="toy weather moods")]

@ftcore.hookimpl
def ftcore_load_dataset(name, options, seed):
    if name != "weather":
        return None
    rows = [{"text": f"a {WORDS[lab].split()[i % 3]} day", "label": lab}
            for i in range(24) for lab in ("pos", "neg")]
    return RawSplits(splits={"train": rows, "validation": rows[:8], "test": rows[8:16]},
                     origin={"train": "weather"})
"""

BROKEN = "raise ImportError('this plugin is broken on purpose')\n"


def _write_plugin(root: Path, dist: str, module: str, code: str) -> Path:
    folder = root / dist
    (folder / module).mkdir(parents=True)
    (folder / module / "__init__.py").write_text(code)
    (folder / "pyproject.toml").write_text(
        textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "{dist}"
        version = "1.2.3"
        [project.entry-points.ftcore]
        {module} = "{module}"
        [tool.setuptools]
        packages = ["{module}"]
    """)
    )
    return folder


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    root = tmp_path_factory.mktemp("third-party")
    good = _write_plugin(root, "ftcore-weather-test", "ftcore_weather_test", GOOD)
    bad = _write_plugin(root, "ftcore-broken-test", "ftcore_broken_test", BROKEN)
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, str(good), str(bad)], check=True, capture_output=True)
    yield root
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "uninstall",
            "-y",
            "-q",
            "ftcore-weather-test",
            "ftcore-broken-test",
        ],
        capture_output=True,
    )


def _ftcore(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ftcore.cli", *args], capture_output=True, text=True, cwd=cwd
    )


def test_plugins_lists_new_plugin_and_broken_one(installed):
    out = _ftcore("plugins")
    assert out.returncode == 0, out.stderr
    assert "ftcore_weather_test  (ftcore-weather-test 1.2.3)  loaded" in out.stdout
    assert "dataset weather: toy weather moods" in out.stdout
    assert "ftcore_broken_test  (ftcore-broken-test 1.2.3)  failed" in out.stdout
    assert "this plugin is broken on purpose" in out.stdout
    assert "classification  (ftcore-classification" in out.stdout  # the others keep working


def test_recipe_uses_third_party_dataset(installed, tiny_model_dir, tmp_path):
    recipe = base_recipe(tiny_model_dir, source="weather")
    path = tmp_path / "weather.yaml"
    path.write_text(OmegaConf.to_yaml(recipe))
    out = _ftcore("run", str(path), "--out", str(tmp_path / "run"))
    assert out.returncode == 0, out.stderr[-2000:]
    assert "test: accuracy=" in out.stdout
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()


def test_strict_mode_turns_broken_plugin_into_error(installed):
    import os

    env = {**os.environ, "FTCORE_STRICT_PLUGINS": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "ftcore.cli", "plugins"], capture_output=True, text=True, env=env
    )
    assert out.returncode == 2
    assert "plugin 'ftcore_broken_test' from distribution 'ftcore-broken-test'" in out.stderr
    env["FTCORE_DISABLE_PLUGINS"] = "ftcore_broken_test"
    ok = subprocess.run(
        [sys.executable, "-m", "ftcore.cli", "plugins"], capture_output=True, text=True, env=env
    )
    assert ok.returncode == 0 and "ftcore_broken_test" in ok.stdout and "disabled" in ok.stdout
