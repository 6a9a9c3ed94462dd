"""``ftcore export`` on finished runs: the file generates what ``ftcore predict`` does; a
LoRA run exports its merged model; mistakes are one line, exit code 2, nothing lost."""

from __future__ import annotations

import errno
import json
import shutil

import pytest
import torch
from ftcore_devkit.testing import execute_recipe
from gguf_helpers import (
    PROMPTS,
    ftcore,
    generation_run,
    greedy,
    load_folder,
    load_gguf,
    max_new_tokens,
)

from ftcore.api import Predictor, plugin_hooks
from ftcore.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A finished generation run on a tiny random Llama (tied embeddings)."""
    return generation_run(tmp_path_factory.mktemp("generation") / "run")


@pytest.fixture(scope="module")
def lora_run_dir(tmp_path_factory):
    """The same run with LoRA adapters (merged into model/ by the LoRA plugin)."""
    lora = ["strategies.lora.r=4", "strategies.lora.alpha=8", "strategies.lora.dropout=0.0"]
    return generation_run(tmp_path_factory.mktemp("lora") / "run", *lora)


def test_exported_file_generates_what_ftcore_predict_does(run_dir, tmp_path):
    exported = ftcore("export", str(run_dir), cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    path = run_dir / "gguf" / "model-f32.gguf"  # the default place and dtype
    assert f"wrote {path} (GGUF, f32, 20 tensors" in exported.stdout
    assert path.is_file() and not list(path.parent.glob(".*"))  # no temporary file left
    predicted = ftcore("predict", str(run_dir), "--prompt", PROMPTS[0], cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    generated = json.loads(predicted.stdout)["generated"]
    model, tokenizer = load_gguf(path)
    limit = max_new_tokens(run_dir)
    ids = greedy(model, tokenizer, PROMPTS[0], limit)
    assert len(set(ids)) > 3  # varied text, not one token repeated
    assert tokenizer.decode(ids, skip_special_tokens=True) == generated
    trained, trained_tokenizer = load_folder(run_dir / "model")
    for prompt in PROMPTS:  # token for token against the run's own model/
        assert greedy(model, tokenizer, prompt, limit) == greedy(
            trained, trained_tokenizer, prompt, limit
        )


def test_lora_run_exports_its_merged_model(lora_run_dir, tmp_path):
    assert (lora_run_dir / "adapter" / "adapter_config.json").is_file()
    out = tmp_path / "smol.gguf"
    assert main(["export", str(lora_run_dir), "--out", str(out)]) == 0
    merged, tokenizer = load_folder(lora_run_dir / "model")
    assert not any("lora" in name for name, _ in merged.named_parameters())
    model, back_tokenizer = load_gguf(out)
    theirs = model.state_dict()
    for name, weight in merged.state_dict().items():
        assert torch.equal(theirs[name], weight), name
    predictor = Predictor(lora_run_dir, plugin_hooks())
    predictions = predictor.predict([{"prompt": p} for p in PROMPTS])
    limit = max_new_tokens(lora_run_dir)
    for prompt, prediction in zip(PROMPTS, predictions):
        ids = greedy(model, back_tokenizer, prompt, limit)
        assert back_tokenizer.decode(ids, skip_special_tokens=True) == prediction["generated"]


def test_f16_export_next_to_f32(run_dir, tmp_path, capsys):
    assert main(["export", str(run_dir), "--dtype", "f16"]) == 0
    assert "(GGUF, f16," in capsys.readouterr().out
    half = run_dir / "gguf" / "model-f16.gguf"
    model, _ = load_gguf(half)
    trained, _ = load_folder(run_dir / "model")
    weight = trained.model.layers[0].mlp.up_proj.weight
    assert torch.equal(model.model.layers[0].mlp.up_proj.weight.float(), weight.half().float())


def _error(capsys, *args: str) -> str:
    """The one line ``ftcore`` prints for a mistake (exit code 2)."""
    assert main(list(args)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ftcore: error: "), err
    return err


def test_mistakes_are_one_line_and_keep_what_was_saved(run_dir, tmp_path, capsys):
    out = tmp_path / "keep.gguf"
    out.write_bytes(b"an earlier export")
    empty = tmp_path / "empty"
    empty.mkdir()
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    shutil.copy(run_dir / "recipe.yaml", unfinished / "recipe.yaml")
    run, keep = str(run_dir), ["--out", str(out)]
    assert "not supported; choose one of: gguf" in _error(capsys, "export", run, "--format", "onnx")
    assert "'q4' is not supported; choose one of: f32, f16" in _error(
        capsys, "export", run, "--dtype", "q4", *keep
    )
    assert "not an ftcore run directory" in _error(capsys, "export", str(empty))
    assert "no such folder" in _error(capsys, "export", str(tmp_path / "nowhere"), *keep)
    assert "did the run finish?" in _error(capsys, "export", str(unfinished))
    missing = str(tmp_path / "no" / "such" / "m.gguf")
    assert "does not exist; create it first" in _error(capsys, "export", run, "--out", missing)
    assert "is a folder" in _error(capsys, "export", run, "--out", str(tmp_path))
    assert out.read_bytes() == b"an earlier export"
    assert not (empty / "gguf").exists() and not (unfinished / "gguf").exists()


def test_interrupted_export_leaves_the_earlier_file(run_dir, tmp_path, monkeypatch, capsys):
    from ftcore_export import gguf_file

    out = tmp_path / "model.gguf"
    assert main(["export", str(run_dir), "--out", str(out)]) == 0
    before = out.read_bytes()

    def interrupted(plans, dtype):
        yield from []
        raise KeyboardInterrupt

    monkeypatch.setattr(gguf_file, "tensor_data", interrupted)
    assert main(["export", str(run_dir), "--out", str(out), "--dtype", "f16"]) == 130
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.gguf"]  # no temporary file

    def disk_full(plans, dtype):
        yield from []
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(gguf_file, "tensor_data", disk_full)
    capsys.readouterr()
    err = _error(capsys, "export", str(run_dir), "--out", str(out))
    assert f"cannot write {out}: No space left on device" in err
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.gguf"]


def test_classification_run_is_refused_in_one_line(tmp_path, capsys, tiny_model_dir):
    from ftcore_devkit.testing import MemoryDataset, base_recipe, build_hooks, tiny_splits

    hooks = build_hooks([MemoryDataset(tiny_splits())])
    run = tmp_path / "classification"
    execute_recipe(base_recipe(tiny_model_dir), run, ["trainer.max_steps=1"], hooks=hooks)
    capsys.readouterr()  # the run's own output
    err = _error(capsys, "export", str(run))
    assert "model is BertForSequenceClassification (task: classification)" in err
    assert "only Llama-family causal language models (LlamaForCausalLM" in err
    assert not (run / "gguf").exists()


def test_the_installed_command_reports_a_mistake_without_traceback(tmp_path):
    done = ftcore("export", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "not an ftcore run directory" in done.stderr
