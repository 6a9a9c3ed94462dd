"""Lightning callbacks that apply the unfreezing schedule and time the epochs.

Imported only inside hooks (it imports Lightning).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import lightning as L

from ftcore.api import atomic_write_json
from ftcore.errors import UserError
from ftcore_unfreeze.schedule import NEVER, frozen_groups


def managed_groups(trainer: Any) -> list[dict]:
    """The optimizer parameter groups built by this plugin (they carry ``layer_group``)."""
    return [g for opt in trainer.optimizers for g in opt.param_groups if "layer_group" in g]


class Freezer(L.Callback):
    """Sets ``requires_grad`` from ``frozen_groups(global_step, start steps)`` before every batch.

    The start steps live in the optimizer's parameter groups (``start_step``), which exist
    from the first step; this callback only mirrors them into ``requires_grad`` so that
    frozen groups get no gradient (AdamW skips them, autograd stops above them). It keeps
    no state of its own beyond the schedule, saved to detect a changed recipe on resume.
    """

    def __init__(self, run_dir: Path | None = None) -> None:
        self.path = Path(run_dir) / "unfreeze_schedule.json" if run_dir else None
        self.starts: dict[str, int] = {}
        self.loaded: dict[str, int] | None = None

    @property
    def state_key(self) -> str:
        return "ftcore_unfreeze.Freezer"

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        groups = managed_groups(trainer)
        if not groups:
            raise UserError(
                "strategies.gradual_unfreezing: the optimizer's parameter groups were not "
                "built by ftcore-unfreeze (another plugin answered ftcore_param_groups); "
                "disable that plugin or remove gradual_unfreezing"
            )
        self.starts = {g["layer_group"]: int(g["start_step"]) for g in groups}
        if self.path and trainer.is_global_zero:
            atomic_write_json(self.path, schedule_rows(groups))

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        loaded, self.loaded = self.loaded, None  # empty: saved before the first fit started
        if loaded and loaded != self.starts:
            raise UserError(
                f"strategies.gradual_unfreezing: the checkpoint was trained with the unfreezing "
                f"schedule {loaded} but the recipe now gives {self.starts}; resume with "
                f"the recipe it was started with"
            )
        self.apply(trainer)

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, idx: int) -> None:
        self.apply(trainer)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        for group in managed_groups(trainer):  # leave the model as it was given
            for param in group["params"]:
                param.requires_grad_(True)

    def apply(self, trainer: Any) -> None:
        frozen = frozen_groups(trainer.global_step, self.starts)
        for group in managed_groups(trainer):
            trainable = group["layer_group"] not in frozen
            for param in group["params"]:
                if param.requires_grad != trainable:
                    param.requires_grad_(trainable)
                    if not trainable:
                        param.grad = None

    def state_dict(self) -> dict[str, Any]:
        return {"start_steps": dict(self.starts)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.loaded = dict(state_dict.get("start_steps", {}))


def schedule_rows(groups: list[dict]) -> list[dict]:
    """What ``unfreeze_schedule.json`` shows: each optimizer group's peak lr and start step."""
    return [
        {
            "name": g["name"],
            "layer_group": g["layer_group"],
            "lr": g.get("initial_lr", g["lr"]),
            "start_step": None if g["start_step"] == NEVER else g["start_step"],
            "warmup_steps": g.get("warmup_steps", 0),
            "params": sum(p.numel() for p in g["params"]),
        }
        for g in groups
    ]


class EpochTimer(L.Callback):
    """Logs ``time/epoch_seconds`` (training only, validation excluded) and writes
    ``epoch_times.json`` with the trainable parameter count of each epoch."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / "epoch_times.json"
        self.records: list[dict] = []
        self._started: float | None = None
        self._elapsed = 0.0
        self._trainable: int | None = None
        self._total: int | None = None

    @property
    def state_key(self) -> str:
        return "ftcore_unfreeze.EpochTimer"

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self._elapsed, self._started, self._trainable = 0.0, None, None

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, idx: int) -> None:
        if self._started is None:  # also starts the clock of an epoch resumed midway
            self._started = time.perf_counter()
        if self._trainable is None:  # after Freezer.apply for this epoch's first batch
            params = list(pl_module.parameters())
            self._trainable = sum(p.numel() for p in params if p.requires_grad)
            self._total = sum(p.numel() for p in params)

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        self._pause()

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.sanity_checking:
            self._started = time.perf_counter()

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        self._pause()
        seconds = round(self._elapsed, 3)
        pl_module.log("time/epoch_seconds", seconds)
        self.records.append(
            {
                "epoch": trainer.current_epoch,
                "seconds": seconds,
                "trainable_params": self._trainable,
                "total_params": self._total,
            }
        )
        if trainer.is_global_zero:
            atomic_write_json(self.path, self.records)

    def _pause(self) -> None:
        if self._started is not None:
            self._elapsed += time.perf_counter() - self._started
            self._started = None

    def state_dict(self) -> dict[str, Any]:
        return {"records": list(self.records)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.records = list(state_dict.get("records", []))
