"""Packed texts never attend to each other: same logits and loss as unpacked."""

from __future__ import annotations

import pytest
import torch
from ftcore_generation.encoding import packed_example
from ftcore_generation.modeling import collate, model_inputs, token_nll
from transformers import AutoModelForCausalLM


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_packed_block_equals_texts_alone(tiny_llama_dir, attention):
    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir, attn_implementation=attention)
    model.eval()
    a, b, c = [50, 60, 70, 80, 90], [100, 110, 120], [130, 140, 150, 160]
    packed = collate([packed_example([a, b], 0), packed_example([c], 1)], pad=2)
    alone = collate([packed_example([t], i) for i, t in enumerate([a, b, c])], pad=2)
    assert "attention_mask" not in packed
    assert packed["position_ids"][1].tolist() == [0, 1, 2, 3, 0, 1, 2, 3]  # padding restarts
    with torch.no_grad():
        lp = model(**model_inputs(packed)).logits
        la = model(**model_inputs(alone)).logits
        naive = model(input_ids=packed["input_ids"]).logits
    torch.testing.assert_close(lp[0, :5], la[0, :5])
    torch.testing.assert_close(lp[0, 5:8], la[1, :3])  # b sees nothing of a
    torch.testing.assert_close(lp[1, :4], la[2, :4])
    assert not torch.allclose(naive[0, 5:8], la[1, :3], atol=1e-3)  # the check has teeth
    nll_p, n_p = token_nll(lp, packed["labels"])
    nll_a, n_a = token_nll(la, alone["labels"])
    torch.testing.assert_close(nll_p[0], nll_a[0] + nll_a[1])
    assert n_p.tolist() == [6, 3] and n_a.tolist() == [4, 2, 3]
