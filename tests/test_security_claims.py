"""Each guarantee in docs/security.md has a test here (or names the test that has it)."""

from __future__ import annotations

import io
import socket
from pathlib import Path

import pytest
import torch
from ftcore_devkit.testing import base_recipe, build_hooks
from omegaconf import OmegaConf

from ftcore.checkpoint_io import AtomicCheckpointIO
from ftcore.errors import RecipeError, UserError
from ftcore.recipe.validate import validate

RAN = Path("/tmp/ftcore-security-test-ran")


class RunsCode:
    """Unpickling this would create a file: what a malicious checkpoint would do."""

    def __reduce__(self):
        return (Path.touch, (RAN,))


@pytest.fixture
def hooks(memory_dataset):
    return build_hooks([memory_dataset])


def _problems(recipe: dict, hooks) -> list[str]:
    with pytest.raises(RecipeError) as info:
        validate(OmegaConf.create(recipe), hooks, source="r.yaml", default_name="r")
    return info.value.problems


@pytest.mark.parametrize(
    "value", ["${eval:1}", "${python:os.getpid}", "${eval:__import__('os').system('x')}"]
)
def test_recipe_cannot_call_code_through_interpolation(value, hooks, tiny_model_dir, tmp_path):
    from ftcore.recipe import loader

    recipe = base_recipe(tiny_model_dir)
    path = tmp_path / "r.yaml"
    path.write_text(OmegaConf.to_yaml(recipe) + f'description: "{value}"\n')
    with pytest.raises(RecipeError) as info:
        raw = loader.load_raw(path, [])
        validate(raw, hooks, source=str(path), default_name="r")
    problem = info.value.problems[0]
    assert "cannot resolve interpolation" in problem or "unsupported value" in problem


def test_recipe_cannot_name_a_class_to_instantiate(hooks, tiny_model_dir):
    recipe = base_recipe(tiny_model_dir)
    recipe["_target_"] = "os.system"
    recipe["callbacks"] = {"lightning.pytorch.callbacks.EarlyStopping": {}}
    problems = " | ".join(_problems(recipe, hooks))
    assert "_target_: unknown key" in problems
    assert "no installed plugin provides callback 'lightning.pytorch.callbacks" in problems


def test_trust_remote_code_is_off_unless_the_recipe_sets_it(hooks, tiny_model_dir):
    cfg = validate(OmegaConf.create(base_recipe(tiny_model_dir)), hooks, "r.yaml", "r")
    assert cfg.model.trust_remote_code is False


def test_a_recipe_file_cannot_turn_on_remote_code(hooks, tiny_model_dir, tmp_path):
    """Only the command line allows a model folder's own code to run: a recipe file (or one
    it extends) that sets ``model.trust_remote_code: true`` is refused, naming the file."""
    from ftcore.recipe import load_recipe

    recipe = base_recipe(tiny_model_dir)
    recipe["model"]["trust_remote_code"] = True
    base = tmp_path / "base.yaml"
    base.write_text(OmegaConf.to_yaml(recipe))
    child = tmp_path / "child.yaml"
    child.write_text("extends: base.yaml\n")
    for path in (base, child):
        with pytest.raises(RecipeError) as info:
            load_recipe(str(path), [], hooks)
        assert str(info.value).startswith(f"{path}: model.trust_remote_code: a recipe file")
        assert "adding model.trust_remote_code=true" in str(info.value)
    allowed = load_recipe(str(child), ["model.trust_remote_code=true"], hooks)
    assert allowed.model.trust_remote_code is True
    refused = load_recipe(str(base), ["model.trust_remote_code=false"], hooks)
    assert refused.model.trust_remote_code is False


def test_ftcore_run_of_a_recipe_that_trusts_remote_code_is_one_line(tmp_path, capsys):
    from ftcore.cli import main

    path = tmp_path / "foreign.yaml"
    path.write_text("task: classification\nmodel:\n  name: minilm\n  trust_remote_code: yes\n")
    assert main(["run", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot turn this on" in err
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_checkpoints_are_loaded_without_running_code(tmp_path):
    RAN.unlink(missing_ok=True)
    path = tmp_path / "evil.ckpt"
    buffer = io.BytesIO()
    torch.save({"state_dict": {}, "payload": RunsCode()}, buffer)
    path.write_bytes(buffer.getvalue())
    with pytest.raises(Exception, match="(?i)weights.only|unpickl"):
        AtomicCheckpointIO().load_checkpoint(path)
    assert not RAN.exists()


def test_offline_mode_attempts_no_network(monkeypatch, tmp_path):
    from ftcore.models import resolve_model

    def refuse(*args, **kwargs):
        raise AssertionError("a network connection was attempted")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(socket.socket, "connect", refuse)
    recipe = OmegaConf.create({"model": {"name": "someone/not-cached", "cache_dir": None}})
    message = "not in the local Hugging Face cache, and HF_HUB_OFFLINE=1 forbids"
    with pytest.raises(UserError, match=message):
        resolve_model(recipe, build_hooks([], autoload=False))


def test_run_directory_cannot_escape_the_output_root(tmp_path):
    from ftcore.rundir import run_dir_for

    recipe = OmegaConf.create(
        {"name": "r", "output": {"root": str(tmp_path), "run_name": "../../outside"}}
    )
    with pytest.raises(UserError, match="would write outside"):
        run_dir_for(recipe, None)
    recipe.output.run_name = "fine"
    assert run_dir_for(recipe, None) == tmp_path / "r" / "fine"
