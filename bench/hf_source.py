"""Memory and tokenisation time of the ``csv`` source (Python rows) vs the ``hf`` source
(Arrow rows) on one synthetic CSV (issue 18):

    python -m bench.hf_source --rows 1000000 [--out FILE] [--classes 16] [--num-proc 1]

Writes ``--rows`` rows with ``bench.synthetic_csv`` into a temporary folder, then, for
each source, runs ``python -m bench.encode`` (``ftcore.run.load_data``: resolve MiniLM,
load, check and normalise the rows, tokenise every split: what ``ftcore run`` does
before training) in a fresh process twice: cold (empty ``FTCORE_CACHE`` and datasets
cache) and warm (the caches the cold run filled). Each process's peak RSS comes from
``wait4``. Recipe: ``sentiment-rotten-tomatoes`` (MiniLM, max_length 64) with the data
source replaced.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

RECIPE = "sentiment-rotten-tomatoes"


def overrides(source: str, csv_path: Path, num_proc: int) -> list[str]:
    """The recipe overrides that read ``csv_path`` through ``source`` (csv or hf)."""
    if source == "csv":
        return ["data.source=csv", f"data.options.path={csv_path}"]
    return [
        "data.source=hf",
        "data.options.format=csv",
        f"data.options.data_files={csv_path}",
        f"data.options.num_proc={num_proc}",
    ]


def measure(source: str, csv_path: Path, cache: Path, num_proc: int) -> dict[str, Any]:
    """One ``bench.encode`` process per state (cold, then warm) with ``cache`` as caches."""
    from bench.common import log, python_job

    env = {"FTCORE_CACHE": str(cache / "ftcore"), "HF_DATASETS_CACHE": str(cache / "hf")}
    found = {}
    for state in ("cold", "warm"):
        args = [RECIPE, *overrides(source, csv_path, num_proc)]
        result = python_job("encode", args, timeout=7200, env=env)
        log(f"{source} {state}: {result}")
        found[state] = {
            "peak_rss_mb": result["peak_rss_mb"],
            "encode_seconds": result["encode_seconds"],
            "load_data_seconds": result["load_data_seconds"],
            "process_seconds": round(result["wall_seconds"], 2),
            "rows": result["rows"],
        }
    return found


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hf_source")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--classes", type=int, default=16)
    parser.add_argument("--num-proc", type=int, default=1, help="data.options.num_proc of hf")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args()
    from bench.common import machine, write_json
    from bench.synthetic_csv import write_csv

    with tempfile.TemporaryDirectory(prefix="ftcore-hf-source-") as tmp:
        folder = Path(tmp)
        csv_path = folder / "synthetic.csv"
        write_csv(csv_path, args.rows, args.classes)
        results = {
            "rows": args.rows,
            "csv_mb": round(csv_path.stat().st_size / 2**20, 1),
            "recipe": RECIPE,
            "num_proc": args.num_proc,
            "machine": machine(),
        }
        for source in ("csv", "hf"):
            results[source] = measure(source, csv_path, folder / source, args.num_proc)
    print(table(results))
    if args.out:
        write_json(args.out, results)


def table(results: dict[str, Any]) -> str:
    """The results as a Markdown table."""
    lines = [
        f"{results['rows']:,} rows ({results['csv_mb']} MB CSV), recipe {results['recipe']}",
        "",
        "| source | cache | peak RSS (MB) | tokenise (s) | load_data (s) | process (s) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for source in ("csv", "hf"):
        for state, r in results[source].items():
            lines.append(
                f"| {source} | {state} | {r['peak_rss_mb']:,.0f} | {r['encode_seconds']} | "
                f"{r['load_data_seconds']} | {r['process_seconds']} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
