"""Numeric ranges of recipe values.

Two layers, both checked by ``ftcore validate`` (and so before any run reads data):

1. every number in every section with a schema, core or plugin, must be usable at all: a
   float must be finite (no NaN, no +-inf: ``optim.lr=1e400`` is inf and trains NaN
   weights), and a whole number must fit in 64 bits (torch's integers), see
   :func:`number_problems`;
2. each numeric core key has the range its consumer (torch, Lightning, the data loaders)
   accepts, see :data:`CORE`: ``optim.grad_clip=-1`` would flip the gradient's sign,
   ``seed=-5`` fails in Lightning's ``seed_everything``, ``checkpoint.save_top_k=-5`` in
   ``ModelCheckpoint`` only after an epoch of training.

A problem reads ``<path>: must be <range> (got <value>); e.g. <path>=<example>``.
Plugins check the ranges of their own keys in ``ftcore_check_recipe``; layer 1 covers
their sections too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

INT64 = 2**63
SEED_MAX = 2**32 - 1  # lightning.fabric.utilities.seed.max_seed_value
MINUTES_MAX = 1e9  # datetime.timedelta tops out near 1.4e15 minutes; 1e9 is 1900 years


def _real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _usable(value: Any) -> bool:
    """A real number that is finite (a float) or fits in 64 bits (an int)."""
    if not _real(value):
        return False
    return math.isfinite(value) if isinstance(value, float) else -INT64 <= value < INT64


@dataclass(frozen=True)
class Range:
    """What a core key accepts: ``rule`` in words, ``ok`` as a test, an example value."""

    rule: str
    ok: Callable[[Any], bool]
    example: str
    nullable: bool = False

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.nullable
        return _usable(value) and self.ok(value)


def _at_least(low: int, example: str, null: str = "") -> Range:
    text = f"a whole number of {low} or more" + (f", or null {null}" if null else "")
    return Range(text, lambda v: v >= low, example, nullable=bool(null))


CORE: dict[str, Range] = {
    "seed": Range(
        f"a whole number from 0 to {SEED_MAX}",
        lambda v: 0 <= v <= SEED_MAX,
        "42",
    ),
    "data.max_length": _at_least(2, "128"),
    "data.batch_size": _at_least(1, "32"),
    "data.eval_batch_size": _at_least(1, "64"),
    "data.max_chars": _at_least(1, "100000"),
    "data.limit_train": _at_least(1, "1000", "for all rows"),
    "data.limit_eval": _at_least(1, "1000", "for all rows"),
    "data.num_workers": _at_least(0, "2"),
    "optim.lr": Range("a number above 0, or 'auto'", lambda v: v > 0, "5e-05"),
    "optim.weight_decay": Range("a number of 0 or more", lambda v: v >= 0, "0.01"),
    "optim.warmup_ratio": Range("a fraction in [0, 1)", lambda v: 0 <= v < 1, "0.06"),
    "optim.warmup_steps": _at_least(0, "100"),
    "optim.grad_clip": Range(
        "a number above 0, or null for no clipping", lambda v: v > 0, "1.0", nullable=True
    ),
    "optim.accumulate": _at_least(1, "1"),
    "trainer.max_epochs": _at_least(1, "3"),
    "trainer.max_steps": Range(
        "-1 (no limit) or a whole number of 1 or more", lambda v: v == -1 or v >= 1, "1000"
    ),
    "trainer.num_nodes": _at_least(1, "1"),
    "trainer.val_check_interval": Range(
        "a fraction of an epoch in (0, 1], or a whole number of training batches",
        lambda v: 0 < v <= 1 or (1 < v < INT64 and float(v).is_integer()),
        "0.5",
    ),
    "trainer.log_every_n_steps": _at_least(1, "10"),
    "trainer.num_threads": _at_least(1, "4", "for torch's default"),
    "trainer.max_skipped_batches": _at_least(0, "10"),
    "checkpoint.save_top_k": Range(
        "-1 (keep every checkpoint), 0 (only last.ckpt) or a count of 1 or more",
        lambda v: v >= -1,
        "1",
    ),
    "checkpoint.every_n_steps": _at_least(1, "500", "for epoch ends only"),
    "checkpoint.every_n_minutes": Range(
        f"a number of minutes above 0 and at most {MINUTES_MAX:.0e}, or null for off",
        lambda v: 0 < v <= MINUTES_MAX,
        "30",
        nullable=True,
    ),
}
"""Dotted path -> range, for every numeric key of the core schema (``tests`` check that
none is left out)."""


def shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def problem(path: str, value: Any, rule: str, example: str | None, fix: str = "") -> str:
    """``<path>: must be <rule> (got <value>); e.g. <path>=<example>`` (else ``fix``)."""
    fix = f"e.g. {path}={example}" if example is not None else fix
    return f"{path}: must be {rule} (got {shown(value)}); {fix}"


def _example(default: Any) -> str | None:
    return repr(default) if _usable(default) else None


def number_problems(value: Any, path: str, default: Any = None) -> list[str]:
    """Layer 1 for a value stored in a schema field: a non-finite float, or a whole number
    beyond 64 bits, anywhere in it (lists and mappings included). ``default`` (the field's)
    is the example of the fix; a core key's range gives the rule's words."""
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, float) and not math.isfinite(value):
        rule, fix = "a finite number", "give a finite number"
    elif isinstance(value, int) and not -INT64 <= value < INT64:
        rule, fix = "a whole number that fits in 64 bits", "give a smaller number"
    elif isinstance(value, str) or not hasattr(value, "__iter__"):
        return []
    elif hasattr(value, "items"):
        return [p for k, v in value.items() for p in number_problems(v, f"{path}.{k}")]
    else:
        items = list(value)
        return [p for i, v in enumerate(items) for p in number_problems(v, f"{path}[{i}]")]
    if path in CORE:
        return [problem(path, value, CORE[path].rule, CORE[path].example)]
    return [problem(path, value, rule, _example(default), fix)]


def core_problems(cfg: Any) -> list[str]:
    """Layer 2: every core key of the structured recipe ``cfg`` against :data:`CORE`."""
    from omegaconf import OmegaConf

    found = []
    for path, allowed in CORE.items():
        value = OmegaConf.select(cfg, path)
        if path == "optim.lr" and value == "auto":
            continue
        if not allowed.accepts(value):
            found.append(problem(path, value, allowed.rule, allowed.example))
    return found
