"""Data set-up of a run, timed: ``python -m bench.encode RECIPE [KEY=VALUE ...] --out FILE``.

Runs ``ftcore.run.load_data`` (resolve the model, load and check the rows, tokenise every
split) and writes its ``encode_seconds`` (tokenisation, or reading the token cache) and
the whole set-up time. The orchestrator points ``FTCORE_CACHE`` at an empty folder (cold)
or at one a previous run filled (warm).
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.common import recipe_arguments, write_json


def main() -> None:
    args = recipe_arguments()
    from ftcore.cli import _recipe
    from ftcore.run import Run, load_data

    recipe, hooks = _recipe(args.recipe, args.overrides)
    import transformers  # noqa: F401 - import time is not what is measured here

    run = Run(recipe=recipe, hooks=hooks, run_dir=Path("."))
    started = time.perf_counter()
    load_data(run)
    write_json(
        args.out,
        {
            "encode_seconds": run.timings["encode_seconds"],
            "load_data_seconds": round(time.perf_counter() - started, 2),
            "rows": {k: len(v) for k, v in run.data.rows.items()},
        },
    )


if __name__ == "__main__":
    main()
