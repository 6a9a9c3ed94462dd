"""The export plugin, wired into ftcore's hooks.

- ``ftcore_commands``: ``ftcore export RUN_DIR [--format gguf] [--dtype f32|f16] [--out FILE]``.

torch, transformers, safetensors and gguf are imported only when the command runs.
"""

from __future__ import annotations

import ftcore
from ftcore.types import Command


@ftcore.hookimpl
def ftcore_commands() -> list[Command]:
    from ftcore_export import command

    about = "export a finished run's model for local runtimes (GGUF for llama.cpp)"
    return [Command("export", about, command.add_arguments, command.run)]
