"""Run safety: non-finite losses and gradients, and graceful stop on SIGINT/SIGTERM."""

from __future__ import annotations

import math
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning as L
import torch

from ftcore.checkpointing import find_last_checkpoint, validation_due
from ftcore.errors import NonFiniteError


class NonFiniteGuard(L.Callback):
    """Detects NaN/Inf loss or gradient at the step it occurs; stops, or skips the batch.

    mode "stop": raise :class:`NonFiniteError` naming the step and the last good checkpoint.
    mode "skip": drop the update of that batch and count it, failing past ``max_skipped``.
    """

    def __init__(self, mode: str, max_skipped: int, checkpoint_dir: Path) -> None:
        self.mode, self.max_skipped, self.checkpoint_dir = mode, max_skipped, checkpoint_dir
        self.skipped = 0
        self.with_clipping = False  # FtModule checks with the norm it clips with

    def state_dict(self) -> dict[str, int]:
        return {"skipped": self.skipped}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.skipped = int(state["skipped"])

    def _last_good(self) -> str:
        found = sorted(self.checkpoint_dir.glob("*.ckpt"), key=lambda p: p.stat().st_mtime)
        return str(found[-1]) if found else "none saved yet"

    def _fault(self, trainer: L.Trainer, what: str) -> bool:
        """Handle a fault; True when the batch must be skipped."""
        step = trainer.global_step
        if self.mode == "skip" and self.skipped < self.max_skipped:
            self.skipped += 1
            return True
        reason = (
            f"skipped {self.skipped} batches already (trainer.max_skipped_batches)"
            if self.mode == "skip"
            else "trainer.on_nonfinite=stop"
        )
        raise NonFiniteError(
            f"{what} at optimiser step {step} ({reason}); last good checkpoint kept: "
            f"{self._last_good()}; lower optim.lr, enable optim.grad_clip, or set "
            f"trainer.on_nonfinite=skip"
        )

    def on_fit_start(self, trainer: L.Trainer, module: Any) -> None:
        self.with_clipping = shares_clipping_norm(trainer)

    def on_before_optimizer_step(self, trainer: L.Trainer, module: Any, optimizer: Any) -> None:
        if self.with_clipping or has_grad_scaler(trainer):
            return  # checked with the clipping norm (FtModule), or the AMP scaler skips overflow
        self.check_norm(trainer, optimizer, grad_norm(_with_grads(optimizer)))

    def check_norm(self, trainer: L.Trainer, optimizer: Any, norm: torch.Tensor) -> bool:
        """True if the gradient norm is finite; else stop, or drop this batch's gradients.

        Under DDP every rank holds the same reduced gradients; under sharded strategies
        each holds a part, so the ranks agree on the decision first.
        """
        finite = math.isfinite(float(norm))
        if finite if self.with_clipping else agree(trainer, finite):
            return True
        if self._fault(trainer, "non-finite gradient"):
            optimizer.zero_grad(set_to_none=True)  # parameters without grads are not updated
        return False

    def on_train_batch_end(self, trainer: L.Trainer, module: Any, *args: Any) -> None:
        if self.skipped and trainer._logger_connector.should_update_logs:
            module.log("train/skipped_batches", float(self.skipped))


def _with_grads(optimizer: Any) -> list[torch.Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]


def grad_norm(params: list[torch.Tensor]) -> torch.Tensor:
    """The total 2-norm of the gradients, as ``clip_grad_norm_`` computes it."""
    return torch.nn.utils.get_total_norm([p.grad for p in params], 2.0, False, None)


def has_grad_scaler(trainer: L.Trainer) -> bool:
    """16-mixed: the GradScaler skips steps whose scaled gradients overflow; not a fault."""
    return getattr(trainer.precision_plugin, "scaler", None) is not None


def shares_clipping_norm(trainer: L.Trainer) -> bool:
    """Whether FtModule can check gradients with the norm it clips with (one norm per step).

    True for one device and DDP (whose gradients are the same on every rank); sharded
    strategies (FSDP, DeepSpeed) clip through their own code, so the guard checks separately.
    """
    from lightning.pytorch.strategies import DDPStrategy, SingleDeviceStrategy

    plain = type(trainer.strategy) in (SingleDeviceStrategy, DDPStrategy)
    by_norm = str(getattr(trainer.gradient_clip_algorithm, "value", "norm")) == "norm"
    return plain and by_norm and not has_grad_scaler(trainer)


def clip_and_check(module: Any, optimizer: Any, clip_val: float | None) -> bool:
    """Clip by norm and check the gradients with that one norm; False: Lightning clips.

    Returns True when it handled the step: the norm was computed once, checked by the
    guard (a non-finite one stops the run or drops the batch), and used for clipping.
    """
    guard = find_guard(module.trainer)
    if guard is None or not guard.with_clipping:
        return False
    params = _with_grads(optimizer)
    if not params:
        return True
    norm = grad_norm(params)
    if guard.check_norm(module.trainer, optimizer, norm) and clip_val:
        torch.nn.utils.clip_grads_with_norm_(params, clip_val, norm, None)
    return True


def find_guard(trainer: L.Trainer) -> NonFiniteGuard | None:
    return next((c for c in trainer.callbacks if isinstance(c, NonFiniteGuard)), None)


def check_loss(loss: torch.Tensor, module: Any) -> bool:
    """True if the training loss is finite; otherwise let the guard decide (skip or raise).

    With several processes all ranks decide together (one all-reduce of a flag): a rank
    that skipped backward while the others did not would hang DDP's gradient all-reduce.
    """
    finite = bool(torch.isfinite(loss))
    guard = find_guard(module.trainer)
    if guard is None:
        return True
    if not agree(module.trainer, finite):
        guard._fault(module.trainer, f"non-finite loss ({float(loss)})")
        return False
    return True


def agree(trainer: L.Trainer, finite: bool) -> bool:
    """``finite`` on every rank (in one process: as it is)."""
    if trainer.world_size < 2:
        return finite
    return bool(trainer.strategy.reduce_boolean_decision(finite, all=True))


class StopRequested(Exception):
    """Raised inside ``Trainer.fit`` or ``Trainer.test`` by :class:`GracefulStop` once a
    signal has been handled.

    Lightning runs the callbacks' ``on_exception`` and its teardown on the way out, so no
    validation, test or export follows; ``ftcore.run`` turns this into
    :class:`~ftcore.errors.RunInterrupted` (exit code 130).

    saved: the checkpoint that holds the state the run stopped in, or None when nothing exact
    could be saved (then resuming uses the newest checkpoint already in the folder).
    before_validation: the checkpoint holds the state after ``step`` with that step's
    validation still to run. where: the part of the run the signal came in, when it was not
    during training ("the sanity check", "the end of training", "the test").
    """

    def __init__(
        self,
        signal_name: str,
        step: int,
        saved: str | None,
        before_validation: bool = False,
        where: str = "",
    ) -> None:
        super().__init__(f"{signal_name} received at optimiser step {step}")
        self.signal_name, self.step, self.saved = signal_name, step, saved
        self.before_validation, self.where = before_validation, where


class GracefulStop(L.Callback):
    """On SIGINT/SIGTERM: stop ``fit`` at the next point a checkpoint resumes exactly, save
    ``last.ckpt`` there and raise :class:`StopRequested`, with no validation, test or export.

    - During training: after the current optimiser step (with gradient accumulation, after
      the batch that completes it). If a validation is due after that step, the checkpoint is
      taken as that validation starts, before its first batch; a resumed run runs it first.
    - During a validation inside fit: after the current validation batch, saving the state
      from before this validation (nothing it changes is in a checkpoint); a resumed run runs
      the whole validation again.
    - During the sanity check (no step trained yet): nothing new is saved.
    - Between epochs, right after ``last.ckpt`` was written at the epoch's end: that one
      holds the state; nothing new is saved.
    - After the last step and its validation: saved as training ends (unless ``last.ckpt``
      already holds that state); resuming tests and exports.
    - After training (the test, the export, writing the results): :meth:`guard` keeps the
      handlers installed for the rest of the run; the test stops after its current batch,
      the rest at the next step ``ftcore.run`` checks (:meth:`check`). Nothing is saved:
      ``last.ckpt`` holds the finished training, and resuming tests and exports again.

    Checkpoints are written through :class:`ftcore.checkpointing.LastCheckpoint`, the one
    writer of ``last.ckpt``, which must be among the trainer's callbacks.

    With several processes the ranks agree on stopping at each batch end (any rank's signal
    stops all), so none waits in a collective the others have left.
    """

    def __init__(self, checkpoint_dir: Path) -> None:
        self.checkpoint_dir = checkpoint_dir
        self.signal_name: str | None = None
        self.saved: str | None = None
        self._previous: dict[int, Any] = {}
        self._stop_at_validation = False  # a signal came; stop as the due validation starts
        self._val_progress: dict[str, Any] | None = None  # val counters as a validation began
        # the metrics of the last validation in fit: a run resumed after training had finished
        # validates no more, and reports these
        self.last_validation: dict[str, float] = {}

    def state_dict(self) -> dict[str, Any]:
        return {"last_validation": dict(self.last_validation)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.last_validation = dict(state.get("last_validation", {}))

    # --- signals ------------------------------------------------------------------

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signal_name is None:
            self.signal_name = signal.Signals(signum).name

    def _install(self) -> None:
        """Take SIGINT/SIGTERM over from Lightning (whose SIGTERM handler makes the loops exit
        with status 0 and no resumable state). Called once Lightning has installed its own."""
        if self._previous:
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                return

    def _restore(self) -> None:
        """Put back the handlers found, where ours is still installed (Lightning's teardown
        restores the ones from before fit itself; installing its fit-time handler again after
        that would leave a stale one for the test and export that follow)."""
        for sig, handler in self._previous.items():
            if signal.getsignal(sig) == self._handle:
                signal.signal(sig, handler)
        self._previous = {}

    @contextmanager
    def guard(self) -> Iterator[None]:
        """SIGINT/SIGTERM only noted (:attr:`signal_name`) for the block: ``ftcore.run``
        holds this from before ``fit`` to the end of the run. Lightning's own handlers
        (fit, test) call this one too, and restore it when they finish."""
        outer: dict[int, Any] = {}
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                outer[sig] = signal.signal(sig, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            pass
        try:
            yield
        finally:
            for sig, handler in outer.items():
                signal.signal(sig, handler)

    def check(self, trainer: L.Trainer, where: str) -> None:
        """After training: raise :class:`StopRequested` if a signal came (nothing saved)."""
        if self.signal_name:
            raise StopRequested(self.signal_name, trainer.global_step, None, where=where)

    def _requested(self, trainer: L.Trainer) -> str | None:
        """The signal to stop for, on any rank (ranks must decide together), or None."""
        name = self.signal_name or ("SIGTERM" if trainer.received_sigterm else None)
        if trainer.world_size > 1:
            if trainer.strategy.reduce_boolean_decision(name is not None, all=False):
                return name or "SIGTERM"
            return None
        return name

    # --- where a run can stop -------------------------------------------------------

    def on_sanity_check_start(self, trainer: L.Trainer, module: Any) -> None:
        self._install()  # after Lightning installed its own SIGTERM handler in fit

    def on_train_start(self, trainer: L.Trainer, module: Any) -> None:
        self._install()  # resumed runs and runs without a sanity check start here

    def on_train_epoch_start(self, trainer: L.Trainer, module: Any) -> None:
        name = self._requested(trainer)
        if name is None:
            return
        writer = find_last_checkpoint(trainer)
        if trainer.global_step == 0:  # before the first step (and after the sanity check)
            self._stop(trainer, name, save=False, where="the start of training")
        elif writer.fresh:  # written at the end of the epoch before; nothing ran since
            self._stop(trainer, name, save=False, saved=str(writer.path))
        # else (a resumed run's first epoch): stop after its first step

    def on_train_batch_end(self, trainer: L.Trainer, module: Any, *args: Any) -> None:
        if self._stop_at_validation:
            return
        name = self._requested(trainer)
        if name is None:
            return
        loop = trainer.fit_loop.epoch_loop
        if loop._should_accumulate():
            return  # mid-accumulation: no optimiser step after this batch; stop after the next
        if validation_due(trainer):
            self._stop_at_validation = True  # saved as that validation starts (resumes exactly)
            return
        self._stop(trainer, name, save=True)

    def on_train_batch_start(self, trainer: L.Trainer, module: Any, *args: Any) -> None:
        if self._stop_at_validation:  # the validation expected after the last step did not run
            self._stop(trainer, self.signal_name or "SIGTERM", save=False, where="training")

    def on_train_end(self, trainer: L.Trainer, module: Any) -> None:
        name = self._requested(trainer) or (self.signal_name if self._stop_at_validation else None)
        if name is None:
            return
        # after the last step and its validation: resuming just tests
        writer = find_last_checkpoint(trainer)
        if writer.fresh:  # last.ckpt was written at the last epoch's end; nothing ran since
            self._stop(
                trainer, name, save=False, where="the end of training", saved=str(writer.path)
            )
        self._stop(trainer, name, save=True, where="the end of training")

    def on_validation_start(self, trainer: L.Trainer, module: Any) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return
        progress = trainer.fit_loop.epoch_loop.val_loop.batch_progress.state_dict()
        self._val_progress = progress
        if self._stop_at_validation:
            self._stop(trainer, self.signal_name or "SIGTERM", save=True, before_validation=True)

    def on_validation_batch_end(self, trainer: L.Trainer, module: Any, *args: Any) -> None:
        if trainer.state.fn != "fit":
            return
        name = self._requested(trainer)
        if name is None:
            return
        if trainer.sanity_checking or self._val_progress is None:
            self._stop(trainer, name, save=False, where="the sanity check, before training")
        else:
            self._stop(trainer, name, save=True, before_validation=True)

    def on_validation_end(self, trainer: L.Trainer, module: Any) -> None:
        self._val_progress = None
        if not trainer.sanity_checking and trainer.state.fn == "fit":
            metrics = trainer.callback_metrics
            self.last_validation = {
                k: float(v) for k, v in sorted(metrics.items()) if k.startswith("val/")
            }

    def on_test_batch_end(self, trainer: L.Trainer, module: Any, *args: Any) -> None:
        name = self._requested(trainer)
        if name is not None:  # the test is run again in full when resuming
            raise StopRequested(name, trainer.global_step, None, where="the test")

    def _stop(
        self,
        trainer: L.Trainer,
        name: str,
        save: bool,
        before_validation: bool = False,
        where: str = "",
        saved: str | None = None,
    ) -> None:
        """Raise :class:`StopRequested`; with ``save``, write last.ckpt first. ``saved``:
        a checkpoint that already holds the current state."""
        if save:
            writer = find_last_checkpoint(trainer)
            progress = self._val_progress if before_validation else None
            if before_validation and progress is None:
                raise RuntimeError("GracefulStop: a validation's start was not recorded")
            saved = writer.save(trainer, before_validation=progress)
        self.saved = saved
        self._stop_at_validation = False
        raise StopRequested(name, trainer.global_step, saved, before_validation, where)

    # --- the way out --------------------------------------------------------------

    def on_exception(self, trainer: L.Trainer, module: Any, exception: BaseException) -> None:
        self._restore()

    def on_fit_end(self, trainer: L.Trainer, module: Any) -> None:
        self._restore()
