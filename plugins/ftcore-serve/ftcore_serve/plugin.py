"""The serve plugin, wired into ftcore's hooks.

- ``ftcore_commands``: ``ftcore serve RUN_DIR [--host H] [--port P] [--max-batch-size N]
  [--batch-timeout S] [--workers N]``.

litserve, torch and transformers are imported only when the command runs.
"""

from __future__ import annotations

import ftcore
from ftcore.types import Command


@ftcore.hookimpl
def ftcore_commands() -> list[Command]:
    from ftcore_serve import command

    about = "serve a finished run over HTTP (LitServe): /predict, /v1/chat/completions, /health"
    return [Command("serve", about, command.add_arguments, command.run)]
