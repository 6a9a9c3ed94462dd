"""Helpers for the evaluation and report code of plugins (re-exported by :mod:`ftcore.api`).

Markdown table cells and tables, matplotlib figures as PNG bytes, mean-pooled text
embeddings for probes, and the options of a recipe's ``evaluation:`` section. numpy,
torch and matplotlib are imported inside the functions: importing this module stays light.
"""

from __future__ import annotations

import io
from typing import Any

# --- Markdown ----------------------------------------------------------------------------


def markdown_escape(text: Any, limit: int = 300) -> str:
    """Text safe inside Markdown and a table cell: no HTML, pipes, emphasis, links or line
    breaks; whitespace collapsed, cut to ``limit`` characters (an ellipsis marks the cut)."""
    value = " ".join(str(text).split())
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|")):
        value = value.replace(char, entity)
    return value.replace("*", "\\*").replace("`", "\\`").replace("](", "]\\(")


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table (cells must already be escaped, see :func:`markdown_escape`)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# --- figures -----------------------------------------------------------------------------


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_png(fig: Any) -> bytes:
    """A matplotlib figure as PNG bytes (110 dpi, tight bounding box); the figure is closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    pyplot().close(fig)
    return buffer.getvalue()


# --- probes --------------------------------------------------------------------------------


def mean_pooled_embeddings(
    model: Any, tokenizer: Any, texts: list[str], max_length: int, batch_size: int
) -> Any:
    """Mean-pooled last hidden states of ``model`` (eval mode, no gradients), in text order:
    a float32 numpy array ``(len(texts), hidden size)``.

    Works for any transformers model that returns ``hidden_states`` (a task model, a bare
    backbone, or an adapter-wrapped model). Texts are batched by length to save padding;
    padding tokens are left out of the mean (``attention_mask``).
    """
    import numpy as np
    import torch

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), 0), dtype=np.float32)
    try:
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                enc = tokenizer(
                    [texts[i] for i in chunk],
                    truncation=True,
                    max_length=max_length,
                    padding=True,
                    return_tensors="pt",
                ).to(device)
                hidden = model(**enc, output_hidden_states=True).hidden_states[-1].float()
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
                if out.shape[1] == 0:
                    out = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
                out[chunk] = pooled.cpu().numpy()
    finally:
        model.train(was_training)
    return out


# --- recipe ----------------------------------------------------------------------------------


def evaluation_option(run: Any, key: str, default: Any) -> Any:
    """An option of the recipe's ``evaluation:`` section, or ``default`` when the section
    or the option is absent (no evaluation plugin installed) or null."""
    section = getattr(run.recipe, "evaluation", None)
    value = section.get(key) if hasattr(section, "get") else None
    return default if value is None else value
