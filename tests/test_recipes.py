"""Recipe loading, composition, overrides and validation errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from ftcore_devkit.testing import base_recipe, build_hooks
from omegaconf import OmegaConf

from ftcore.errors import RecipeError
from ftcore.recipe import load_recipe, loader
from ftcore.recipe.validate import validate

ROOT = Path(__file__).resolve().parent.parent


def _validate(recipe: dict, hooks):
    return validate(OmegaConf.create(recipe), hooks, source="r.yaml", default_name="r")


@pytest.fixture
def hooks(memory_dataset):
    return build_hooks([memory_dataset])


def _problems(recipe: dict, hooks) -> list[str]:
    with pytest.raises(RecipeError) as info:
        _validate(recipe, hooks)
    return info.value.problems


def test_valid_recipe_gets_defaults(hooks, tiny_model_dir):
    cfg = _validate(base_recipe(tiny_model_dir), hooks)
    assert cfg.optim.weight_decay == 0.01 and cfg.head.multi_label is False


def test_typo_wrong_type_and_missing_reported_together(hooks, tiny_model_dir):
    recipe = base_recipe(tiny_model_dir)
    recipe["optim"]["lrr"] = 0.1
    recipe["trainer"]["max_epochs"] = "many"
    del recipe["task"]
    problems = _problems(recipe, hooks)
    assert "optim.lrr: unknown key (did you mean 'optim.lr'?)" in problems
    assert "trainer.max_epochs: expected int, got 'many'" in problems
    assert any(p.startswith("task: missing required value") for p in problems)


def test_plugin_section_schema_is_enforced(hooks, tiny_model_dir):
    recipe = base_recipe(tiny_model_dir)
    recipe["head"] = {"multi_labl": True, "threshold": "high"}
    problems = _problems(recipe, hooks)
    assert "head.multi_labl: unknown key (did you mean 'head.multi_label'?)" in problems
    assert "head.threshold: expected float, got 'high'" in problems


def test_unknown_component_names_plugin_to_install(hooks, tiny_model_dir):
    recipe = base_recipe(tiny_model_dir)
    recipe["data"]["source"] = "memroy"
    recipe["task"] = "regression-x"
    problems = " | ".join(_problems(recipe, hooks))
    assert (
        "data.source: no installed plugin provides dataset 'memroy' (did you mean 'memory'?)"
        in problems
    )
    assert "task: no installed plugin provides head 'regression-x'" in problems


def test_missing_plugin_points_at_the_plugin_reference(tiny_model_dir, memory_dataset):
    # core names no plugin distribution; the generated plugin reference says which has it
    hooks = build_hooks([memory_dataset], disable=["classification"])
    problems = _problems(base_recipe(tiny_model_dir), hooks)
    assert any(
        p.startswith("task: no installed plugin provides head 'classification'")
        and "docs/reference/plugins.md lists the plugins" in p
        for p in problems
    )
    reference = Path(__file__).resolve().parent.parent / "docs" / "reference" / "plugins.md"
    assert "### head `classification`" in reference.read_text(encoding="utf-8")


def test_extends_interpolation_and_overrides(tmp_path, hooks, tiny_model_dir):
    base = base_recipe(tiny_model_dir)
    (tmp_path / "_base.yaml").write_text(OmegaConf.to_yaml(base))
    (tmp_path / "child.yaml").write_text(
        "extends: _base\ndata:\n  batch_size: 4\n  eval_batch_size: ${data.batch_size}\n"
    )
    raw = loader.apply_overrides(
        loader.load_raw(tmp_path / "child.yaml", []), ["data.batch_size=2"]
    )
    cfg = validate(raw, hooks, source="child.yaml", default_name="child")
    assert cfg.data.batch_size == 2 and cfg.data.eval_batch_size == 2
    assert cfg.model.name == str(tiny_model_dir) and cfg.name == "test"


def test_broken_interpolation_and_yaml_are_errors(tmp_path, hooks, tiny_model_dir):
    recipe = base_recipe(tiny_model_dir)
    recipe["data"]["batch_size"] = "${nowhere}"
    assert any(
        p.startswith("data.batch_size: cannot resolve interpolation")
        for p in _problems(recipe, hooks)
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: [unclosed\n")
    with pytest.raises(RecipeError, match="invalid YAML at line 2"):
        loader.load_raw(bad, [])


def test_extends_child_list_replaces_a_parent_mapping_and_back(tmp_path):
    """A list where the base has a mapping (or the reverse) replaces it, like a scalar."""
    (tmp_path / "_base.yaml").write_text(
        "task: t\nsweep:\n  optim.lr: {log_uniform: [1.0e-5, 1.0e-3]}\n  seed: [1, 2]\n"
        "data: {batch_size: 4}\n"
    )
    (tmp_path / "child.yaml").write_text(
        "extends: _base\nsweep:\n  optim.lr: [1.0e-4, 2.0e-4]\n  seed: {int: [1, 3]}\n"
    )
    raw = OmegaConf.to_container(loader.load_raw(tmp_path / "child.yaml", []))
    assert raw["sweep"] == {"optim.lr": [1e-4, 2e-4], "seed": {"int": [1, 3]}}
    assert raw["data"] == {"batch_size": 4} and raw["task"] == "t"


def test_circular_extends(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b\n")
    (tmp_path / "b.yaml").write_text("extends: a\n")
    with pytest.raises(RecipeError, match="circular"):
        loader.load_raw(tmp_path / "a.yaml", [])


def test_run_name_cannot_escape_output_root(hooks, tiny_model_dir):
    recipe = base_recipe(tiny_model_dir)
    recipe["output"] = {"run_name": "../../etc"}
    assert any(p.startswith("output.run_name:") for p in _problems(recipe, hooks))


def _all_recipe_files() -> list[Path]:
    files = sorted((ROOT / "recipes").rglob("*.yaml"))
    files += sorted((ROOT / "plugins").glob("*/**/recipes/*.yaml"))
    return [f for f in files if not f.name.startswith("_")]


@pytest.mark.parametrize("path", _all_recipe_files(), ids=lambda p: p.stem)
def test_every_shipped_recipe_validates(path):
    hooks = build_hooks()
    cfg = load_recipe(str(path), [], hooks)
    assert cfg.name == path.stem


def test_cli_validate_typo_exit_2_one_line_no_traceback():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ftcore.cli",
            "validate",
            "sentiment-rotten-tomatoes",
            "optim.lrr=0.1",
            "trainer.max_epochs=x",
            "model.name=null",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert "ftcore: error: command line: optim.lrr=0.1: unknown key (did you mean 'optim.lr'?)" in (
        lines
    )
    assert any("command line: trainer.max_epochs=x: expected int" in line for line in lines)
    assert any("command line: model.name=null: must not be null" in line for line in lines)
    assert all(line.startswith("ftcore: error: ") for line in lines)
