"""Run safety: non-finite losses and gradients, and graceful stop on SIGINT/SIGTERM."""

from __future__ import annotations

import math
import signal
from pathlib import Path
from typing import Any

import lightning as L
import torch

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


class GracefulStop(L.Callback):
    """On SIGINT/SIGTERM: finish the current step, save last.ckpt, stop training."""

    def __init__(self, checkpoint_dir: Path) -> None:
        self.checkpoint_dir = checkpoint_dir
        self.signal_name: str | None = None
        self.saved: str | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        self.signal_name = signal.Signals(signum).name

    def on_train_start(self, trainer: L.Trainer, module: Any) -> None:
        # after Lightning installed its own SIGTERM handler (which exits the process)
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                return

    def on_train_batch_end(self, trainer: L.Trainer, module: Any, *args: Any) -> None:
        if self.signal_name and self.saved is None:
            path = self.checkpoint_dir / "last.ckpt"
            trainer.save_checkpoint(path)
            self.saved = str(path)
            trainer.should_stop = True

    def on_fit_end(self, trainer: L.Trainer, module: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}
