"""A typed facade over the hook relay: the only way core calls plugins.

One keyword-only method per hook, so every call site is easy to find and check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ftcore import console
from ftcore.catalog import provider_hint
from ftcore.errors import MissingPluginError, UserError, did_you_mean
from ftcore.hookcheck import HookResultError
from ftcore.manager import FtcorePluginManager
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


@dataclass(frozen=True)
class ComponentEntry:
    """A component together with the plugin and distribution that provide it."""

    component: Component
    plugin: str
    distribution: str


class Hooks:
    """Calls plugins through ``pm.hook`` with checked keyword arguments."""

    def __init__(self, pm: FtcorePluginManager) -> None:
        self.pm = pm
        self.hook = pm.hook
        self._components: list[ComponentEntry] | None = None

    # --- discovery ------------------------------------------------------------

    def components(self) -> list[ComponentEntry]:
        """Every component of every loaded plugin, attributed to its plugin."""
        if self._components is None:
            entries: list[ComponentEntry] = []
            for impl in reversed(self.hook.ftcore_components.get_hookimpls()):
                plugin = impl.plugin_name
                try:
                    found = self._call_one("ftcore_components", impl) or []
                except HookResultError:  # already one line naming the plugin
                    raise
                except Exception as exc:
                    raise self.plugin_failure(plugin, "ftcore_components", exc) from exc
                dist = self.pm.distribution_of(plugin)
                entries.extend(ComponentEntry(c, plugin, dist) for c in found)
            self._components = entries
        return self._components

    def conflicts(self) -> list[str]:
        """Messages for names claimed by more than one plugin."""
        seen: dict[tuple[str, str], ComponentEntry] = {}
        problems = []
        for entry in self.components():
            key = (entry.component.kind, entry.component.name)
            if key in seen:
                first = seen[key]
                problems.append(
                    f"{key[0]} '{key[1]}' is provided by plugin '{first.plugin}' "
                    f"({first.distribution}) and by plugin '{entry.plugin}' "
                    f"({entry.distribution}); uninstall or disable one "
                    f"(FTCORE_DISABLE_PLUGINS=name)"
                )
            else:
                seen[key] = entry
        return problems

    def names(self, kind: str) -> list[str]:
        return sorted({e.component.name for e in self.components() if e.component.kind == kind})

    def find(self, kind: str, name: str, where: str) -> ComponentEntry:
        """The component ``name`` of ``kind``, or a MissingPluginError naming what to install."""
        for entry in self.components():
            if entry.component.kind == kind and entry.component.name == name:
                return entry
        raise MissingPluginError(self.missing_message(kind, name, where))

    def missing_message(self, kind: str, name: str, where: str) -> str:
        known = self.names(kind)
        hint = did_you_mean(name, known)
        install = provider_hint(kind, name)
        choices = ", ".join(known) or "none installed"
        failed = "".join(
            f"; plugin '{r.name}' ({r.distribution}) failed to load and may provide it: {r.error}"
            for r in getattr(self.pm, "failed", list)()
        )
        return (
            f"{where}: no installed plugin provides {kind} '{name}'{hint}; "
            f"{install}available: {choices}{failed}"
        )

    def commands(self) -> list[Command]:
        return [c for commands in self.hook.ftcore_commands() for c in commands]

    def recipe_dirs(self) -> list[str]:
        return [d for dirs in self.hook.ftcore_recipe_dirs() for d in dirs]

    # --- recipe ---------------------------------------------------------------

    def check_recipe(self, *, recipe: Any) -> list[str]:
        return [p for problems in self.hook.ftcore_check_recipe(recipe=recipe) for p in problems]

    # --- set-up ---------------------------------------------------------------

    def resolve_model(self, *, name: str, cache_dir: str) -> str | None:
        return self.hook.ftcore_resolve_model(name=name, cache_dir=cache_dir)

    def load_dataset(self, *, name: str, options: Any, seed: int) -> RawSplits:
        result = self.hook.ftcore_load_dataset(name=name, options=options, seed=seed)
        return self._required(result, "ftcore_load_dataset", f"dataset '{name}'")

    def data_info(self, *, task: str, train_rows: list[Row], head_config: Any) -> DataInfo:
        result = self.hook.ftcore_data_info(
            task=task, train_rows=train_rows, head_config=head_config
        )
        return self._required(result, "ftcore_data_info", f"task '{task}'")

    def check_row(self, *, task: str, row: Row, info: DataInfo) -> str | None:
        return self.hook.ftcore_check_row(task=task, row=row, info=info)

    def encode(
        self,
        *,
        task: str,
        rows: list[Row],
        tokenizer: Any,
        max_length: int,
        info: DataInfo,
        head_config: Any,
    ) -> dict[str, list]:
        result = self.hook.ftcore_encode(
            task=task,
            rows=rows,
            tokenizer=tokenizer,
            max_length=max_length,
            info=info,
            head_config=head_config,
        )
        return self._required(result, "ftcore_encode", f"task '{task}'")

    def collate(self, *, task: str, features: list[dict], tokenizer: Any, info: DataInfo) -> Any:
        result = self.hook.ftcore_collate(
            task=task, features=features, tokenizer=tokenizer, info=info
        )
        return self._required(result, "ftcore_collate", f"task '{task}'")

    def build_model(
        self,
        *,
        task: str,
        model_path: str,
        info: DataInfo,
        head_config: Any,
        trust_remote_code: bool,
    ) -> Any:
        result = self.hook.ftcore_build_model(
            task=task,
            model_path=model_path,
            info=info,
            head_config=head_config,
            trust_remote_code=trust_remote_code,
        )
        return self._required(result, "ftcore_build_model", f"task '{task}'")

    def transform_model(self, *, model: Any, recipe: Any) -> Any:
        return self._fold("ftcore_transform_model", "model", model, recipe=recipe)

    def group_options(
        self, *, groups: list[LayerGroup], recipe: Any, steps: TrainingSteps
    ) -> dict[str, GroupOptions]:
        """Every plugin's per-group options, merged (see :func:`ftcore.optimizer.merge_options`)."""
        from ftcore.optimizer import merge_options

        found = []
        for impl in reversed(self.hook.ftcore_group_options.get_hookimpls()):
            options = self._call_one(
                "ftcore_group_options", impl, groups=groups, recipe=recipe, steps=steps
            )
            if options and not isinstance(options, dict):
                raise UserError(
                    f"plugin '{impl.plugin_name}': ftcore_group_options must return a dict "
                    f"of group name -> GroupOptions, got {type(options).__name__}"
                )
            if options:
                found.append((impl.plugin_name, options))
        return merge_options(found, groups)

    def resolve_lr(self, *, run: Any) -> float | None:
        console.settle()  # the run has imported Lightning and transformers by now
        return self.hook.ftcore_resolve_lr(run=run)

    def lightning_callbacks(self, *, recipe: Any, run: Any) -> list[Any]:
        return [
            cb for cbs in self.hook.ftcore_lightning_callbacks(recipe=recipe, run=run) for cb in cbs
        ]

    # --- steps ----------------------------------------------------------------

    def step(
        self, *, task: str, model: Any, batch: Any, info: DataInfo, head_config: Any, stage: str
    ) -> StepOutput:
        result = self.hook.ftcore_step(
            task=task, model=model, batch=batch, info=info, head_config=head_config, stage=stage
        )
        return self._required(result, "ftcore_step", f"task '{task}'")

    def loss_terms(self, *, module: Any, batch: Any, output: StepOutput) -> list[tuple[str, Any]]:
        return [
            t
            for terms in self.hook.ftcore_loss_terms(module=module, batch=batch, output=output)
            for t in terms
        ]

    def build_metrics(self, *, task: str, info: DataInfo, head_config: Any) -> Any:
        result = self.hook.ftcore_build_metrics(task=task, info=info, head_config=head_config)
        return self._required(result, "ftcore_build_metrics", f"task '{task}'")

    def decode(self, *, task: str, output: StepOutput, info: DataInfo) -> list[dict]:
        result = self.hook.ftcore_decode(task=task, output=output, info=info)
        return self._required(result, "ftcore_decode", f"task '{task}'")

    # --- evaluation -----------------------------------------------------------

    def score(self, *, task: str, predictions: list[dict], info: DataInfo) -> dict[str, float]:
        result = self.hook.ftcore_score(task=task, predictions=predictions, info=info)
        return self._required(result, "ftcore_score", f"task '{task}'")

    def baseline(self, *, task: str, run: Any) -> dict[str, list[dict]] | None:
        return self.hook.ftcore_baseline(task=task, run=run)

    def error_analysis(
        self, *, task: str, predictions: list[dict], rows: list[Row], info: DataInfo, out_dir: str
    ) -> list[ReportSection]:
        result = self.hook.ftcore_error_analysis(
            task=task, predictions=predictions, rows=rows, info=info, out_dir=out_dir
        )
        return result or []

    def forgetting(self, *, task: str, run: Any, model: Any) -> dict[str, Any] | None:
        return self.hook.ftcore_forgetting(task=task, run=run, model=model)

    def report_sections(self, *, run: Any, summary: dict[str, Any]) -> list[ReportSection]:
        found = self.hook.ftcore_report_sections(run=run, summary=summary)
        return [section for sections in found for section in sections]

    # --- export and lifecycle -------------------------------------------------

    def export_model(
        self, *, model: Any, task: str, info: DataInfo, recipe: Any, run_dir: str
    ) -> Any:
        return self._fold(
            "ftcore_export_model",
            "model",
            model,
            task=task,
            info=info,
            recipe=recipe,
            run_dir=run_dir,
        )

    def run_start(self, *, run: Any) -> None:
        console.settle()  # the run has imported Lightning and transformers by now
        self.hook.ftcore_run_start(run=run)

    def test_end(self, *, run: Any, metrics: dict[str, float], predictions: list[dict]) -> None:
        self.hook.ftcore_test_end(run=run, metrics=metrics, predictions=predictions)

    def run_end(self, *, run: Any, summary: dict[str, Any]) -> None:
        self.hook.ftcore_run_end(run=run, summary=summary)

    # --- helpers --------------------------------------------------------------

    def _fold(self, name: str, arg: str, value: Any, **kwargs: Any) -> Any:
        """Call hook ``name`` plugin by plugin (in pluggy's call order), threading ``arg``."""
        caller = getattr(self.hook, name)
        for impl in reversed(caller.get_hookimpls()):
            result = self._call_one(name, impl, **{arg: value}, **kwargs)
            if result is not None:
                value = result
        return value

    def _call_one(self, name: str, impl: Any, **kwargs: Any) -> Any:
        """Call one plugin's implementation through the relay (so tracing sees it)."""
        others = [p for p in self.pm.get_plugins() if p is not impl.plugin]
        results = self.pm.subset_hook_caller(name, remove_plugins=others)(**kwargs)
        return results[0] if results else None

    def _required(self, result: Any, hook: str, what: str) -> Any:
        if result is None:
            raise MissingPluginError(
                f"no installed plugin implements {hook} for {what}; install the plugin that "
                f"provides it (see `ftcore plugins`)"
            )
        return result

    def plugin_failure(self, plugin: str, hook: str, exc: BaseException) -> UserError:
        dist = self.pm.distribution_of(plugin)
        return UserError(
            f"plugin '{plugin}' ({dist}) raised in {hook}: {type(exc).__name__}: {exc}; "
            f"report it to the plugin's authors or disable it with FTCORE_DISABLE_PLUGINS={plugin}"
        )
