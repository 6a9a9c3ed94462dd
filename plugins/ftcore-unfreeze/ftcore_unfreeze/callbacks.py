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
from ftcore.types import NEVER, OptimizerGroup
from ftcore_unfreeze.schedule import frozen_groups


def managed_groups(pl_module: Any) -> list[OptimizerGroup]:
    """The optimiser's groups that belong to a layer group (core's ``optimizer_groups``)."""
    return [g for g in pl_module.optimizer_groups if g.layer_group is not None]


class Freezer(L.Callback):
    """Sets ``requires_grad`` from ``frozen_groups(global_step, start steps)`` before every batch.

    The start steps are those core built the optimiser with (``pl_module.optimizer_groups``,
    from this plugin's ``ftcore_group_options``), set before the first step; this callback
    only mirrors them into ``requires_grad`` so that frozen groups get no gradient (AdamW
    skips them, autograd stops above them). It keeps no state of its own beyond the
    schedule, saved to detect a changed recipe on resume.
    """

    def __init__(self, run_dir: Path | None = None) -> None:
        self.path = Path(run_dir) / "unfreeze_schedule.json" if run_dir else None
        self.starts: dict[str, int] = {}
        self.params: dict[str, list[Any]] = {}
        self.loaded: dict[str, int] | None = None

    @property
    def state_key(self) -> str:
        return "ftcore_unfreeze.Freezer"

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        groups = managed_groups(pl_module)
        if not groups:
            raise UserError(
                "strategies.gradual_unfreezing: the optimiser was built without layer groups; "
                "remove gradual_unfreezing or the plugin that changes the optimiser"
            )
        named = dict(pl_module.model.named_parameters())
        self.starts, self.params = {}, {}
        for group in groups:
            self.starts[group.layer_group] = group.start_step
            self.params.setdefault(group.layer_group, []).extend(named[n] for n in group.params)
        if self.path and trainer.is_global_zero:
            atomic_write_json(self.path, schedule_rows(groups, named))

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
        for params in self.params.values():  # leave the model as it was given
            for param in params:
                param.requires_grad_(True)

    def apply(self, trainer: Any) -> None:
        frozen = frozen_groups(trainer.global_step, self.starts)
        for group, params in self.params.items():
            trainable = group not in frozen
            for param in params:
                if param.requires_grad != trainable:
                    param.requires_grad_(trainable)
                    if not trainable:
                        param.grad = None

    def state_dict(self) -> dict[str, Any]:
        return {"start_steps": dict(self.starts)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.loaded = dict(state_dict.get("start_steps", {}))


def schedule_rows(groups: list[OptimizerGroup], named: dict[str, Any]) -> list[dict]:
    """What ``unfreeze_schedule.json`` shows: each optimiser group's peak lr and start step."""
    return [
        {
            "name": g.name,
            "layer_group": g.layer_group,
            "lr": g.lr,
            "start_step": None if g.start_step == NEVER else g.start_step,
            "warmup_steps": g.warmup_steps,
            "params": sum(named[n].numel() for n in g.params),
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
