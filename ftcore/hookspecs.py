"""The ftcore hook specification: every point where a plugin can act.

Plugins implement these with ``@ftcore.hookimpl`` in a module registered under the
``ftcore`` entry-point group. Core calls them only through :class:`ftcore.hooks.Hooks`.

Where each hook fires in ``ftcore run`` (pseudocode); ``head.x`` is a method of the task's
:class:`ftcore.types.Head`, which a head plugin declares through ``ftcore_components``::

    pm = get_plugin_manager()                  # entry points of group "ftcore"
    ftcore_components()                        # names: heads, datasets, models, strategies...
    ftcore_recipe_dirs()                       # where shipped recipes live
    recipe = load + validate (schemas of the components named in the recipe)
    ftcore_check_recipe(recipe)                # cross-section checks (conflicts...)
    head = the "head" component named by recipe.task; options = its head: section
    path = ftcore_resolve_model(model.name)    # bundled model name -> local folder
    raw = ftcore_load_dataset(data.source)     # rows per split
    info = head.data_info(train rows)          # label vocabulary / target statistics
    for each row: head.check_row(row)          # bad rows -> error, or dropped
    features = head.encode(rows)               # tokenise + encode targets (once per split)
    model = head.build_model(path)             # backbone + head, a transformers model
    model = ftcore_transform_model(model)      # every plugin in turn (e.g. LoRA)
    metrics = head.metrics()                   # once per stage (train/val/test)
    callbacks = ftcore_lightning_callbacks()   # strategies and recipe callbacks
    if optim.lr == "auto":
        optim.lr = ftcore_resolve_lr(run)      # e.g. an LR range test on the run's trainer
    ftcore_run_start(run); head.run_start(run) # baselines, bookkeeping
    Trainer.fit:
        configure_optimizers:
            groups = layer groups of the model  # embeddings, block.0 ... head (ftcore.layers)
            ftcore_group_options(groups, recipe, steps)  # merged -> module.optimizer_groups
            optimiser and schedule built by core from module.optimizer_groups
        each batch: head.collate -> head.step -> ftcore_loss_terms
    Trainer.test(best checkpoint): head.step per batch, then
    ftcore_test_end(run, metrics, predictions) # predictions from head.decode
    model = ftcore_export_model(model, run)    # every plugin in turn (merge adapters...)
    model = head.export(model)                 # last (e.g. fold target scaling in)
    head.run_end(run); ftcore_run_end(run, summary)   # reports

Conventions: hooks marked *first result* stop at the first plugin returning a value
other than None (a plugin returns None for a name that is not its own). Hooks
marked *collecting* return the list of every plugin's non-None result. Hooks marked
*fold* are called plugin by plugin, each receiving what the previous one returned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from lightning.pytorch import Callback, LightningModule
    from omegaconf import DictConfig
    from torch import Tensor
    from torch.nn import Module

    from ftcore.run import Run
    from ftcore.types import (
        Batch,
        Command,
        Component,
        DataInfo,
        GroupOptions,
        LayerGroup,
        RawSplits,
        ReportSection,
        StepOutput,
        TrainingSteps,
    )

hookspec = pluggy.HookspecMarker("ftcore")


# --- Discovery -------------------------------------------------------------------


@hookspec
def ftcore_components() -> list[Component]:
    """Declare the named components this plugin provides. *Collecting.*

    Fires when the plugin manager is built and whenever core needs to map a recipe
    name to a plugin (``task``, ``data.source``, ``model.name``, ``strategies.<x>``,
    ``callbacks.<x>``). Return a list of :class:`ftcore.types.Component`; each
    component's ``schema`` (a dataclass) validates its recipe section. A head is a
    component too: ``Component(kind="head", name=TASK, schema=..., impl=MyHead())``, its
    ``impl`` implementing :class:`ftcore.types.Head` (core calls its methods directly). Two plugins
    returning the same kind and name is reported as a conflict naming both.
    """


@hookspec
def ftcore_commands() -> list[Command]:
    """Contribute CLI sub-commands (``ftcore lr-find``, ``ftcore assess``...). *Collecting.*

    Fires when the CLI builds its parser. Return a list of :class:`ftcore.types.Command`.
    Keep module imports light: heavy libraries belong inside ``Command.run``.
    """


@hookspec
def ftcore_recipe_dirs() -> list[str]:
    """Return folders holding recipe YAML files this plugin ships. *Collecting.*

    Fires for ``ftcore recipes`` and whenever a recipe is looked up by name. Each
    entry is a list of directory paths; every ``*.yaml`` inside is a recipe named
    after its file stem.
    """


# --- Recipe -----------------------------------------------------------------------


@hookspec
def ftcore_check_recipe(recipe: DictConfig) -> list[str]:
    """Check a recipe across sections after schema validation. *Collecting.*

    recipe: the validated, resolved recipe (an omegaconf ``DictConfig``, read-only).
    Return a list of problems, each ``"dotted.path: what is wrong; how to fix"``
    (an empty list when satisfied). Fires in ``ftcore validate`` and before every
    run; any problem stops the run with exit code 2. Checks of the ``head:`` section
    belong in the head's ``check`` method, which core calls for the recipe's task only.
    """


# --- Model and data set-up ------------------------------------------------------------


@hookspec(firstresult=True)
def ftcore_resolve_model(name: str, cache_dir: str) -> str | None:
    """Map a bundled model name to a local Hugging Face folder. *First result.*

    name: the recipe's ``model.name``. cache_dir: a writable folder for converted
    weights. Return the folder path, or None if the name is not yours. Fires once per
    run, before the model is built, only when ``model.name`` is not a local folder.
    """


@hookspec(firstresult=True)
def ftcore_load_dataset(name: str, options: DictConfig, seed: int) -> RawSplits | None:
    """Load the rows of dataset ``name`` already split. *First result.*

    options: the recipe's ``data.options`` validated against the dataset's schema.
    seed: the recipe seed, for seeded splits. Return :class:`ftcore.types.RawSplits`
    with ``train``, ``validation`` and ``test`` splits, or None if ``name`` is not
    yours. Raise :class:`ftcore.errors.UserError` for unreadable input.
    """


@hookspec
def ftcore_transform_model(model: Module, recipe: DictConfig) -> Module | None:
    """Wrap or modify the built model. *Fold.*

    Called plugin by plugin after the head's ``build_model``; each receives the model the
    previous plugin returned. Return a replacement module, or None to keep ``model``
    (in-place changes such as freezing are fine). Adapters (LoRA) hook in here.
    """


@hookspec
def ftcore_group_options(
    groups: list[LayerGroup], recipe: DictConfig, steps: TrainingSteps
) -> dict[str, GroupOptions]:
    """Set optimiser options per layer group. *Collecting.*

    Fires in ``configure_optimizers`` (once per optimiser built, before ``on_fit_start``).
    groups: the model's :class:`ftcore.types.LayerGroup` list, bottom to top
    (``embeddings``, ``block.0`` ... ``head``), discovered once by core (a strategy
    option ``groups:``, name -> regex, names them instead; empty if none were found).
    recipe: the validated recipe. steps: :class:`ftcore.types.TrainingSteps`, the run's
    length in optimiser steps (to turn epochs into steps).

    Return ``{group name: GroupOptions}`` (learning-rate factor, start step, warm-up
    steps, weight decay; None fields are not set), or an empty dict when your strategy
    is not enabled. Core merges every plugin's options, one value per field and group
    (two plugins setting the same field of a group is an error naming both), then builds
    the optimiser's parameter groups, two per layer group (``<group>`` and
    ``<group>.no_decay``: no weight decay on biases and norms), and the schedule. With no
    options from any plugin, there are two groups, ``decay`` and ``no_decay``, at
    ``optim.lr``. Callbacks read the result from ``pl_module.optimizer_groups``.
    Discriminative learning rates and gradual unfreezing hook in here.
    """


@hookspec
def ftcore_lightning_callbacks(recipe: DictConfig, run: Run) -> list[Callback]:
    """Contribute Lightning callbacks to the Trainer. *Collecting.*

    Fires once per run before the Trainer is built. Each plugin returns a list of
    ``lightning.pytorch.Callback`` instances (empty when its strategy or callback is
    not enabled in ``recipe``). Stateful strategies keep their state in the callback
    (``state_dict``/``load_state_dict``) so resume restores it.
    """


# --- Training ------------------------------------------------------------------------------


@hookspec
def ftcore_loss_terms(
    module: LightningModule, batch: Batch, output: StepOutput
) -> list[tuple[str, Tensor]]:
    """Add terms to the training loss. *Collecting.*

    Fires for every training batch after the head's ``step``. module: the ftcore
    LightningModule (see docs/api.md for the attributes it has). Return a list of
    ``(name, scalar tensor)`` pairs; core adds them to the task loss and logs each as
    ``train/<name>``. Regularisers (L2, L2-SP) hook in here.
    """


@hookspec
def ftcore_report_sections(run: Run, summary: dict[str, Any]) -> list[ReportSection]:
    """Contribute sections to the run report. *Collecting.*

    Fires when the report is written at the end of a run (e.g. a strategy adds its
    unfreezing events). Return a list of :class:`ftcore.types.ReportSection`.
    """


# --- Export ---------------------------------------------------------------------------


@hookspec
def ftcore_export_model(
    model: Module, task: str, info: DataInfo, recipe: DictConfig, run_dir: str, run: Run
) -> Module | None:
    """Prepare the model that gets exported to ``model/``. *Fold.*

    Called plugin by plugin after testing, on the best checkpoint's weights, before the
    head's own ``export``. run: the :class:`ftcore.api.Run` (``task``, ``info``,
    ``recipe`` and ``run_dir`` are its fields, kept for existing plugins). Return a
    replacement module (e.g. adapters merged in), or None to keep ``model``. A plugin may
    write extra artefacts under ``run_dir`` (e.g. ``adapter/``).
    """


# --- Run lifecycle -----------------------------------------------------------------------


@hookspec(firstresult=True)
def ftcore_resolve_lr(run: Run) -> float | None:
    """Pick the learning rate for ``optim.lr: auto``. *First result.*

    Fires once per run, only when the recipe's ``optim.lr`` is ``auto``: after the
    Trainer is built (``run.trainer``, ``run.module``, ``run.datamodule`` are set up,
    nothing has trained) and before ``ftcore_run_start``. Return the rate (a positive
    float), or None to leave it to another plugin. Core puts it in
    ``run.recipe.optim.lr`` (so the optimiser, ``ftcore_run_start`` and the report see
    the number; ``recipe.yaml`` keeps ``auto``); no answer is an error. Leave the model,
    optimiser and RNG states as you found them. The LR finder hooks in here.
    """


@hookspec
def ftcore_run_start(run: Run) -> None:
    """The run is set up and about to fit. *Notification.*

    run: :class:`ftcore.api.Run` (recipe, run_dir, head, head_options, info, tokenizer,
    datamodule, module, trainer). Baselines are evaluated here. Return value ignored.
    """


@hookspec
def ftcore_test_end(run: Run, metrics: dict[str, float], predictions: list[dict]) -> None:
    """The test split was evaluated with the best checkpoint. *Notification.*

    metrics: ``{"test/accuracy": ...}``. predictions: one decoded dict per test
    example in split order (the head's ``decode``), each with the example's ``target`` added.
    """


@hookspec
def ftcore_run_end(run: Run, summary: dict[str, Any]) -> None:
    """The run directory is complete (metrics, model exported). *Notification.*

    summary: what ``metrics.json`` holds. Reports are written here.
    """
