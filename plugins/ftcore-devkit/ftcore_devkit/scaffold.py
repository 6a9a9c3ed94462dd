"""``ftcore new-plugin NAME --kind KIND``: write a complete plugin distribution.

The templates live in ``ftcore_devkit/templates/`` (shipped as package data): ``common/``
for every kind, plus one folder per kind. In template paths ``__package__`` becomes the
package name and ``__slug__`` the plugin's slug; files ending in ``.tmpl`` are filled in
with :class:`string.Template` (``${name}``...), others are copied as they are.

What gets written (for ``ftcore new-plugin my-strategy --kind strategy``)::

    ftcore-my-strategy/
      pyproject.toml                       entry point  my_strategy = "ftcore_my_strategy.plugin"
      README.md
      ftcore_my_strategy/plugin.py         the hooks, commented
      ftcore_my_strategy/schema.py         the options of strategies.my_strategy
      ftcore_my_strategy/logic.py          pure functions (strategy, head, dataset)
      ftcore_my_strategy/callback.py       the Lightning callback (strategy, callback)
      ftcore_my_strategy/recipes/my-strategy-demo.yaml   a recipe that uses it
      tests/test_ftcore_my_strategy.py     tests on ftcore_devkit.testing: conformance, a tiny run
      tests/conftest.py                    pytest_plugins = ["ftcore_devkit.testing"]

No heavy imports: this runs in a second.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from ftcore.errors import UserError

TEMPLATES = Path(__file__).resolve().parent / "templates"
KINDS = ("strategy", "head", "dataset", "callback")
_SLUG = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

DESCRIPTIONS = {
    "strategy": "Freeze the input embeddings for the first epochs, with an optional L2 penalty",
    "head": "Single-label text classification (a template head to adapt to your task)",
    "dataset": "Labelled texts from a JSONL file (a bundled sample by default)",
    "callback": "Write the validation metrics to a JSONL file every n epochs",
}
DEPENDENCIES = {
    "strategy": ["ftcore", "lightning>=2.4", "torch>=2.3"],
    "head": ["ftcore", "torch>=2.3", "transformers>=4.46", "torchmetrics>=1.4"],
    "dataset": ["ftcore"],
    "callback": ["ftcore", "lightning>=2.4"],
}
USAGE = {
    "strategy": "A recipe enables it with:\n\n```yaml\nstrategies:\n  {name}:\n"
    "    freeze_epochs: 1\n    l2: 0.0\n```",
    "head": "A recipe selects it with `task: {name}`; its options go under `head:`.",
    "dataset": "A recipe reads it with:\n\n```yaml\ndata:\n  source: {name}\n"
    "  options:\n    path: my.jsonl   # omit for the bundled sample\n```",
    "callback": "A recipe enables it with:\n\n```yaml\ncallbacks:\n  {name}:\n"
    "    every_n_epochs: 1\n```",
}
EXTRA_FILES = {
    "strategy": ["logic.py` | the strategy as pure functions", "callback.py` | the callback"],
    "head": ["logic.py` | labels and scoring as pure functions"],
    "dataset": ["logic.py` | reading and splitting", "data/sample.jsonl` | the bundled sample"],
    "callback": ["callback.py` | the Lightning callback"],
}


@dataclass(frozen=True)
class Names:
    """Every name derived from the NAME argument (``my-strategy``)."""

    slug: str  # my-strategy
    dist: str  # ftcore-my-strategy (the distribution)
    package: str  # ftcore_my_strategy (the import package)
    name: str  # my_strategy (the component and entry-point name recipes use)
    class_name: str  # MyStrategy

    @classmethod
    def parse(cls, raw: str) -> Names:
        slug = raw.strip().lower().replace("_", "-")
        slug = slug.removeprefix("ftcore-")
        if not _SLUG.match(slug):
            raise UserError(
                f"new-plugin: '{raw}' is not a usable name; use lowercase letters, digits "
                f"and dashes, starting with a letter (e.g. my-strategy)"
            )
        name = slug.replace("-", "_")
        return cls(
            slug=slug,
            dist=f"ftcore-{slug}",
            package=f"ftcore_{name}",
            name=name,
            class_name="".join(part.capitalize() for part in slug.split("-")),
        )


def values(names: Names, kind: str) -> dict[str, str]:
    """What ``${...}`` in the templates stands for."""
    recipe = f"{names.slug}-demo"
    files = "".join(f"| `{names.package}/{row} |\n" for row in EXTRA_FILES[kind])
    return {
        "slug": names.slug,
        "dist": names.dist,
        "package": names.package,
        "name": names.name,
        "class_name": names.class_name,
        "kind": kind,
        "recipe": recipe,
        "title": names.slug.replace("-", " ").capitalize(),
        "description": DESCRIPTIONS[kind],
        "dependencies": ", ".join(f'"{d}"' for d in DEPENDENCIES[kind]),
        "usage": USAGE[kind].format(name=names.name),
        "files": files,
    }


def render(names: Names, kind: str) -> dict[str, str]:
    """Relative path -> file content, for every file of the new distribution."""
    if kind not in KINDS:
        raise UserError(f"new-plugin: --kind must be one of {', '.join(KINDS)}")
    fill, files = values(names, kind), {}
    for folder in (TEMPLATES / "common", TEMPLATES / kind):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if "__pycache__" in path.parts:
                continue
            rel = path.relative_to(folder).as_posix()
            rel = rel.replace("__package__", names.package).replace("__slug__", names.slug)
            text = path.read_text(encoding="utf-8")
            if rel.endswith(".tmpl"):
                rel, text = rel.removesuffix(".tmpl"), Template(text).substitute(fill)
            files[rel] = text
    return files


def create(raw_name: str, kind: str, dest: str | Path | None = None) -> Path:
    """Write the distribution into ``dest`` (default ``./ftcore-<name>``); return it."""
    names = Names.parse(raw_name)
    target = Path(dest) if dest else Path.cwd() / names.dist
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UserError(f"new-plugin: {target} already exists and is not empty; choose --dest")
    files = render(names, kind)
    for rel, text in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the plugin's name, e.g. my-strategy")
    parser.add_argument("--kind", required=True, choices=KINDS, help="what the plugin provides")
    parser.add_argument("--dest", help="folder to write (default ./ftcore-NAME); must be empty")


def run(args: argparse.Namespace) -> int:
    target = create(args.name, args.kind, args.dest)
    names = Names.parse(args.name)
    shown = target if not target.is_absolute() else _relative(target)
    print(f"created {shown}/: {args.kind} '{names.name}' in distribution {names.dist}")
    steps = [
        (f"pip install -e {shown}", "ftcore finds it through its entry point"),
        ("ftcore plugins", f"lists {names.name}"),
        (f"pytest {shown}", "conformance checks and a tiny run"),
        (f"ftcore run {names.slug}-demo", f"the recipe in {names.package}/recipes/"),
    ]
    width = max(len(cmd) for cmd, _ in steps)
    print("next:")
    for cmd, why in steps:
        print(f"  {cmd:<{width}}  # {why}")
    return 0


def _relative(path: Path) -> Path:
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path
