"""The ``ftcore`` command line. Heavy libraries are imported only by commands that train.

User mistakes end with one line per problem on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ftcore import console
from ftcore.errors import NonFiniteError, RecipeError, RunInterrupted, UserError

EXIT_USER_ERROR = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ftcore", description="Fine-tune pretrained transformers with plugins and recipes."
    )
    _console_flags(parser, default=console.NORMAL)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="fine-tune: fit, validate each epoch, test the best, export")
    run.add_argument(
        "recipe", nargs="?", help="a recipe name (see `ftcore recipes`) or a YAML path"
    )
    run.add_argument("overrides", nargs="*", help="key=value overrides, e.g. optim.lr=3e-5")
    run.add_argument(
        "--out",
        help="run directory (default runs/<recipe>/<timestamp>); must be new or empty",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="let --out be a folder with other files in it (never one holding a run's files, "
        "which ftcore would replace)",
    )
    run.add_argument(
        "--resume", metavar="RUN_DIR", help="continue an interrupted run in its folder"
    )
    val = sub.add_parser("validate", help="resolve and check a recipe without running it")
    val.add_argument("recipe")
    val.add_argument("overrides", nargs="*")
    rec = sub.add_parser(
        "recipes",
        help="list recipes; `show NAME [--resolved [key=value ...]]`, `copy NAME DEST`",
    )
    rec.add_argument("action", nargs="?", choices=["show", "copy"])
    rec.add_argument("name", nargs="?")
    rec.add_argument("dest", nargs="?")
    rec.add_argument(
        "overrides", nargs="*", help="with show --resolved: key=value overrides, e.g. optim.lr=3e-5"
    )
    rec.add_argument(
        "--resolved",
        action="store_true",
        help="show: the recipe as `ftcore run` uses it (extends merged, interpolations "
        "resolved, every default filled in)",
    )
    sub.add_parser("plugins", help="list plugins: distribution, version, hooks, status")
    pred = sub.add_parser("predict", help="predict with the exported model of a run")
    pred.add_argument("run_dir")
    group = pred.add_mutually_exclusive_group(required=True)
    group.add_argument("--text", help="one text to label")
    group.add_argument("--input", help='a JSONL file with a "text" field per line')
    group.add_argument("--prompt", help="one prompt to generate from (generation heads)")
    pred.add_argument(
        "--adapter",
        action="store_true",
        help="use the base model plus the run's adapter/ (e.g. LoRA) instead of model/",
    )
    pred.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="run Python code shipped in the run's model/ (never done without this flag)",
    )
    return parser


def _console_flags(parser: argparse.ArgumentParser, default: Any) -> None:
    """-q/--quiet and -v/--verbose (the last one given wins), see ftcore.console."""
    try:
        parser.add_argument(
            "-q",
            "--quiet",
            dest="verbosity",
            action="store_const",
            const=console.QUIET,
            default=default,
            help="print only warnings, errors and the result, not ftcore's progress lines",
        )
        parser.add_argument(
            "-v",
            "--verbose",
            dest="verbosity",
            action="store_const",
            const=console.VERBOSE,
            default=default,
            help="also print ftcore's debug lines and the libraries' notices and warnings "
            "(Lightning, torch, transformers)",
        )
    except argparse.ArgumentError:  # a plugin command that has its own -q or -v keeps it
        pass


def _flags_after_command(parser: argparse.ArgumentParser) -> None:
    """Accept -q/-v after the command too (``ftcore run smoke -q``), not only before it."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for command in sub.choices.values():
        _console_flags(command, default=argparse.SUPPRESS)  # keeps a flag given before


def _plugin_commands(parser: argparse.ArgumentParser) -> dict[str, Any]:
    """Add the sub-commands plugins contribute (``ftcore_commands``)."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found = {}
    for command in _hooks().commands():
        if command.name in sub.choices:
            continue  # core commands and the first plugin to claim a name win
        command.add_arguments(sub.add_parser(command.name, help=command.help))
        found[command.name] = command.run
    return found


_MANAGERS: list[Any] = []  # the plugin managers this command built, to blame a failure


def _hooks(disable: list[str] = (), strict: bool | None = None) -> Any:
    from ftcore.hooks import Hooks
    from ftcore.manager import get_plugin_manager

    pm = get_plugin_manager(disable=disable, strict=strict)
    _MANAGERS.append(pm)
    return Hooks(pm)


def _blame(exc: Exception) -> UserError | None:
    """The one-line error naming the plugin whose code raised ``exc``, if one did."""
    from ftcore.blame import plugin_failure

    for pm in reversed(_MANAGERS):
        failure = plugin_failure(exc, pm)
        if failure is not None:
            return failure
    return None


def _recipe(name: str, overrides: list[str]) -> tuple[Any, Any]:
    """Load a recipe; rebuild the plugin manager if the recipe disables plugins."""
    from ftcore.recipe import loader, plugin_controls, read_recipe, validate_recipe

    hooks = _hooks()
    path = loader.find(name, hooks.recipe_dirs())
    raw = read_recipe(path, overrides, hooks)  # read once; its plugins: section checked
    controls = plugin_controls(raw, str(path))
    if controls["disable"] or controls["strict"]:
        hooks = _hooks(controls["disable"], controls["strict"])
    conflicts = hooks.conflicts()
    if conflicts:
        raise RecipeError(conflicts, "plugins")
    recipe = validate_recipe(raw, path, overrides, hooks)
    warn_failed_plugins(hooks.pm)
    return recipe, hooks


def warn_failed_plugins(pm: Any) -> None:
    """One warning line per plugin that failed to load (the others work without it)."""
    import logging

    for record in getattr(pm, "failed", list)():
        logging.getLogger("ftcore.cli").warning(
            f"plugin '{record.name}' ({record.distribution}) failed to load and is ignored: "
            f"{record.error}; fix or uninstall it, or disable it with "
            f"FTCORE_DISABLE_PLUGINS={record.name}"
        )


def cmd_run(args: argparse.Namespace) -> int:
    from ftcore.run import execute

    if args.resume:
        if args.recipe or args.out or args.force:
            raise UserError(
                "ftcore run --resume RUN_DIR takes no RECIPE, --out or --force: the run "
                "directory holds its recipe"
            )
        if not (Path(args.resume) / "recipe.yaml").is_file():
            raise UserError(
                f"{args.resume} is not an ftcore run directory (it has no recipe.yaml); give "
                "the folder an earlier `ftcore run` wrote (printed as 'run directory')"
            )
        recipe, hooks = _recipe(str(Path(args.resume) / "recipe.yaml"), args.overrides)
        summary = execute(recipe, hooks, out=args.resume, resume=True)
    elif not args.recipe:
        raise UserError("ftcore run: give a RECIPE (see `ftcore recipes`) or --resume RUN_DIR")
    else:
        recipe, hooks = _recipe(args.recipe, args.overrides)
        summary = execute(recipe, hooks, out=args.out, force=args.force)
    tests = ", ".join(f"{k.split('/', 1)[1]}={v:.4f}" for k, v in summary["test"].items())
    print(f"\nftcore: {recipe.name} finished in {summary['timings']['total_seconds']:.0f} s")
    print(f"  test: {tests}")
    print(f"  run directory: {summary['run_dir']}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    recipe, _ = _recipe(args.recipe, args.overrides)
    print(
        f"{recipe.name}: valid (task {recipe.task}, data {recipe.data.source}, "
        f"model {recipe.model.name})"
    )
    return 0


def cmd_recipes(args: argparse.Namespace) -> int:
    from ftcore.recipe import loader

    found = loader.available(_hooks().recipe_dirs())
    if args.action is None:
        width = max((len(n) for n in found), default=0)
        for name, path in found.items():
            print(f"{name:<{width}}  {loader.describe(path)}")
        return 0
    if not args.name:
        raise UserError(f"ftcore recipes {args.action}: give a recipe NAME")
    if args.action == "show":
        overrides = [*([args.dest] if args.dest else []), *args.overrides]
        if args.resolved:
            from omegaconf import OmegaConf

            recipe, _ = _recipe(args.name, overrides)
            print(OmegaConf.to_yaml(recipe), end="")
            return 0
        if overrides:
            raise UserError(
                f"ftcore recipes show: {' '.join(overrides)}: overrides apply only with "
                "--resolved (ftcore recipes show NAME --resolved key=value ...)"
            )
        print(loader.find(args.name, _hooks().recipe_dirs()).read_text(encoding="utf-8"), end="")
        return 0
    if args.overrides or args.resolved:
        extra = " ".join([*args.overrides, *(["--resolved"] if args.resolved else [])])
        raise UserError(f"ftcore recipes copy NAME DEST: unexpected {extra}")
    return _copy(loader.find(args.name, _hooks().recipe_dirs()), args.dest)


def _copy(path: Path, dest: str | None) -> int:
    if not dest:
        raise UserError("ftcore recipes copy NAME DEST: give a destination file or folder")
    target = Path(dest)
    if target.is_dir():
        target = target / path.name
    if target.exists():
        raise UserError(f"{target} already exists; choose another destination")
    target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    print(f"copied {path.stem} to {target}")
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    hooks = _hooks()
    pm = hooks.pm
    for record in pm.records:
        print(f"{record.name}  ({record.distribution} {record.version})  {record.status}")
        if record.status == "failed":
            print(f"    error: {record.error}")
            continue
        plugin = pm.get_plugin(record.name)
        if plugin is None:
            continue
        names = sorted(impl.name for impl in (pm.get_hookcallers(plugin) or []))
        print(f"    hooks: {', '.join(names)}")
        provided = [e.component for e in hooks.components() if e.plugin == record.name]
        for comp in provided:
            print(f"    {comp.kind} {comp.name}: {comp.description}")
    for problem in hooks.conflicts():
        print(f"conflict: {problem}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from ftcore.predict import Predictor, read_inputs

    rows = read_inputs(args.text, args.input, args.prompt)
    predictor = Predictor(
        Path(args.run_dir),
        _hooks(),
        adapter=args.adapter,
        trust_remote_code=args.trust_remote_code,
    )
    for row, pred in zip(rows, predictor.predict(rows)):
        shown = {"prompt": row["prompt"]} if args.prompt is not None else {"text": row["text"]}
        print(json.dumps({**shown, **pred}, ensure_ascii=False))
    return 0


COMMANDS = {
    "run": cmd_run,
    "validate": cmd_validate,
    "recipes": cmd_recipes,
    "plugins": cmd_plugins,
    "predict": cmd_predict,
}


def _report(exc: UserError) -> None:
    if isinstance(exc, RecipeError):
        for source, problem in exc.located():
            print(f"ftcore: error: {source}: {problem}", file=sys.stderr)
    else:
        print(f"ftcore: error: {exc}", file=sys.stderr)


def _parse(argv: list[str] | None) -> tuple[argparse.Namespace, dict[str, Any]]:
    parser = _parser()
    commands = {**COMMANDS, **_plugin_commands(parser)}
    _flags_after_command(parser)
    args, extra = parser.parse_known_args(argv)
    overrides_ok = isinstance(getattr(args, "overrides", None), list) and all(
        "=" in e and not e.startswith("-") for e in extra
    )
    if extra and overrides_ok:
        args.overrides += extra  # key=value given after --out
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command is None:
        parser.print_help()
        raise SystemExit(EXIT_USER_ERROR)
    return args, commands


def main(argv: list[str] | None = None) -> int:
    _MANAGERS.clear()  # blame only the managers of this command (main runs many times in tests)
    with console.Console() as shown:  # the default verbosity while the flags are read
        return _main(argv, shown)


def _main(argv: list[str] | None, shown: console.Console) -> int:
    try:
        args, commands = _parse(argv)
        shown.apply(args.verbosity)
        return commands[args.command](args)
    except UserError as exc:
        _report(exc)
        return EXIT_USER_ERROR
    except RunInterrupted as exc:
        print(f"ftcore: {exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("ftcore: interrupted", file=sys.stderr)
        return 130
    except NonFiniteError as exc:  # the run failed; checkpoints are kept
        print(f"ftcore: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: in a plugin (named, one line) or in ftcore (traceback)
        failure = _blame(exc)
        if failure is None or os.environ.get("FTCORE_TRACE_PLUGINS"):
            raise
        print(f"ftcore: error: {failure}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
