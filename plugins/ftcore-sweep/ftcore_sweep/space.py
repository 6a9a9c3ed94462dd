"""The recipe's ``sweep:`` section: dotted recipe keys and the values each may take.

::

    sweep:
      optim.lr: {log_uniform: [1.0e-5, 1.0e-3]}   # a float, uniform in log space
      optim.weight_decay: {uniform: [0.0, 0.1]}   # a float ({..., step: 0.01} for a grid)
      data.batch_size: {int: [8, 32], step: 8}    # a whole number (step optional)
      optim.schedule: [linear, cosine]            # a list: one of these values

Pure functions: :func:`problems` checks a section against a validated recipe (each problem
``sweep.<key>: what is wrong; how to fix``), :func:`spaces` turns it into
:class:`Space` objects, and :func:`override` writes a sampled value as ``key=value``.
Optuna is imported only by :meth:`Space.distribution`.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from ftcore.errors import did_you_mean

RANGES = ("uniform", "log_uniform", "int")
# what a sweep must not change: where runs go, which plugins load, what `ftcore run` writes
FIXED = ("name", "sweep", "output", "plugins", "versions", "run_id")
EXAMPLE = "e.g. {log_uniform: [1.0e-5, 1.0e-3]}, {int: [1, 3]} or a list of choices"


@dataclass(frozen=True)
class Space:
    """One swept key: ``kind`` is ``choice`` (``choices``) or a range ``uniform``,
    ``log_uniform`` or ``int`` from ``low`` to ``high`` (``step`` apart when given)."""

    key: str
    kind: str
    choices: tuple = ()
    low: float = 0.0
    high: float = 0.0
    step: float | None = None

    def distribution(self) -> Any:
        """The Optuna distribution of this space."""
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        if self.kind == "choice":
            return CategoricalDistribution(list(self.choices))
        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high), step=int(self.step or 1))
        log = self.kind == "log_uniform"
        return FloatDistribution(float(self.low), float(self.high), log=log, step=self.step)

    def examples(self) -> list[Any]:
        """The values to try the recipe with before sweeping: the choices, or both ends."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int":
            return [int(self.low), int(self.high)]
        return [float(self.low), float(self.high)]


def _leaves(node: Any, prefix: str = "") -> list[str]:
    """Every dotted key of a recipe that holds a value (not a section)."""
    from omegaconf import DictConfig

    found = []
    for key in node.keys():
        path = f"{prefix}{key}"
        try:
            value = node[key]
        except Exception:
            continue
        found += _leaves(value, f"{path}.") if isinstance(value, DictConfig) else [path]
    return found


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _range(key: str, spec: dict, integer: bool) -> tuple[Space | None, str | None]:
    """A range ``{kind: [low, high], step: s}`` as a Space, or the problem with it."""
    where = f"sweep.{key}"
    kinds = [k for k in spec if k in RANGES]
    extra = [k for k in spec if k not in (*RANGES, "step")]
    if extra:
        return (
            None,
            f"{where}.{extra[0]}: unknown key{did_you_mean(str(extra[0]), [*RANGES])}; "
            f"a range is one of {', '.join(RANGES)}, with an optional step",
        )
    if len(kinds) != 1:
        return None, f"{where}: give exactly one of {', '.join(RANGES)} ({EXAMPLE})"
    kind, bounds, step = kinds[0], spec[kinds[0]], spec.get("step")
    if not (isinstance(bounds, list) and len(bounds) == 2 and all(map(_number, bounds))):
        return None, f"{where}.{kind}: expected [low, high], two numbers (got {bounds!r})"
    low, high = bounds
    if not low < high:
        return None, f"{where}.{kind}: low {low} must be below high {high}"
    if kind == "log_uniform" and low <= 0:
        return None, f"{where}.log_uniform: low must be above 0 (got {low}); use uniform"
    if kind == "int" and not all(isinstance(b, int) for b in bounds):
        return None, f"{where}.int: expected two whole numbers (got {bounds!r})"
    if kind != "int" and integer:
        return None, f"{where}: {key} is a whole number; use {{int: [{low}, {high}]}}"
    if step is not None:
        if kind == "log_uniform":
            return None, f"{where}.step: log_uniform takes no step; use uniform or int"
        if not _number(step) or step <= 0 or (kind == "int" and not isinstance(step, int)):
            return None, f"{where}.step: must be a positive {'whole ' * (kind == 'int')}number"
    return Space(key, kind, low=low, high=high, step=step), None


def _space(key: str, spec: Any, current: Any) -> tuple[Space | None, str | None]:
    where = f"sweep.{key}"
    if isinstance(spec, list):
        if not spec:
            return None, f"{where}: the list of choices is empty; give at least one value"
        if not all(v is None or isinstance(v, (bool, int, float, str)) for v in spec):
            return None, f"{where}: choices must be plain values (numbers, text, true/false)"
        if len({json.dumps(v) for v in spec}) != len(spec):
            return None, f"{where}: a choice is listed twice; list each value once"
        return Space(key, "choice", choices=tuple(spec)), None
    if isinstance(spec, dict):
        return _range(key, spec, isinstance(current, int) and not isinstance(current, bool))
    return None, f"{where}: expected a list of choices or a range ({EXAMPLE}), got {spec!r}"


def _key_problem(key: Any, recipe: Any, leaves: list[str]) -> str | None:
    from omegaconf import DictConfig, OmegaConf

    if not isinstance(key, str) or not key or any(not p for p in key.split(".")):
        return f"sweep.{key}: not a dotted recipe key; write it like optim.lr"
    if key.split(".")[0] in FIXED:
        return f"sweep.{key}: {key.split('.')[0]} cannot be swept; sweep training keys only"
    found = OmegaConf.select(recipe, key, default=KeyError, throw_on_missing=False)
    if found is KeyError:
        hint = did_you_mean(key, leaves)
        return f"sweep.{key}: unknown recipe key{hint}; name a key the recipe has"
    if isinstance(found, DictConfig):
        return f"sweep.{key}: is a section; sweep one of its keys ({key}.KEY) instead"
    return None


def _fit_problem(space: Space, node: Any) -> str | None:
    """Whether every value of ``space`` has the type its recipe key takes."""
    from omegaconf import OmegaConf

    for example in space.examples():
        try:
            OmegaConf.update(node, space.key, example, merge=False)
        except Exception as exc:
            why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            return f"sweep.{space.key}: {example!r} does not fit {space.key} ({why})"
    return None


def _flatten(section: dict, recipe: Any, prefix: str = "") -> dict[Any, Any]:
    """``{optim: {lr: SPACE}}`` (how ``sweep.optim.lr.int=[1,3]`` on the command line
    nests) as ``{"optim.lr": SPACE}``: a mapping at a key that is a recipe section."""
    from omegaconf import DictConfig, OmegaConf

    flat: dict[Any, Any] = {}
    for key, spec in section.items():
        path = f"{prefix}{key}"
        inside = OmegaConf.select(recipe, str(path), default=None, throw_on_missing=False)
        if isinstance(spec, dict) and isinstance(key, str) and isinstance(inside, DictConfig):
            flat.update(_flatten(spec, recipe, f"{path}."))
        else:
            flat[path] = spec
    return flat


def check(section: Any, recipe: Any) -> tuple[list[Space], list[str]]:
    """The spaces of a plain ``sweep:`` section and the problems with it, checked against
    the validated ``recipe`` (a DictConfig): each key must be a value the recipe has, each
    space well formed, each value of the type the key takes."""
    from omegaconf import OmegaConf

    if section is None:
        return [], []
    if not isinstance(section, dict):
        return [], [f"sweep: expected a mapping of recipe keys to search spaces ({EXAMPLE})"]
    leaves = [k for k in _leaves(recipe) if k.split(".")[0] not in FIXED]
    node = copy.deepcopy(recipe)
    OmegaConf.set_readonly(node, False)
    found, problems = [], []
    for key, spec in _flatten(section, recipe).items():
        problem = _key_problem(key, recipe, leaves)
        space = None
        if problem is None:
            space, problem = _space(key, spec, OmegaConf.select(recipe, key))
        if space is not None:
            problem = _fit_problem(space, node)
        if problem:
            problems.append(problem)
        else:
            found.append(space)
    return found, problems


def section_of(recipe: Any) -> Any:
    """The recipe's ``sweep:`` section as plain values (None when absent)."""
    from omegaconf import OmegaConf

    section = recipe.get("sweep") if hasattr(recipe, "get") else None
    if section is None:
        return None
    if OmegaConf.is_config(section):
        return OmegaConf.to_container(section, resolve=True)
    return section


def problems(recipe: Any) -> list[str]:
    """What is wrong with the recipe's ``sweep:`` section (empty when fine or absent)."""
    return check(section_of(recipe), recipe)[1]


def spaces(recipe: Any) -> list[Space]:
    """The search spaces of a recipe whose section :func:`problems` accepted."""
    return check(section_of(recipe), recipe)[0]


def override(key: str, value: Any) -> str:
    """``key=value`` as the command line writes it (a float keeps its exponent)."""
    if value is None:
        return f"{key}=null"
    if isinstance(value, bool):
        return f"{key}={'true' if value else 'false'}"
    if isinstance(value, float):
        return f"{key}={value!r}"
    if isinstance(value, int):
        return f"{key}={value}"
    return f"{key}={json.dumps(value)}"


def shown(params: dict[str, Any]) -> str:
    """``key=value`` pairs for people: floats to 4 significant digits."""
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else override(k, v) for k, v in params.items()
    )
