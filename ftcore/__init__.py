"""ftcore: plugin-based fine-tuning of pretrained transformers on PyTorch Lightning.

Plugins use :data:`hookimpl` and the public API: :mod:`ftcore.api` (which re-exports the
types of :mod:`ftcore.types`) and :mod:`ftcore.errors`; every other module is private.
"""

from __future__ import annotations

import pluggy

from ftcore.errors import UserError
from ftcore.types import Component, DataInfo, RawSplits, StepOutput

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("ftcore")

__all__ = ["Component", "DataInfo", "RawSplits", "StepOutput", "UserError", "hookimpl"]
