"""The Markdown tables of a results JSON (``bench/results/<date>.md``)."""

from __future__ import annotations

from typing import Any


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "not measured"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _met(found: dict | None) -> str:
    if not found or found.get("met") is None:
        return (found or {}).get("why", "not measured")
    return ("met" if found["met"] else "**missed**") + f" ({found['limit']})"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [
        "| " + " | ".join(_fmt(c) if not isinstance(c, str) else c for c in r) + " |" for r in rows
    ]
    return lines + [""]


def _load(section: dict) -> str:
    load = section.get("load_average", {})
    return f"load average before / after: {load.get('before')} / {load.get('after')}"


def overhead(s: dict) -> list[str]:
    out = ["## 1. Framework overhead (per-step time, tiny BERT)", "", s["setup"] + ".", ""]
    rows = [[side, v["mean_ms"], v["median_ms"]] for side, v in s["sides"].items()]
    out += _table(["side", "mean ms / step", "median step ms"], rows)
    out += _table(["ratio", "value"], [[k, v] for k, v in s["ratios"].items()])
    if "ftcore_strategies" in s:
        out += [f"ftcore_strategies: {s['ftcore_strategies']}", ""]
    return out + [f"Target ftcore / bare Lightning: {_met(s.get('target'))}.", ""]


def startup(s: dict) -> list[str]:
    out = ["## 4. Start-up", "", s["setup"] + ".", ""]
    rows = [
        [
            name,
            sec,
            s["ratio_to_import_torch"][name],
            ", ".join(s["heavy_imports"].get(name, [])) or "-" if "ftcore" in name else "",
            _met(s["target"].get(name)) if name in s["target"] else "",
        ]
        for name, sec in s["seconds"].items()
    ]
    return out + _table(["command", "median s", "/ import torch", "heavy imports", "target"], rows)


def compute(s: dict) -> list[str]:
    f = s["flops"]
    out = [
        "## 3. Compute efficiency (MiniLM training)",
        "",
        s["setup"] + ".",
        "",
        f"FLOPs per training step ({f['batch']} x {f['seq']} tokens): counted "
        f"{f['counted_flops_per_step']:.3g} "
        f"({f['counted_flops_per_token']:.3g} per token); 6 x non-embedding params = "
        f"{f['estimate_6n_flops_per_token']:.3g} per token.",
        "",
    ]
    rows = [
        [
            name,
            r["step_ms"],
            r["samples_per_s"],
            r["tokens_per_s"],
            r["achieved_gflops"],
            r["peak_gflops"],
            r["fraction_of_peak"],
            _met(s["target"][name]),
        ]
        for name, r in s["throughput"].items()
    ]
    header = ["precision", "ms/step", "samples/s", "tokens/s", "GFLOP/s", "peak GFLOP/s",
              "of peak", "target"]  # fmt: skip
    return out + _table(header, rows)


def memory(s: dict) -> list[str]:
    rss = s["peak_rss_mb"]
    rows = [["ftcore", rss["ftcore"]], ["plain PyTorch loop", rss["plain"]], ["ratio", s["ratio"]]]
    return (
        ["## 5. Memory (peak RSS)", "", s["setup"] + ".", ""]
        + _table(["side", "peak RSS MB"], rows)
        + [f"Target ≤ 1.1×: {_met(s['target'])}.", ""]
    )


def sft(s: dict) -> list[str]:
    names = {"ftcore": "ftcore", "ftcore-before": "ftcore before", "trl": "TRL SFTTrainer"}
    rows = [
        [names[k], v["peak_rss_mb"], v["train_seconds"], v["tokens"], v["tokens_per_second"]]
        for k, v in s["sides"].items()
    ]
    header = ["side", "peak RSS MB", "train s", "tokens", "tokens/s"]
    return (
        ["## Causal-LM memory against TRL", "", s["setup"] + ".", ""]
        + _table(header, rows)
        + [
            f"Peak RSS ≤ 3,500 MB: {_met(s['target_rss'])}; "
            f"ftcore / TRL = {s['rss_ratio_vs_trl']} (≤ 1.3: {_met(s['target_vs_trl'])}).",
            "",
        ]
    )


def levers(s: dict) -> list[str]:
    out = ["## Levers", "", s["setup"] + ".", ""]
    rows = [
        [name, v["step_ms"], v["vs_defaults"], v["padding_share"], v["real_tokens_per_s"]]
        for name, v in s["variants"].items()
    ]
    out += _table(["variant", "ms/step", "vs defaults", "padding share", "real tokens/s"], rows)
    for name, why in s.get("skipped", {}).items():
        out += [f"{name}: {why}.", ""]
    c = s["token_cache"]
    out += [
        f"Token cache ({c['setup']}): tokenising {_fmt(c['encode_seconds']['cold'])} s, "
        f"reading the cache {_fmt(c['encode_seconds']['warm'])} s (ratio {_fmt(c['ratio'])}); "
        f"whole data set-up {_fmt(c['load_data_seconds']['cold'])} s vs "
        f"{_fmt(c['load_data_seconds']['warm'])} s.",
        "",
    ]
    if "bf16_accuracy" in s:
        b = s["bf16_accuracy"]
        out += [f"bf16 accuracy check: {b['setup']}; {b.get('skipped', 'run')}.", ""]
        rows = [
            [k, v["test_accuracy"], f"± {v['ci95']}", v["step_ms"], v["fit_seconds"]]
            for k, v in b["sides"].items()
        ]
        if rows:
            out += _table(["precision", "test accuracy", "95% CI", "ms/step", "fit s"], rows)
    return out


def tta(s: dict) -> list[str]:
    out = ["## 2. Time to accuracy (sentiment-rotten-tomatoes)", "", s["setup"] + ".", ""]
    rows = [
        [side, v["wall_seconds"], v["fit_seconds"], v["peak_rss_mb"], v["test_accuracy"],
         f"± {v['ci95']}"]
        for side, v in s["sides"].items()
    ]  # fmt: skip
    out += _table(["side", "wall s", "fit s", "peak RSS MB", "test accuracy", "95% CI"], rows)
    t = s["target"]
    out += [
        f"Time ratio ftcore / Trainer: {_fmt(s['time_ratio'])} — target {_met(t)}; accuracy "
        f"difference {s['accuracy_difference']:+.4f} (95% CI ± {s['accuracy_difference_ci95']}): "
        f"{'equal or better within the CI' if t['accuracy_ok'] else '**worse**'}.",
        "",
        "Trainer settings: "
        + ", ".join(f"{k}={v}" for k, v in s["trainer_settings"].items())
        + ".",
        "",
    ]
    return out


WRITERS = {
    "overhead": overhead,
    "tta": tta,
    "compute": compute,
    "startup": startup,
    "memory": memory,
    "levers": levers,
    "sft": sft,
}


def markdown(results: dict) -> str:
    m = results["machine"]
    lines = [
        f"# ftcore benchmarks, {results['date']}",
        "",
        "Commands (each section has its own time stamp): "
        + ", ".join(f"`{c}`" for c in results.get("commands", [results["command"]]))
        + ".",
        "",
        f"Machine: {m.get('cpu')} ({m.get('cpus')} CPUs, "
        f"{m.get('memory_gb')} GB, flags {', '.join(m.get('cpu_flags', [])) or 'none'}), "
        f"Python {m.get('python')}, "
        + ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items())
        + ".",
        "",
    ]
    if "accelerator" in m:
        a = m["accelerator"]
        lines += [
            f"Accelerator: {a.get('name')} ({a.get('memory_gib')} GiB, "
            f"{a.get('multiprocessors')} multiprocessors, compute capability "
            f"{a.get('capability')}), CUDA {a.get('cuda')}, driver {a.get('driver')}.",
            "",
        ]
    for name, write in WRITERS.items():
        section = results["sections"].get(name)
        if section:
            lines += write(section)
            lines += [f"_{_load(section)}; measured {section.get('measured_at', '?')}._", ""]
    return "\n".join(lines)
