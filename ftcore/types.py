"""Public value types exchanged between ftcore core and its plugins.

Nothing here imports torch: these types are used by start-up paths
(``ftcore recipes``, ``ftcore validate``) that must stay fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

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


@dataclass
class RawSplits:
    """Rows of a dataset, already split, as returned by ``ftcore_load_dataset``.

    splits: ``{"train": [...], "validation": [...], "test": [...]}``; each row is a
        dict with at least ``text`` and, for supervised heads, ``label``.
    origin: where each split came from (a file path or package resource) so
        that row errors can name it.
    row_numbers: optional per split, the 1-based source row of each row (for
        error messages); defaults to the position in the split.
    """

    splits: dict[str, list[Row]]
    origin: dict[str, str] = field(default_factory=dict)
    row_numbers: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class DataInfo:
    """What a head learned from the training split (label vocabulary, target stats).

    Built once by ``ftcore_data_info``; saved with the run so that ``predict`` and
    the exported model agree with training.
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
    """What a head returns for one batch (``ftcore_step``).

    loss: the task loss (a scalar tensor).
    preds / target: tensors in the form the head's metrics take in ``update``.
    extra: anything else evaluation plugins may want (logits, per-example loss).
    """

    loss: Any
    preds: Any = None
    target: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


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
