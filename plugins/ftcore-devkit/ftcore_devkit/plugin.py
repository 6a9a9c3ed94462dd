"""The devkit's ftcore plugin: ``ftcore new-plugin`` (``ftcore_commands``).

The scaffold is imported only when the command runs.
"""

from __future__ import annotations

import argparse

import ftcore
from ftcore.types import Command


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    from ftcore_devkit.scaffold import add_arguments

    add_arguments(parser)


def _run(args: argparse.Namespace) -> int:
    from ftcore_devkit.scaffold import run

    return run(args)


@ftcore.hookimpl
def ftcore_commands() -> list[Command]:
    about = "write a new plugin: strategy, head, dataset, callback"
    return [Command("new-plugin", about, _add_arguments, _run)]
