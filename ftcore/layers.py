"""Layer groups: which parameters form the embeddings, each block and the head.

Core discovers the groups once, when the optimiser is built, and hands them to the
strategies (``ftcore_group_options``). ``auto_groups`` and ``pattern_groups`` are pure
functions of parameter names; ``block_prefixes`` and ``discover`` look at a torch model
(torch is imported lazily: nothing here imports it at import time).
"""

from __future__ import annotations

import re
from typing import Any

from ftcore.types import LayerGroup

EMBEDDINGS = "embeddings"
HEAD = "head"


def auto_groups(names: list[str], blocks: list[str]) -> dict[str, list[str]]:
    """Group parameter ``names`` (in model order) bottom to top by the block ``prefixes``.

    A parameter under ``blocks[i]`` joins ``block.i``. Other parameters join the group of
    the nearest block before them, ``embeddings`` when no block came before, and ``head``
    when no block comes after (pooler, final norm, classifier).
    """
    index = {name: _block_index(name, blocks) for name in names}
    last = max((pos for pos, name in enumerate(names) if index[name] is not None), default=-1)
    groups: dict[str, list[str]] = {}
    current = EMBEDDINGS
    for pos, name in enumerate(names):
        if index[name] is not None:
            current = f"block.{index[name]}"
        elif pos > last:
            current = HEAD
        groups.setdefault(current, []).append(name)
    return groups


def _block_index(name: str, blocks: list[str]) -> int | None:
    return next((i for i, prefix in enumerate(blocks) if name.startswith(prefix)), None)


def pattern_groups(names: list[str], patterns: dict[str, str]) -> dict[str, list[str]]:
    """Group ``names`` by regular expressions, listed bottom to top; first match wins.

    Raises ValueError naming the parameters no pattern matches, or a group left empty.
    """
    compiled = {group: re.compile(pattern) for group, pattern in patterns.items()}
    groups: dict[str, list[str]] = {group: [] for group in patterns}
    unmatched = []
    for name in names:
        group = next((g for g, rx in compiled.items() if rx.search(name)), None)
        if group is None:
            unmatched.append(name)
        else:
            groups[group].append(name)
    if unmatched:
        shown = ", ".join(unmatched[:5]) + (" ..." if len(unmatched) > 5 else "")
        raise ValueError(f"{len(unmatched)} parameters match no group: {shown}")
    empty = [g for g, members in groups.items() if not members]
    if empty:
        raise ValueError(f"group(s) {', '.join(empty)} match no parameter")
    return groups


def block_prefixes(model: Any) -> list[str]:
    """Name prefixes of the model's blocks, bottom to top (``bert.encoder.layer.0.``...).

    The blocks are the children of the outermost ModuleLists of identical modules
    inside ``model.base_model`` (``encoder.layer``, ``layers``, ``h``, ``encoder.block``
    then ``decoder.block``...), so any Hugging Face architecture is covered.
    """
    import torch

    base = getattr(model, "base_model", model)
    base_path = next((n for n, m in model.named_modules() if m is base), "")
    prefix = f"{base_path}." if base_path else ""
    lists: list[str] = []
    for name, module in base.named_modules():
        inside = any(name.startswith(f"{outer}.") for outer in lists)
        if isinstance(module, torch.nn.ModuleList) and not inside and _uniform(module):
            lists.append(name)
    return [
        f"{prefix}{name}.{child}."
        for name in lists
        for child, _ in base.get_submodule(name).named_children()
    ]


def _uniform(modules: Any) -> bool:
    kinds = {type(m) for m in modules}
    return len(kinds) == 1 and any(True for _ in modules.parameters())


def discover(model: Any, patterns: dict[str, str] | None = None) -> list[LayerGroup]:
    """The model's trainable parameters by layer group, bottom to top.

    patterns: a recipe's ``groups`` (name -> regex, bottom to top), or None to discover
    the embeddings, each block and the head. Raises ValueError when the groups cannot be
    formed (a parameter no pattern matches, a pattern matching none, no blocks found).
    """
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    if patterns:
        by_name = pattern_groups(names, dict(patterns))
    else:
        by_name = auto_groups(names, block_prefixes(model))
        if len(by_name) < 2:
            raise ValueError(
                f"found no layer blocks in {type(model).__name__}; name the groups with "
                f"a `groups:` mapping (name -> regular expression, bottom to top)"
            )
    return [LayerGroup(name, tuple(members)) for name, members in by_name.items()]
