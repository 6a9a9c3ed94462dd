"""A large classification CSV for checking that ``ftcore assess`` keeps its budget.

    python -m bench.synthetic_csv OUT.csv [--rows 63000] [--classes 16]

The texts are rotten_tomatoes snippets (the packaged corpus, cycled, each copy made
distinct by a numbered suffix); the labels are the snippet's class (fresh/rotten) crossed
with a hash of its words into ``--classes`` classes, so that the frozen features carry
part of the label. Only the size and shape matter here: 63,000 short texts in 16 classes
is the case a user reported (395 s for ``--budget 180`` before the budget was enforced).
"""

from __future__ import annotations

import argparse
import csv
import zlib
from pathlib import Path


def write_csv(out: Path, rows: int = 63_000, classes: int = 16) -> None:
    """``rows`` synthetic rows in ``classes`` classes, with a ``text,label`` header."""
    from ftcore_datasets.packaged import read_rotten_tomatoes

    _, corpus, _ = read_rotten_tomatoes()
    half = max(classes // 2, 1)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in range(rows):
            row = corpus[i % len(corpus)]
            words = zlib.crc32(row["text"].split()[0].lower().encode()) if row["text"] else 0
            label = (0 if row["label"] == "fresh" else half) + words % half
            writer.writerow([f"{row['text']} ({i // len(corpus) + 1})", f"class_{label:02d}"])


def main() -> None:
    found = argparse.ArgumentParser(prog="python -m bench.synthetic_csv")
    found.add_argument("out", type=Path)
    found.add_argument("--rows", type=int, default=63_000)
    found.add_argument("--classes", type=int, default=16)
    args = found.parse_args()
    write_csv(args.out, args.rows, args.classes)
    print(f"wrote {args.rows} rows in {args.classes} classes to {args.out}")


if __name__ == "__main__":
    main()
