"""The exact sequence of hook calls and head method calls in a run, recorded through the
relay (hooks) and the head's observers (``Head.<method>``)."""

from __future__ import annotations

import ftcore_classification.plugin as classification
from ftcore_devkit.testing import MemoryDataset, make_rows

import ftcore
from ftcore.models import resolve_model
from ftcore.types import Component

SETUP = [
    "ftcore_components",  # recipe validation: schemas of the head and the dataset
    "ftcore_check_recipe",
    "Head.check",  # the head's own recipe checks
    "Head.monitor",  # checkpoint.monitor checked against the metrics the head logs
    "ftcore_load_dataset",  # model.name is a folder, so no ftcore_resolve_model
    "Head.data_info",
    "Head.text_key",
    "Head.check_row",  # once per row (collapsed)
    "Head.encode",  # once per split (collapsed)
    "Head.build_model",
    "Head.metrics",  # train, val, test (collapsed)
    "Head.monitor",  # the checkpoint callback's metric
    "ftcore_lightning_callbacks",
    "ftcore_run_start",
    "Head.run_start",  # then configure_optimizers: no plugin sets ftcore_group_options
]
EVAL_BATCH = ["Head.collate", "Head.step"]
TRAIN_BATCH = ["Head.collate", "Head.step", "ftcore_loss_terms"]
TEST_BATCH = ["Head.collate", "Head.step", "Head.decode"]
END = ["Head.export", "Head.monitor", "Head.run_end", "ftcore_run_end"]


def test_exact_hook_sequence_of_a_run(run_recipe, make_plugin_manager, hook_recorder):
    splits = {"train": make_rows(24), "validation": make_rows(8, 1), "test": make_rows(8, 2)}
    hooks = make_plugin_manager(MemoryDataset(splits), classification)  # only these two
    recorder = hook_recorder(hooks)
    run_recipe(hooks=hooks)  # batch 8: 3 training batches, 1 validation, 1 test
    expected = (
        SETUP
        + EVAL_BATCH  # Lightning's sanity check
        + TRAIN_BATCH * 3
        + EVAL_BATCH  # epoch 1, then validation
        + TEST_BATCH  # test with the best checkpoint
        + ["ftcore_test_end"]
        + END  # export, summary (monitor), run end
    )
    assert recorder.names() == expected


def test_optimiser_hooks_fire_around_run_start(run_recipe, make_plugin_manager, hook_recorder):
    class Optimiser:
        @ftcore.hookimpl
        def ftcore_resolve_lr(self, run):
            return 2e-3

        @ftcore.hookimpl
        def ftcore_group_options(self, groups, recipe, steps):
            return {}

    splits = {"train": make_rows(24), "validation": make_rows(8, 1), "test": make_rows(8, 2)}
    hooks = make_plugin_manager(MemoryDataset(splits), classification, Optimiser())
    recorder = hook_recorder(hooks)
    run_recipe(["optim.lr=auto"], hooks=hooks)
    names = recorder.names()
    start = names.index("ftcore_lightning_callbacks")
    assert names[start : start + 5] == [
        "ftcore_lightning_callbacks",
        "ftcore_resolve_lr",  # optim.lr: auto, with the Trainer built
        "ftcore_run_start",
        "Head.run_start",
        "ftcore_group_options",  # configure_optimizers, once
    ]
    assert recorder.count("ftcore_group_options") == 1


def test_fold_hooks_fire_per_plugin_in_order(
    run_recipe, make_plugin_manager, memory_dataset, hook_recorder
):
    seen = []

    class Wrap:
        @ftcore.hookimpl
        def ftcore_transform_model(self, model, recipe):
            seen.append("transform")
            return None

        @ftcore.hookimpl
        def ftcore_export_model(self, model, run):
            seen.append("export")
            return model

    hooks = make_plugin_manager(memory_dataset, classification, Wrap())
    recorder = hook_recorder(hooks)
    run_recipe(hooks=hooks)
    names = recorder.names()
    assert names.index("Head.build_model") + 1 == names.index("ftcore_transform_model")
    assert names[-6:] == ["ftcore_test_end", "ftcore_export_model", *END]
    assert seen == ["transform", "export"]


def test_bundled_name_goes_through_resolve_model(
    make_plugin_manager, hook_recorder, tiny_model_dir
):
    class Bundle:
        @ftcore.hookimpl
        def ftcore_components(self):
            return [Component(kind="model", name="tiny")]

        @ftcore.hookimpl
        def ftcore_resolve_model(self, name, cache_dir):
            return str(tiny_model_dir) if name == "tiny" else None

    hooks = make_plugin_manager(Bundle())
    recorder = hook_recorder(hooks)

    class Recipe:
        class model:  # noqa: N801 - mimics recipe.model
            name = "tiny"
            cache_dir = None

    assert resolve_model(Recipe, hooks) == str(tiny_model_dir)
    assert recorder.names() == ["ftcore_resolve_model"]
