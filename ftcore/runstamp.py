"""What ties a checkpoint to its run: the run id and the recipe it was trained with.

``ftcore run`` gives every new run a run id (a uuid) and writes it into ``recipe.yaml``
(key ``run_id``). Every checkpoint the run saves carries that id (``ftcore_run_id``) and
the resolved recipe (``ftcore_recipe``: every key except :data:`MAY_CHANGE`), put in by
:class:`ftcore.checkpoint_io.AtomicCheckpointIO` as it writes the file. ``--resume`` then

- uses only checkpoints with the run's id: another run's (a copied folder, a file moved
  in by hand) is skipped with a warning line;
- refuses to continue when ``recipe.yaml`` (or an override on the command line) differs
  from the recipe in the checkpoint, naming the keys that changed;
- refuses a checkpoint that lacks what an exact resume needs (:func:`incomplete`).

A run folder written before run ids existed (no ``run_id`` in ``recipe.yaml``) keeps
working: its checkpoints have no id either, and one without an id resumes only such a run.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

RUN_ID = "ftcore_run_id"
RECIPE = "ftcore_recipe"

# Keys of the resolved recipe that may differ between a checkpoint and the run resuming
# from it: they change nothing that is computed. Everything else must be as it was.
MAY_CHANGE = (
    "run_id",  # the stamp itself
    "versions",  # package versions (an upgrade between the stop and the resume)
    "name",  # labels
    "description",
    "output",  # where a new run's folder goes; a resume names its folder
    "trainer.progress_bar",  # what is shown
    "trainer.num_threads",  # CPU threads of this machine
    "loggers",  # where metrics go, not what is trained
)

_STAMPS: dict[Path, dict[str, Any]] = {}


def new_run_id() -> str:
    return uuid.uuid4().hex


def resolved(recipe: Any) -> dict[str, Any]:
    """The recipe as ``recipe.yaml`` holds it: interpolations resolved, enums as names."""
    from omegaconf import DictConfig, OmegaConf

    if isinstance(recipe, DictConfig):
        return OmegaConf.to_container(recipe, resolve=True, enum_to_str=True)
    return dict(recipe)


def fingerprint(recipe: Any) -> dict[str, Any]:
    """The resolved recipe without the keys that may change on resume (:data:`MAY_CHANGE`);
    what a checkpoint stores and a resume compares."""
    found = json.loads(json.dumps(resolved(recipe), default=str))  # plain, loadable types
    for key in MAY_CHANGE:
        *parents, last = key.split(".")
        where = found
        for part in parents:
            where = where.get(part) if isinstance(where, dict) else None
        if isinstance(where, dict):
            where.pop(last, None)
    return found


@contextmanager
def stamping(run_dir: Path, recipe: Any) -> Iterator[None]:
    """While the block runs, checkpoints saved under ``run_dir`` carry the run's id and
    recipe (see :func:`stamp_checkpoint`)."""
    key = Path(run_dir).resolve()
    _STAMPS[key] = {RUN_ID: recipe.get("run_id"), RECIPE: fingerprint(recipe)}
    try:
        yield
    finally:
        _STAMPS.pop(key, None)


def stamp_checkpoint(checkpoint: dict[str, Any], path: Path) -> None:
    """Add the run id and recipe of the run whose folder holds ``path`` (if one is
    running in this process) to ``checkpoint``, as it is written."""
    for folder in Path(path).resolve().parents:
        stamp = _STAMPS.get(folder)
        if stamp is not None:
            checkpoint[RUN_ID] = stamp[RUN_ID]
            checkpoint[RECIPE] = json.loads(json.dumps(stamp[RECIPE]))  # a copy
            return


# --- reading checkpoints ------------------------------------------------------------------


@dataclass
class Facts:
    """What a resume needs to know about one checkpoint file."""

    path: Path
    unreadable: str | None = None  # why it does not load (truncated, corrupt)
    incomplete: str | None = None  # what an exact resume would miss
    has_id: bool = False
    run_id: str | None = None
    recipe: dict[str, Any] | None = None
    global_step: int = 0
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def problem(self) -> str | None:
        return self.unreadable or self.incomplete


def facts(path: Path) -> Facts:
    """Read ``path`` (memory-mapped, ``weights_only=True``: no code runs) once per version
    of the file."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        return Facts(path, unreadable=f"{type(exc).__name__}: {exc.strerror}")
    return _facts(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _facts(path: Path, mtime_ns: int, size: int) -> Facts:
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:
        return Facts(path, unreadable=f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
    if not isinstance(state, dict):
        return Facts(path, incomplete="not a training checkpoint")
    weights = state.get("state_dict")
    return Facts(
        path,
        incomplete=incomplete(state),
        has_id=RUN_ID in state,
        run_id=state.get(RUN_ID),
        recipe=state.get(RECIPE) if isinstance(state.get(RECIPE), dict) else None,
        global_step=int(state.get("global_step") or 0),
        shapes={
            k: tuple(v.shape) for k, v in (weights or {}).items() if isinstance(v, torch.Tensor)
        },
    )


def incomplete(state: dict[str, Any]) -> str | None:
    """What an exact resume would miss in this checkpoint, or None: the weights
    (``state_dict``), the loops' progress (``loops``), the optimiser state
    (``optimizer_states``, not empty, with per-parameter state once a step was taken) and
    the learning-rate schedule (``lr_schedulers``). Without these a resume would silently
    restart the optimiser, the schedule or the epoch."""
    if "state_dict" not in state or "loops" not in state:
        return "not a training checkpoint"
    optimizers = state.get("optimizer_states")
    if not optimizers:
        return "it has no optimiser state (saved with weights only?)"
    stepped = int(state.get("global_step") or 0) > 0
    if stepped and not all(isinstance(o, dict) and o.get("state") for o in optimizers):
        return "its optimiser state is empty"
    if not state.get("lr_schedulers"):
        return "it has no learning-rate schedule state"
    return None


# --- comparing recipes --------------------------------------------------------------------


def changes(before: dict[str, Any], now: dict[str, Any], limit: int = 8) -> list[str]:
    """``key: old -> new`` for every dotted key whose value differs (at most ``limit``,
    then how many more)."""
    old, new = _flat(before), _flat(now)
    found = [
        f"{key}: {_show(old.get(key, _ABSENT))} -> {_show(new.get(key, _ABSENT))}"
        for key in sorted(old.keys() | new.keys(), key=_order(before, now))
        if old.get(key, _ABSENT) != new.get(key, _ABSENT)
    ]
    if len(found) > limit:
        found = found[:limit] + [f"and {len(found) - limit} more"]
    return found


_ABSENT = object()


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, dict) or (prefix and not tree):
        return {prefix: tree}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        out.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def _order(*trees: dict[str, Any]) -> Any:
    """Keys in the order the recipe lists them (``seed`` before ``data.*``)."""
    seen: dict[str, int] = {}
    for tree in trees:
        for key in _flat(tree):
            seen.setdefault(key, len(seen))
    return lambda key: seen.get(key, len(seen))


def _show(value: Any) -> str:
    if value is _ABSENT:
        return "(absent)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value and value.strip() == value else json.dumps(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


# --- the model -------------------------------------------------------------------------


def misfit(found: Facts, module: Any) -> str | None:
    """How the checkpoint's weights differ from ``module``'s (missing, unexpected, other
    shapes), or None when they fit."""
    mine = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    theirs = found.shapes
    missing = [k for k in mine if k not in theirs]
    unexpected = [k for k in theirs if k not in mine]
    shaped = [k for k in mine if k in theirs and mine[k] != theirs[k]]
    parts = []
    if missing:
        parts.append(f"{len(missing)} weights missing, e.g. {missing[0]}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected, e.g. {unexpected[0]}")
    if shaped:
        k = shaped[0]
        parts.append(
            f"{len(shaped)} of another shape, e.g. {k} {list(theirs[k])} where the model "
            f"has {list(mine[k])}"
        )
    return "; ".join(parts) or None


def check_fits(path: str | None, module: Any) -> None:
    """Refuse (one line naming the checkpoint) to resume ``module`` from a checkpoint whose
    weights belong to another model or head, before Lightning fails on it with a traceback."""
    from ftcore.errors import UserError

    if path is None:
        return
    problem = misfit(facts(Path(path)), module)
    if problem:
        raise UserError(
            f"{path}: its weights do not fit this run's model ({problem}); it was written by "
            f"another run or for another head: move it out of {Path(path).parent}, or start "
            f"a new run with `ftcore run RECIPE`"
        )
