"""The run's checkpoints: the best ones (``best-*.ckpt``) and ``last.ckpt``.

- :func:`best_checkpoints`: Lightning's ``ModelCheckpoint`` keeps the ``save_top_k`` best
  checkpoints by the monitored metric (test and export use the best one); it writes no
  ``last.ckpt`` (several callbacks with ``save_last`` in one folder number theirs
  ``last-v1.ckpt``, ..., and Lightning 2.6 refreshes it only when a best one is saved).
- :class:`LastCheckpoint`: the one writer of ``last.ckpt``. It writes after every
  validation in training, once that validation's results are final (best checkpoints,
  early stopping, ``trainer.should_stop``), at the end of every training epoch, and every
  ``checkpoint.every_n_steps`` optimiser steps / ``checkpoint.every_n_minutes`` minutes.
  A periodic write falling on a step that a validation (or the epoch's end) follows is
  the write after that validation: a checkpoint never holds a step whose validation has
  not run, so a resume never skips a validation the uninterrupted run did. A validation
  after which the epoch ends (its last batch, ``max_steps``, a stop request) is written
  once, at the epoch's end. ``trainer.should_stop`` (early stopping's decision, which
  Lightning does not save) travels in its state and is restored on resume.
  :class:`ftcore.safety.GracefulStop` saves through it too (:meth:`LastCheckpoint.save`),
  with ``before_validation`` when it stops as a validation starts or midway: the
  checkpoint then says that validation is under way and the resumed run runs it first.

Callback order: Lightning runs ``Checkpoint`` callbacks after all others, in list order
(``_CallbackConnector._reorder_callbacks``), and calls the monitoring callbacks'
``on_train_epoch_end`` (``EarlyStopping``, ``Checkpoint``) after the LightningModule's.
``build_trainer`` lists :class:`LastCheckpoint` last, so at ``on_validation_end`` and
``on_train_epoch_end`` everything else has updated its state before ``last.ckpt`` is
written.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Checkpoint, ModelCheckpoint

LAST = "last.ckpt"
_VAL_PROGRESS = "epoch_loop.val_loop.batch_progress"


def folder(run: Any) -> Path:
    return Path(run.run_dir) / "checkpoints"


def best_checkpoints(run: Any) -> ModelCheckpoint:
    """``best-{epoch}-{step}.ckpt``: the ``checkpoint.save_top_k`` best by the monitor."""
    from ftcore.run import monitor

    metric, mode = monitor(run)
    return ModelCheckpoint(
        dirpath=folder(run),
        filename="best-{epoch}-{step}",
        monitor=metric,
        mode=mode,
        save_top_k=run.recipe.checkpoint.save_top_k,
        save_last=False,  # last.ckpt is LastCheckpoint's
        auto_insert_metric_name=False,
        # a name says when (epoch, step): a resumed run saving one again replaces it
        # (the same state) rather than adding best-...-v1.ckpt
        enable_version_counter=False,
    )


def last_checkpoint(run: Any) -> LastCheckpoint:
    ckpt = run.recipe.checkpoint
    return LastCheckpoint(folder(run), ckpt.every_n_steps, ckpt.every_n_minutes)


class LastCheckpoint(Checkpoint):
    """Writes ``checkpoints/last.ckpt`` (see the module docstring for when)."""

    def __init__(
        self,
        dirpath: Path,
        every_n_steps: int | None = None,
        every_n_minutes: float | None = None,
    ) -> None:
        self.path = Path(dirpath) / LAST
        self.every_n_steps = int(every_n_steps or 0)
        self.interval = float(every_n_minutes) * 60 if every_n_minutes else None
        self._trainer: Any = None
        self._timer = time.monotonic()
        self._rewind: dict[str, Any] | None = None  # val counters for the write under way
        self._loaded_should_stop = False
        # True from a write until the next training or validation batch: last.ckpt holds
        # the current state (a stop at that moment need not write it again)
        self.fresh = False

    # --- state: trainer.should_stop is not in Lightning's checkpoint ------------------

    def setup(self, trainer: L.Trainer, module: Any, stage: str) -> None:
        self._trainer = trainer

    def state_dict(self) -> dict[str, Any]:
        trainer = self._trainer
        return {"should_stop": bool(trainer.should_stop) if trainer is not None else False}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._loaded_should_stop = bool(state.get("should_stop", False))

    def on_train_start(self, trainer: L.Trainer, module: Any) -> None:
        self._timer = time.monotonic()
        if self._loaded_should_stop:  # e.g. early stopping had ended training
            trainer.should_stop = True
            self._loaded_should_stop = False

    # --- writing ------------------------------------------------------------------

    def save(self, trainer: L.Trainer, before_validation: dict[str, Any] | None = None) -> str:
        """Write ``last.ckpt`` now; return its path.

        before_validation: the validation loop's progress counters as a validation began
        (that validation's results are not in this state): the checkpoint records it as
        under way, and Lightning runs it again from its first batch when resuming.
        """
        self._rewind = before_validation
        try:
            # Lightning's "save more than the weights" (optimiser, loops, callbacks); every
            # load is torch.load(weights_only=True) (checkpoint_io), so no code runs
            trainer.save_checkpoint(self.path, weights_only=False)
        finally:
            self._rewind = None
        self.fresh = True
        self._timer = time.monotonic()
        return str(self.path)

    def on_save_checkpoint(self, trainer: L.Trainer, module: Any, checkpoint: dict) -> None:
        if self._rewind is not None:
            loops = checkpoint["loops"]["fit_loop"]
            loops[_VAL_PROGRESS] = validation_under_way(self._rewind)

    # --- when -------------------------------------------------------------------------

    def on_train_batch_start(self, trainer: L.Trainer, module: Any, *args: Any) -> None:
        self.fresh = False

    def on_validation_start(self, trainer: L.Trainer, module: Any) -> None:
        if not trainer.sanity_checking:
            self.fresh = False

    def on_train_batch_end(self, trainer: L.Trainer, module: Any, *args: Any) -> None:
        if trainer.fit_loop.epoch_loop._should_accumulate():
            return  # no optimiser step after this batch
        if not self._periodic_due(trainer):
            return
        if validation_due(trainer) or epoch_ends(trainer):
            return  # written after that validation / at the epoch's end, at this step
        self.save(trainer)

    def on_validation_end(self, trainer: L.Trainer, module: Any) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return
        if epoch_ends(trainer):
            return  # the epoch's end follows at once: written there (after on_train_epoch_end)
        self.save(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, module: Any) -> None:
        self.save(trainer)

    def on_train_end(self, trainer: L.Trainer, module: Any) -> None:
        if not self.fresh:  # e.g. resumed from a best checkpoint of the stopping validation
            self.save(trainer)

    def _periodic_due(self, trainer: L.Trainer) -> bool:
        due = bool(self.every_n_steps) and trainer.global_step % self.every_n_steps == 0
        if self.interval is not None:
            late = time.monotonic() - self._timer >= self.interval
            due = due or bool(trainer.strategy.broadcast(late))  # rank 0's clock decides
        return due


def find_last_checkpoint(trainer: L.Trainer) -> LastCheckpoint:
    found = next((c for c in trainer.callbacks if isinstance(c, LastCheckpoint)), None)
    if found is None:
        raise RuntimeError("ftcore.checkpointing.LastCheckpoint is not among the callbacks")
    return found


def validation_due(trainer: L.Trainer) -> bool:
    """Whether Lightning validates after the training batch that just ended."""
    loop = trainer.fit_loop.epoch_loop
    if loop._skip_next_val:
        return False
    try:
        return bool(loop._should_check_val_fx(trainer.fit_loop._data_fetcher))
    except Exception:  # a Lightning without these internals: no validation known to follow
        return False


def epoch_ends(trainer: L.Trainer) -> bool:
    """Whether the training epoch ends after the current batch (and its validation):
    its last batch, ``max_steps`` reached, or a stop request (early stopping)."""
    loop = trainer.fit_loop.epoch_loop
    if loop._is_training_done:
        return True
    return bool(trainer.should_stop and trainer.fit_loop._can_stop_early)


def validation_under_way(start: dict[str, Any]) -> dict[str, Any]:
    """The validation loop's counters as they are inside its first batch's step, from
    ``start``, the counters as that validation began (before any batch): a checkpoint with
    these restarts "mid-evaluation", and Lightning runs that validation from its first
    batch before training on."""
    state = copy.deepcopy(start)
    for counts in (state["total"], state["current"]):
        counts["ready"] = counts["completed"] + 1
        counts["started"] = counts["completed"] + 1
        counts["processed"] = counts["completed"]
    state["is_last_batch"] = False
    return state
