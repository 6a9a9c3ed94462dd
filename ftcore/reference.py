"""Reference documentation generated from the code: hooks and recipe keys.

``python -m ftcore.reference docs/reference`` rewrites ``hooks.md`` and ``recipe.md``; a
test fails when the committed files differ from what the code says.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
import typing
from pathlib import Path

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
        "`python -m ftcore.reference docs/reference`; do not edit by hand.",
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


def _comments(cls: type) -> dict[str, str]:
    """Field -> the comment lines right above it in the dataclass source."""
    found, pending = {}, []
    for line in inspect.getsource(cls).splitlines():
        text = line.strip()
        if text.startswith("#"):
            pending.append(text.lstrip("# "))
        elif ":" in text and not text.startswith(("class", '"""', "@")):
            found[text.split(":")[0]] = " ".join(pending)
            pending = []
        else:
            pending = []
    return found


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
    hints, notes, rows = typing.get_type_hints(cls), _comments(cls), []
    for field in dataclasses.fields(cls):
        path, tp = f"{prefix}{field.name}", hints[field.name]
        if dataclasses.is_dataclass(tp):
            rows += schema_table(tp, f"{path}.")
            continue
        rows.append(
            f"| `{path}` | {type_name(tp)} | {_default(field)} | {notes.get(field.name, '')} |"
        )
    return rows


def recipe_markdown() -> str:
    lines = [
        "# Recipe reference",
        "",
        "Generated from `ftcore/recipe/schema.py` by "
        "`python -m ftcore.reference docs/reference`; do not edit by hand.",
        "",
        "Plugin sections (`head`, `data.options`, `strategies.<name>`, `callbacks.<name>`) "
        "are validated against the schema each plugin declares; `ftcore plugins` lists them.",
        "",
        "| key | type | default | description |",
        "|---|---|---|---|",
    ]
    return "\n".join(lines + schema_table(schema.RecipeConfig)) + "\n"


def write(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hooks.md").write_text(hooks_markdown(), encoding="utf-8")
    (folder / "recipe.md").write_text(recipe_markdown(), encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/reference"))
