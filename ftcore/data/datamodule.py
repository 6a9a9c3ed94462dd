"""The LightningDataModule over encoded examples, with exactly resumable training order.

The training order of epoch ``e`` is a pure function of ``(seed, e)``; the training
DataLoader records how many batches of the current epoch were trained, and a resumed
run skips exactly those. Together with the RNG states the module checkpoints, an
interrupted and resumed run sees the same batches in the same order as one that never
stopped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Sampler


class Collator:
    """DataLoader ``collate_fn`` that delegates padding to the head (``Head.collate``)."""

    def __init__(self, head: Any, options: Any, tokenizer: Any, info: Any) -> None:
        self.head, self.options, self.tokenizer, self.info = head, options, tokenizer, info

    def __call__(self, features: list[dict]) -> Any:
        return self.head.collate(
            features=features, tokenizer=self.tokenizer, info=self.info, options=self.options
        )


def epoch_order(
    lengths: list[int], batch_size: int, seed: int, epoch: int, grouped: bool
) -> list[int]:
    """The training order of one epoch: seeded by (seed, epoch), length-grouped if asked."""
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    if not grouped:
        return torch.randperm(len(lengths), generator=generator).tolist()
    from transformers.trainer_pt_utils import LengthGroupedSampler

    sampler = LengthGroupedSampler(batch_size, lengths=lengths, generator=generator)
    return list(iter(sampler))


class EpochSampler(Sampler[int]):
    """Yields ``epoch_order`` for the epoch Lightning sets, minus batches already trained."""

    def __init__(self, lengths: list[int], batch_size: int, seed: int, grouped: bool) -> None:
        self.lengths, self.batch_size, self.seed, self.grouped = lengths, batch_size, seed, grouped
        self.epoch = 0
        self.resume_at: tuple[int, int] | None = None  # (epoch, batches already trained)

    def set_epoch(self, epoch: int) -> None:  # called by Lightning at every epoch start
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        order = epoch_order(self.lengths, self.batch_size, self.seed, self.epoch, self.grouped)
        skip = 0
        if self.resume_at is not None and self.resume_at[0] <= self.epoch:
            # Lightning may iterate before it sets the resumed epoch; wait for that epoch
            skip = self.resume_at[1] * self.batch_size if self.resume_at[0] == self.epoch else 0
            self.resume_at = None
        return iter(order[skip:])

    def __len__(self) -> int:
        return len(self.lengths)


class ResumableLoader(DataLoader):
    """A training DataLoader whose position Lightning saves in and restores from checkpoints."""

    def __init__(self, *args: Any, progress: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.progress = progress  # () -> (epoch, batches trained in that epoch)

    def state_dict(self) -> dict[str, int]:
        epoch, done = self.progress() if self.progress else (0, 0)
        return {"epoch": epoch, "batches_done": done}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if isinstance(self.sampler, EpochSampler):
            self.sampler.resume_at = (int(state["epoch"]), int(state["batches_done"]))


class FtDataModule(L.LightningDataModule):
    """Serves the encoded splits; deterministic, resumable, length-grouped training order."""

    def __init__(self, features: dict[str, list[dict]], collate: Collator, recipe: Any) -> None:
        super().__init__()
        self.features = features
        self.collate = collate
        self.data = recipe.data
        self.seed = int(recipe.seed)

    def _progress(self) -> tuple[int, int]:
        """(epoch, training batches processed in it) — what a checkpoint must remember."""
        if self.trainer is None:
            return 0, 0
        loop = self.trainer.fit_loop
        return self.trainer.current_epoch, loop.epoch_loop.batch_progress.current.processed

    def train_dataloader(self) -> DataLoader:
        train = self.features["train"]
        lengths = getattr(train, "lengths", None)  # Arrow features count in Arrow
        sampler = EpochSampler(
            lengths("input_ids") if lengths else [len(f["input_ids"]) for f in train],
            self.data.batch_size,
            self.seed,
            self.data.group_by_length,
        )
        return ResumableLoader(
            train,
            batch_size=self.data.batch_size,
            sampler=sampler,
            collate_fn=self.collate,
            num_workers=self.data.num_workers,
            progress=self._progress,
            generator=self._generator(),
        )

    def _eval(self, split: str) -> DataLoader:
        return DataLoader(
            self.features[split],
            batch_size=self.data.eval_batch_size,
            shuffle=False,
            collate_fn=self.collate,
            num_workers=self.data.num_workers,
            generator=self._generator(),
        )

    def _generator(self) -> torch.Generator:
        # A loader's own generator: creating an iterator then draws its worker seed from it,
        # not from the global RNG that dropout uses, so resumed runs stay exact.
        return torch.Generator().manual_seed(self.seed)

    def val_dataloader(self) -> DataLoader:
        return self._eval("validation")

    def test_dataloader(self) -> DataLoader:
        return self._eval("test")
