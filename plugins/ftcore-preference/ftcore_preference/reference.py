"""The reference log-probabilities of a run without an adapter: computed once, before
training, from the pretrained model, and carried by every example.

:func:`attach` runs in the head's ``run_start`` (the ``ftcore_run_start`` hooks have run;
nothing has trained, and a resumed run still holds the pretrained weights there, since
Lightning loads the checkpoint inside ``fit``). It scores every pair of every split with
the model in eval mode, writes ``reference_logps.json`` to the run folder, and gives each
encoded example ``ref_chosen``/``ref_rejected`` (new feature dicts; the cached encoded
splits are not touched), which ``collate`` puts in every batch, as TRL's
``precompute_ref_log_probs`` adds two columns to its dataset.

A resumed run reads the file back instead of scoring again, when it was written for the
same pretrained model, data and options (:func:`ftcore.api.pretrained_fingerprint`) and
has the same number of pairs per split; otherwise it recomputes (and says so).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

from ftcore.api import atomic_write_json, pretrained_fingerprint, read_json

log = logging.getLogger(__name__)

FILE = "reference_logps.json"
FORMAT = 1
SPLITS = ("train", "validation", "test")


def attach(run: Any) -> dict[str, dict[str, list[float]]]:
    """Give every example of ``run`` its reference log-probabilities (read or computed)."""
    fingerprint = pretrained_fingerprint(run)
    found = read(Path(run.run_dir) / FILE, fingerprint, sizes(run))
    if found is None:
        found = compute(run)
        if run.trainer is None or run.trainer.is_global_zero:
            data = {"format": FORMAT, "fingerprint": fingerprint, "splits": found}
            atomic_write_json(Path(run.run_dir) / FILE, data)
    features = run.datamodule.features
    for split in SPLITS:
        features[split] = with_reference(features[split], found[split])
    return found


def sizes(run: Any) -> dict[str, int]:
    return {split: len(run.datamodule.features[split]) for split in SPLITS}


def read(path: Path, fingerprint: str | None, expected: dict[str, int]) -> dict | None:
    """The splits stored in ``path`` if they fit this run, else None."""
    if fingerprint is None or not path.is_file():
        return None
    try:
        data = read_json(path)
    except Exception:  # damaged: computed again and rewritten
        return None
    splits = data.get("splits") if isinstance(data, dict) else None
    fits = (
        data.get("format") == FORMAT
        and data.get("fingerprint") == fingerprint
        and isinstance(splits, dict)
        and all(_length(splits.get(s)) == n for s, n in expected.items())
    )
    if not fits:
        log.info(f"{path.name} was written for other data or another model; computing it again")
        return None
    log.info(f"reference log-probabilities read from {path.name}")
    return splits


def _length(split: Any) -> int | None:
    if not isinstance(split, dict):
        return None
    chosen, rejected = split.get("chosen"), split.get("rejected")
    if not isinstance(chosen, list) or not isinstance(rejected, list):
        return None
    return len(chosen) if len(chosen) == len(rejected) else None


def with_reference(features: list[dict], split: dict[str, list[float]]) -> list[dict]:
    """New feature dicts carrying ``ref_chosen``/``ref_rejected`` (looked up by index)."""
    chosen, rejected = split["chosen"], split["rejected"]
    return [
        {**f, "ref_chosen": chosen[f["index"]], "ref_rejected": rejected[f["index"]]}
        for f in features
    ]


def compute(run: Any) -> dict[str, dict[str, list[float]]]:
    """The pretrained model's (chosen, rejected) log-probabilities, per split, in index
    order; eval mode, no gradients, on the run's device and precision."""
    import time

    started = time.perf_counter()
    model = run.module.model
    device = _device(run, model)
    before = next(model.parameters()).device
    model.to(device)
    try:
        found = {split: score_split(run, model, split, device) for split in SPLITS}
    finally:
        model.to(before)
    pairs = sum(len(s["chosen"]) for s in found.values())
    seconds = time.perf_counter() - started
    log.info(f"reference log-probabilities of {pairs:,} pairs computed in {seconds:.0f} s")
    return found


def score_split(run: Any, model: Any, split: str, device: Any) -> dict[str, list[float]]:
    from torch.utils.data import DataLoader

    from ftcore_preference.losses import evaluating, halves, sequence_logps

    features = run.datamodule.features[split]
    size = int(run.recipe.data.eval_batch_size)
    loader = DataLoader(features, batch_size=size, shuffle=False, collate_fn=run.datamodule.collate)
    chosen = [0.0] * len(features)
    rejected = [0.0] * len(features)
    with evaluating(model), _precision(run):
        for batch in loader:
            batch = {k: v.to(device) for k, v in batch.items()}
            good, bad = halves(sequence_logps(model, batch)[0])
            for i, c, r in zip(batch["index"].tolist(), good.tolist(), bad.tolist()):
                chosen[i], rejected[i] = c, r
    return {"chosen": chosen, "rejected": rejected}


def _device(run: Any, model: Any) -> Any:
    """Where training will run (the trainer's device), else where the model is."""
    try:
        return run.trainer.strategy.root_device
    except Exception:
        return next(model.parameters()).device


def _precision(run: Any) -> Any:
    """The trainer's autocast context (bf16-mixed...), as in its training steps."""
    plugin = getattr(run.trainer, "precision_plugin", None)
    context = getattr(plugin, "forward_context", None)
    return context() if callable(context) else contextlib.nullcontext()
