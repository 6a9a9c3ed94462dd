"""Reference documentation generated from the code: hooks, recipe keys, plugins, CLI.

``python tools/reference.py docs/reference`` rewrites ``hooks.md``, ``recipe.md`` and
``plugins.md`` in that folder, and ``cli.md`` beside it (``docs/cli.md``); a test fails
when the committed files differ from what the code says.

``plugins.md`` and ``cli.md`` cover the plugins of this repository (``plugins/*``) that are
installed, so that a plugin installed from elsewhere does not change them.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import os
import sys
import typing
from pathlib import Path
from typing import Any

from ftcore_devkit.conformance import schema_comments

from ftcore import hookspecs
from ftcore.recipe import schema
from ftcore.recipe.validate import type_name


def hook_names() -> list[str]:
    return [n for n, f in vars(hookspecs).items() if n.startswith("ftcore_") and callable(f)]


def hooks_markdown() -> str:
    lines = [
        "# Hook reference",
        "",
        "Generated from `ftcore/hookspecs.py` by "
        "`python tools/reference.py docs/reference`; do not edit by hand.",
        "",
    ]
    lines += [inspect.getdoc(hookspecs) or "", ""]
    for name in hook_names():
        func = getattr(hookspecs, name)
        opts = getattr(func, "ftcore_spec", {}) or {}
        kind = "first result" if opts.get("firstresult") else "all results"
        lines += [
            f"## `{name}`",
            "",
            "```python",
            f"def {name}{inspect.signature(func)}",
            "```",
            "",
            f"Call kind: {kind}.",
            "",
            inspect.getdoc(func) or "",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def _default(field: dataclasses.Field) -> str:
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return "required"
    value = getattr(value, "value", value)
    if dataclasses.is_dataclass(value):
        return "(section)"
    return "required" if value == "???" else f"`{value!r}`"


def schema_table(cls: type, prefix: str = "") -> list[str]:
    """Markdown rows for every key of a schema, nested sections included."""
    hints, notes, rows = typing.get_type_hints(cls), schema_comments(cls), []
    for field in dataclasses.fields(cls):
        path, tp = f"{prefix}{field.name}", hints[field.name]
        if dataclasses.is_dataclass(tp):
            rows += schema_table(tp, f"{path}.")
            continue
        cells = [type_name(tp), _default(field), notes.get(field.name, "")]
        rows.append(f"| `{path}` | " + " | ".join(_cell(c) for c in cells) + " |")
    return rows


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: pipes escaped, ``<x>`` shown as text.

    A pipe inside a code span cannot be escaped with a backslash there, so such a span
    becomes an HTML ``<code>`` element with ``&#124;``.
    """
    out = []
    for i, part in enumerate(text.split("`")):
        plain = part.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        if i % 2 == 0:  # outside `code`
            out.append(plain.replace("|", "\\|"))
        elif "|" in part:
            out.append("<code>" + plain.replace("|", "&#124;") + "</code>")
        else:
            out.append(f"`{part}`")
    return "".join(out)


def recipe_markdown() -> str:
    lines = [
        "# Recipe reference",
        "",
        "Generated from `ftcore/recipe/schema.py` by "
        "`python tools/reference.py docs/reference`; do not edit by hand.",
        "",
        "Plugin sections (`head`, `data.options`, `strategies.<name>`, `callbacks.<name>`) "
        "are validated against the schema each plugin declares; `ftcore plugins` lists them "
        "and the [plugin reference](plugins.md) documents every key.",
        "",
        "| key | type | default | description |",
        "|---|---|---|---|",
    ]
    return "\n".join(lines + schema_table(schema.RecipeConfig)) + "\n"


# --- plugins -------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
SECTION = {
    "head": "head.",
    "dataset": "data.options.",
    "strategy": "strategies.{name}.",
    "callback": "callbacks.{name}.",
    "evaluation": "evaluation.",
}
WHERE = {
    "head": "`task: {name}`; options under `head:`",
    "dataset": "`data.source: {name}`; options under `data.options:`",
    "strategy": "a `strategies.{name}:` section",
    "callback": "a `callbacks.{name}:` section",
    "model": "`model.name: {name}`",
    "evaluation": "the recipe's `evaluation:` section",
}


def _in_repository(module: Any) -> bool:
    path = Path(getattr(module, "__file__", "") or "").resolve()
    return path.is_relative_to(ROOT / "plugins")


def repository_plugins() -> list[tuple[Any, Any]]:
    """``(record, plugin module)`` of every loaded plugin whose code is under ``plugins/``."""
    from ftcore.manager import get_plugin_manager

    pm = get_plugin_manager(disable=(), strict=False, autoload=True)
    found = []
    for record in pm.records:
        plugin = pm.get_plugin(record.name)
        if record.status == "loaded" and plugin is not None and _in_repository(plugin):
            found.append((record, plugin))
    return found


def _component_lines(comp: Any) -> list[str]:
    lines = [
        f"### {comp.kind} `{comp.name}`",
        "",
        comp.description,
        "",
        "Used by " + WHERE.get(comp.kind, f"`{comp.kind}`").format(name=comp.name) + ".",
        "",
    ]
    if comp.conflicts or comp.requires:
        lines += [
            f"Cannot be combined with: {', '.join(comp.conflicts) or 'none'}. "
            f"Requires: {', '.join(comp.requires) or 'nothing'}.",
            "",
        ]
    if comp.details:
        lines += ["| detail | value |", "|---|---|"]
        lines += [f"| {k} | {_cell(str(v))} |" for k, v in comp.details.items()]
        lines.append("")
    if comp.schema is not None:
        prefix = SECTION.get(comp.kind, f"{comp.kind}.{{name}}.").format(name=comp.name)
        lines += ["| key | type | default | description |", "|---|---|---|---|"]
        lines += schema_table(comp.schema, prefix) + [""]
    elif comp.kind in SECTION:
        lines += ["Takes no options.", ""]
    return lines


def plugins_markdown() -> str:
    """Every component of this repository's plugins, with its recipe keys."""
    from ftcore_devkit.conformance import components_of

    lines = [
        "# Plugin reference",
        "",
        "Generated from the plugins under `plugins/` by "
        "`python tools/reference.py docs/reference`; do not edit by hand.",
        "",
        "Each plugin is a distribution of its own. Each component is listed with the recipe "
        "keys its schema accepts (type, default, description); `ftcore validate` rejects any "
        "other key.",
        "",
    ]
    for record, plugin in sorted(repository_plugins(), key=lambda rp: rp[0].distribution):
        hooks = sorted(n for n in dir(plugin) if hasattr(getattr(plugin, n), "ftcore_impl"))
        lines += [
            f"## {record.distribution}",
            "",
            f'Entry point `{record.name} = "{record.module}"`. '
            f"Hooks: {', '.join(f'`{h}`' for h in hooks)}.",
            "",
        ]
        for comp in components_of(plugin):
            lines += _component_lines(comp)
    return "\n".join(lines).rstrip() + "\n"


# --- command line ------------------------------------------------------------------------


def cli_parser() -> argparse.ArgumentParser:
    """ftcore's parser with core commands and this repository's plugins' commands."""
    from ftcore.cli import _parser

    parser = _parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for _, plugin in sorted(repository_plugins(), key=lambda rp: rp[0].name):
        func = getattr(plugin, "ftcore_commands", None)
        for command in (func() or []) if hasattr(func, "ftcore_impl") else []:
            if command.name not in sub.choices:
                command.add_arguments(sub.add_parser(command.name, help=command.help))
    return parser


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, Any]]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help for a in sub._choices_actions}
    return [(name, helps.get(name, ""), p) for name, p in sub.choices.items()]


def command_names() -> list[str]:
    return [name for name, _, _ in _subcommands(cli_parser())]


def _argument_rows(parser: argparse.ArgumentParser) -> list[str]:
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        name = ", ".join(action.option_strings) or action.dest
        if action.option_strings and action.nargs != 0:
            name += f" {action.metavar or action.dest.upper()}"
        notes = [action.help or ARGUMENT_NOTES.get(action.dest, "")]
        if action.choices:
            notes.append("one of: " + ", ".join(f"`{c}`" for c in action.choices))
        if action.required and action.option_strings:
            notes.append("required")
        said = "default" in (action.help or "").lower()
        if action.default not in (None, False, [], argparse.SUPPRESS) and not said:
            notes.append(f"default: `{action.default}`")
        rows.append(f"| `{name}` | " + _cell("; ".join(n for n in notes if n)) + " |")
    return rows


def _global_options(parser: argparse.ArgumentParser) -> list[str]:
    """The options of ``ftcore`` itself (-q, -v): accepted before or after the command."""
    options = [
        a for a in parser._actions if a.option_strings and not isinstance(a, argparse._HelpAction)
    ]
    if not options:
        return []
    return [
        "Global options, given before or after the command (`ftcore -q run smoke`, "
        "`ftcore run smoke -q`; the last one wins):",
        "",
        "| option | effect |",
        "|---|---|",
        *(f"| `{', '.join(a.option_strings)}` | {_cell(a.help or '')} |" for a in options),
        "",
    ]


# For positional arguments that the parser gives no help text.
ARGUMENT_NOTES = {
    "recipe": "a recipe name (see `ftcore recipes`) or a YAML path",
    "overrides": "`key=value` overrides, e.g. `optim.lr=3e-5`",
    "name": "a recipe name (see `ftcore recipes`)",
    "dest": "the file or folder to copy the recipe to (never overwritten)",
    "run_dir": "a run directory written by `ftcore run`",
}

EXIT_CODES = [
    "| exit code | meaning |",
    "|---|---|",
    "| 0 | success |",
    "| 1 | the run failed after it started (e.g. a non-finite loss); checkpoints are kept |",
    "| 2 | a mistake in the recipe, the data, the command line or the environment: one line "
    "per problem on stderr, no traceback |",
    "| 130 | interrupted (Ctrl-C, SIGTERM); `ftcore run --resume RUN_DIR` continues |",
]


def cli_markdown() -> str:
    """Every ``ftcore`` sub-command: what it does, usage, arguments."""
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps usage lines at the terminal's width
    try:
        commands = _subcommands(cli_parser())
        lines = [
            "# Command line",
            "",
            "Generated from ftcore's argparse parser (and the commands of this repository's "
            "plugins) by `python tools/reference.py docs/reference`; do not edit by hand.",
            "",
            "| command | what it does |",
            "|---|---|",
            *(f"| [`ftcore {n}`](#ftcore-{n}) | {_cell(h)} |" for n, h, _ in commands),
            "",
            *EXIT_CODES,
            "",
            *_global_options(cli_parser()),
        ]
        for name, help_text, parser in commands:
            lines += [
                f"## ftcore {name}",
                "",
                help_text[:1].upper() + help_text[1:] + ".",
                "",
                "```text",
                parser.format_usage().strip(),
                "```",
                "",
                "| argument | description |",
                "|---|---|",
                *_argument_rows(parser),
                "",
            ]
    finally:
        if columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = columns
    return "\n".join(lines).rstrip() + "\n"


def write(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hooks.md").write_text(hooks_markdown(), encoding="utf-8")
    (folder / "recipe.md").write_text(recipe_markdown(), encoding="utf-8")
    (folder / "plugins.md").write_text(plugins_markdown(), encoding="utf-8")
    (folder.parent / "cli.md").write_text(cli_markdown(), encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/reference"))
