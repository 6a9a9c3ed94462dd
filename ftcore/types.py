"""Public value types exchanged between ftcore core and its plugins.

Nothing here imports torch: these types are used by start-up paths
(``ftcore recipes``, ``ftcore validate``) that must stay fast.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from omegaconf import DictConfig
    from torch.nn import Module
    from torchmetrics import MetricCollection

    from ftcore.run import Run

ComponentKind = Literal["head", "dataset", "model", "strategy", "callback", "evaluation"]

Row = dict[str, Any]
"""One example as a plain dict: ``{"text": ..., "label": ...}`` (heads define the keys)."""


@dataclass(frozen=True)
class Component:
    """Something a plugin contributes under a name a recipe can use.

    kind: what it is (``head`` for ``task:``, ``dataset`` for ``data.source``,
        ``model`` for ``model.name``, ``strategy`` for a key of ``strategies:``,
        ``callback`` for a key of ``callbacks:``, ``evaluation`` for the
        ``evaluation:`` section; at most one evaluation component is installed).
    name: the name recipes use; unique per kind across all plugins.
    schema: a dataclass type describing the component's own recipe section
        (``head:``, ``data.options``, ``strategies.<name>``, ``callbacks.<name>``),
        or None when it takes no options.
    impl: what the component is, for kinds that are objects rather than hooks: a head
        (``kind="head"``) gives its :class:`Head` here; None for the other kinds.
    description: one line shown by ``ftcore plugins`` and the docs.
    details: free-form facts for listings (licence, size, architecture...).
    conflicts / requires: names of strategies this one cannot run with / needs.
    """

    kind: ComponentKind
    name: str
    schema: type | None = None
    description: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    conflicts: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    impl: Any = None


@dataclass
class RawSplits:
    """Rows of a dataset, already split, as returned by ``ftcore_load_dataset``.

    splits: ``{"train": [...], "validation": [...], "test": [...]}``; each row is a
        dict with at least ``text`` and, for supervised heads, ``label``. A split may
        instead be a ``datasets.Dataset`` whose columns are those keys: core then keeps
        it in Arrow (checks, subsets and encoding through ``Dataset.map``/``select``;
        see :mod:`ftcore.data.arrow`) and never turns it into a list.
    origin: where each split came from (a file path or package resource) so
        that row errors can name it.
    row_numbers: optional per split, the 1-based source row of each row (for
        error messages; any integer sequence, e.g. a numpy array); defaults to the
        position in the split.
    num_proc: processes for ``Dataset.map`` over Arrow splits (ignored for lists).
    """

    splits: dict[str, Sequence[Row]]
    origin: dict[str, str] = field(default_factory=dict)
    row_numbers: dict[str, Sequence[int]] = field(default_factory=dict)
    num_proc: int = 1


@dataclass
class DataInfo:
    """What a head learned from the training split (label vocabulary, target stats).

    Built once by :meth:`Head.data_info`; saved with the run (``model/ftcore_data_info.json``)
    so that ``predict`` and the exported model agree with training. ``extra`` holds learned
    facts only (target statistics, class weights); the head's options are not copied in:
    every :class:`Head` method receives them.
    """

    task: str
    labels: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "labels": list(self.labels), "extra": dict(self.extra)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataInfo:
        return cls(task=data["task"], labels=list(data["labels"]), extra=dict(data["extra"]))


@dataclass
class StepOutput:
    """What a head returns for one batch (:meth:`Head.step`).

    loss: the task loss (a scalar tensor).
    preds / target: tensors in the form the head's metrics take in ``update``.
    extra: anything else evaluation plugins may want (logits, per-example loss).
    """

    loss: Any
    preds: Any = None
    target: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


# --- heads --------------------------------------------------------------------------------

OptionsT = TypeVar("OptionsT", contravariant=True)
"""The head's options: an instance of the head's schema dataclass (the ``head:`` section)."""

Batch = dict[str, Any]
"""A collated batch: tensors by name (``input_ids``, ``attention_mask``, ``labels``...)."""


@dataclass(frozen=True)
class Monitor:
    """A head's checkpoint policy and the metrics it logs (:meth:`Head.monitor`).

    metric / mode: the validation metric that picks the best checkpoint when the recipe
        names none (``checkpoint.monitor``), and whether lower (``"min"``) or higher
        (``"max"``) is better.
    logged: every metric name the head's :meth:`Head.metrics` collection makes ftcore log
        (without stage prefix; a name may be a pattern like ``f1_*``) -> ``"min"``/``"max"``.
        Core checks ``checkpoint.monitor``/``checkpoint.mode`` against them.
    """

    metric: str = "val/loss"
    mode: Literal["min", "max"] = "min"
    logged: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class Head(Protocol[OptionsT]):
    """A task head: turns rows into batches, builds the model, computes loss, metrics and
    readable predictions, and evaluates them. ``task: <name>`` in a recipe picks the head
    a plugin declares with ``Component(kind="head", name=..., schema=..., impl=MyHead())``.

    Core looks the head up once per run or command and calls its methods with keyword
    arguments. Every method receives ``options``: the ``head:`` section as an instance of
    the head's schema dataclass (``OmegaConf.to_object``), or None for a head without a
    schema. The optional methods (text_key, monitor, check, export, run_start, run_end,
    baseline, error_analysis, forgetting) have their defaults here: derive from
    :class:`BaseHead` (or from ``Head`` itself) to inherit them.
    Keep torch, transformers and torchmetrics imports inside the methods.
    """

    # --- data -------------------------------------------------------------------------

    def data_info(self, *, rows: list[Row], options: OptionsT) -> DataInfo:
        """Learn the data facts from the training rows (label vocabulary, target
        statistics); fires once per run, before row checks. Saved with the export."""
        ...

    def check_row(self, *, row: Row, info: DataInfo, options: OptionsT) -> str | None:
        """What is wrong with one row of any split (core adds file and row number), or
        None. Core has already rejected rows with missing or empty text."""
        ...

    def text_key(self, *, options: OptionsT) -> str:
        """The row field holding the text core checks and normalises (``"text"``)."""
        return "text"

    def encode(
        self,
        *,
        rows: list[Row],
        tokenizer: Any,
        max_length: int,
        info: DataInfo,
        options: OptionsT,
    ) -> dict[str, list[Any]]:
        """Tokenise rows and encode their targets: equal-length columns (``input_ids``,
        ``labels``...), unpadded. Fires once per split; the result is cached on disk
        (``data.cache_tokenized``), keyed by tokenizer, rows, options and data info."""
        ...

    def collate(
        self, *, features: list[dict[str, Any]], tokenizer: Any, info: DataInfo, options: OptionsT
    ) -> Batch:
        """Pad encoded examples into a batch of tensors; fires in the DataLoader."""
        ...

    # --- model ------------------------------------------------------------------------

    def build_model(
        self, *, model_path: str, info: DataInfo, options: OptionsT, trust_remote_code: bool
    ) -> Module:
        """The pretrained backbone (a local Hugging Face folder) plus the head, normally a
        transformers ``PreTrainedModel`` with what ``predict`` needs in its config."""
        ...

    def step(
        self, *, model: Module, batch: Batch, info: DataInfo, options: OptionsT, stage: str
    ) -> StepOutput:
        """One batch: loss (None without targets, as in ``"predict"``), ``preds`` and
        ``target`` for the metrics. ``stage``: train, val, test or predict."""
        ...

    def metrics(self, *, info: DataInfo, options: OptionsT) -> MetricCollection:
        """A ``torchmetrics.MetricCollection`` updated with ``(preds, target)``; built once
        per stage, logged as ``train/<name>``, ``val/<name>``, ``test/<name>``."""
        ...

    def decode(self, *, output: StepOutput, info: DataInfo, options: OptionsT) -> list[Row]:
        """Readable predictions, one dict per example (``predictions.json``, ``predict``)."""
        ...

    def monitor(self, *, options: OptionsT) -> Monitor:
        """The default checkpoint metric and mode, and the metric names the head logs."""
        return Monitor()

    def check(self, *, recipe: DictConfig, options: OptionsT) -> list[str]:
        """Problems of the validated recipe for this head, ``"head.x: what; how to fix"``;
        core adds the ``checkpoint.monitor`` check from :meth:`monitor`."""
        return []

    def export(self, *, model: Module, info: DataInfo, options: OptionsT, run: Run) -> Module:
        """The model to save to ``model/``, after the ``ftcore_export_model`` plugins."""
        return model

    # --- run lifecycle ----------------------------------------------------------------

    def run_start(self, *, run: Run, options: OptionsT) -> None:
        """The run is set up and about to fit (after the ``ftcore_run_start`` hooks)."""
        return None

    def run_end(self, *, run: Run, options: OptionsT, summary: dict[str, Any]) -> None:
        """The run folder is complete (before the ``ftcore_run_end`` hooks)."""
        return None

    # --- evaluation (used by evaluation plugins) --------------------------------------

    def score(
        self, *, predictions: list[Row], info: DataInfo, options: OptionsT
    ) -> dict[str, float]:
        """Test metrics (no stage prefix) from decoded predictions with ``target`` added; a
        pure function (evaluation plugins bootstrap it)."""
        ...

    def baseline(self, *, run: Run, options: OptionsT) -> dict[str, list[Row]] | None:
        """Test-split predictions without fine-tuning, by baseline name (majority class,
        linear probe), shaped like :meth:`decode` plus ``target``; None for none."""
        return None

    def error_analysis(
        self,
        *,
        predictions: list[Row],
        rows: list[Row],
        info: DataInfo,
        options: OptionsT,
        out_dir: str,
    ) -> list[ReportSection]:
        """Report sections about the test errors; files may be written under ``out_dir``."""
        return []

    def forgetting(self, *, run: Run, model: Module, options: OptionsT) -> dict[str, Any] | None:
        """How well ``model`` (pretrained or fine-tuned) still serves outside the task:
        named scores with per-example values; None when it does not apply."""
        return None


class BaseHead(Head[OptionsT]):
    """A :class:`Head` with the optional methods' defaults, written once in the protocol:
    text in ``"text"``, no recipe checks, ``val/loss`` monitored, export unchanged, no
    lifecycle work, no baseline, forgetting or error analysis. A head overrides
    data_info, check_row, encode, collate, build_model, step, metrics, decode and score
    (and monitor to pick a metric)."""


@dataclass(frozen=True)
class Command:
    """A CLI sub-command contributed by a plugin through ``ftcore_commands``.

    name: the sub-command (``ftcore <name>``). help: one line for ``ftcore --help``.
    add_arguments: called with the sub-command's ``argparse.ArgumentParser``.
    run: called with the parsed ``argparse.Namespace``; returns the exit code. Raise
        :class:`ftcore.errors.UserError` for user mistakes (exit code 2, one line).
    """

    name: str
    help: str
    add_arguments: Callable[[Any], None]
    run: Callable[[Any], int]


@dataclass
class ReportSection:
    """A section of a run report: a title, Markdown text and images.

    images: ``{file name: PNG bytes}``; the Markdown report links them, the HTML report
    embeds them.
    """

    title: str
    markdown: str = ""
    images: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class LayerGroup:
    """A layer group of the model being trained: the embeddings, one block, or the head.

    Core discovers the groups once, when the optimiser is built (see
    :func:`ftcore.layers.discover`), and passes them, bottom to top, to
    ``ftcore_group_options``. name: ``embeddings``, ``block.0``, ``block.1`` ... ``head``,
    or the names of a recipe's ``groups:`` mapping. params: the names of the group's
    trainable parameters (as ``model.named_parameters()`` gives them), in model order.
    """

    name: str
    params: tuple[str, ...]


@dataclass(frozen=True)
class GroupOptions:
    """What a strategy sets for one layer group's optimiser settings (``ftcore_group_options``).

    None means "not set by this plugin". Core merges every plugin's options (two plugins
    setting the same field of the same group is an error naming both) and fills what no
    plugin set: ``lr_factor`` 1, ``start_step`` 0, ``warmup_steps`` 0, ``weight_decay``
    ``optim.weight_decay``.

    lr_factor: the group's peak learning rate is ``optim.lr * lr_factor``.
    start_step: the optimiser step at which the group starts training: before it, its
        learning rate is 0 (use :data:`NEVER` for a group that stays frozen).
    warmup_steps: from ``start_step``, the group's rate ramps up linearly over this many
        steps (on top of the recipe's schedule).
    weight_decay: the group's weight decay (biases and norms always get none).
    """

    lr_factor: float | None = None
    start_step: int | None = None
    warmup_steps: int | None = None
    weight_decay: float | None = None


NEVER = 2**62
"""The ``start_step`` of a layer group that stays frozen for the whole run."""


@dataclass(frozen=True)
class TrainingSteps:
    """How long training is, in optimiser steps, as the optimiser is built.

    total: optimiser steps of the whole run (Lightning's estimate: max_steps or epochs).
    per_epoch: optimiser steps in one training epoch, or None when the training set
        has no known length.
    """

    total: int
    per_epoch: int | None = None


@dataclass(frozen=True)
class OptimizerGroup:
    """One parameter group of the optimiser, as core built it (in optimiser order).

    A Lightning callback reads them from the LightningModule's ``optimizer_groups``
    (``pl_module.optimizer_groups``), set when the optimiser is built; their parameters
    are ``pl_module.model``'s. With no strategy options there are two groups, ``decay``
    and ``no_decay``; otherwise each layer group gives ``<group>`` and
    ``<group>.no_decay`` (biases and norms, no weight decay).

    name: the group's name (``lr-AdamW/<name>`` in the logs). params: parameter names.
    lr: the peak learning rate (what the schedule multiplies). weight_decay: its decay.
    layer_group: the :class:`LayerGroup` it belongs to, or None for core's default groups.
    start_step / warmup_steps: from :class:`GroupOptions` (0 when not set).
    """

    name: str
    params: tuple[str, ...]
    lr: float
    weight_decay: float
    layer_group: str | None = None
    start_step: int = 0
    warmup_steps: int = 0
