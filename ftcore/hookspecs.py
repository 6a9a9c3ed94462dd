"""The ftcore hook specification: every point where a plugin can act.

Plugins implement these with ``@ftcore.hookimpl`` in a module registered under the
``ftcore`` entry-point group. Core calls them only through :class:`ftcore.hooks.Hooks`.

Where each hook fires in ``ftcore run`` (pseudocode)::

    pm = get_plugin_manager()                  # entry points of group "ftcore"
    ftcore_components()                        # names: heads, datasets, models, strategies...
    ftcore_recipe_dirs()                       # where shipped recipes live
    recipe = load + validate (schemas of the components named in the recipe)
    ftcore_check_recipe(recipe)                # cross-section checks (conflicts...)
    path = ftcore_resolve_model(model.name)    # bundled model name -> local folder
    raw = ftcore_load_dataset(data.source)     # rows per split
    info = ftcore_data_info(task, train rows)  # label vocabulary / target statistics
    for each row: ftcore_check_row(task, row)  # bad rows -> error, or dropped
    features = ftcore_encode(task, rows)       # tokenise + encode targets (once per split)
    model = ftcore_build_model(task, path)     # backbone + head, a transformers model
    model = ftcore_transform_model(model)      # every plugin in turn (e.g. LoRA)
    metrics = ftcore_build_metrics(task)       # once per stage (train/val/test)
    callbacks = ftcore_lightning_callbacks()   # strategies and recipe callbacks
    if optim.lr == "auto":
        optim.lr = ftcore_resolve_lr(run)      # e.g. an LR range test on the run's trainer
    ftcore_run_start(run)                      # baselines, bookkeeping
    Trainer.fit:
        configure_optimizers:
            groups = layer groups of the model  # embeddings, block.0 ... head (ftcore.layers)
            ftcore_group_options(groups, recipe, steps)  # merged -> module.optimizer_groups
            optimiser and schedule built by core from module.optimizer_groups
        each batch: ftcore_collate -> ftcore_step -> ftcore_loss_terms
    Trainer.test(best checkpoint): ftcore_step per batch, then
    ftcore_test_end(run, metrics, predictions) # predictions from ftcore_decode
    model = ftcore_export_model(model)         # every plugin in turn (merge adapters...)
    ftcore_run_end(run, summary)               # reports

Conventions: hooks marked *first result* stop at the first plugin returning a value
other than None (a head plugin returns None for a ``task`` that is not its own). Hooks
marked *collecting* return the list of every plugin's non-None result. Hooks marked
*fold* are called plugin by plugin, each receiving what the previous one returned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from ftcore.types import (
        Command,
        Component,
        DataInfo,
        GroupOptions,
        LayerGroup,
        RawSplits,
        ReportSection,
        Row,
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
    component's ``schema`` (a dataclass) validates its recipe section. Two plugins
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
def ftcore_check_recipe(recipe: Any) -> list[str]:
    """Check a recipe across sections after schema validation. *Collecting.*

    recipe: the validated, resolved recipe (an omegaconf ``DictConfig``, read-only).
    Return a list of problems, each ``"dotted.path: what is wrong; how to fix"``
    (an empty list when satisfied). Fires in ``ftcore validate`` and before every
    run; any problem stops the run with exit code 2.
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
def ftcore_load_dataset(name: str, options: Any, seed: int) -> RawSplits | None:
    """Load the rows of dataset ``name`` already split. *First result.*

    options: the recipe's ``data.options`` validated against the dataset's schema.
    seed: the recipe seed, for seeded splits. Return :class:`ftcore.types.RawSplits`
    with ``train``, ``validation`` and ``test`` splits, or None if ``name`` is not
    yours. Raise :class:`ftcore.errors.UserError` for unreadable input.
    """


@hookspec(firstresult=True)
def ftcore_data_info(task: str, train_rows: list[Row], head_config: Any) -> DataInfo | None:
    """Learn the head's data facts from the training split. *First result.*

    Fires once per run after loading, before row checks. For classification this is
    the ordered label vocabulary; for regression the target statistics. Return
    :class:`ftcore.types.DataInfo`, or None if ``task`` is not yours.
    """


@hookspec(firstresult=True)
def ftcore_check_row(task: str, row: Row, info: DataInfo) -> str | None:
    """Check one row of any split. *First result.*

    Return a short description of what is wrong (e.g. ``"label 'x' is not one of
    the training labels"``), or None if the row is valid. Core adds file and row
    number and either fails or drops the row (``data.on_invalid``). Core itself
    already rejects missing or empty text before this hook.
    """


@hookspec(firstresult=True)
def ftcore_encode(
    task: str, rows: list[Row], tokenizer: Any, max_length: int, info: DataInfo, head_config: Any
) -> dict[str, list] | None:
    """Tokenise a batch of rows and encode their targets. *First result.*

    Fires once per split (results are cached in memory), after row checks. Return
    column lists of equal length (``input_ids``, ``attention_mask``, ``labels``...),
    one entry per example, unpadded.
    """


@hookspec(firstresult=True)
def ftcore_collate(task: str, features: list[dict], tokenizer: Any, info: DataInfo) -> Any:
    """Pad a list of encoded examples into a batch of tensors. *First result.*

    Fires in the DataLoader for every batch of every stage. Return a dict of tensors.
    """


@hookspec(firstresult=True)
def ftcore_build_model(
    task: str, model_path: str, info: DataInfo, head_config: Any, trust_remote_code: bool
) -> Any:
    """Build the task model: pretrained backbone plus the head. *First result.*

    model_path: a local Hugging Face folder. Return a ``torch.nn.Module`` (normally a
    transformers ``PreTrainedModel`` so it exports with ``save_pretrained``), with
    everything ``predict`` needs stored in its config (e.g. ``id2label``).
    """


@hookspec
def ftcore_transform_model(model: Any, recipe: Any) -> Any:
    """Wrap or modify the built model. *Fold.*

    Called plugin by plugin after ``ftcore_build_model``; each receives the model the
    previous plugin returned. Return a replacement module, or None to keep ``model``
    (in-place changes such as freezing are fine). Adapters (LoRA) hook in here.
    """


@hookspec
def ftcore_group_options(
    groups: list[LayerGroup], recipe: Any, steps: TrainingSteps
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
def ftcore_lightning_callbacks(recipe: Any, run: Any) -> list[Any]:
    """Contribute Lightning callbacks to the Trainer. *Collecting.*

    Fires once per run before the Trainer is built. Each plugin returns a list of
    ``lightning.pytorch.Callback`` instances (empty when its strategy or callback is
    not enabled in ``recipe``). Stateful strategies keep their state in the callback
    (``state_dict``/``load_state_dict``) so resume restores it.
    """


# --- Training, validation and test steps ------------------------------------------------


@hookspec(firstresult=True)
def ftcore_step(
    task: str, model: Any, batch: Any, info: DataInfo, head_config: Any, stage: str
) -> StepOutput:
    """Run the model on one batch and compute the task loss. *First result.*

    Fires for every training, validation, test and prediction batch; ``stage`` is
    ``"train"``, ``"val"``, ``"test"`` or ``"predict"`` (the loss may be None when the
    batch carries no targets, as in prediction). Return
    :class:`ftcore.types.StepOutput` with the loss and the ``preds``/``target``
    tensors the head's metrics take.
    """


@hookspec
def ftcore_loss_terms(module: Any, batch: Any, output: StepOutput) -> list[tuple[str, Any]]:
    """Add terms to the training loss. *Collecting.*

    Fires for every training batch after ``ftcore_step``. Return a list of
    ``(name, scalar tensor)`` pairs; core adds them to the task loss and logs each as
    ``train/<name>``. Regularisers (L2, L2-SP) hook in here.
    """


@hookspec(firstresult=True)
def ftcore_build_metrics(task: str, info: DataInfo, head_config: Any) -> Any:
    """Build the head's metrics. *First result.*

    Fires once per stage (train, val, test). Return a
    ``torchmetrics.MetricCollection`` whose ``update(preds, target)`` takes the
    ``StepOutput`` fields. Core prefixes the names (``val/accuracy``).
    """


@hookspec(firstresult=True)
def ftcore_decode(task: str, output: StepOutput, info: DataInfo) -> list[dict] | None:
    """Turn a batch's model output into readable predictions. *First result.*

    Fires in ``ftcore predict`` and for every test batch. Return one dict per
    example (e.g. ``{"label": "fresh", "probabilities": {...}}``).
    """


# --- Evaluation (implemented by heads; used by evaluation plugins) -------------------


@hookspec(firstresult=True)
def ftcore_score(task: str, predictions: list[dict], info: DataInfo) -> dict[str, float] | None:
    """Compute the head's test metrics from decoded predictions. *First result.*

    predictions: dicts as produced by ``ftcore_decode`` with the example's ``target``
    added. Return ``{"accuracy": ..., ...}`` (no stage prefix). Evaluation plugins call
    this on bootstrap resamples, on baselines and on new data, so it must be a pure
    function of ``predictions``.
    """


@hookspec(firstresult=True)
def ftcore_baseline(task: str, run: Any) -> dict[str, list[dict]] | None:
    """Predict the test split without fine-tuning. *First result.*

    Fires in evaluation plugins before training (``ftcore_run_start``). Return
    ``{baseline name: predictions}`` in test-split order, each prediction shaped like
    ``ftcore_decode``'s output plus ``target`` (e.g. a linear probe on the frozen
    pretrained backbone and a majority-class predictor), or None if not your task.
    """


@hookspec(firstresult=True)
def ftcore_error_analysis(
    task: str, predictions: list[dict], rows: list[Row], info: DataInfo, out_dir: str
) -> list[ReportSection] | None:
    """Analyse the test predictions' errors. *First result.*

    rows: the test rows (same order as predictions). out_dir: where files such as
    ``errors.jsonl`` or PNG plots may be written. Return report sections.
    """


@hookspec(firstresult=True)
def ftcore_forgetting(task: str, run: Any, model: Any) -> dict[str, Any] | None:
    """Measure how well ``model`` still serves outside the task. *First result.*

    Called with the pretrained and with the fine-tuned model. Return named scores with
    the per-example values needed for a confidence interval (e.g. a linear probe's
    per-example correctness on a reference dataset, or per-token losses on a general
    text), or None if forgetting does not apply.
    """


@hookspec
def ftcore_report_sections(run: Any, summary: dict[str, Any]) -> list[ReportSection]:
    """Contribute sections to the run report. *Collecting.*

    Fires when the report is written at the end of a run (e.g. a strategy adds its
    unfreezing events). Return a list of :class:`ftcore.types.ReportSection`.
    """


# --- Export ---------------------------------------------------------------------------


@hookspec
def ftcore_export_model(model: Any, task: str, info: DataInfo, recipe: Any, run_dir: str) -> Any:
    """Prepare the model that gets exported to ``model/``. *Fold.*

    Called plugin by plugin after testing, on the best checkpoint's weights. Return a
    replacement module (e.g. adapters merged in), or None to keep ``model``. A plugin
    may write extra artefacts under ``run_dir`` (e.g. ``adapter/``).
    """


# --- Run lifecycle -----------------------------------------------------------------------


@hookspec(firstresult=True)
def ftcore_resolve_lr(run: Any) -> float | None:
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
def ftcore_run_start(run: Any) -> None:
    """The run is set up and about to fit. *Notification.*

    run: :class:`ftcore.run.Run` (recipe, run_dir, info, tokenizer, datamodule,
    module). Baselines are evaluated here. Return value ignored.
    """


@hookspec
def ftcore_test_end(run: Any, metrics: dict[str, float], predictions: list[dict]) -> None:
    """The test split was evaluated with the best checkpoint. *Notification.*

    metrics: ``{"test/accuracy": ...}``. predictions: one decoded dict per test
    example in split order, each with the example's ``target`` added.
    """


@hookspec
def ftcore_run_end(run: Any, summary: dict[str, Any]) -> None:
    """The run directory is complete (metrics, model exported). *Notification.*

    summary: what ``metrics.json`` holds. Reports are written here.
    """
