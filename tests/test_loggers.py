"""Issue 18 item 2: the ``loggers:`` recipe section.

- absent: csv and tensorboard as before, both with the resolved recipe as hyperparameters;
- ``mlflow``: an MLflow run in a local file store that the ``mlflow`` client reads back,
  with the recipe as params and the final test metrics with their confidence bounds;
- listing a logger turns it on, ``null`` or ``enabled: false`` off; a typo is one line
  naming the path, a missing package one line naming the pip package (exit 2);
- ``--resume`` continues the same MLflow run and logs the recipe once.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml
from ftcore_devkit.testing import base_recipe, execute_recipe, resume_run
from omegaconf import OmegaConf

from ftcore import loggers
from ftcore.cli import main
from ftcore.errors import RecipeError
from ftcore.hparams import hyperparameters
from ftcore.recipe.validate import validate
from tests.helpers import memory_hooks, write_csv_recipe

# fast evaluation: intervals from 200 resamples, no baselines, forgetting or report
EVALUATION = (
    "evaluation: {bootstrap_samples: 200, baseline: false, forgetting: false, report: false, "
    "cache: false}"
)
HAS_MLFLOW = importlib.util.find_spec("mlflow") is not None
needs_mlflow = pytest.mark.skipif(not HAS_MLFLOW, reason="needs mlflow (the test extra)")


def _recipe(folder: Path, model_dir: Path, extra: str) -> str:
    return str(write_csv_recipe(folder, model_dir, extra, rows=60, batch_size=8, max_epochs=1))


def _error_lines(capsys) -> list[str]:
    return [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("ftcore: error")]


@pytest.fixture
def file_store_env(monkeypatch):
    """MLFLOW_ALLOW_FILE_STORE unset for the test (ftcore sets it for a file store) and
    restored afterwards."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")


# --- ftcore run with MLflow, read back with the mlflow client ----------------------------


@needs_mlflow
def test_mlflow_run_params_and_test_metrics_with_bounds_read_back(
    tmp_path, tiny_model_dir, monkeypatch, capsys, file_store_env
):
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    store = tmp_path / "store"
    extra = f"{EVALUATION}\nloggers: {{mlflow: {{tracking_uri: 'file:{store}', "
    extra += "experiment_name: issue18, tags: {team: nlp}}}"
    recipe = _recipe(tmp_path, tiny_model_dir, extra)
    run_dir = tmp_path / "run"
    assert main(["run", recipe, "--out", str(run_dir)]) == 0
    assert "warning" not in capsys.readouterr().err

    client = MlflowClient(store.as_uri())
    experiment = client.get_experiment_by_name("issue18")
    (found,) = client.search_runs([experiment.experiment_id])
    params, metrics = found.data.params, found.data.metrics
    assert found.info.run_name == "run" and found.data.tags["team"] == "nlp"
    assert float(params["optim.lr"]) == 5e-5 and params["task"] == "classification"
    assert params["data.source"] == "csv" and params["loggers.mlflow.enabled"] == "True"
    low, high = metrics["test/accuracy_ci_low"], metrics["test/accuracy_ci_high"]
    assert low <= metrics["test/accuracy"] <= high and low < high
    assert {"test/loss", "val/loss", "test/f1_ci_low", "test/f1_ci_high"} <= set(metrics)
    # only the listed logger: no csv or tensorboard files
    assert not (run_dir / "logs").exists() and not (run_dir / "tensorboard").exists()


@needs_mlflow
def test_mlflow_default_store_is_the_run_dirs_mlruns(
    tmp_path, tiny_model_dir, monkeypatch, capsys, file_store_env
):
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    extra = "evaluation: {enabled: false}\nloggers: {mlflow: {}, csv: {}}"
    run_dir = tmp_path / "run"
    assert main(["run", _recipe(tmp_path, tiny_model_dir, extra), "--out", str(run_dir)]) == 0
    client = MlflowClient((run_dir / "mlruns").as_uri())
    (found,) = client.search_runs([client.get_experiment_by_name("recipe").experiment_id])
    # without the evaluation plugin: the plain test metrics, no bounds
    assert "test/accuracy" in found.data.metrics
    assert not any("_ci_" in name for name in found.data.metrics)
    assert (run_dir / "logs" / "metrics.csv").is_file()


@needs_mlflow
def test_a_store_mlflow_refuses_is_one_line(tmp_path, tiny_model_dir, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "false")  # MLflow 3 then refuses file:
    monkeypatch.chdir(tmp_path)
    recipe = _recipe(tmp_path, tiny_model_dir, "loggers: {mlflow: {tracking_uri: file:st}}")
    assert main(["run", recipe, "--out", str(tmp_path / "run")]) == 2
    (line,) = _error_lines(capsys)
    assert f"loggers.mlflow.tracking_uri: MLflow cannot use {(tmp_path / 'st').as_uri()}: " in line
    assert line.endswith("; start the server or fix the URI")


# --- the default: csv + tensorboard, both with hyperparameters -------------------------


def test_default_loggers_write_csv_and_tensorboard_with_the_recipe_as_hparams(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    run_dir = tmp_path / "run"
    recipe = _recipe(tmp_path, tiny_model_dir, EVALUATION)
    assert main(["run", recipe, "--out", str(run_dir)]) == 0, capsys.readouterr().err
    assert not (run_dir / "mlruns").exists()
    assert _hparams_records(run_dir / "tensorboard") == 1
    for folder in ("tensorboard", "logs"):
        hparams = yaml.safe_load((run_dir / folder / "hparams.yaml").read_text())
        assert hparams["optim.lr"] == 5e-5 and hparams["model.name"] == str(tiny_model_dir)
        assert hparams["loggers.csv.enabled"] is True
    header = (run_dir / "logs" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"test/accuracy", "test/accuracy_ci_low", "test/accuracy_ci_high"} <= set(header)


# --- validation: listing, typos, missing packages ----------------------------------------


def _enabled(section) -> list[str]:
    recipe = base_recipe(Path("/nowhere"))
    if section != "absent":
        recipe["loggers"] = section
    cfg = validate(OmegaConf.create(recipe), memory_hooks(), source="t", default_name="t")
    return loggers.enabled(cfg.loggers)


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("absent", ["tensorboard", "csv"]),
        (None, ["tensorboard", "csv"]),
        ({}, []),
        ({"csv": {}}, ["csv"]),
        ({"csv": None, "tensorboard": {}}, ["tensorboard"]),
        ({"csv": {"enabled": False}, "tensorboard": {"enabled": True}}, ["tensorboard"]),
    ],
)
def test_a_listed_logger_is_on_null_or_enabled_false_is_off(section, expected):
    assert _enabled(section) == expected


def test_a_typo_in_a_logger_key_is_one_line_naming_the_path(tmp_path, tiny_model_dir, capsys):
    recipe = _recipe(tmp_path, tiny_model_dir, "loggers: {mlflow: {trackin_uri: x}}")
    assert main(["validate", recipe]) == 2
    (line,) = _error_lines(capsys)
    assert "loggers.mlflow.trackin_uri: unknown key" in line
    assert "did you mean 'loggers.mlflow.tracking_uri'?" in line


def test_an_unknown_logger_is_one_line_naming_the_known_one(tmp_path, tiny_model_dir, capsys):
    recipe = _recipe(tmp_path, tiny_model_dir, "loggers: {mlfow: {}}")
    assert main(["validate", recipe]) == 2
    (line,) = _error_lines(capsys)
    assert "loggers.mlfow: unknown key (did you mean 'loggers.mlflow'?)" in line


@pytest.mark.parametrize("name", ["mlflow", "wandb"])
def test_a_logger_whose_package_is_missing_is_a_validation_error(
    tmp_path, tiny_model_dir, monkeypatch, capsys, name
):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        loggers.importlib.util, "find_spec", lambda mod, *a: None if mod == name else real(mod)
    )
    monkeypatch.chdir(tmp_path)
    recipe = _recipe(tmp_path, tiny_model_dir, f"loggers: {{{name}: {{}}}}")
    expected = f"loggers.{name}: needs the '{name}' package; pip install {name}"
    for argv in (["validate", recipe], ["run", recipe, "--out", str(tmp_path / "run")]):
        assert main(argv) == 2
        (line,) = _error_lines(capsys)
        assert line.endswith(expected), line
    assert not (tmp_path / "run").exists()  # refused before the run started


def test_recipe_problems_list_every_missing_package_at_once(monkeypatch):
    monkeypatch.setattr(loggers.importlib.util, "find_spec", lambda mod, *a: None)
    recipe = base_recipe(Path("/nowhere"))
    recipe["loggers"] = {"mlflow": {}, "wandb": {}, "tensorboard": {}}
    with pytest.raises(RecipeError) as caught:
        validate(OmegaConf.create(recipe), memory_hooks(), source="t", default_name="t")
    assert [p.split(":")[0] for p in caught.value.problems] == [
        "loggers.tensorboard",
        "loggers.mlflow",
        "loggers.wandb",
    ]


# --- pieces ------------------------------------------------------------------------------


def test_tracking_uri_defaults_to_the_run_dir_and_makes_local_paths_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert loggers.tracking_uri(None, tmp_path / "run") == (tmp_path / "run/mlruns").as_uri()
    assert loggers.tracking_uri("file:store", Path("x")) == (tmp_path / "store").as_uri()
    assert loggers.tracking_uri("store", Path("x")) == (tmp_path / "store").as_uri()
    for kept in ("http://host:5000", "sqlite:///mlflow.db", "file:///abs/mlruns", "databricks"):
        assert loggers.tracking_uri(kept, Path("x")) == kept


def test_hyperparameters_are_flat_dotted_keys_of_the_resolved_recipe():
    recipe = OmegaConf.create(
        {"optim": {"lr": 0.1, "x": "${optim.lr}"}, "data": {"normalize": ["nfc"], "n": None}}
    )
    recipe.versions = {"torch": "2"}
    assert hyperparameters(recipe) == {
        "optim.lr": 0.1,
        "optim.x": 0.1,
        "data.normalize": '["nfc"]',
        "data.n": "null",
    }


def test_no_logger_means_no_learning_rate_monitor(tmp_path, tiny_model_dir):
    recipe = base_recipe(tiny_model_dir)
    recipe["loggers"] = {}
    result = execute_recipe(recipe, tmp_path / "run", hooks=memory_hooks())
    assert result.summary["test"] and result.run.trainer.loggers == []
    assert not (tmp_path / "run" / "logs").exists()


# --- resume ------------------------------------------------------------------------------


@needs_mlflow
def test_resume_continues_the_mlflow_run_and_logs_the_recipe_once(
    tmp_path, tiny_model_dir, file_store_env
):
    from mlflow.tracking import MlflowClient

    recipe = base_recipe(tiny_model_dir)
    recipe["loggers"] = {"mlflow": {}, "tensorboard": {}}
    hooks = memory_hooks()
    overrides = ["trainer.max_epochs=2", "checkpoint.every_n_steps=2"]
    crashed = execute_recipe(recipe, tmp_path / "run", overrides, hooks=hooks, crash_at_step=7)
    resume_run(crashed.run_dir, hooks=hooks)

    client = MlflowClient((crashed.run_dir / "mlruns").as_uri())
    (found,) = client.search_runs([client.get_experiment_by_name("test").experiment_id])
    assert found.data.params["optim.lr"] == "0.001" and "test/accuracy" in found.data.metrics
    steps = {m.step for m in client.get_metric_history(found.info.run_id, "train/loss")}
    assert min(steps) < 6 and max(steps) >= 9, steps  # both halves in the one MLflow run
    tensorboard = crashed.run_dir / "tensorboard"
    assert _hparams_records(tensorboard) == 1  # not again by the resumed process
    assert yaml.safe_load((tensorboard / "hparams.yaml").read_text())["optim.lr"] == 1e-3


def _hparams_records(folder: Path) -> int:
    """How many hparams records TensorBoard's event files in ``folder`` hold."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    return sum(
        value.tag == "_hparams_/session_start_info"
        for path in folder.glob("events.out.tfevents.*")
        for event in EventFileLoader(str(path)).Load()
        for value in event.summary.value
    )


def test_the_resumed_recipe_may_change_its_loggers(tmp_path, tiny_model_dir):
    recipe = base_recipe(tiny_model_dir)
    hooks = memory_hooks()
    overrides = ["trainer.max_epochs=2", "checkpoint.every_n_steps=2"]
    crashed = execute_recipe(recipe, tmp_path / "run", overrides, hooks=hooks, crash_at_step=7)
    path = crashed.run_dir / "recipe.yaml"
    written = yaml.safe_load(path.read_text())
    written["loggers"] = {"csv": {"enabled": True}}
    path.write_text(yaml.safe_dump(written))
    assert resume_run(crashed.run_dir, hooks=hooks).summary["steps_trained"] == 10


# --- wandb (not in the test extra: constructed only where it is installed) ---------------


@pytest.mark.skipif(importlib.util.find_spec("wandb") is None, reason="wandb not installed")
def test_wandb_logger_is_built_offline_in_the_run_dir(tmp_path, tiny_model_dir):
    from types import SimpleNamespace

    from lightning.pytorch.loggers import WandbLogger

    recipe = base_recipe(tiny_model_dir)
    recipe["loggers"] = {"wandb": {"project": "p", "tags": ["a"]}}
    cfg = validate(OmegaConf.create(recipe), memory_hooks(), source="t", default_name="t")
    cfg.run_id = "abc123"
    run = SimpleNamespace(recipe=cfg, run_dir=tmp_path / "run", resume_from=None)
    (logger,) = loggers.build(run)
    assert isinstance(logger, WandbLogger)
    assert logger._wandb_init["mode"] == "offline" and logger._wandb_init["id"] == "abc123"
    assert logger._wandb_init["dir"] == str(tmp_path / "run")
