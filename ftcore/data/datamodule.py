"""The LightningDataModule over encoded examples."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader


class Collator:
    """DataLoader ``collate_fn`` that delegates padding to the head (``ftcore_collate``)."""

    def __init__(self, hooks: Any, task: str, tokenizer: Any, info: Any) -> None:
        self.hooks, self.task, self.tokenizer, self.info = hooks, task, tokenizer, info

    def __call__(self, features: list[dict]) -> Any:
        return self.hooks.collate(
            task=self.task, features=features, tokenizer=self.tokenizer, info=self.info
        )


class FtDataModule(L.LightningDataModule):
    """Serves the encoded splits; length-grouped shuffling for training when enabled."""

    def __init__(self, features: dict[str, list[dict]], collate: Collator, recipe: Any) -> None:
        super().__init__()
        self.features = features
        self.collate = collate
        self.data = recipe.data
        self.seed = int(recipe.seed)

    def _sampler(self) -> Any:
        train = self.features["train"]
        generator = torch.Generator().manual_seed(self.seed)
        if not self.data.group_by_length:
            return torch.utils.data.RandomSampler(train, generator=generator)
        from transformers.trainer_pt_utils import LengthGroupedSampler

        lengths = [len(f["input_ids"]) for f in train]
        return LengthGroupedSampler(self.data.batch_size, lengths=lengths, generator=generator)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            self.features["train"],
            batch_size=self.data.batch_size,
            sampler=self._sampler(),
            collate_fn=self.collate,
            num_workers=self.data.num_workers,
        )

    def _eval(self, split: str) -> DataLoader:
        return DataLoader(
            self.features[split],
            batch_size=self.data.eval_batch_size,
            shuffle=False,
            collate_fn=self.collate,
            num_workers=self.data.num_workers,
        )

    def val_dataloader(self) -> DataLoader:
        return self._eval("validation")

    def test_dataloader(self) -> DataLoader:
        return self._eval("test")
