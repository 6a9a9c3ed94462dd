"""The ``head:`` section of ``task: preference`` and the options of the pairs dataset."""

# Optional[...] on purpose: typing.get_origin() gives typing.Union for it, as in core.
# ruff: noqa: UP045

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Optional


class Loss(str, Enum):
    dpo = "dpo"
    ipo = "ipo"
    simpo = "simpo"


@dataclass
class PreferenceConfig:
    """Options of the preference head: a causal LM taught to prefer ``chosen`` over
    ``rejected`` for a ``prompt``.

    Each row gives two sequences sharing the prompt; the log-probability of a response is
    the sum over its tokens (prompt tokens masked), as in TRL's ``DPOTrainer``. The
    reference model of ``dpo`` and ``ipo`` is the base model with the adapter disabled
    when the run trains a LoRA adapter (no second copy in memory), else the pretrained
    model's log-probabilities, computed once before training (``reference_logps.json`` in
    the run folder). ``simpo`` needs no reference.
    """

    # The loss: dpo (Rafailov et al. 2023; TRL's "sigmoid"), ipo (Azar et al. 2023, on
    # log-ratios averaged per response token as TRL does) or simpo (Meng et al. 2024: no
    # reference model, length-normalised log-probabilities and a target margin).
    loss: Loss = Loss.dpo
    # dpo/ipo: how far the policy may move from the reference (rewards are beta times the
    # log-ratio; typical 0.1); simpo: the reward scale (typical 2.0 to 2.5).
    beta: float = 0.1
    # simpo only: the target reward margin gamma (typical 0.5 to 1.5).
    simpo_gamma: float = 0.5
    # Row field holding the prompt.
    prompt_key: str = "prompt"
    # Row field holding the preferred response.
    chosen_key: str = "chosen"
    # Row field holding the dispreferred response.
    rejected_key: str = "rejected"
    # Wrap the prompt and each response in the tokenizer's chat template when it has one.
    use_chat_template: bool = True
    # System message put before each prompt in the chat template; null: the template's own.
    system_prompt: Optional[str] = None
    # Prompt layout without a chat template; "{prompt}" is replaced by the prompt (each
    # response then ends with the tokenizer's end-of-sequence token).
    prompt_template: str = "{prompt}\n"


@dataclass
class PairsOptions:
    """Options of ``rotten_tomatoes_preferences``: preference pairs built from the
    ``rotten_tomatoes`` dataset (ftcore-datasets).

    rotten_tomatoes is split first (seeded by the recipe's seed, stratified by label, the
    ratios below); then, within each split, its fresh snippets and its rotten snippets are
    each shuffled (seeded by the seed and the split's name) and paired in order: pair i is
    ``{prompt, chosen: fresh snippet i, rejected: rotten snippet i}``. A snippet is used at
    most once, so a split has as many pairs as its smaller label (rotten) has snippets, and
    the test pairs come only from rotten_tomatoes' test split.
    """

    # Fraction of rotten_tomatoes held out for validation before pairing.
    val_ratio: float = 0.1
    # Fraction of rotten_tomatoes held out for the test before pairing.
    test_ratio: float = 0.1
    # The prompt of every pair.
    prompt: str = "Write a positive one-sentence movie review."


@dataclass
class JsonlPairsOptions:
    """Options of ``preference_jsonl``: your own preference pairs, one JSON object per line
    with the head's keys (``prompt``, ``chosen``, ``rejected`` by default; other keys are
    kept on the row).

    Give ``train`` and, optionally, ``validation`` and ``test`` files; a split without a
    file is carved from ``train`` by its ratio (a seeded shuffle by the recipe's seed).
    Relative paths are resolved against the current directory.
    """

    # The training pairs (JSON Lines); required.
    train: Optional[str] = None
    # The validation pairs; if not given, val_ratio of train is held out.
    validation: Optional[str] = None
    # The test pairs; if not given, test_ratio of train is held out.
    test: Optional[str] = None
    # Fraction of train held out for validation when there is no validation file.
    val_ratio: float = 0.1
    # Fraction of train held out for the test when there is no test file.
    test_ratio: float = 0.1
