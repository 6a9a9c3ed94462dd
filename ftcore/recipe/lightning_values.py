"""Checking the ``trainer:`` values that ftcore passes to Lightning's ``Trainer`` as they are.

``trainer.precision``, ``trainer.strategy``, ``trainer.accelerator`` and ``trainer.devices``
are checked by ``ftcore validate`` (and before ``ftcore run`` reads any data) against what
Lightning accepts, so that a typo ends as one line with a did-you-mean instead of a
Lightning traceback after the data was prepared.

Importing Lightning takes seconds (it imports torch), and ``ftcore validate`` must start in
about half a second without importing either. So the check is in two steps:

1. a value in the static sets below (copied from Lightning 2.6: its precision literals,
   the names in ``StrategyRegistry`` and ``AcceleratorRegistry`` plus the ``"auto"`` and
   ``"gpu"`` the accelerator connector accepts) passes at once, without importing Lightning;
2. any other value is looked up in the *installed* Lightning (its precision literals and
   its registries), which is imported only then. A strategy or accelerator that a plugin
   or a newer Lightning registers therefore still passes; only a value the installed
   Lightning rejects is reported, with the closest accepted value (and a small alias
   table for names from other tools: ``fp16`` -> ``16-mixed``, ``bf16`` -> ``bf16-mixed``).

``tests/test_recipe_checks.py`` checks that the static sets are accepted by the installed
Lightning. ``trainer.devices`` needs no Lightning: its forms are fixed (see
:func:`check_devices`).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from ftcore.errors import did_you_mean

PRECISIONS: tuple[Any, ...] = (
    "32-true",
    "bf16-mixed",
    "16-mixed",
    "bf16-true",
    "16-true",
    "64-true",
    "transformer-engine",
    "transformer-engine-float16",
    # Lightning's historical aliases
    "64",
    "32",
    "16",
    "bf16",
    64,
    32,
    16,
)
STRATEGIES: frozenset[str] = frozenset(
    {
        "auto",
        "ddp",
        "ddp_find_unused_parameters_false",
        "ddp_find_unused_parameters_true",
        "ddp_fork",
        "ddp_fork_find_unused_parameters_false",
        "ddp_fork_find_unused_parameters_true",
        "ddp_notebook",
        "ddp_notebook_find_unused_parameters_false",
        "ddp_notebook_find_unused_parameters_true",
        "ddp_spawn",
        "ddp_spawn_find_unused_parameters_false",
        "ddp_spawn_find_unused_parameters_true",
        "deepspeed",
        "deepspeed_stage_1",
        "deepspeed_stage_2",
        "deepspeed_stage_2_offload",
        "deepspeed_stage_3",
        "deepspeed_stage_3_offload",
        "deepspeed_stage_3_offload_nvme",
        "fsdp",
        "fsdp_cpu_offload",
        "single_device",
        "single_tpu",
        "single_xla",
        "xla",
        "xla_debug",
    }
)
ACCELERATORS: frozenset[str] = frozenset({"auto", "gpu", "cpu", "cuda", "mps", "tpu"})

PRECISION_ALIASES = {
    "fp16": "16-mixed",
    "float16": "16-mixed",
    "half": "16-mixed",
    "amp": "16-mixed",
    "mixed": "16-mixed",
    "16bit": "16-mixed",
    "bfloat16": "bf16-mixed",
    "bf16mixed": "bf16-mixed",
    "fp32": "32-true",
    "float32": "32-true",
    "float": "32-true",
    "full": "32-true",
    "single": "32-true",
    "tf32": "32-true",
    "32bit": "32-true",
    "fp64": "64-true",
    "float64": "64-true",
    "double": "64-true",
}
STRATEGY_ALIASES = {"dp": "ddp", "none": "auto", "single": "single_device", "fsdp2": "fsdp"}
ACCELERATOR_ALIASES = {"nvidia": "gpu", "rocm": "gpu", "metal": "mps", "xla": "tpu"}


@functools.cache
def installed_precisions() -> tuple[Any, ...]:
    """The precision values the installed Lightning accepts (imports Lightning)."""
    from typing import get_args

    from lightning.fabric.plugins.precision import precision as p

    return (
        get_args(p._PRECISION_INPUT_STR)
        + get_args(p._PRECISION_INPUT_INT)
        + get_args(p._PRECISION_INPUT_STR_ALIAS)
    )


@functools.cache
def installed_strategies() -> frozenset[str]:
    """``"auto"`` and the names in the installed Lightning's StrategyRegistry."""
    from lightning.pytorch.strategies import StrategyRegistry

    return frozenset({"auto", *StrategyRegistry.available_strategies()})


@functools.cache
def installed_accelerators() -> frozenset[str]:
    """``"auto"``, ``"gpu"`` and the names in the installed Lightning's AcceleratorRegistry."""
    from lightning.pytorch.accelerators import AcceleratorRegistry

    return frozenset({"auto", "gpu", *AcceleratorRegistry.available_accelerators()})


def _installed(lookup: Any, static: Any) -> Any:
    """What the installed Lightning accepts; the static set if Lightning cannot be imported
    (its import error then shows when the run starts)."""
    try:
        return lookup()
    except Exception:
        return static


def _hint(value: str, accepted: list[str], aliases: dict[str, str]) -> str:
    text = value.strip().lower()
    target = aliases.get(text) or aliases.get(text.replace("_", "").replace("-", ""))
    if target is None and text in accepted:
        target = text  # only the case differs
    if target is not None and target in accepted:
        return f" (did you mean '{target}'?)"
    found = did_you_mean(text, accepted)
    if found:
        return found
    more = ", ..." if len(accepted) > 8 else ""
    return " (Lightning accepts: " + ", ".join(accepted[:8]) + more + ")"


def check_precision(value: Any) -> list[str]:
    if value in PRECISIONS and not isinstance(value, bool):
        return []
    accepted = _installed(installed_precisions, PRECISIONS)
    if value in accepted and not isinstance(value, bool):
        return []
    names = sorted(
        (v for v in accepted if isinstance(v, str) and "-" in v),
        key=lambda v: PRECISIONS.index(v) if v in PRECISIONS else len(PRECISIONS),
    )
    return [
        f"trainer.precision: {value!r} is not a precision Lightning accepts"
        + _hint(str(value), names, PRECISION_ALIASES)
    ]


def check_strategy(value: str) -> list[str]:
    # Lightning lowercases a strategy name before looking it up.
    if value.lower() in STRATEGIES:
        return []
    accepted = _installed(installed_strategies, STRATEGIES)
    if value.lower() in accepted:
        return []
    shown = sorted(accepted, key=lambda n: (n != "auto", len(n), n))
    return [
        f"trainer.strategy: {value!r} is not a Lightning strategy"
        + _hint(value, shown, STRATEGY_ALIASES)
    ]


def check_accelerator(value: str) -> list[str]:
    if value in ACCELERATORS:
        return []
    accepted = _installed(installed_accelerators, ACCELERATORS)
    if value in accepted:
        return []
    shown = sorted(accepted, key=lambda n: (n != "auto", n))
    return [
        f"trainer.accelerator: {value!r} is not a Lightning accelerator"
        + _hint(value, shown, ACCELERATOR_ALIASES)
    ]


_DEVICES_FORMS = "a count of 1 or more, -1 for all, 'auto', or device indices like [0, 1]"


def _indices(value: Any) -> list[int] | None:
    """Device indices from a list or a "0,1" string; None if they are not indices."""
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if not parts or not all(p.isdigit() for p in parts):
            return None
        return [int(p) for p in parts]
    if all(isinstance(i, int) and not isinstance(i, bool) for i in value):
        return list(value)
    return None


def check_devices(value: Any, accelerator: Any = "auto") -> list[str]:
    """``trainer.devices`` in a form Lightning takes: an int of 1 or more, -1 (all), "auto", a
    non-empty list of distinct indices (0 or more), or the same as a string ("2", "-1", "0,1")."""
    path = "trainer.devices"
    if isinstance(value, bool) or value is None:
        return [f"{path}: expected {_DEVICES_FORMS}, got {value!r}"]
    if isinstance(value, str):
        text = value.strip()
        if text == "auto":
            return []
        if re.fullmatch(r"-?[0-9]+", text):
            value = int(text)
    if isinstance(value, int):
        if value == 0:
            return [f"{path}: 0 devices cannot train (give {_DEVICES_FORMS})"]
        if value < -1:
            return [f"{path}: {value} is not a number of devices (give {_DEVICES_FORMS})"]
        if value == -1 and accelerator == "cpu":
            return [
                f"{path}: -1 (all devices) does not work with trainer.accelerator=cpu "
                "(give a number of processes of 1 or more, or 'auto')"
            ]
        return []
    if not isinstance(value, str) and not hasattr(value, "__iter__"):
        return [f"{path}: expected {_DEVICES_FORMS}, got {value!r}"]
    indices = _indices(value)
    shown = value if isinstance(value, str) else list(value)
    if indices is None:
        if isinstance(value, str):
            return [
                f"{path}: {value!r} is not a number of devices or a list of indices "
                f"(give {_DEVICES_FORMS})"
            ]
        return [f"{path}: device indices must be whole numbers of 0 or more, got {shown!r}"]
    if not indices:
        return [f"{path}: an empty list selects no device (give {_DEVICES_FORMS})"]
    if any(i < 0 for i in indices):
        return [f"{path}: device indices must be 0 or more, got {shown!r} (use -1 for all devices)"]
    if len(set(indices)) < len(indices):
        return [f"{path}: device indices must be distinct, got {shown!r}"]
    if accelerator == "cpu":
        return [
            f"{path}: device indices {shown!r} select GPUs; with trainer.accelerator=cpu give "
            "a number of processes (e.g. trainer.devices=2)"
        ]
    return []


def check_trainer(trainer: Any) -> list[str]:
    """Every problem with the Lightning values of a structured ``trainer`` section.

    A valid ``devices`` given as a whole number in a string ("2", "-1") becomes that int,
    as Lightning reads it."""
    devices = check_devices(trainer.devices, str(trainer.accelerator))
    if not devices and isinstance(trainer.devices, str):
        if re.fullmatch(r"-?[0-9]+", trainer.devices.strip()):
            trainer.devices = int(trainer.devices)
    return [
        *check_precision(trainer.precision),
        *check_strategy(str(trainer.strategy)),
        *check_accelerator(str(trainer.accelerator)),
        *devices,
    ]
