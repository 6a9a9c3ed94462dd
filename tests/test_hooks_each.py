"""One focused test per hook (the test's name holds the hook's name) and per Head method,
and a meta-test that keeps it so: a hook added to ``ftcore/hookspecs.py`` without its own
test fails here.

Pipeline hooks are checked on one tiny run with a spy plugin that implements every one of
them, records its arguments and has a visible effect where the hook allows one; the same
run records every call of the classification head's methods (``Head.<method>``, through
the plugin manager's head observers). The head's evaluation methods, which evaluation
plugins call, are checked through the typed facade (``Hooks.head``) with a stub head.
"""

from __future__ import annotations

import ast
import csv
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import ftcore_classification.plugin as classification
import pytest
from ftcore_classification.schema import ClassificationConfig
from ftcore_devkit.testing import (
    MemoryDataset,
    base_recipe,
    build_hooks,
    execute_recipe,
    tiny_splits,
)
from lightning.pytorch import Callback

import ftcore
from ftcore.errors import MissingPluginError, RecipeError, UserError
from ftcore.types import (
    BaseHead,
    Command,
    Component,
    DataInfo,
    GroupOptions,
    LayerGroup,
    Monitor,
    ReportSection,
    StepOutput,
    TrainingSteps,
)
from tools.reference import hook_names

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class SpyOptions:
    # A number the spy's callback reports.
    level: int = 1


class SpyCallback(Callback):
    def __init__(self) -> None:
        self.fit_started = False

    def on_fit_start(self, trainer, pl_module):
        self.fit_started = True


class Spy:
    """Implements every pipeline hook; records calls (and, as observer, head method calls)."""

    def __init__(self) -> None:
        self.calls: dict[str, list[dict]] = defaultdict(list)
        self.callback = None
        self.started = False  # ftcore_run_start fired

    def _rec(self, hook: str, **kwargs) -> None:
        self.calls[hook].append(kwargs)

    def observe(self, method: str, kwargs: dict) -> None:
        self.calls[method].append(kwargs)

    @ftcore.hookimpl
    def ftcore_components(self):
        self._rec("ftcore_components")
        return [Component(kind="callback", name="spy", schema=SpyOptions, description="spy")]

    @ftcore.hookimpl
    def ftcore_check_recipe(self, recipe):
        self._rec("ftcore_check_recipe", recipe=recipe)
        return []

    @ftcore.hookimpl
    def ftcore_load_dataset(self, name, options, seed):
        self._rec("ftcore_load_dataset", name=name, options=options, seed=seed)

    @ftcore.hookimpl
    def ftcore_transform_model(self, model, recipe):
        self._rec("ftcore_transform_model", model=model)
        model.spy_transformed = True
        return model

    @ftcore.hookimpl
    def ftcore_group_options(self, groups, recipe, steps):
        self._rec("ftcore_group_options", groups=groups, steps=steps)
        return {groups[-1].name: GroupOptions(lr_factor=0.5)}  # the head at half the rate

    @ftcore.hookimpl
    def ftcore_lightning_callbacks(self, recipe, run):
        self._rec("ftcore_lightning_callbacks", recipe=recipe, run=run)
        if "spy" not in (recipe.callbacks or {}):
            return []
        self.callback = SpyCallback()
        return [self.callback]

    @ftcore.hookimpl
    def ftcore_loss_terms(self, module, batch, output):
        self._rec("ftcore_loss_terms", output=output)
        return [("spy_zero", output.loss * 0.0)]

    @ftcore.hookimpl
    def ftcore_export_model(self, model, run):
        self._rec("ftcore_export_model", model=model, run_dir=run.run_dir, run=run)
        (Path(run.run_dir) / "spy-export.txt").write_text("exported\n")

    @ftcore.hookimpl
    def ftcore_resolve_lr(self, run):
        self._rec("ftcore_resolve_lr", run=run, lr=run.recipe.optim.lr, started=self.started)
        return 2e-3

    @ftcore.hookimpl
    def ftcore_run_start(self, run):
        self.started = True
        self._rec("ftcore_run_start", run=run, step=run.trainer.global_step)

    @ftcore.hookimpl
    def ftcore_test_end(self, run, metrics, predictions):
        self._rec("ftcore_test_end", metrics=metrics, predictions=predictions)

    @ftcore.hookimpl
    def ftcore_run_end(self, run, summary):
        self._rec("ftcore_run_end", run=run, summary=summary)


@pytest.fixture(scope="module")
def spied(tmp_path_factory, tiny_model_dir):
    """One tiny run (64 train rows, batch 8, 1 epoch) with the spy; returns (spy, result)."""
    spy = Spy()
    hooks = build_hooks([MemoryDataset(tiny_splits()), classification, spy], autoload=False)
    hooks.pm.head_observers.append(spy.observe)
    recipe = base_recipe(tiny_model_dir)
    recipe["callbacks"] = {"spy": {"level": 2}}
    recipe["optim"] = {"lr": "auto"}  # the spy answers ftcore_resolve_lr
    folder = tmp_path_factory.mktemp("spied")
    recipe["model"]["cache_dir"] = str(folder / "cache")  # cold caches: every hook fires
    result = execute_recipe(recipe, folder / "run", hooks=hooks)
    return spy, result


# --- discovery -------------------------------------------------------------------------


def test_ftcore_components_schema_validates_its_recipe_section(spied, tiny_model_dir):
    spy, result = spied
    assert result.recipe.callbacks.spy.level == 2
    hooks = build_hooks([MemoryDataset(tiny_splits()), classification, Spy()], autoload=False)
    assert hooks.names("callback") == ["spy"] and hooks.names("head") == ["classification"]
    recipe = base_recipe(tiny_model_dir)
    recipe["callbacks"] = {"spy": {"levl": 2}}
    with pytest.raises(RecipeError) as info:
        execute_recipe(recipe, Path("unused"), hooks=hooks)
    assert info.value.problems == [
        "callbacks.spy.levl: unknown key (did you mean 'callbacks.spy.level'?)"
    ]


def test_ftcore_commands_adds_a_cli_subcommand(monkeypatch, capsys):
    import ftcore.cli as cli

    def add(parser):
        parser.add_argument("--times", type=int, default=1)

    def run(args):
        print("spy " * args.times)
        return 0

    class Commands:
        @ftcore.hookimpl
        def ftcore_commands(self):
            return [Command(name="spy", help="a spy command", add_arguments=add, run=run)]

    hooks = build_hooks([Commands()], autoload=False)
    assert [c.name for c in hooks.commands()] == ["spy"]
    monkeypatch.setattr(cli, "_hooks", lambda *a, **k: hooks)
    assert cli.main(["spy", "--times", "2"]) == 0
    assert capsys.readouterr().out.strip() == "spy spy"


def test_ftcore_recipe_dirs_makes_shipped_recipes_findable(tmp_path, monkeypatch, capsys):
    import ftcore.cli as cli
    from ftcore.recipe import loader

    (tmp_path / "spy-recipe.yaml").write_text("# A spy recipe\ndescription: shipped by spy\n")

    class Ships:
        @ftcore.hookimpl
        def ftcore_recipe_dirs(self):
            return [str(tmp_path)]

    hooks = build_hooks([Ships()], autoload=False)
    assert loader.find("spy-recipe", hooks.recipe_dirs()) == tmp_path / "spy-recipe.yaml"
    monkeypatch.setattr(cli, "_hooks", lambda *a, **k: hooks)
    assert cli.main(["recipes"]) == 0
    assert "spy-recipe" in capsys.readouterr().out


# --- recipe -------------------------------------------------------------------------------


def test_ftcore_check_recipe_problems_stop_validation(spied, tiny_model_dir):
    spy, result = spied
    assert spy.calls["ftcore_check_recipe"][0]["recipe"].callbacks.spy.level == 2

    class Objects:
        @ftcore.hookimpl
        def ftcore_check_recipe(self, recipe):
            return [] if recipe.seed != 13 else ["seed: 13 is unlucky; pick another"]

    hooks = build_hooks([MemoryDataset(tiny_splits()), classification, Objects()], autoload=False)
    with pytest.raises(RecipeError) as info:
        execute_recipe(base_recipe(tiny_model_dir), Path("unused"), ["seed=13"], hooks=hooks)
    assert info.value.problems == ["seed: 13 is unlucky; pick another"]


# --- set-up ----------------------------------------------------------------------------------


def test_ftcore_resolve_model_maps_a_bundled_name(tiny_model_dir, tmp_path):
    asked = []

    class Bundle:
        @ftcore.hookimpl
        def ftcore_resolve_model(self, name, cache_dir):
            asked.append((name, cache_dir))
            return str(tiny_model_dir) if name == "spy-tiny" else None

    from omegaconf import OmegaConf

    from ftcore.models import resolve_model

    hooks = build_hooks([Bundle()], autoload=False)
    recipe = OmegaConf.create({"model": {"name": "spy-tiny", "cache_dir": str(tmp_path)}})
    assert resolve_model(recipe, hooks) == str(tiny_model_dir)
    assert asked == [("spy-tiny", str(tmp_path))]
    recipe.model.name = str(tiny_model_dir)  # a local folder does not ask the plugins
    assert resolve_model(recipe, hooks) == str(tiny_model_dir) and len(asked) == 1


def test_ftcore_load_dataset_gets_name_options_and_seed(spied):
    spy, _ = spied
    (call,) = spy.calls["ftcore_load_dataset"]
    assert call["name"] == "memory" and call["seed"] == 0 and len(call["options"]) == 0


def test_head_data_info_sees_the_training_split_and_the_options(spied):
    spy, result = spied
    (call,) = spy.calls["Head.data_info"]
    assert len(call["rows"]) == 64
    assert isinstance(call["options"], ClassificationConfig)  # a dataclass instance
    assert call["options"].multi_label is False


def test_head_check_row_fires_once_per_row_with_the_labels(spied):
    spy, _ = spied
    calls = spy.calls["Head.check_row"]
    assert len(calls) == 64 + 16 + 16
    assert calls[0]["info"].labels == ["neg", "pos"] and "text" in calls[0]["row"]
    assert isinstance(calls[0]["options"], ClassificationConfig)


def test_head_encode_fires_once_per_split(spied):
    spy, _ = spied
    assert [len(c["rows"]) for c in spy.calls["Head.encode"]] == [64, 16, 16]
    assert all(c["max_length"] == 32 for c in spy.calls["Head.encode"])


def test_head_collate_fires_for_every_batch(spied):
    spy, _ = spied
    sizes = [len(c["features"]) for c in spy.calls["Head.collate"]]
    # sanity check (1 validation batch), 8 training batches, validation, test
    assert sizes == [16] + [8] * 8 + [16, 16]
    assert all(isinstance(c["options"], ClassificationConfig) for c in spy.calls["Head.collate"])


def test_head_build_model_gets_the_local_folder(spied, tiny_model_dir):
    spy, _ = spied
    (call,) = spy.calls["Head.build_model"]
    assert call["model_path"] == str(tiny_model_dir) and call["trust_remote_code"] is False
    assert call["info"].labels == ["neg", "pos"]


def test_ftcore_transform_model_result_is_the_trained_model(spied):
    spy, result = spied
    (call,) = spy.calls["ftcore_transform_model"]
    run = spy.calls["ftcore_run_start"][0]["run"]
    assert run.module.model is call["model"] and run.module.model.spy_transformed


def test_ftcore_group_options_shape_the_optimizer(spied):
    spy, _ = spied
    run = spy.calls["ftcore_run_start"][0]["run"]
    (call,) = spy.calls["ftcore_group_options"]
    names = [g.name for g in call["groups"]]  # discovered by core, bottom to top
    assert names == ["embeddings", "block.0", "block.1", "head"]
    assert call["steps"].total == 8 and call["steps"].per_epoch == 8
    groups = run.trainer.optimizers[0].param_groups
    assert [g["name"] for g in groups] == [
        f"{name}{suffix}" for name in names for suffix in ("", ".no_decay")
    ]
    rates = {g["name"]: g["initial_lr"] for g in groups}
    assert rates["head"] == rates["head.no_decay"] == 1e-3  # 2e-3 x 0.5
    assert rates["block.1"] == rates["embeddings.no_decay"] == 2e-3
    planned = run.module.optimizer_groups  # what callbacks read
    assert [(g.name, g.lr, g.layer_group) for g in planned][-2:] == [
        ("head", 1e-3, "head"),
        ("head.no_decay", 1e-3, "head"),
    ]


def test_ftcore_group_options_of_two_plugins_setting_one_field_is_an_error():
    class Half:
        @ftcore.hookimpl
        def ftcore_group_options(self, groups, recipe, steps):
            return {"head": GroupOptions(lr_factor=0.5)}

    class Double:
        @ftcore.hookimpl
        def ftcore_group_options(self, groups, recipe, steps):
            return {"head": GroupOptions(lr_factor=2.0)}

    hooks = build_hooks([Half(), Double()], autoload=False)
    groups = [LayerGroup("head", ("w",))]
    with pytest.raises(UserError, match="'head': lr_factor is set by plugin '.*' and by plugin"):
        hooks.group_options(groups=groups, recipe=None, steps=TrainingSteps(total=1))


def test_ftcore_lightning_callbacks_reach_the_trainer(spied):
    spy, _ = spied
    run = spy.calls["ftcore_run_start"][0]["run"]
    assert spy.callback in run.trainer.callbacks and spy.callback.fit_started
    assert spy.calls["ftcore_lightning_callbacks"][0]["run"] is run


# --- steps ----------------------------------------------------------------------------------


def test_head_step_fires_for_every_stage(spied):
    spy, _ = spied
    stages = [c["stage"] for c in spy.calls["Head.step"]]
    assert stages == ["val"] + ["train"] * 8 + ["val", "test"]


def test_ftcore_loss_terms_are_added_and_logged(spied):
    spy, result = spied
    assert len(spy.calls["ftcore_loss_terms"]) == 8  # training batches only
    assert all(isinstance(c["output"], StepOutput) for c in spy.calls["ftcore_loss_terms"])
    with open(result.run_dir / "logs" / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert any(row.get("train/spy_zero") == "0.0" for row in rows)


def test_head_metrics_once_per_stage(spied):
    spy, _ = spied
    assert len(spy.calls["Head.metrics"]) == 3


def test_head_decode_fires_for_test_batches(spied):
    spy, result = spied
    assert len(spy.calls["Head.decode"]) == 1  # 16 test rows, eval batch 16
    predictions = json.loads((result.run_dir / "predictions.json").read_text())
    assert len(predictions) == 16 and {"label", "target"} <= set(predictions[0])


# --- export and lifecycle ----------------------------------------------------------------------


def test_ftcore_export_model_may_write_under_the_run_dir(spied):
    spy, result = spied
    (call,) = spy.calls["ftcore_export_model"]
    assert Path(call["run_dir"]) == result.run_dir and call["run"].head_options is not None
    assert (result.run_dir / "spy-export.txt").read_text() == "exported\n"
    assert (result.run_dir / "model" / "model.safetensors").is_file()


def test_head_export_comes_after_the_export_hooks(spied):
    spy, result = spied
    (call,) = spy.calls["Head.export"]
    assert call["model"] is spy.calls["ftcore_export_model"][0]["model"]
    exported = json.loads((result.run_dir / "model" / "ftcore_data_info.json").read_text())
    assert exported["head_options"]["multi_label"] is False  # the options, saved


def test_head_run_start_and_run_end_follow_the_hooks(spied):
    spy, result = spied
    (start,) = spy.calls["Head.run_start"]
    (end,) = spy.calls["Head.run_end"]
    assert start["run"] is spy.calls["ftcore_run_start"][0]["run"]
    assert end["summary"] is spy.calls["ftcore_run_end"][0]["summary"]


def test_ftcore_run_start_fires_before_training(spied):
    spy, _ = spied
    (call,) = spy.calls["ftcore_run_start"]
    assert call["step"] == 0 and call["run"].datamodule is not None


def test_ftcore_resolve_lr_answers_optim_lr_auto(spied, tiny_model_dir, tmp_path):
    spy, result = spied
    (call,) = spy.calls["ftcore_resolve_lr"]
    assert call["lr"] == "auto" and not call["started"]  # before ftcore_run_start
    assert call["run"].trainer is not None and call["run"].module is not None
    assert result.recipe.optim.lr == 2e-3  # core put the answer in the recipe
    assert "lr: auto" in (result.run_dir / "recipe.yaml").read_text()
    hooks = build_hooks([MemoryDataset(tiny_splits()), classification], autoload=False)
    with pytest.raises(UserError, match="optim.lr: 'auto' needs an LR-finder plugin"):
        execute_recipe(
            base_recipe(tiny_model_dir), tmp_path / "run", ["optim.lr=auto"], hooks=hooks
        )


def test_ftcore_test_end_gets_metrics_and_predictions(spied):
    spy, result = spied
    (call,) = spy.calls["ftcore_test_end"]
    assert call["metrics"] == result.summary["test"]
    assert len(call["predictions"]) == 16 and "target" in call["predictions"][0]


def test_ftcore_run_end_gets_the_summary_in_metrics_json(spied):
    spy, result = spied
    (call,) = spy.calls["ftcore_run_end"]
    written = json.loads((result.run_dir / "metrics.json").read_text())
    assert call["summary"]["test"] == written["test"] and call["run"].run_dir == result.run_dir


# --- the head's evaluation methods, through the facade ------------------------------------

INFO = DataInfo(task="spy", labels=["a", "b"])
PREDICTIONS = [{"label": "a", "target": 0}, {"label": "b", "target": 0}]


@dataclass
class StubOptions:
    # How many rows the stub baseline predicts.
    rows: int = 1


class StubHead(BaseHead[StubOptions]):
    """Only the evaluation parts; the pipeline methods are not needed here."""

    def score(self, *, predictions, info, options):
        hits = sum(p["label"] == info.labels[p["target"]] for p in predictions)
        return {"accuracy": hits / len(predictions)}

    def error_analysis(self, *, predictions, rows, info, options, out_dir):
        (Path(out_dir) / "errors.jsonl").write_text("{}\n")
        return [ReportSection(title="Errors", markdown=f"{len(rows)} rows")]


class Evaluator:
    @ftcore.hookimpl
    def ftcore_components(self):
        head = Component(kind="head", name="spy", schema=StubOptions, impl=StubHead())
        return [head, Component(kind="head", name="bare", impl=BaseHead())]

    @ftcore.hookimpl
    def ftcore_report_sections(self, run, summary):
        return [ReportSection(title="Spy", markdown=str(summary["n"]))]


def test_head_score_through_the_facade():
    head = build_hooks([Evaluator()], autoload=False).head("spy")
    options = StubOptions()
    assert head.score(predictions=PREDICTIONS, info=INFO, options=options) == {"accuracy": 0.5}


def test_head_lookup_of_an_unknown_task_names_what_is_installed():
    hooks = build_hooks([Evaluator()], autoload=False)
    with pytest.raises(MissingPluginError, match="no installed plugin provides head 'other'"):
        hooks.head("other")


def test_head_without_a_required_method_is_named():
    head = build_hooks([Evaluator()], autoload=False).head("bare")
    with pytest.raises(UserError, match="'bare' head has no method score"):
        head.score(predictions=PREDICTIONS, info=INFO, options=None)


def test_head_baseline_and_forgetting_are_optional():
    head = build_hooks([Evaluator()], autoload=False).head("spy")
    assert head.baseline(run=None, options=StubOptions()) is None
    assert head.forgetting(run=None, model=None, options=StubOptions()) is None
    assert head.monitor(options=StubOptions()) == Monitor("val/loss", "min", {})
    assert head.text_key(options=StubOptions()) == "text"


def test_head_error_analysis_sections_and_files(tmp_path):
    head = build_hooks([Evaluator()], autoload=False).head("spy")
    sections = head.error_analysis(
        predictions=PREDICTIONS, rows=[{}, {}], info=INFO, options=None, out_dir=str(tmp_path)
    )
    assert [s.title for s in sections] == ["Errors"] and sections[0].markdown == "2 rows"
    assert (tmp_path / "errors.jsonl").is_file()
    bare = build_hooks([Evaluator()], autoload=False).head("bare")
    assert bare.error_analysis(predictions=[], rows=[], info=INFO, options=None, out_dir="") == []


def test_head_method_bug_names_the_plugin_and_the_method():
    from ftcore.blame import plugin_failure

    class Broken(StubHead):
        def score(self, *, predictions, info, options):
            raise ZeroDivisionError("bug")

    class Plugin:
        @ftcore.hookimpl
        def ftcore_components(self):
            return [Component(kind="head", name="broken", impl=Broken())]

    hooks = build_hooks([Plugin()], autoload=False)
    with pytest.raises(ZeroDivisionError) as caught:
        hooks.head("broken").score(predictions=[], info=INFO, options=None)
    failure = plugin_failure(caught.value, hooks.pm)
    assert failure is not None and "raised in Head.score: ZeroDivisionError: bug" in str(failure)


class MoreSections:
    @ftcore.hookimpl
    def ftcore_report_sections(self, run, summary):
        return [ReportSection(title="More"), ReportSection(title="Most")]


def test_ftcore_report_sections_collects_from_every_plugin():
    hooks = build_hooks([Evaluator(), MoreSections()], autoload=False)
    titles = [s.title for s in hooks.report_sections(run=None, summary={"n": 3})]
    assert sorted(titles) == ["More", "Most", "Spy"]


# --- the meta-test -------------------------------------------------------------------------------


def _test_function_names() -> set[str]:
    files = [*(ROOT / "tests").glob("test_*.py"), *(ROOT / "plugins").glob("*/tests/test_*.py")]
    names = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                names.add(node.name)
    return names


def test_every_hook_has_its_own_test():
    names = _test_function_names()
    missing = [hook for hook in hook_names() if not any(hook in name for name in names)]
    assert not missing, f"hooks without a test named after them: {missing}"
