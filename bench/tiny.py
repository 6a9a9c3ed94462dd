"""The tiny BERT and the fixed rows the framework-overhead benchmark trains on.

2 layers, hidden 64, 4 heads, feed-forward 256, MiniLM's WordPiece vocabulary (30,522
tokens): a model so small that what a framework adds per step is visible. Every row is
long enough to be truncated to exactly ``max_length`` tokens, so every batch has the same
shape on every side of a comparison.

``python -m bench.tiny DIR [--shape minilm] [--tokenizer TOK]``: ``--shape minilm`` writes
a randomly initialised BERT of MiniLM-L6's shape (6 layers, hidden 384, 12 heads, FF 1536)
for where the MiniLM package (90 MB of weights) is not installed; ``--tokenizer`` takes
the tokenizer from folder TOK (MiniLM's files) instead of the MiniLM package.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

WORDS = (
    "the film story cast plot was really quite a movie great wonderful brilliant moving "
    "delightful superb funny awful boring dull terrible tedious bland painful acting script"
).split()


SHAPES = {"tiny": (64, 2, 4), "minilm": (384, 6, 12)}  # hidden, layers, heads; FF 4 x hidden


def save_tiny_bert(
    folder: Path,
    hidden: int = 64,
    layers: int = 2,
    seed: int = 0,
    heads: int = 4,
    tokenizer_dir: str | None = None,
) -> Path:
    """A randomly initialised BERT (``hidden`` wide, ``layers`` deep) with MiniLM's tokenizer
    (from ``tokenizer_dir`` when given, else from the MiniLM package)."""
    import torch
    from ftcore_devkit.testing import _bert_tokenizer
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir) if tokenizer_dir else _bert_tokenizer()
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=4 * hidden,
        max_position_embeddings=512,
    )
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def rows(n: int, seed: int = 0, words: int = 100) -> list[dict[str, Any]]:
    """``n`` labelled rows of ``words`` words (more tokens than any max_length used here)."""
    rng = random.Random(seed)
    return [
        {"text": " ".join(rng.choices(WORDS, k=words)), "label": "pos" if i % 2 else "neg"}
        for i in range(n)
    ]


def features(tokenizer: Any, data: list[dict], max_length: int) -> list[dict]:
    """Tokenised rows (input_ids, attention_mask, token_type_ids, labels) as plain lists."""
    encoded = tokenizer([r["text"] for r in data], truncation=True, max_length=max_length)
    labels = [1 if r["label"] == "pos" else 0 for r in data]
    names = list(encoded.keys())
    return [{**{k: encoded[k][i] for k in names}, "labels": labels[i]} for i in range(len(data))]


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--shape", choices=list(SHAPES), default="tiny")
    parser.add_argument("--tokenizer", help="folder of MiniLM's tokenizer files")
    args = parser.parse_args()
    hidden, layers, heads = SHAPES[args.shape]
    save_tiny_bert(args.folder, hidden, layers, heads=heads, tokenizer_dir=args.tokenizer)
