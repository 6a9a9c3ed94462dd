"""Recipe checks of issue 14 ("Nothing lost, nothing run"): numbers in range (item 5),
values that used to fail only later (item 6), and the ``plugins:`` section and text that
cannot be saved (item 12, validate part). Each refusal is one line, exit code 2, at
``ftcore validate`` (so before ``ftcore run`` reads data or makes a run folder)."""

from __future__ import annotations

import dataclasses
import math
import typing

import pytest
import yaml
from ftcore_devkit.testing import build_hooks

from ftcore.cli import main
from ftcore.errors import RecipeError
from ftcore.recipe import plugin_controls, ranges
from ftcore.recipe.schema import RecipeConfig
from ftcore.recipe.validate import validate
from tests.helpers import schema_leaves

HOOKS = build_hooks()
BASE = {
    "task": "classification",
    "model": {"name": "minilm"},
    "data": {"source": "csv", "options": {"path": "x.csv"}},
}
CLASSIFICATION = "val/accuracy, val/f1, val/loss, val/precision, val/recall"


def _refusal(capsys, *argv: str) -> str:
    """``ftcore validate ...`` must exit 2 with exactly one ``ftcore: error:`` line."""
    assert main(["validate", *argv]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert captured.out == "" and "Traceback" not in captured.err
    assert len(lines) == 1 and lines[0].startswith("ftcore: error: "), lines
    return lines[0]


def _valid(capsys, *argv: str) -> None:
    assert main(["validate", *argv]) == 0, capsys.readouterr().err
    assert ": valid (" in capsys.readouterr().out


def _problems(recipe: dict, hooks=HOOKS) -> list[str]:
    from omegaconf import OmegaConf

    try:
        validate(OmegaConf.create(recipe), hooks, source="test", default_name="t")
    except RecipeError as exc:
        return exc.problems
    return []


def _numeric_fields(schema: type, prefix: str) -> list[tuple[str, type, typing.Any]]:
    """(dotted path, int or float, default) of every number field of a dataclass, nested
    dataclasses included; a list of numbers counts as its items' type."""
    found = []
    for path, args, f in schema_leaves(schema, prefix):
        args |= {x for a in args for x in typing.get_args(a)}  # list[float] -> float
        kind = float if float in args else int if int in args else None
        if kind is not None:
            default = None if f.default is dataclasses.MISSING else f.default
            found.append((path, kind, default))
    return found


CORE_NUMBERS = _numeric_fields(RecipeConfig, "")


# --- 5. non-finite and out-of-range numbers -------------------------------------------


# Items 5 and 6 share one test: each value is refused in one line that names it.
@pytest.mark.parametrize(
    ("override", "message"),
    [
        # item 5: non-finite and out-of-range numbers
        ("optim.lr=1e400", "must be a number above 0, or 'auto' (got inf); e.g. optim.lr=5e-05"),
        ("optim.lr='nan'", "must be a number above 0, or 'auto' (got nan)"),
        ("optim.grad_clip=.nan", "must be a number above 0, or null for no clipping (got nan)"),
        ("optim.grad_clip=-1", "must be a number above 0, or null for no clipping (got -1.0)"),
        ("optim.grad_clip=0", "(got 0.0); e.g. optim.grad_clip=1.0"),
        ("optim.weight_decay=-0.1", "must be a number of 0 or more (got -0.1)"),
        ("optim.warmup_ratio=1", "must be a fraction in [0, 1) (got 1.0)"),
        ("optim.warmup_ratio=-.inf", "must be a fraction in [0, 1) (got -inf)"),
        ("trainer.val_check_interval=1.5", "a whole number of training batches (got 1.5)"),
        ("trainer.val_check_interval=0", "must be a fraction of an epoch in (0, 1]"),
        ("checkpoint.every_n_minutes=0", "above 0 and at most 1e+09, or null for off (got 0.0)"),
        ("checkpoint.every_n_minutes=1e20", "(got 1e+20); e.g. checkpoint.every_n_minutes=30"),
        # item 6: values that passed validate and failed later
        ("seed=-5", "seed=-5: must be a whole number from 0 to 4294967295 (got -5); e.g. seed=42"),
        ("seed=4294967296", "must be a whole number from 0 to 4294967295"),
        ("seed=1e20", "seed=1e20: expected int, got 1e+20"),
        ("seed=100000000000000000000", "(got 100000000000000000000)"),
        ("data.num_workers=-3", "must be a whole number of 0 or more (got -3)"),
        ("checkpoint.save_top_k=-5", "must be -1 (keep every checkpoint), 0 (only last.ckpt)"),
        ("trainer.val_check_interval=.nan", "(got nan); e.g. trainer.val_check_interval=0.5"),
        ("optim.weight_decay=.nan", "must be a number of 0 or more (got nan)"),
        ("checkpoint.mode=sideways", "must be 'min' or 'max', or null for the head's choice"),
        ("checkpoint.mode=mx", "(got 'mx') (did you mean 'max'?); e.g. checkpoint.mode=max"),
        ("head.label_smoothing=2", "head.label_smoothing=2: must be in [0, 1) (got 2.0)"),
        ("head.label_smoothing=.nan", "must be a finite number (got nan)"),
        ("head.threshold=1.5", "must be a probability in [0, 1] (got 1.5)"),
        ("head.class_weights=[0,0]", "at least one above 0 (got [0.0, 0.0]); e.g."),
        ("head.class_weights=[1,-1]", "[1,-1]: must be 0 or more"),
        ("trainer.max_steps=0", "must be -1 (no limit) or a whole number of 1 or more (got 0)"),
        ("trainer.max_steps=-2", "(got -2)"),
        ("trainer.log_every_n_steps=0", "must be a whole number of 1 or more (got 0)"),
        ("trainer.num_nodes=0", "must be a whole number of 1 or more (got 0)"),
        ("trainer.num_threads=0", "or null for torch's default (got 0)"),
        ("trainer.max_skipped_batches=-1", "must be a whole number of 0 or more (got -1)"),
        ("data.max_chars=0", "must be a whole number of 1 or more (got 0)"),
        ("optim.warmup_steps=-1", "must be a whole number of 0 or more (got -1)"),
        ("checkpoint.every_n_steps=0", "or null for epoch ends only (got 0)"),
        ("data.batch_size=1000000000000000000000000000000", "(got 1000000000000000000000000"),
        ("trainer.max_epochs=100000000000000000000", "(got 100000000000000000000)"),
        ("optim.accumulate=0", "must be a whole number of 1 or more (got 0)"),
    ],
)
def test_items_5_and_6_bad_values_are_refused_in_one_line(capsys, override, message):
    line = _refusal(capsys, "smoke", override)
    assert line.startswith(f"ftcore: error: command line: {override}: ")
    assert message in line


def test_item5_every_core_number_has_a_range():
    assert {path for path, _, _ in CORE_NUMBERS} - {"trainer.devices", "trainer.precision"} == (
        set(ranges.CORE)
    )


@pytest.mark.parametrize(
    ("path", "kind", "default"), [pytest.param(*c, id=c[0]) for c in CORE_NUMBERS]
)
def test_item5_every_core_float_refuses_nan_and_inf(path, kind, default):
    bad = [float("nan"), float("inf"), float("-inf")] if kind is float else [10**30, -(10**30)]
    for value in bad:
        recipe = yaml.safe_load(yaml.safe_dump(BASE))
        node = recipe
        *parents, leaf = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
        problems = _problems(recipe)
        mine = [p for p in problems if p.startswith(f"{path}: ")]
        assert len(mine) == 1, (value, problems)
        assert "; " in mine[0] and f"(got {value!r})" in mine[0]


def _plugin_sections() -> list[tuple[str, dict, str]]:
    """(what, a recipe with one number field of a plugin schema set to NaN, its path)."""
    cases = []
    for entry in HOOKS.components():
        comp = entry.component
        if comp.schema is None or comp.kind == "model":
            continue
        prefix = {
            "head": "head.",
            "dataset": "data.options.",
            "strategy": f"strategies.{comp.name}.",
            "callback": f"callbacks.{comp.name}.",
            "evaluation": "evaluation.",
        }[comp.kind]
        for path, kind, _ in _numeric_fields(comp.schema, prefix):
            if kind is not float:
                continue
            recipe = yaml.safe_load(yaml.safe_dump(BASE))
            if comp.kind == "head":
                recipe["task"] = comp.name
            if comp.kind == "dataset":
                recipe["data"] = {"source": comp.name}
            node = recipe
            *parents, leaf = path.split(".")
            for key in parents:
                node = node.setdefault(key, {})
            node[leaf] = [float("nan")] if "weights" in leaf else float("nan")
            cases.append((f"{comp.kind}:{comp.name}", recipe, path))
    return cases


@pytest.mark.parametrize(
    ("what", "recipe", "path"), [pytest.param(*c, id=f"{c[0]}:{c[2]}") for c in _plugin_sections()]
)
def test_item5_every_plugin_float_refuses_nan(what, recipe, path):
    problems = _problems(recipe)
    assert any(
        p.startswith(path) and "must be a finite number (got nan); " in p for p in problems
    ), problems


def test_item5_the_plugin_sections_of_the_installed_plugins_are_covered():
    covered = {what for what, _, _ in _plugin_sections()}
    assert {"head:classification", "head:regression", "evaluation:evaluation"} <= covered


# --- 6. values that passed validate and failed later ------------------------------------


# (its refused values: in the table of item 5 above)


@pytest.mark.parametrize(
    "override",
    [
        "seed=0",
        "seed=4294967295",
        "trainer.max_steps=-1",
        "checkpoint.save_top_k=-1",
        "checkpoint.save_top_k=0",
        "trainer.val_check_interval=0.25",
        "trainer.val_check_interval=1",
        "trainer.val_check_interval=20",
        "trainer.num_threads=null",
        "optim.grad_clip=null",
        "checkpoint.every_n_steps=null",
        "checkpoint.every_n_minutes=0.5",
        "optim.weight_decay=0",
        "optim.warmup_ratio=0",
        "head.label_smoothing=0.1",
        "checkpoint.mode=max",
        "checkpoint.monitor=val/f1",
        "checkpoint.monitor=train/loss",  # with checkpoint.mode=min below
    ],
)
def test_item6_the_edges_of_each_range_are_accepted(capsys, override):
    extra = ["checkpoint.mode=min"] if override.endswith("train/loss") else []
    _valid(capsys, "smoke", override, *extra)


def test_item6_a_monitor_typo_names_the_head_metrics(capsys):
    line = _refusal(capsys, "smoke", "checkpoint.monitor=val/typo")
    assert line == (
        "ftcore: error: command line: checkpoint.monitor=val/typo: 'val/typo' is not a metric "
        "the classification head logs (did you mean 'val/loss'?); choose one of "
        f"{CLASSIFICATION} (a metric another plugin logs also needs checkpoint.mode=min or max)"
    )
    line = _refusal(capsys, "smoke", "checkpoint.monitor=val/acuracy")
    assert "(did you mean 'val/accuracy'?)" in line
    line = _refusal(capsys, "smoke", "checkpoint.monitor=accuracy")
    assert "(did you mean 'val/accuracy'?)" in line


def test_item6_a_test_metric_cannot_pick_checkpoints(capsys):
    line = _refusal(capsys, "smoke", "checkpoint.monitor=test/accuracy", "checkpoint.mode=max")
    assert "'test/accuracy' is computed only after training; monitor a validation" in line


def test_item6_the_mode_must_suit_the_monitored_metric(capsys):
    line = _refusal(capsys, "smoke", "checkpoint.monitor=val/loss")
    assert line.endswith(
        "'val/loss' is best when lowest, but the classification head's mode 'max' (for "
        "val/accuracy) would pick the checkpoint with the highest; also set checkpoint.mode=min"
    )
    line = _refusal(capsys, "smoke", "checkpoint.mode=min")
    assert "'min' would pick the checkpoint with the lowest val/accuracy" in line
    line = _refusal(capsys, "smoke", "checkpoint.monitor=val/recall", "checkpoint.mode=min")
    assert "set checkpoint.mode=max" in line
    _valid(capsys, "smoke", "checkpoint.monitor=val/loss", "checkpoint.mode=min")


def test_item6_another_plugins_metric_is_accepted_with_a_mode(capsys):
    # a Lightning callback of some plugin may log any val/... (ftcore cannot know which)
    _valid(capsys, "smoke", "checkpoint.monitor=val/scripted", "checkpoint.mode=max")


def test_item6_multi_label_monitors_per_label_f1(capsys):
    multi = ["head.multi_label=true"]
    _valid(capsys, "smoke", *multi, "checkpoint.monitor=val/f1_pos")  # labels unknown yet
    labels = [*multi, "head.labels=[pos,neg]"]
    _valid(capsys, "smoke", *labels, "checkpoint.monitor=val/f1_neg")
    line = _refusal(capsys, "smoke", *labels, "checkpoint.monitor=val/f1_nge")
    assert "(did you mean 'val/f1_neg'?)" in line
    line = _refusal(capsys, "smoke", "checkpoint.monitor=val/f1_pos")  # single-label
    assert "not a metric the classification head logs" in line


def test_item6_regression_monitors_its_metrics():
    recipe = {**BASE, "task": "regression", "checkpoint": {"monitor": "val/pearsn"}}
    (problem,) = _problems(recipe)
    assert problem.startswith(
        "checkpoint.monitor: 'val/pearsn' is not a metric the regression head logs "
        "(did you mean 'val/pearson'?); choose one of val/loss, val/mae, val/mse, val/pearson, "
        "val/r2, val/rmse, val/spearman"
    )
    recipe["checkpoint"] = {"monitor": "val/rmse"}
    assert "also set checkpoint.mode=min" in _problems(recipe)[0]
    recipe["checkpoint"] = {"monitor": "val/rmse", "mode": "min"}
    assert _problems(recipe) == []


def test_item6_the_declared_metrics_are_what_the_heads_log():
    """The names the checks accept are the keys of the heads' metric collections."""
    from ftcore_classification import plugin as classification
    from ftcore_classification.schema import ClassificationConfig
    from ftcore_regression import metrics as regression_metrics
    from ftcore_regression import plugin as regression
    from ftcore_regression.schema import RegressionConfig

    from ftcore.recipe.monitor import head_metrics
    from ftcore.types import DataInfo

    head = classification.ClassificationHead()
    for multi in (False, True):
        options = ClassificationConfig(multi_label=multi, labels=["a", "b"])
        info = DataInfo("classification", ["a", "b"])
        built = head.metrics(info=info, options=options)
        keys = _logged_keys(built, multi)
        logged = head_metrics(head.monitor(options=options).logged)
        declared = {n for n in logged if n.startswith("val/")}
        assert declared == {"val/loss"} | {f"val/{k}" for k in keys}
    assert set(regression.METRIC_MODES) == set(regression_metrics.NAMES)
    info = DataInfo("regression", [], {"num_targets": 1})
    built = regression.RegressionHead().metrics(info=info, options=RegressionConfig())
    assert set(built.keys()) == set(regression.METRIC_MODES)


def _logged_keys(collection, multi: bool) -> set[str]:
    import torch

    preds = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    target = torch.tensor([[1, 0], [0, 1]]) if multi else torch.tensor([0, 1])
    collection.update(preds, target)
    return set(collection.compute().keys())


# --- 12. the plugins: section, and text that cannot be written --------------------------


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("plugins=5", "plugins=5: expected a mapping of PluginsConfig keys, got 5"),
        ("plugins.disable=5", "plugins.disable=5: expected list of str, got 5"),
        ("plugins=[1]", "plugins=[1]: expected a mapping of PluginsConfig keys, got [1]"),
        ("plugins.strict=maybe", "plugins.strict=maybe: expected bool, got 'maybe'"),
        ("plugins.disabled=[x]", "unknown key (did you mean 'plugins.disable'?)"),
    ],
)
def test_item12_a_malformed_plugins_section_is_one_line(capsys, override, message):
    line = _refusal(capsys, "smoke", override)
    assert line.startswith("ftcore: error: command line: ") and message in line


def test_item12_a_malformed_plugins_section_in_the_file_is_the_files(capsys, tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("extends: smoke\nplugins:\n  disable: ${oc.env:FTCORE_NO_SUCH_VAR}\n")
    line = _refusal(capsys, str(path))
    assert line.startswith(f"ftcore: error: {path}: plugins.disable: cannot resolve")


def test_item12_plugin_controls_are_plain_values():
    from omegaconf import OmegaConf

    assert plugin_controls(OmegaConf.create({})) == {"disable": [], "strict": False}
    raw = OmegaConf.create({"plugins": {"disable": ["ftcore-lora"], "strict": True}})
    assert plugin_controls(raw) == {"disable": ["ftcore-lora"], "strict": True}
    with pytest.raises(RecipeError, match="plugins: expected a mapping"):
        plugin_controls(OmegaConf.create({"plugins": 5}), "r.yaml")


def test_item12_a_lone_surrogate_in_description_is_one_line_and_no_run_folder(
    capsys, tmp_path, monkeypatch
):
    path = tmp_path / "mine.yaml"
    path.write_text(
        f'extends: smoke\ndescription: "\\udc80 odd"\noutput:\n  root: {tmp_path / "runs"}\n'
    )
    line = _refusal(capsys, str(path))
    assert line == (
        f"ftcore: error: {path}: description: text '\\udc80 odd' cannot be written as UTF-8: "
        "character 1 is a lone surrogate ('\\udc80'); remove it, or write the character itself"
    )
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(path)]) == 2
    assert "cannot be written as UTF-8" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_item12_every_string_of_the_recipe_is_checked(tmp_path):
    recipe = yaml.safe_load(yaml.safe_dump(BASE))
    recipe["data"]["options"]["path"] = "x\udcffy.csv"
    recipe["evaluation"] = {"forgetting_dataset": "\ud800"}
    recipe["head"] = {"labels": ["ok", "b\udc80d"]}
    problems = _problems(recipe)
    assert any(p.startswith("data.options.path: text 'x\\udcffy.csv' cannot be") for p in problems)
    assert any(p.startswith("evaluation.forgetting_dataset: text") for p in problems)
    assert any(p.startswith("head.labels[1]: text") for p in problems)


def test_item5_messages_are_dotted_path_what_and_fix():
    """Every range problem reads ``<path>: must be <range> (got <value>); e.g. ...``."""
    for path, allowed in ranges.CORE.items():
        text = ranges.problem(path, math.nan, allowed.rule, allowed.example)
        assert text.startswith(f"{path}: must be ") and f"; e.g. {path}=" in text
        assert "\n" not in text


def test_item5_the_examples_are_in_range():
    from omegaconf import OmegaConf

    for path, allowed in ranges.CORE.items():  # read as the command line reads them
        assert allowed.accepts(OmegaConf.from_dotlist([f"x={allowed.example}"]).x), path


def test_shipped_recipes_are_still_valid(capsys):
    for name in ("smoke", "sentiment-rotten-tomatoes", "topic-bbc-news"):
        _valid(capsys, name)
