"""The Optuna study of a sweep, kept in the sweep folder so that a sweep resumes.

``SWEEP_DIR/optuna.journal`` is Optuna's journal file storage (one appended line per
change; readable by ``optuna.load_study`` and optuna-dashboard). ``SWEEP_DIR/sweep.yaml``
is the recipe the sweep runs (overrides applied): ``--resume`` refuses another one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftcore.api import UserError

STUDY = "ftcore-sweep"
JOURNAL = "optuna.journal"
RECIPE = "sweep.yaml"
INTERRUPTED = "interrupted"


def storage(sweep_dir: Path) -> Any:
    """Optuna's journal storage in ``sweep_dir``."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(str(sweep_dir / JOURNAL)))


def _recipe_text(recipe: Any) -> str:
    from omegaconf import OmegaConf

    plain = OmegaConf.to_container(recipe, resolve=True, enum_to_str=True)
    plain.pop("run_id", None)
    plain.pop("versions", None)
    return OmegaConf.to_yaml(plain)


def check_folder(sweep_dir: Path, recipe: Any, resume: bool) -> None:
    """``sweep_dir`` takes a new sweep (new or empty), or, with ``resume``, holds a sweep
    of this very recipe (overrides applied)."""
    saved = sweep_dir / RECIPE
    if resume:
        if not saved.is_file():
            raise UserError(
                f"--resume: {sweep_dir} holds no sweep (no {RECIPE}); give the --out folder "
                f"of an earlier `ftcore sweep`, or leave out --resume to start one"
            )
        if saved.read_text(encoding="utf-8") != _recipe_text(recipe):
            raise UserError(
                f"--resume: the recipe (with its overrides) differs from {saved}, which "
                f"this sweep ran; give the same recipe and overrides, or start a new sweep"
            )
    elif sweep_dir.exists() and any(sweep_dir.iterdir()):
        hint = "add --resume to continue it" if saved.is_file() else "choose a new folder"
        raise UserError(f"--out {sweep_dir}: the folder is not empty; {hint}")


def start(sweep_dir: Path, recipe: Any) -> None:
    """Make the folder of a new sweep and write its ``sweep.yaml`` (a resumed one has it)."""
    from ftcore.api import atomic_write_text

    if not (sweep_dir / RECIPE).is_file():
        sweep_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(sweep_dir / RECIPE, _recipe_text(recipe))


def open_study(sweep_dir: Path, direction: str, seed: int, prune: bool) -> Any:
    """The sweep's study (created on first use), seeded TPE sampling, median pruning."""
    import optuna

    pruner = optuna.pruners.MedianPruner(n_startup_trials=2) if prune else None
    return optuna.create_study(
        storage=storage(sweep_dir),
        study_name=STUDY,
        direction="minimize" if direction == "min" else "maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=pruner or optuna.pruners.NopPruner(),
        load_if_exists=True,
    )


def mark_interrupted(study: Any, number: int, params: dict[str, Any]) -> None:
    """Trial ``number`` was stopped part-way: recorded as failed, noted as interrupted
    (it does not count towards ``--trials``), its parameters queued to be tried again."""
    from optuna.trial import TrialState

    study.set_user_attr(INTERRUPTED, sorted({*interrupted(study), number}))
    study.tell(number, state=TrialState.FAIL, skip_if_finished=True)
    if params:
        study.enqueue_trial(params)


def requeue_interrupted(study: Any) -> list[int]:
    """Trials an earlier sweep process left running (it was killed): see
    :func:`mark_interrupted`."""
    from optuna.trial import TrialState

    found = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for trial in found:
        mark_interrupted(study, trial.number, trial.params)
    return [t.number for t in found]


def interrupted(study: Any) -> list[int]:
    """Numbers of the trials stopped part-way (tried again as new trials)."""
    return list(study.user_attrs.get(INTERRUPTED, []))


def counted(study: Any) -> int:
    """Finished trials that count towards ``--trials`` (interrupted ones are tried again)."""
    skip = set(interrupted(study))
    return sum(
        1
        for t in study.get_trials(deepcopy=False)
        if t.state.is_finished() and t.number not in skip
    )
