"""What a command prints on stderr: ftcore's own lines, with library notices kept back.

ftcore reports through :mod:`logging`. Each module logs to ``logging.getLogger(__name__)``
(``ftcore.run``, ``ftcore.safety``, ...): ``log.info`` for progress a user wants to see,
``log.warning`` for something they should act on, ``log.debug`` for detail shown only
with ``-v``. Errors that end a command are not logged: they are raised as
:class:`ftcore.errors.UserError` and printed once by the command line.

Plugins log the same way, with ``logging.getLogger(__name__)``. A plugin whose package is
named ``ftcore_*`` (``ftcore_my_plugin``) is shown under its distribution's name
(``ftcore-my-plugin: ...``); a plugin with another package name logs
to a child of ``ftcore.plugins`` instead, e.g. ``logging.getLogger("ftcore.plugins.mine")``,
shown as ``mine: ...``. Anything else is a library, kept back as described below.

Importing ftcore configures nothing. Only the command line (``ftcore.cli.main``) sets the
console up, once per command, with :class:`Console`, a handler on stderr::

    ftcore: MESSAGE                 ftcore's info (hidden by -q)
    ftcore: warning: MESSAGE        ftcore's warning (errors: "ftcore: error: ...")
    ftcore: debug: MESSAGE          ftcore's debug (shown by -v)
    ftcore-my-plugin: MESSAGE       a plugin's info
    lightning: MESSAGE              a library's notice (shown by -v)

What is shown, per verbosity::

                                    -q          default         -v
    ftcore's and plugins' lines     warnings    info            debug
    libraries' log records (1)      errors      warnings        info
    libraries' Python warnings (2)  hidden      hidden          shown
    transformers' own logging       errors      errors          warnings
    transformers' progress bars     hidden      hidden (3)      shown

    (1) Lightning's "GPU available", its litlogger tips, "Restoring states ..."
    (2) from the modules of LIBRARIES: deprecations, "does not have many workers", ...
    (3) from the start of a run (:func:`settle`): "Writing model shards"

Python's own switches win over this: with ``-W`` or ``PYTHONWARNINGS`` the warning filters
are left alone, and ``TRANSFORMERS_VERBOSITY`` keeps transformers at the level it names.
No heavy library is imported here: Lightning and transformers are steered through logger
names, warning filters and environment variables, and, once a run has imported them,
by :func:`settle`.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

QUIET, NORMAL, VERBOSE = -1, 0, 1

# (ftcore and plugins, libraries) lowest level shown, per verbosity
LEVELS = {
    QUIET: (logging.WARNING, logging.ERROR),
    NORMAL: (logging.INFO, logging.WARNING),
    VERBOSE: (logging.DEBUG, logging.INFO),
}

# packages whose Python warnings (deprecations, "does not have many workers", ...) are
# library notices: hidden unless -v. Matched against the module a warning is issued from.
LIBRARIES = (
    "lightning",
    "lightning_fabric",
    "lightning_utilities",
    "pytorch_lightning",
    "torch",
    "torchmetrics",
    "transformers",
    "tokenizers",
    "huggingface_hub",
    "datasets",
    "peft",
    "accelerate",
    "safetensors",
    "tensorboard",
    "tensorboardX",
)
LIBRARY_MODULES = rf"({'|'.join(LIBRARIES)})(\.|$)"

# Lightning's loggers. On import Lightning puts a handler printing everything at INFO on
# each (when the root logger has no handler yet) or on their parent "lightning" (always):
# ours goes on them first, and they stop propagating, so that neither is reached.
LIGHTNING_LOGGERS = (
    "lightning.pytorch",
    "lightning.fabric",
    "pytorch_lightning",
    "lightning_fabric",
)

_LEVEL_TAGS = {logging.DEBUG: "debug: ", logging.WARNING: "warning: "}


def is_own(name: str) -> bool:
    """Whether logger ``name`` is ftcore's or a plugin's (shown at ftcore's verbosity)."""
    top = name.split(".", 1)[0]
    return top == "ftcore" or top.startswith("ftcore_")


def label(name: str) -> str:
    """The prefix a record of logger ``name`` is shown with."""
    parts = name.split(".")
    if parts[:2] == ["ftcore", "plugins"] and len(parts) > 2:
        return parts[2]
    return parts[0].replace("_", "-")


class ConsoleFormatter(logging.Formatter):
    """``ftcore: message``, ``ftcore: warning: message``, ``lightning: message``."""

    def format(self, record: logging.LogRecord) -> str:
        tag = _LEVEL_TAGS.get(record.levelno, "error: " if record.levelno >= logging.ERROR else "")
        return f"{label(record.name)}: {tag}{super().format(record)}"


class _Gate(logging.Filter):
    """Let a record through if it reaches the level of its kind (ftcore's or a library's)."""

    def __init__(self, own: int, other: int) -> None:
        super().__init__()
        self.own, self.other = own, other

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= (self.own if is_own(record.name) else self.other)


class ConsoleHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (pytest's capture, a redirection)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)
        self.setFormatter(ConsoleFormatter())

    @property
    def stream(self) -> Any:  # type: ignore[override]
        return sys.stderr


_active: Console | None = None


class Console:
    """The console setup of one command; undone on exit (``main`` runs many times in tests).

    ``with Console() as console: ... console.apply(verbosity)``: enter with the default
    verbosity (for what happens while the command line is parsed), apply the one asked for.
    """

    def __init__(self, verbosity: int = NORMAL) -> None:
        self.verbosity = verbosity
        self.handler = ConsoleHandler()
        self._undo: list[Callable[[], None]] = []
        self._settled: set[str] = set()
        self._previous: Console | None = None
        self._user_transformers_verbosity = False

    def __enter__(self) -> Console:
        global _active
        self._previous, _active = _active, self
        self.apply(self.verbosity)
        return self

    def __exit__(self, *exc: object) -> None:
        global _active
        self.restore()
        _active = self._previous

    def apply(self, verbosity: int) -> None:
        """Set (or change) the verbosity: handler, levels, warning filters, libraries."""
        self.restore()
        self.verbosity = verbosity
        own, other = LEVELS[verbosity]
        root = logging.getLogger()
        self.handler.filters = [_Gate(own, other)]
        root.addHandler(self.handler)
        self._undo.append(lambda: root.removeHandler(self.handler))
        self._set_level(root, min(own, other))  # plugin loggers' records must be created
        for name in LIGHTNING_LOGGERS:
            logger = logging.getLogger(name)
            if not logger.handlers:  # not imported yet (else settle() quiets its handler)
                logger.addHandler(self.handler)
                self._undo.append(lambda logger=logger: logger.removeHandler(self.handler))
                was = logger.propagate
                logger.propagate = False
                self._undo.append(lambda logger=logger, was=was: setattr(logger, "propagate", was))
        if not sys.warnoptions:  # -W / PYTHONWARNINGS: the user's filters decide
            saved = warnings.catch_warnings()
            saved.__enter__()
            self._undo.append(lambda: saved.__exit__(None, None, None))
            if verbosity < VERBOSE:
                warnings.filterwarnings("ignore", module=LIBRARY_MODULES)
        self._user_transformers_verbosity = "TRANSFORMERS_VERBOSITY" in os.environ
        if not self._user_transformers_verbosity and verbosity < VERBOSE:
            os.environ["TRANSFORMERS_VERBOSITY"] = "error"  # read when transformers is imported
            self._undo.append(lambda: os.environ.pop("TRANSFORMERS_VERBOSITY", None))
        self.settle()

    def settle(self) -> None:
        """Apply the verbosity to the libraries imported by now (once each)."""
        _, other = LEVELS[self.verbosity]
        for name in LIGHTNING_LOGGERS:
            logger = logging.getLogger(name)
            # imported before the console was set up: Lightning's own handler prints
            # everything at INFO, so the level of the logger gates it
            if name not in self._settled and self.handler not in logger.handlers:
                self._settled.add(name)
                self._set_level(logger, other)
        if "transformers" in sys.modules and "transformers" not in self._settled:
            self._settled.add("transformers")
            self._settle_transformers()

    def _settle_transformers(self) -> None:
        from transformers.utils import logging as hf_logging

        if not self._user_transformers_verbosity:
            was = hf_logging.get_verbosity()
            shown = logging.WARNING if self.verbosity >= VERBOSE else logging.ERROR
            hf_logging.set_verbosity(shown)
            self._undo.append(lambda: hf_logging.set_verbosity(was))
        if self.verbosity < VERBOSE and hf_logging.is_progress_bar_enabled():
            hf_logging.disable_progress_bar()  # "Writing model shards", "Loading weights"
            self._undo.append(hf_logging.enable_progress_bar)

    def _set_level(self, logger: logging.Logger, level: int) -> None:
        was = logger.level
        logger.setLevel(level)
        self._undo.append(lambda: logger.setLevel(was))

    def restore(self) -> None:
        """Undo everything this console changed, newest first."""
        while self._undo:
            self._undo.pop()()
        self._settled.clear()


def settle() -> None:
    """Bring libraries imported since the command started in line with its verbosity.

    Called when a run starts (Lightning and transformers are imported by then); does
    nothing outside the command line.
    """
    if _active is not None:
        _active.settle()


def verbosity() -> int:
    """The verbosity of the command running now (``NORMAL`` outside the command line)."""
    return _active.verbosity if _active is not None else NORMAL
