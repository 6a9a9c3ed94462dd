"""Recipe checks of issue 13: trainer.devices forms, Lightning's own values (precision,
strategy, accelerator), names from other tools, problems blamed on the command line, and
`ftcore recipes show NAME --resolved`."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from ftcore_devkit.testing import run_python

from ftcore.cli import main
from ftcore.errors import RecipeError
from ftcore.recipe import blame_overrides, lightning_values

ROOT = Path(__file__).resolve().parent.parent
FORMS = "give a count of 1 or more, -1 for all, 'auto', or device indices like [0, 1]"


def _errors(capsys, *argv: str) -> list[str]:
    """Run ``ftcore validate ...``; expect exit code 2; return the stderr lines."""
    assert main(["validate", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    return captured.err.splitlines()


def _valid(capsys, *argv: str) -> None:
    assert main(["validate", *argv]) == 0, capsys.readouterr().err
    assert ": valid (" in capsys.readouterr().out


def _recipe_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text("extends: smoke\n" + text, encoding="utf-8")
    return path


# --- 3. trainer.devices --------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        ["trainer.devices=2"],
        ["trainer.devices=[0,1]"],
        ["trainer.devices=-1"],
        ["trainer.devices=auto"],
        ["trainer.devices=0,1"],
        ["trainer.devices=1", "trainer.accelerator=cpu"],
        ["trainer.strategy=ddp", "trainer.devices=2"],
    ],
)
def test_devices_takes_what_lightning_takes(capsys, overrides):
    _valid(capsys, "sentiment-rotten-tomatoes", *overrides)


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ("0", f"0 devices cannot train ({FORMS})"),
        ("-2", f"-2 is not a number of devices ({FORMS})"),
        ("abc", f"'abc' is not a number of devices or a list of indices ({FORMS})"),
        ("[]", f"an empty list selects no device ({FORMS})"),
        ("[-1]", "device indices must be 0 or more, got [-1] (use -1 for all devices)"),
        ("[0,0]", "device indices must be distinct, got [0, 0]"),
        ("[a]", "expected int or str or list of int, got ['a']"),
    ],
)
def test_bad_devices_are_one_line_errors(capsys, value, what):
    lines = _errors(capsys, "smoke", f"trainer.devices={value}")
    assert lines == [f"ftcore: error: command line: trainer.devices={value}: {what}"]


def test_devices_indices_and_minus_one_need_a_gpu_accelerator(capsys):
    lines = _errors(capsys, "smoke", "trainer.accelerator=cpu", "trainer.devices=[0,1]")
    assert lines == [
        "ftcore: error: command line: trainer.devices=[0,1]: device indices [0, 1] select "
        "GPUs; with trainer.accelerator=cpu give a number of processes (e.g. trainer.devices=2)"
    ]
    lines = _errors(capsys, "smoke", "trainer.accelerator=cpu", "trainer.devices=-1")
    assert lines == [
        "ftcore: error: command line: trainer.devices=-1: -1 (all devices) does not work "
        "with trainer.accelerator=cpu (give a number of processes of 1 or more, or 'auto')"
    ]


def test_devices_in_a_recipe_file(capsys, tmp_path):
    path = _recipe_file(tmp_path, "trainer:\n  devices: [0, 1]\n  strategy: ddp\n")
    _valid(capsys, str(path))
    path = _recipe_file(tmp_path, "trainer:\n  devices: '2'\n")
    _valid(capsys, str(path))
    path = _recipe_file(tmp_path, "trainer:\n  devices: 0\n")
    assert _errors(capsys, str(path)) == [
        f"ftcore: error: {path}: trainer.devices: 0 devices cannot train ({FORMS})"
    ]


def test_devices_reach_the_trainer_as_lightning_reads_them(tmp_path):
    from ftcore_devkit.testing import build_hooks

    from ftcore.recipe import load_recipe

    hooks = build_hooks()
    assert load_recipe("smoke", ["trainer.devices='3'"], hooks).trainer.devices == 3
    devices = load_recipe("smoke", ["trainer.devices=[0,1]"], hooks).trainer.devices
    t = type("T", (), {"devices": devices})
    # the expression build_trainer uses: a list reaches Lightning as a plain list
    passed = t.devices if isinstance(t.devices, (int, str)) else list(t.devices)
    assert passed == [0, 1] and type(passed) is list


def _scaling_commands() -> list[list[str]]:
    """Every `ftcore run ...` in docs/scaling.md's code blocks that sets trainer keys."""
    text = (ROOT / "docs" / "scaling.md").read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if "run" not in words or not any(w.startswith("trainer.") for w in words):
                continue
            args = words[words.index("run") + 1 :]
            found.append([args[0], *(w for w in args[1:] if "=" in w and not w.startswith("-"))])
    return found


@pytest.mark.parametrize("command", _scaling_commands(), ids=" ".join)
def test_every_scaling_doc_command_validates(capsys, command):
    _valid(capsys, *command)


def test_scaling_doc_commands_were_found():
    commands = _scaling_commands()
    assert ["smoke", "trainer.strategy=ddp", "trainer.devices=2", "trainer.accelerator=cpu"] in (
        commands
    )
    assert len(commands) >= 6


# --- 4. Lightning's own values -----------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        ["trainer.precision=bf16-mixed"],
        ["trainer.precision=16-mixed"],
        ["trainer.precision=16"],
        ["trainer.precision=bf16"],
        ["trainer.strategy=ddp"],
        ["trainer.strategy=DDP"],
        ["trainer.strategy=fsdp"],
        ["trainer.strategy=ddp_find_unused_parameters_true"],
        ["trainer.accelerator=gpu"],
        ["trainer.accelerator=cuda"],
        ["trainer.accelerator=cpu"],
    ],
)
def test_lightning_values_pass(capsys, overrides):
    _valid(capsys, "smoke", *overrides)


@pytest.mark.parametrize(
    ("override", "what"),
    [
        (
            "trainer.precision=fp16",
            "'fp16' is not a precision Lightning accepts (did you mean '16-mixed'?)",
        ),
        (
            "trainer.precision=fp32",
            "'fp32' is not a precision Lightning accepts (did you mean '32-true'?)",
        ),
        (
            "trainer.precision=bfloat16",
            "'bfloat16' is not a precision Lightning accepts (did you mean 'bf16-mixed'?)",
        ),
        (
            "trainer.precision=bf16-mix",
            "'bf16-mix' is not a precision Lightning accepts (did you mean 'bf16-mixed'?)",
        ),
        ("trainer.strategy=dpp", "'dpp' is not a Lightning strategy (did you mean 'ddp'?)"),
        (
            "trainer.accelerator=gpuu",
            "'gpuu' is not a Lightning accelerator (did you mean 'gpu'?)",
        ),
        (
            "trainer.accelerator=GPU",
            "'GPU' is not a Lightning accelerator (did you mean 'gpu'?)",
        ),
    ],
)
def test_lightning_value_typos_get_did_you_mean(capsys, override, what):
    lines = _errors(capsys, "smoke", override)
    assert lines == [f"ftcore: error: command line: {override}: {what}"]


def test_unknown_value_lists_what_lightning_accepts(capsys):
    (line,) = _errors(capsys, "smoke", "trainer.precision=8")
    assert line == (
        "ftcore: error: command line: trainer.precision=8: 8 is not a precision Lightning "
        "accepts (Lightning accepts: 32-true, bf16-mixed, 16-mixed, bf16-true, 16-true, "
        "64-true, transformer-engine, transformer-engine-float16)"
    )


def test_lightning_values_reported_with_other_problems(capsys):
    lines = _errors(capsys, "smoke", "optim.lrr=1", "trainer.strategy=dpp", "trainer.devices=0")
    assert lines == [
        "ftcore: error: command line: optim.lrr=1: unknown key (did you mean 'optim.lr'?)",
        "ftcore: error: command line: trainer.strategy=dpp: 'dpp' is not a Lightning "
        "strategy (did you mean 'ddp'?)",
        f"ftcore: error: command line: trainer.devices=0: 0 devices cannot train ({FORMS})",
    ]


def test_static_values_are_accepted_by_the_installed_lightning():
    lightning_values.installed_precisions.cache_clear()
    assert set(lightning_values.PRECISIONS) <= set(lightning_values.installed_precisions())
    assert lightning_values.STRATEGIES <= lightning_values.installed_strategies()
    assert lightning_values.ACCELERATORS <= lightning_values.installed_accelerators()


def test_a_strategy_registered_with_lightning_passes(capsys):
    from lightning.pytorch.strategies import DDPStrategy, StrategyRegistry

    StrategyRegistry.register("my_ddp_for_test", DDPStrategy, description="test")
    lightning_values.installed_strategies.cache_clear()
    try:
        _valid(capsys, "smoke", "trainer.strategy=my_ddp_for_test")
    finally:
        StrategyRegistry.remove("my_ddp_for_test")
        lightning_values.installed_strategies.cache_clear()


def test_valid_values_do_not_import_lightning():
    code = (
        "import sys; from ftcore.cli import main; "
        "assert main(['validate', 'smoke', 'trainer.strategy=ddp', 'trainer.devices=2', "
        "'trainer.accelerator=cpu', 'trainer.precision=bf16-mixed']) == 0; "
        "assert 'lightning' not in sys.modules and 'torch' not in sys.modules"
    )
    run_python(code, check=True)


# --- 5. names from other tools ---------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "target"),
    [
        ("learning_rate=1e-4", "optim.lr"),
        ("optim.learning_rate=1e-4", "optim.lr"),
        ("model.model_name_or_path=bert", "model.name"),
        ("accumulate_grad_batches=4", "optim.accumulate"),
        ("trainer.accumulate_grad_batches=4", "optim.accumulate"),
        ("trainer.gradient_clip_val=0.5", "optim.grad_clip"),
        ("num_train_epochs=3", "trainer.max_epochs"),
        ("per_device_train_batch_size=8", "data.batch_size"),
        ("per_device_eval_batch_size=8", "data.eval_batch_size"),
        ("max_seq_length=256", "data.max_length"),
        ("warmup_ratio=0.1", "optim.warmup_ratio"),
        ("weight_decay=0.1", "optim.weight_decay"),
        ("max_epochs=3", "trainer.max_epochs"),
        ("precision=bf16-mixed", "trainer.precision"),
        ("trainer.seed=1", "seed"),
        ("optim.seed=1", "seed"),
        ("lr_scheduler_type=cosine", "optim.schedule"),
        ("optim.lr_scheduler_type=cosine", "optim.schedule"),
        ("data.options.batch_size=4", "data.batch_size"),
    ],
)
def test_names_from_other_tools_point_to_the_ftcore_key(capsys, override, target):
    lines = _errors(capsys, "sentiment-rotten-tomatoes", override)
    assert lines == [
        f"ftcore: error: command line: {override}: unknown key (did you mean '{target}'?)"
    ]


def test_alias_in_a_recipe_file_and_difflib_still_works(capsys, tmp_path):
    path = _recipe_file(tmp_path, "learning_rate: 0.1\noptim:\n  lrr: 0.1\n")
    assert sorted(_errors(capsys, str(path))) == [
        f"ftcore: error: {path}: learning_rate: unknown key (did you mean 'optim.lr'?)",
        f"ftcore: error: {path}: optim.lrr: unknown key (did you mean 'optim.lr'?)",
    ]


def test_a_whole_number_learning_rate_is_a_float(capsys):
    _valid(capsys, "smoke", "optim.lr=2")


# --- 9. problems blamed on the command line ----------------------------------------------


def test_override_typo_is_the_command_lines(capsys):
    assert _errors(capsys, "sentiment-rotten-tomatoes", "optim.lrr=0.1") == [
        "ftcore: error: command line: optim.lrr=0.1: unknown key (did you mean 'optim.lr'?)"
    ]


def test_file_and_command_line_problems_each_name_their_source(capsys, tmp_path):
    path = _recipe_file(tmp_path, "data:\n  batch_size: 0\n  limit_eval: -3\n")
    lines = _errors(capsys, str(path), "data.batch_size=-1", "data.max_length=1")
    assert lines == [
        "ftcore: error: command line: data.max_length=1: must be a whole number of 2 or more "
        "(got 1); e.g. data.max_length=128",
        "ftcore: error: command line: data.batch_size=-1: must be a whole number of 1 or more "
        "(got -1); e.g. data.batch_size=32",
        f"ftcore: error: {path}: data.limit_eval: must be a whole number of 1 or more, or null "
        "for all rows (got -3); e.g. data.limit_eval=1000",
    ]


def test_override_shown_as_typed_with_the_deeper_path(capsys):
    lines = _errors(capsys, "smoke", "optim={lrr: 1, lr: 0.5}")
    assert lines == [
        "ftcore: error: command line: optim={lrr: 1, lr: 0.5}: optim.lrr: unknown key "
        "(did you mean 'optim.lr'?)"
    ]


def test_override_that_creates_an_unknown_section(capsys):
    assert _errors(capsys, "smoke", "optimizer.lr=1") == [
        "ftcore: error: command line: optimizer.lr=1: optimizer: unknown key "
        "(did you mean 'optim.optimizer'?)"
    ]


def test_wrong_type_and_plugin_problems_from_overrides(capsys):
    lines = _errors(capsys, "smoke", "trainer.max_epochs=x", "data.source=rotten_tomatos")
    assert lines[0] == ("ftcore: error: command line: trainer.max_epochs=x: expected int, got 'x'")
    assert lines[1].startswith(
        "ftcore: error: command line: data.source=rotten_tomatos: no installed plugin "
        "provides dataset 'rotten_tomatos' (did you mean 'rotten_tomatoes'?)"
    )


def test_recipe_error_sources_are_backward_compatible():
    old = RecipeError(["a: x", "b: y"], "r.yaml")
    assert str(old) == "r.yaml: a: x; b: y" and old.source == "r.yaml"
    assert old.located() == [("r.yaml", "a: x"), ("r.yaml", "b: y")]
    blamed = blame_overrides(old, ["b=1"])
    assert blamed.problems == ["a: x", "b=1: y"] and blamed.source == "r.yaml"
    assert blamed.located() == [("r.yaml", "a: x"), ("command line", "b=1: y")]
    assert str(blamed) == "r.yaml: a: x; command line: b=1: y"


# --- 10. recipes show --resolved ---------------------------------------------------------


def test_show_resolved_fills_every_default(capsys):
    assert main(["recipes", "show", "smoke", "--resolved"]) == 0
    out = capsys.readouterr().out
    recipe = yaml.safe_load(out)
    assert "extends" not in recipe and recipe["name"] == "smoke"
    assert recipe["model"]["name"] == "minilm"  # from _minilm-classification, two levels up
    assert recipe["data"]["limit_train"] == 256 and recipe["data"]["group_by_length"] is True
    assert recipe["trainer"]["devices"] == "auto" and recipe["trainer"]["precision"] == "32-true"
    assert recipe["head"]["multi_label"] is False  # the classification plugin's default
    assert recipe["data"]["options"]["val_ratio"] == 0.1


def test_show_resolved_resolves_interpolations_and_takes_overrides(capsys, tmp_path):
    path = _recipe_file(tmp_path, "data:\n  eval_batch_size: ${data.batch_size}\n")
    args = ["recipes", "show", str(path), "--resolved", "data.batch_size=4", "optim.lr=0.5"]
    assert main(args) == 0
    recipe = yaml.safe_load(capsys.readouterr().out)
    assert recipe["data"]["eval_batch_size"] == 4 and recipe["optim"]["lr"] == 0.5


def test_show_resolved_output_is_a_valid_recipe(capsys, tmp_path):
    assert main(["recipes", "show", "sentiment-rotten-tomatoes-lora", "--resolved"]) == 0
    path = tmp_path / "resolved.yaml"
    path.write_text(capsys.readouterr().out, encoding="utf-8")
    _valid(capsys, str(path))


def test_show_resolved_reports_problems_like_validate(capsys):
    assert main(["recipes", "show", "smoke", "--resolved", "optim.lrr=1"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "ftcore: error: command line: optim.lrr=1: unknown key (did you mean 'optim.lr'?)"
    ]


def test_show_without_resolved_prints_the_file(capsys):
    assert main(["recipes", "show", "smoke"]) == 0
    assert capsys.readouterr().out == (ROOT / "recipes" / "smoke.yaml").read_text()
    assert main(["recipes", "show", "smoke", "optim.lr=1"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "ftcore: error: ftcore recipes show: optim.lr=1: overrides apply only with "
        "--resolved (ftcore recipes show NAME --resolved key=value ...)"
    ]
