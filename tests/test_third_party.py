"""A plugin installed from outside the repository is discovered through its entry point."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from ftcore_devkit.testing import base_recipe
from omegaconf import OmegaConf

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

MISSPELT = """
import ftcore

@ftcore.hookimpl
def ftcore_componets():  # misspelt: no such hook
    return []
"""

# Declares a component of an unknown kind.
BAD_KIND = """
import ftcore
from ftcore.types import Component

@ftcore.hookimpl
def ftcore_components():
    return [Component(kind="stratgy", name="ema")]
"""

# Its ftcore_components raises.
COMPONENTS_RAISE = """
import ftcore

@ftcore.hookimpl
def ftcore_components():
    raise RuntimeError("no components today")
"""

# Claims the dataset name 'weather' too.
TWIN = """
import ftcore
from ftcore.types import Component

@ftcore.hookimpl
def ftcore_components():
    return [Component(kind="dataset", name="weather", description="another weather")]
"""

# Dataset 'stormy' trains fine until this plugin's loss term raises at the third step.
RAISING = (
    GOOD.replace('"weather"', '"stormy"')
    + """

@ftcore.hookimpl
def ftcore_loss_terms(module, batch, output):
    if module.recipe.data.source == "stormy" and module.global_step >= 2:
        raise RuntimeError("the storm broke the loss")
    return []
"""
)


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
    others = [
        _write_plugin(root, "ftcore-broken-test", "ftcore_broken_test", BROKEN),
        _write_plugin(root, "ftcore-misspelt-test", "ftcore_misspelt_test", MISSPELT),
        _write_plugin(root, "ftcore-twin-test", "ftcore_twin_test", TWIN),
        _write_plugin(root, "ftcore-raising-test", "ftcore_raising_test", RAISING),
        _write_plugin(root, "ftcore-badkind-test", "ftcore_badkind_test", BAD_KIND),
        _write_plugin(root, "ftcore-noparts-test", "ftcore_noparts_test", COMPONENTS_RAISE),
    ]
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, str(good), *map(str, others)], check=True, capture_output=True)
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
            "ftcore-misspelt-test",
            "ftcore-twin-test",
            "ftcore-raising-test",
            "ftcore-badkind-test",
            "ftcore-noparts-test",
        ],
        capture_output=True,
    )


def _ftcore(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, "-m", "ftcore.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **env},
    )


def _weather_recipe(tmp_path: Path, model_dir: Path, source: str = "weather", **extra) -> Path:
    recipe = {**base_recipe(model_dir, source=source), **extra}
    path = tmp_path / f"{source}.yaml"
    path.write_text(OmegaConf.to_yaml(recipe))
    return path


def test_plugins_lists_new_plugin_and_broken_one(installed):
    out = _ftcore("plugins")
    assert out.returncode == 0, out.stderr
    assert "ftcore_weather_test  (ftcore-weather-test 1.2.3)  loaded" in out.stdout
    assert "dataset weather: toy weather moods" in out.stdout
    assert "ftcore_broken_test  (ftcore-broken-test 1.2.3)  failed" in out.stdout
    assert "this plugin is broken on purpose" in out.stdout
    assert "classification  (ftcore-classification" in out.stdout  # the others keep working


def test_recipe_uses_third_party_dataset(installed, tiny_model_dir, tmp_path):
    # The recipe key plugins.disable switches off the twin that claims 'weather' too.
    path = _weather_recipe(tmp_path, tiny_model_dir, plugins={"disable": ["ftcore_twin_test"]})
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
    # the first that failed, in entry-point order
    assert "plugin 'ftcore_badkind_test' from distribution 'ftcore-badkind-test'" in out.stderr
    env["FTCORE_DISABLE_PLUGINS"] = (
        "ftcore_badkind_test,ftcore_broken_test,ftcore_misspelt_test,ftcore_noparts_test"
    )
    ok = subprocess.run(
        [sys.executable, "-m", "ftcore.cli", "plugins"], capture_output=True, text=True, env=env
    )
    assert ok.returncode == 0 and "ftcore_broken_test" in ok.stdout and "disabled" in ok.stdout


def test_misspelt_hook_fails_that_plugin_only(installed):
    out = _ftcore("plugins")
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if x.startswith("ftcore_misspelt_test"))
    assert "(ftcore-misspelt-test 1.2.3)  failed" in line
    assert "ftcore_componets" in out.stdout and "invalid hook implementation" in out.stdout
    assert "(did you mean 'ftcore_components'?)" in line + out.stdout


def test_plugins_never_aborts_and_checks_components_when_a_plugin_loads(installed):
    out = _ftcore("plugins")
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    lines = out.stdout.splitlines()
    bad = lines[lines.index(next(x for x in lines if x.startswith("ftcore_badkind_test"))) + 1]
    assert "failed" in next(x for x in lines if x.startswith("ftcore_badkind_test"))
    assert (
        "ftcore_components (ftcore_badkind_test.ftcore_components): component 'stratgy' "
        "'ema': unknown kind (did you mean 'strategy'?)" in bad
    )
    raising = next(x for x in lines if x.startswith("ftcore_noparts_test"))
    assert raising.endswith("failed")
    assert "RuntimeError: no components today" in out.stdout
    assert "classification  (ftcore-classification" in out.stdout  # the others keep working


def test_validate_warns_once_per_plugin_that_failed_to_load(installed, tiny_model_dir, tmp_path):
    path = _weather_recipe(tmp_path, tiny_model_dir)
    out = _ftcore("validate", str(path), FTCORE_DISABLE_PLUGINS="ftcore_twin_test")
    assert out.returncode == 0, out.stderr
    warnings = [x for x in out.stderr.splitlines() if "failed to load and is ignored" in x]
    names = sorted(x.split("'")[1] for x in warnings)
    assert names == [
        "ftcore_badkind_test",
        "ftcore_broken_test",
        "ftcore_misspelt_test",
        "ftcore_noparts_test",
    ]
    # naming a component a failed plugin might provide says so
    path = _weather_recipe(tmp_path, tiny_model_dir, source="sunny")
    out = _ftcore("validate", str(path), FTCORE_DISABLE_PLUGINS="ftcore_twin_test")
    assert out.returncode == 2
    assert "no installed plugin provides dataset 'sunny'" in out.stderr
    assert "plugin 'ftcore_broken_test' (ftcore-broken-test) failed to load and may provide it" in (
        out.stderr
    )


def test_two_plugins_claiming_one_dataset_name(installed, tiny_model_dir, tmp_path):
    path = _weather_recipe(tmp_path, tiny_model_dir)
    out = _ftcore("validate", str(path))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "dataset 'weather' is provided by plugin" in out.stderr
    assert "'ftcore_weather_test' (ftcore-weather-test)" in out.stderr
    assert "'ftcore_twin_test' (ftcore-twin-test)" in out.stderr
    assert "FTCORE_DISABLE_PLUGINS=name" in out.stderr
    ok = _ftcore("validate", str(path), FTCORE_DISABLE_PLUGINS="ftcore_twin_test")
    assert ok.returncode == 0, ok.stderr


def test_hook_raising_mid_run_names_plugin_hook_and_distribution(
    installed, tiny_model_dir, tmp_path
):
    path = _weather_recipe(tmp_path, tiny_model_dir, source="stormy")
    out = _ftcore(
        "run", str(path), "--out", str(tmp_path / "run"), FTCORE_DISABLE_PLUGINS="ftcore_twin_test"
    )
    assert out.returncode == 1, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    errors = [x for x in out.stderr.splitlines() if x.startswith("ftcore: error:")]
    assert errors == [
        "ftcore: error: plugin 'ftcore_raising_test' (ftcore-raising-test) raised in "
        "ftcore_loss_terms (ftcore_raising_test.ftcore_loss_terms): RuntimeError: the storm "
        "broke the loss; report it to the plugin's authors, or disable it with "
        "FTCORE_DISABLE_PLUGINS=ftcore_raising_test "
        "(FTCORE_TRACE_PLUGINS=1 shows the traceback)"
    ]
    assert (tmp_path / "run" / "recipe.yaml").is_file()  # what was written stays
