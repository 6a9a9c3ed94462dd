"""``ftcore sweep RECIPE [KEY=VALUE ...] [--trials N] [--out SWEEP_DIR] [--resume]
[--timeout S] [--no-prune]``.

1. load the recipe (overrides applied) and its ``sweep:`` section; try every choice and
   both ends of every range through recipe validation, so a value the recipe refuses
   stops the sweep before anything trains (exit code 2);
2. open the Optuna study in SWEEP_DIR (``--resume``: the same recipe; trials a killed
   sweep left running are tried again) and run trials until N count (completed, pruned
   or failed), or ``--timeout`` seconds have passed;
3. run (or reuse) the recipe's defaults in SWEEP_DIR/defaults, compare the best trial with
   it on the test set (``ftcore compare``), write summary.json and summary.md.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

from ftcore.api import UserError, load_recipe
from ftcore.errors import RunInterrupted
from ftcore_sweep import space, study, summary, trials, versus

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="a recipe with a sweep: section (name or YAML path)")
    parser.add_argument("overrides", nargs="*", help="key=value overrides for every trial")
    parser.add_argument(
        "--trials", type=int, default=20, metavar="N", help="trials in all, earlier ones included"
    )
    parser.add_argument(
        "--out",
        metavar="SWEEP_DIR",
        help="sweep folder (default <output.root>/<recipe>/sweep-<timestamp>)",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue the sweep in --out up to --trials"
    )
    parser.add_argument(
        "--timeout", type=float, metavar="S", help="start no new trial after S seconds"
    )
    parser.add_argument(
        "--no-prune", action="store_true", help="never stop a trial early (median pruning)"
    )


def _check_arguments(args: argparse.Namespace) -> None:
    if args.trials < 1:
        raise UserError(f"--trials {args.trials}: must be 1 or more, e.g. --trials 20")
    if args.timeout is not None and args.timeout <= 0:
        raise UserError(f"--timeout {args.timeout}: must be a positive number of seconds")
    if args.resume and not args.out:
        raise UserError("--resume needs --out SWEEP_DIR: the folder of the sweep to continue")


def _sweep_dir(recipe: Any, out: str | None) -> Path:
    if out:
        return Path(out).expanduser().resolve()
    root = Path(recipe.output.root).expanduser().resolve()
    return root / recipe.name / time.strftime("sweep-%Y%m%d-%H%M%S")


def _monitor(recipe: Any, hooks: Any) -> tuple[str, str]:
    """The recipe's checkpoint monitor and mode, else its head's."""
    chosen = hooks.head(recipe.task).monitor(options=hooks.head_options(recipe))
    return recipe.checkpoint.monitor or chosen.metric, recipe.checkpoint.mode or chosen.mode


def _preflight(base: trials.Base) -> None:
    """Validate the recipe with each choice and both ends of each range (a value outside a
    key's range stops the sweep here, not in every trial)."""
    problems: list[str] = []
    for found in base.spaces:
        for example in found.examples():
            try:
                base.load({found.key: example})
            except UserError as exc:
                problems.append(f"sweep.{found.key}: {example!r} is refused: {exc}")
                break
    if problems:
        raise UserError("; ".join(problems))


def plan(args: argparse.Namespace, folder: bool = False) -> trials.Base:
    """The recipe, its search space and the sweep's shared settings, every value of the
    space tried through recipe validation; nothing written (docs tests check commands so).
    folder: also check the sweep folder first (new, or ``--resume``: the same recipe)."""
    _check_arguments(args)
    recipe, hooks = load_recipe(args.recipe, args.overrides)
    spaces = space.spaces(recipe)
    if not spaces:
        raise UserError(
            f"{args.recipe}: the recipe's sweep: section is missing or empty; add one, e.g. "
            f"sweep: {{optim.lr: {{log_uniform: [1.0e-5, 1.0e-3]}}}} (see docs/sweep.md)"
        )
    metric, mode = _monitor(recipe, hooks)
    base = trials.Base(
        args.recipe, list(args.overrides), hooks, metric, mode, _sweep_dir(recipe, args.out)
    )
    base.spaces = spaces
    if folder:
        study.check_folder(base.sweep_dir, recipe, args.resume)
    _preflight(base)
    return base


def prepare(args: argparse.Namespace) -> trials.Base:
    """:func:`plan` with the sweep folder checked, then started."""
    base = plan(args, folder=True)
    study.start(base.sweep_dir, base.load({}))
    return base


def _quiet_optuna() -> None:
    """Optuna's lines go through ftcore's console (shown with -v), not its own handler."""
    import optuna

    optuna.logging.disable_default_handler()
    optuna.logging.enable_propagation()


def run(args: argparse.Namespace) -> int:
    _quiet_optuna()
    base = prepare(args)
    recipe = base.load({})
    the_study = study.open_study(base.sweep_dir, base.mode, recipe.seed, not args.no_prune)
    retried = study.requeue_interrupted(the_study)
    if retried:
        log.info(f"trials {retried} were interrupted; their values are tried again")
    started = time.monotonic()
    try:
        while study.counted(the_study) < args.trials:
            if args.timeout is not None and time.monotonic() - started > args.timeout:
                log.info(f"--timeout {args.timeout:g} s reached; no new trial started")
                break
            trials.run_trial(base, the_study)
    except RunInterrupted:
        summary.write(base.sweep_dir, _trials_only(base, the_study))
        raise RunInterrupted(_resume_hint(args, base)) from None
    summary.write(base.sweep_dir, _trials_only(base, the_study))
    found = finish(base, the_study)
    _print(found)
    return 0


def _resume_hint(args: argparse.Namespace, base: trials.Base) -> str:
    import shlex

    words = ["ftcore", "sweep", args.recipe, *args.overrides, "--trials", str(args.trials)]
    command = shlex.join(words + ["--no-prune"] * args.no_prune)
    return (
        f"sweep interrupted; the trial under way is tried again on resume: "
        f"{command} --resume --out {shlex.quote(str(base.sweep_dir))}"
    )


def _trials_only(base: trials.Base, the_study: Any) -> dict[str, Any]:
    """The summary before the comparison: the trials so far."""
    return {
        "recipe": base.load({}).name,
        "sweep_dir": str(base.sweep_dir),
        "objective": {"metric": base.metric, "mode": base.mode},
        "space": [s.key for s in base.spaces],
        "trials": summary.trial_rows(the_study, study.interrupted(the_study)),
        "best": None,
        "defaults": None,
        "comparison": {"verdict": "not compared", "reason": "compared after the last trial"},
    }


def finish(base: trials.Base, the_study: Any) -> dict[str, Any]:
    """Defaults run, comparison, summary files; the summary."""
    best = summary.best_trial(the_study)
    result = _trials_only(base, the_study)
    result["comparison"]["reason"] = "no trial completed"
    if best is not None:
        best_dir = base.sweep_dir / best.user_attrs["run_dir"]
        defaults = versus.defaults_run(base)
        result["best"] = {
            "number": best.number,
            "params": dict(best.params),
            "value": best.value,
            "run_dir": best.user_attrs["run_dir"],
            "test": versus.test_metrics(best_dir),
        }
        result["defaults"] = {"run_dir": defaults.name, "test": versus.test_metrics(defaults)}
        result["comparison"] = versus.comparison(versus.compare(best_dir, defaults, base.hooks))
    summary.write(base.sweep_dir, result)
    return result


def _print(found: dict[str, Any]) -> None:
    states = [t["state"] for t in found["trials"]]
    counts = ", ".join(f"{states.count(s)} {s}" for s in sorted(set(states)))
    print(f"\nftcore sweep: {found['recipe']}: {len(states)} trials ({counts})")
    best = found["best"]
    if best is not None:
        metric = found["objective"]["metric"]
        params = space.shown(best["params"])
        print(f"  best: trial {best['number']}, {metric}={best['value']:.4f}: {params}")
    verdict = found["comparison"]
    if "metric" in verdict:
        diff = verdict["difference"]
        interval = "" if diff.get("low") is None else f" [{diff['low']:+.4f}, {diff['high']:+.4f}]"
        p_value = "" if verdict["p_value"] is None else f", p={verdict['p_value']:.3g}"
        print(
            f"  vs defaults on test {verdict['metric']}: {diff['value']:+.4f}{interval}"
            f"{p_value}: {verdict['verdict']}"
        )
    else:
        print(f"  vs defaults: {verdict['verdict']} ({verdict.get('reason', '')})")
    print(f"  summary: {Path(found['sweep_dir']) / 'summary.md'}")
