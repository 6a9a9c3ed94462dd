"""The console: ftcore's lines through logging; libraries' notices only with -v; -q."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings

import pytest
from ftcore_devkit.testing import run_python

from ftcore import console
from ftcore.cli import _parse
from tests.helpers import write_csv_recipe

# what Lightning, torch and transformers print on their own during a run
NOISE = (
    "GPU available",
    "TPU available",
    "litlogger",
    "LitLogger",
    "weights_only",
    "_pytree",
    "Restoring states",
    "Writing model shards",
    "Warning:",
)


def _lines(handler_output: str) -> list[str]:
    return [line for line in handler_output.splitlines() if line]


def _log_everything() -> None:
    logging.getLogger("ftcore.run").debug("a detail")
    logging.getLogger("ftcore.run").info("run directory: x")
    logging.getLogger("ftcore.safety").warning("a problem")
    logging.getLogger("ftcore_evaluation.evaluate").info("a plugin's line")
    logging.getLogger("ftcore.plugins.mine").info("another plugin's line")
    logging.getLogger("lightning.pytorch.utilities.rank_zero").info("GPU available: False")
    logging.getLogger("somelib").warning("a library warning")


@pytest.mark.parametrize(
    "verbosity, expected",
    [
        (
            console.NORMAL,
            [
                "ftcore: run directory: x",
                "ftcore: warning: a problem",
                "ftcore-evaluation: a plugin's line",
                "mine: another plugin's line",
                "somelib: warning: a library warning",
            ],
        ),
        (console.QUIET, ["ftcore: warning: a problem"]),
        (
            console.VERBOSE,
            [
                "ftcore: debug: a detail",
                "ftcore: run directory: x",
                "ftcore: warning: a problem",
                "ftcore-evaluation: a plugin's line",
                "mine: another plugin's line",
                "lightning: GPU available: False",
                "somelib: warning: a library warning",
            ],
        ),
    ],
)
def test_lines_shown_per_verbosity(verbosity, expected, capsys):
    with console.Console(verbosity):
        _log_everything()
    assert _lines(capsys.readouterr().err) == expected


def test_console_is_undone_on_exit(monkeypatch):
    monkeypatch.delenv("TRANSFORMERS_VERBOSITY", raising=False)
    monkeypatch.setattr(sys, "warnoptions", [])
    root = logging.getLogger()
    before = (list(root.handlers), root.level, list(warnings.filters))
    with console.Console() as shown:
        assert shown.handler in root.handlers
        assert os.environ["TRANSFORMERS_VERBOSITY"] == "error"
        shown.apply(console.VERBOSE)  # the flags are read after the console is set up
        assert "TRANSFORMERS_VERBOSITY" not in os.environ
        assert console.verbosity() == console.VERBOSE
    assert (list(root.handlers), root.level, list(warnings.filters)) == before
    assert "TRANSFORMERS_VERBOSITY" not in os.environ
    assert console.verbosity() == console.NORMAL


def test_library_warnings_hidden_unless_verbose(monkeypatch):
    monkeypatch.setattr(sys, "warnoptions", [])

    def warn_both() -> list[str]:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with console.Console() as shown:
                shown.apply(verbosity)
                for module in (
                    "lightning.pytorch.utilities._pytree",
                    "torch.utils.data",
                    "ftcore.x",
                ):
                    warnings.warn_explicit("w", DeprecationWarning, "f.py", 1, module=module)
        return [str(w.message) for w in seen]

    verbosity = console.NORMAL
    assert len(warn_both()) == 1  # ftcore's own
    verbosity = console.VERBOSE
    assert len(warn_both()) == 3


def test_importing_ftcore_configures_no_logging():
    code = (
        "import logging, warnings; filters = list(warnings.filters); "
        "import ftcore.cli, ftcore.console, ftcore.run, ftcore.hooks; "
        "assert not logging.getLogger().handlers and logging.getLogger().level == 30; "
        "assert warnings.filters == filters"
    )
    run_python(code, check=True)


@pytest.mark.parametrize(
    "argv, verbosity",
    [
        (["run", "smoke"], console.NORMAL),
        (["-q", "run", "smoke"], console.QUIET),
        (["run", "smoke", "--quiet"], console.QUIET),
        (["--verbose", "run", "smoke", "optim.lr=1e-4"], console.VERBOSE),
        (["run", "smoke", "-v", "optim.lr=1e-4", "--out", "x"], console.VERBOSE),
        (["-q", "validate", "smoke", "-v"], console.VERBOSE),  # the last one wins
        (["recipes", "-q"], console.QUIET),
    ],
)
def test_flags_before_and_after_the_command(argv, verbosity):
    args, _ = _parse(argv)
    assert args.verbosity == verbosity
    if "optim.lr=1e-4" in argv:
        assert args.overrides == ["optim.lr=1e-4"] and args.recipe == "smoke"


# --- a real run of the command line ------------------------------------------------------


@pytest.fixture(scope="module")
def recipe(tmp_path_factory, tiny_model_dir) -> str:
    folder = tmp_path_factory.mktemp("console")
    # LoRA reports its trainable parameters: a plugin's info line, hidden by -q
    lora = "strategies: {lora: {r: 2, alpha: 4, dropout: 0.0}}" if _has("ftcore_lora") else ""
    evaluation = "evaluation: {enabled: false}" if _has("ftcore_evaluation") else ""
    extra = f"{evaluation}\n{lora}"
    path = write_csv_recipe(folder, tiny_model_dir, extra, rows=60, batch_size=8, max_epochs=1)
    return str(path)


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _ftcore(*args: str) -> subprocess.CompletedProcess:
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", "TRANSFORMERS_VERBOSITY")
    }
    done = subprocess.run(
        [sys.executable, "-m", "ftcore.cli", *args], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "finished in" in done.stdout  # the result is printed at every verbosity
    return done


def test_run_prints_no_library_noise(recipe, tmp_path):
    done = _ftcore("run", recipe, "--out", str(tmp_path / "run"))
    shown = [word for word in NOISE if word in done.stdout + done.stderr]
    assert not shown, done.stderr
    if _has("ftcore_lora"):
        assert "ftcore-lora: training " in done.stderr


def test_verbose_run_shows_library_notices(recipe, tmp_path):
    done = _ftcore("-v", "run", recipe, "--out", str(tmp_path / "run"))
    assert "lightning: GPU available: " in done.stderr
    assert "ftcore: debug: plugin " in done.stderr


def test_quiet_run_hides_info_lines(recipe, tmp_path):
    done = _ftcore("run", recipe, "--out", str(tmp_path / "run"), "-q")
    assert done.stderr == ""
