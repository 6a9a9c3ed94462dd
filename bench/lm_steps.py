"""Where a causal LM's training memory goes: ``python -m bench.lm_steps MODE``.

Two training steps of SmolLM2-135M (the bundled ``smollm2-135m``, converted once into
the ftcore cache) on a random batch of 8 x 384
tokens (the first 100 of each without targets), fused AdamW, fp32, printing the process's
RSS and its peak after each stage. MODE is a comma-separated set of: ``gc`` (activation
checkpointing), ``chunk`` (ftcore's chunked cross-entropy instead of the full logits);
``plain`` for neither. Run it with and without ``MALLOC_MMAP_THRESHOLD_=1048576`` to see
glibc's share (``ftcore run`` sets that threshold itself; this script does not).
"""

from __future__ import annotations

import resource
import sys
import time


def rss(tag: str) -> None:
    with open("/proc/self/statm") as handle:
        current = int(handle.read().split()[1]) * 4096 / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{tag:32s} RSS {current:7.0f} MB  peak {peak:7.0f} MB", flush=True)


def main() -> None:
    import os
    from pathlib import Path

    import torch
    import torch.nn.functional as F
    from ftcore_generation.modeling import chunked_token_nll
    from ftcore_models.plugin import ftcore_resolve_model
    from transformers import AutoModelForCausalLM

    mode = sys.argv[1] if len(sys.argv) > 1 else "plain"
    torch.manual_seed(0)
    rss("imports")
    cache = os.environ.get("FTCORE_CACHE") or Path.home() / ".cache" / "ftcore"
    path = ftcore_resolve_model(name="smollm2-135m", cache_dir=str(cache))
    model = AutoModelForCausalLM.from_pretrained(path).train()
    rss("model loaded")
    if "gc" in mode:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    ids = torch.randint(0, model.config.vocab_size, (8, 384))
    labels = ids.clone()
    labels[:, :100] = -100
    for step in range(2):
        started = time.perf_counter()
        if "chunk" in mode:
            hidden = model.model(input_ids=ids, use_cache=False).last_hidden_state
            rss(f"step {step}: forward")
            nll, count = chunked_token_nll(hidden, model.lm_head, labels)
        else:
            logits = model(input_ids=ids, use_cache=False).logits
            rss(f"step {step}: forward")
            flat = logits[:, :-1].flatten(0, 1).float()
            nll = F.cross_entropy(flat, labels[:, 1:].flatten(), reduction="none")
            count = (labels[:, 1:] != -100).sum()
        loss = nll.sum() / count.sum()
        rss(f"step {step}: loss")
        loss.backward()
        rss(f"step {step}: backward")
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        rss(f"step {step}: optimiser ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
