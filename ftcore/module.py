"""The ftcore LightningModule: a transformers model whose task logic lives in plugins."""

from __future__ import annotations

import random
from typing import Any

import lightning as L
import torch

from ftcore.api import value
from ftcore.optimizer import (
    NO_DECAY,
    optimizer_plan,
    plan,
    torch_groups,
    training_steps,
)
from ftcore.safety import check_loss, clip_and_check
from ftcore.types import DataInfo, Head, LayerGroup, OptimizerGroup

STAGES = ("train", "val", "test")
TRAIN_METRIC_BATCHES = 16  # training batches gathered before one train-metric update
_NO_DECAY = NO_DECAY  # biases and norms: no weight decay (see ftcore.optimizer)


class FtModule(L.LightningModule):
    """Runs the head's ``step`` per batch, adds ``ftcore_loss_terms``, logs its metrics.

    Set when the optimiser is built (``configure_optimizers``, before ``on_fit_start``):
    ``layer_groups``, the model's :class:`ftcore.types.LayerGroup` list (bottom to top;
    empty if none were found), and ``optimizer_groups``, the optimiser's parameter groups
    as :class:`ftcore.types.OptimizerGroup` (in optimiser order, with the learning rate,
    start step and warm-up core built them with).

    Attributes a callback may use: ``model`` (the task model), ``recipe``, ``hooks``,
    ``info`` (:class:`DataInfo`), ``task``, ``head`` and ``head_options``, ``metrics``
    (``train_metrics``/``val_metrics``/``test_metrics``) and ``test_outputs`` (decoded
    test predictions with ``target``, after the test).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        recipe: Any,
        hooks: Any,
        info: DataInfo,
        head: Head[Any] | None = None,
        options: Any = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.recipe = recipe
        self.hooks = hooks
        self.info = info
        self.task = recipe.task
        if head is None:
            head, options = hooks.head(recipe.task), hooks.head_options(recipe)
        self.head, self.head_options = head, options
        self.metrics = torch.nn.ModuleDict(
            {  # keys must not shadow Module.train
                f"{stage}_metrics": head.metrics(info=info, options=options) for stage in STAGES
            }
        )
        self.test_outputs: list[dict] = []
        self._train_batches: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.layer_groups: list[LayerGroup] = []
        self.optimizer_groups: list[OptimizerGroup] = []

    # --- steps ------------------------------------------------------------------

    def _step(self, batch: Any, stage: str) -> Any:
        return self.head.step(
            model=self.model, batch=batch, info=self.info, options=self.head_options, stage=stage
        )

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor | None:
        out = self._step(batch, "train")
        loss = out.loss
        size = len(out.target) if out.target is not None else None
        terms = self.hooks.loss_terms(module=self, batch=batch, output=out)
        for _, term in terms:
            loss = loss + term
        if not check_loss(loss, self):
            return None  # on_nonfinite=skip: Lightning skips backward and the update
        if _logging_step(self.trainer):  # the loggers only write these on logging steps
            self.log("train/task_loss", out.loss, batch_size=size)
            for name, term in terms:
                self.log(f"train/{name}", term, batch_size=size)
        if self.trainer.progress_bar_callback is not None or _logging_step(self.trainer):
            self.log("train/loss", loss, prog_bar=True, batch_size=size)
        if out.preds is not None:
            self._train_batches.append((out.preds.detach(), out.target))
            if len(self._train_batches) >= TRAIN_METRIC_BATCHES:
                self._update_train_metrics()
        return loss

    def _update_train_metrics(self) -> None:
        """One metric update for many batches: per-batch updates cost a few % of a small step."""
        if self._train_batches:
            preds, targets = zip(*self._train_batches)
            self.metrics["train_metrics"].update(torch.cat(preds), torch.cat(targets))
            self._train_batches = []

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        out = self._step(batch, "val")
        self.log("val/loss", out.loss, prog_bar=True, batch_size=_size(out), sync_dist=True)
        if out.preds is not None:
            self.metrics["val_metrics"].update(out.preds, out.target)

    def test_step(self, batch: Any, batch_idx: int) -> None:
        out = self._step(batch, "test")
        self.log("test/loss", out.loss, batch_size=_size(out), sync_dist=True)
        if out.preds is not None:
            self.metrics["test_metrics"].update(out.preds, out.target)
        decoded = self.head.decode(output=out, info=self.info, options=self.head_options)
        targets = out.target.tolist() if out.target is not None else [None] * len(decoded)
        for row, target in zip(decoded, targets):
            self.test_outputs.append({**row, "target": target})

    # --- exact resume: RNG states travel with the checkpoint ----------------------

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # a resumed run that saves before its first step (it validated first, or stopped)
        # still holds the loaded states, not yet applied: those are the run's
        pending = getattr(self, "_pending_rng", None)
        current = {"torch": torch.get_rng_state(), "python": random.getstate()}
        checkpoint["ftcore_rng"] = pending if pending is not None else current

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self._pending_rng = checkpoint.get("ftcore_rng")

    def on_train_start(self) -> None:
        # Lightning hands saved loader positions to the train loader only when it builds that
        # loader after restoring the checkpoint, but configure_optimizers' use of
        # estimated_stepping_batches built it before; hand them over now.
        self.trainer.fit_loop._load_combined_loader_states()

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        state = getattr(self, "_pending_rng", None)
        if state is not None:  # restore just before the first resumed step, as when saved
            torch.set_rng_state(state["torch"])
            random.setstate(_as_tuple(state["python"]))
            self._pending_rng = None

    # --- epoch ends: compute and log metrics -------------------------------------

    def _log_metrics(self, stage: str) -> None:
        collection = self.metrics[f"{stage}_metrics"]
        if not _updated(collection):
            return
        values = collection.compute()
        self.log_dict(
            {f"{stage}/{k}": v for k, v in values.items()},
            sync_dist=True,
            prog_bar=(stage == "val"),
        )
        collection.reset()

    def on_train_epoch_end(self) -> None:
        self._update_train_metrics()
        self._log_metrics("train")

    def on_validation_epoch_end(self) -> None:
        self._log_metrics("val")

    def on_test_epoch_start(self) -> None:
        self.test_outputs = []

    def on_test_epoch_end(self) -> None:
        self._log_metrics("test")
        self.test_outputs = gather_in_order(self.test_outputs, self.trainer)

    # --- optimisation -------------------------------------------------------------

    def configure_gradient_clipping(
        self, optimizer: Any, gradient_clip_val: Any = None, gradient_clip_algorithm: Any = None
    ) -> None:
        # one gradient norm per step serves both the NaN guard and clipping
        if not clip_and_check(self, optimizer, gradient_clip_val):
            super().configure_gradient_clipping(
                optimizer, gradient_clip_val, gradient_clip_algorithm
            )

    def configure_optimizers(self) -> Any:
        optim = self.recipe.optim
        steps = training_steps(self.trainer)
        self.layer_groups, self.optimizer_groups = optimizer_plan(
            self.model, self.recipe, self.hooks, steps
        )
        groups = torch_groups(self.model, self.optimizer_groups)
        # A fused AdamW unscales 16-mixed gradients itself, so Lightning cannot clip them first
        scaled = getattr(self.trainer.precision_plugin, "scaler", None) is not None
        fused = bool(optim.fused) and not (scaled and self.trainer.gradient_clip_val)
        optimizer = build_optimizer(groups, optim, fused=fused)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {
                "scheduler": self._scheduler(optimizer, steps.total),
                "interval": "step",
            },
        }

    def _scheduler(self, optimizer: torch.optim.Optimizer, total: int) -> Any:
        optim = self.recipe.optim
        if value(optim.schedule) == "one_cycle":
            peaks = [g["lr"] for g in optimizer.param_groups]
            return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=peaks, total_steps=total)
        from ftcore.schedules import lambdas

        warmup = optim.warmup_steps or int(optim.warmup_ratio * total)
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambdas(self.optimizer_groups, total, warmup, value(optim.schedule))
        )


def _as_tuple(state: Any) -> tuple:
    """random.getstate() comes back from a checkpoint with lists for tuples."""
    return tuple(_as_tuple(s) if isinstance(s, list) else s for s in state)


def gather_in_order(rows: list[dict], trainer: Any) -> list[dict]:
    """Every rank's test rows, in dataset order (all ranks get them); as is in one process.

    Lightning's DistributedSampler gives rank r the examples r, r + W, r + 2W... and pads
    the last round with repeats of the first examples; those repeats are dropped.
    """
    import torch.distributed as dist

    world = trainer.world_size
    if world < 2 or not (dist.is_available() and dist.is_initialized()):
        return rows
    shards: list[Any] = [None] * world
    dist.all_gather_object(shards, rows)
    loader = trainer.test_dataloaders
    loader = loader[0] if isinstance(loader, (list, tuple)) else loader
    total = len(loader.dataset)
    ordered = [shard[i] for i in range(len(shards[0])) for shard in shards if i < len(shard)]
    return ordered[:total]


def _logging_step(trainer: Any) -> bool:
    """Whether Lightning writes the loggers after this training step (log_every_n_steps)."""
    connector = getattr(trainer, "_logger_connector", None)
    return bool(getattr(connector, "should_update_logs", True))


def _size(out: Any) -> int | None:
    return len(out.target) if out.target is not None else None


def _updated(collection: Any) -> bool:
    return any(getattr(m, "update_count", 0) for m in collection.values())


def default_param_groups(model: torch.nn.Module, lr: float, weight_decay: float) -> list[dict]:
    """Trainable parameters at one learning rate; no weight decay on biases and norms."""
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    return torch_groups(model, plan(names, [], {}, lr, weight_decay))


def build_optimizer(
    groups: list[dict], optim: Any, fused: bool | None = None
) -> torch.optim.Optimizer:
    if value(optim.optimizer) == "sgd":
        return torch.optim.SGD(groups, lr=optim.lr, momentum=0.9)
    fused = bool(optim.fused) if fused is None else fused
    return torch.optim.AdamW(groups, lr=optim.lr, weight_decay=optim.weight_decay, fused=fused)
