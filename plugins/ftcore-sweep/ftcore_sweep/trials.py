"""One trial of a sweep: the recipe with the sampled values, run as a normal ftcore run.

The trial's run directory is ``SWEEP_DIR/trial-NNN`` (NNN: Optuna's trial number). Its
objective is the best value of the recipe's monitored validation metric over the run's
validations (the one that picks its best checkpoint). A recipe mistake (a sampled value
the recipe refuses), a diverged run or an out-of-memory error is a failed trial; a
pruned run is a pruned trial; both are recorded and the sweep goes on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftcore.api import Hooks, UserError, load_recipe, run_recipe
from ftcore.errors import NonFiniteError, RunInterrupted
from ftcore_sweep import space, study

log = logging.getLogger(__name__)


@dataclass
class Base:
    """What every trial shares: the recipe as named and overridden on the command line,
    the plugins, the monitored metric and its direction, the sweep folder."""

    recipe: str
    overrides: list[str]
    hooks: Hooks
    metric: str
    mode: str
    sweep_dir: Path
    spaces: list[space.Space] = field(default_factory=list)

    def load(self, params: dict[str, Any]) -> Any:
        """The recipe with ``params`` (dotted key -> value) applied, validated."""
        extra = [space.override(k, v) for k, v in params.items()]
        return load_recipe(self.recipe, [*self.overrides, *extra], self.hooks)[0]


def run_dir(base: Base, number: int) -> Path:
    return base.sweep_dir / f"trial-{number:03d}"


def _failed(exc: BaseException) -> bool:
    """A trial's own failure (recorded, the sweep goes on), not a bug of the sweep."""
    return isinstance(exc, (UserError, NonFiniteError)) or type(exc).__name__ == (
        "OutOfMemoryError"
    )


def run_trial(base: Base, the_study: Any) -> None:
    """Ask the study for a trial, run it, tell the study how it ended."""
    import optuna
    from optuna.trial import TrialState

    trial = the_study.ask({s.key: s.distribution() for s in base.spaces})
    folder = run_dir(base, trial.number)
    trial.set_user_attr("run_dir", folder.name)
    log.info(f"trial {trial.number}: {space.shown(trial.params)} in {folder}")
    from ftcore_sweep import pruning  # Lightning: imported only when a trial runs

    watch = pruning.TrialCallback(trial, base.metric, base.mode)
    try:
        recipe = base.load(trial.params)
        with pruning.active(watch):
            summary = run_recipe(recipe, base.hooks, run_dir=folder)
    except optuna.TrialPruned as exc:
        the_study.tell(trial, state=TrialState.PRUNED)
        log.info(f"trial {trial.number}: pruned ({exc})")
        return
    except RunInterrupted:
        study.mark_interrupted(the_study, trial.number, trial.params)
        raise
    except Exception as exc:
        trial.set_user_attr("error", (str(exc).splitlines() or [type(exc).__name__])[0])
        the_study.tell(trial, state=TrialState.FAIL)
        if not _failed(exc):
            raise
        log.warning(f"trial {trial.number} failed: {exc}")
        return
    _tell_value(the_study, trial, watch.best, summary, base.metric)


def _tell_value(the_study: Any, trial: Any, best: float | None, summary: dict, metric: str):
    from optuna.trial import TrialState

    value = best if best is not None else summary.get("validation", {}).get(metric)
    if value is None:
        trial.set_user_attr("error", f"the run logged no {metric}")
        the_study.tell(trial, state=TrialState.FAIL)
        log.warning(f"trial {trial.number} failed: the run logged no {metric}")
        return
    the_study.tell(trial, float(value))
    log.info(f"trial {trial.number}: best {metric} {value:.4g}")
