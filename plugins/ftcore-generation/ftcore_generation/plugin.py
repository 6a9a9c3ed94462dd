"""The generation head (causal language models): one :class:`GenerationHead`.

torch, transformers and torchmetrics are imported inside the methods so that listing
plugins and validating recipes stays fast.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import ftcore
from ftcore.api import (
    BaseHead,
    Component,
    DataInfo,
    Row,
    StepOutput,
    atomic_write_json,
    read_json,
)
from ftcore_generation import answers, encoding, evaluation
from ftcore_generation.schema import DataFormat, GenerationConfig

log = logging.getLogger(__name__)  # shown as "ftcore-generation: ..." (ftcore.console)

TASK = "generation"
ABOUT = (
    "Causal language model: instruction tuning (prompt -> response) or domain adaptation on "
    "plain text"
)


def _format(head: Any) -> str:
    return str(getattr(head.format, "value", head.format))


class GenerationHead(BaseHead[GenerationConfig]):
    """Causal language modelling: instruction tuning or domain adaptation on plain text."""

    # --- data ---------------------------------------------------------------------------

    def data_info(self, *, rows: list[Row], options: GenerationConfig) -> DataInfo:
        key = options.answer_key
        has_answers = _format(options) != DataFormat.text.value and bool(key)
        has_answers = has_answers and any(r.get(key) is not None for r in rows)
        return DataInfo(task=TASK, extra={"answer_key": key if has_answers else None})

    def text_key(self, *, options: GenerationConfig) -> str:
        if _format(options) == DataFormat.chat.value:
            return options.messages_key
        return options.prompt_key if _instruction(options) else options.text_key

    def check_row(self, *, row: Row, info: DataInfo, options: GenerationConfig) -> str | None:
        if _format(options) == DataFormat.chat.value:
            return encoding.chat_problem(row, options)
        if not _instruction(options):
            return None
        return _response_problem(row, options.response_key)

    def encode(
        self,
        *,
        rows: list[Row],
        tokenizer: Any,
        max_length: int,
        info: DataInfo,
        options: GenerationConfig,
    ) -> dict[str, list]:
        answer_key = info.extra.get("answer_key")
        if _instruction(options):
            features = encoding.encode_instruction(rows, tokenizer, max_length, options, answer_key)
        elif _format(options) == DataFormat.chat.value:
            features = encoding.encode_chat(rows, tokenizer, max_length, options, answer_key)
        else:
            features = encoding.encode_text(rows, tokenizer, max_length, options)
        return encoding.columns(features)

    def collate(
        self, *, features: list[dict], tokenizer: Any, info: DataInfo, options: GenerationConfig
    ) -> Any:
        from ftcore_generation.modeling import collate

        return collate(features, encoding.pad_id(tokenizer))

    # --- model --------------------------------------------------------------------------

    def build_model(
        self, *, model_path: str, info: DataInfo, options: GenerationConfig, trust_remote_code: bool
    ) -> Any:
        from transformers import AutoModelForCausalLM

        from ftcore_generation.modeling import tokenizer_at

        model = AutoModelForCausalLM.from_pretrained(
            model_path, trust_remote_code=trust_remote_code
        )
        _set_generation_config(model, tokenizer_at(model_path, trust_remote_code), options)
        return model

    def step(
        self, *, model: Any, batch: Any, info: DataInfo, options: GenerationConfig, stage: str
    ) -> StepOutput:
        import torch

        nll, count, loss = _score(model, batch, stage, options.chunked_loss)
        correct = torch.full_like(nll, math.nan)
        generated: list[str | None] = [None] * len(nll)
        rows = _rows_to_generate(batch, info, options, stage)
        references = batch["reference"]
        for i, text in zip(rows, _generate(model, batch, rows, options, stage)):
            generated[i] = text
            if references[i] is not None:
                correct[i] = float(_matches(text, references[i], options))
        return StepOutput(
            loss=loss,
            preds=torch.stack([nll.detach(), correct], dim=-1),
            target=count,
            extra={"generated": generated, "reference": list(references)},
        )

    def metrics(self, *, info: DataInfo, options: GenerationConfig) -> Any:
        from ftcore_generation.metrics import build

        return build(with_answers=bool(info.extra.get("answer_key")))

    def decode(
        self, *, output: StepOutput, info: DataInfo, options: GenerationConfig
    ) -> list[dict]:
        from ftcore_generation.modeling import format_number

        nll = output.preds[:, 0].tolist()
        counts = output.target.tolist()
        mode, marker = answers.match_mode(options), options.answer_marker
        rows = []
        for loss, count, text, ref in zip(nll, counts, *_texts(output)):
            row: dict[str, Any] = {}
            if text is not None:
                row["generated"] = text
            if count:
                row["loss"] = loss / count
            if text is not None and ref is not None:
                row["answer"] = answers.answer_of(text, mode, marker)
                shown = format_number(answers.parse_number(ref)) if mode == "number" else ref
                row["reference"] = shown
                row["correct"] = answers.matches(text, ref, mode, marker)
            rows.append(row)
        return rows

    def check(self, *, recipe: Any, options: GenerationConfig) -> list[str]:
        return recipe_problems(options)

    # --- run lifecycle: the pretrained baseline -----------------------------------------

    def run_start(self, *, run: Any, options: GenerationConfig) -> None:
        if options.baseline_eval:
            validate_pretrained(run)

    def run_end(self, *, run: Any, options: GenerationConfig, summary: dict[str, Any]) -> None:
        record_fine_tuned(run, summary)

    # --- evaluation ---------------------------------------------------------------------

    def score(
        self, *, predictions: list[Row], info: DataInfo, options: GenerationConfig
    ) -> dict[str, float]:
        return evaluation.score(predictions)

    def baseline(self, *, run: Any, options: GenerationConfig) -> dict[str, list[Row]]:
        return evaluation.baselines(run)

    def error_analysis(
        self,
        *,
        predictions: list[Row],
        rows: list[Row],
        info: DataInfo,
        options: GenerationConfig,
        out_dir: str,
    ) -> list[Any]:
        return evaluation.error_analysis(predictions, rows, out_dir)

    def forgetting(self, *, run: Any, model: Any, options: GenerationConfig) -> dict[str, Any]:
        return evaluation.forgetting(run, model)


@ftcore.hookimpl
def ftcore_components() -> list[Component]:
    head = GenerationHead()
    return [
        Component(kind="head", name=TASK, schema=GenerationConfig, description=ABOUT, impl=head)
    ]


def _instruction(head: GenerationConfig) -> bool:
    return _format(head) == DataFormat.instruction.value


def recipe_problems(head: GenerationConfig) -> list[str]:
    """The head's own checks of its options."""
    problems = []
    if head.packing and _format(head) != DataFormat.text.value:
        problems.append("head.packing: packing applies to format: text; set head.packing=false")
    if head.packing and not _packing_supported():
        problems.append(
            "head.packing: this transformers version cannot keep packed texts apart "
            "(no masking_utils.find_packed_sequence_indices); upgrade transformers or "
            "set head.packing=false"
        )
    if head.max_new_tokens < 1:
        problems.append("head.max_new_tokens: must be at least 1")
    if head.eval_generate_limit < 0:
        problems.append("head.eval_generate_limit: must be 0 (off) or more")
    if head.do_sample and head.temperature <= 0:
        problems.append("head.temperature: must be above 0 when sampling; or do_sample=false")
    if head.do_sample and not 0 < head.top_p <= 1:
        problems.append("head.top_p: must be in (0, 1]")
    return problems


def _packing_supported() -> bool:
    try:
        from transformers.masking_utils import find_packed_sequence_indices  # noqa: F401
    except ImportError:
        return False
    return True


def _response_problem(row: dict, key: str) -> str | None:
    value = row.get(key)
    if not isinstance(value, str):
        return f"missing '{key}' text" if value is None else f"'{key}' is not text"
    return f"empty '{key}'" if not value.strip() else None


def _set_generation_config(model: Any, tokenizer: Any, head: Any) -> None:
    """Store the recipe's decoding settings in the model: the export carries them."""
    config = model.generation_config
    config.max_new_tokens = head.max_new_tokens
    config.do_sample = head.do_sample
    if head.do_sample:
        config.temperature, config.top_p = head.temperature, head.top_p
    config.eos_token_id = encoding.eos_id(tokenizer)
    config.pad_token_id = encoding.pad_id(tokenizer)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = config.pad_token_id


def _rows_to_generate(batch: Any, info: DataInfo, head: Any, stage: str) -> list[int]:
    if stage == "predict":
        return list(range(len(batch["input_ids"])))
    if stage != "test" or not info.extra.get("answer_key"):
        return []
    index, references = batch["index"].tolist(), batch["reference"]
    limit = head.eval_generate_limit
    return [i for i, (n, r) in enumerate(zip(index, references)) if n < limit and r is not None]


def _matches(text: str, reference: str, head: Any) -> bool:
    return answers.matches(text, reference, answers.match_mode(head), head.answer_marker)


def _score(model: Any, batch: Any, stage: str, chunked: bool) -> tuple[Any, Any, Any]:
    """Per-example NLL sums and target-token counts, and the mean token loss of the batch."""
    import torch

    from ftcore_generation import modeling

    labels = batch["labels"]
    if stage == "predict" and bool((labels == encoding.IGNORE).all()):  # prompts only
        nll = torch.zeros(len(labels), device=labels.device)
        return nll, torch.zeros_like(nll, dtype=torch.long), None
    nll, count = modeling.sequence_nll(model, batch, chunked)
    return nll, count, nll.sum() / count.sum().clamp(min=1)


def _generate(model: Any, batch: Any, rows: list[int], head: Any, stage: str) -> list[str]:
    """Generations for ``rows``: the recipe's settings in predict, greedy in test."""
    if not rows:
        return []
    from ftcore_generation import modeling

    config = model.generation_config
    config = config if stage == "predict" else modeling.greedy(config)
    seed = head.seed + int(batch["index"][rows[0]])
    return modeling.generate(model, batch, rows, config, seed)


def _texts(output: Any) -> tuple[list, list]:
    return output.extra["generated"], output.extra["reference"]


# --- run lifecycle: the pretrained baseline ---------------------------------------------


def validate_pretrained(run: Any) -> None:
    """Validate the pretrained model before training (logged at step 0, baseline.json)."""
    if (run.run_dir / "baseline.json").is_file():
        return  # a resumed run: measured when it started
    results = run.trainer.validate(run.module, datamodule=run.datamodule, verbose=False)
    baseline = {k: float(v) for k, v in (results[0] if results else {}).items()}
    if run.trainer.is_global_zero:
        atomic_write_json(run.run_dir / "baseline.json", {"pretrained": baseline})
        _say(f"pretrained model on the validation split: {_show(baseline)}")


def record_fine_tuned(run: Any, summary: dict[str, Any]) -> None:
    """Add the fine-tuned model's validation metrics to baseline.json (when measured)."""
    path = run.run_dir / "baseline.json"
    if not path.is_file() or not run.trainer.is_global_zero:
        return
    data = read_json(path)
    data["fine_tuned"] = {k: v for k, v in summary["validation"].items()}
    atomic_write_json(path, data)
    before = data["pretrained"].get("val/perplexity")
    after = data["fine_tuned"].get("val/perplexity")
    if before is not None and after is not None:
        _say(f"validation perplexity: pretrained {before:.3f} -> fine-tuned {after:.3f}")


def _show(metrics: dict[str, float]) -> str:
    return ", ".join(f"{k.split('/', 1)[-1]}={v:.4f}" for k, v in sorted(metrics.items()))


def _say(message: str) -> None:
    log.info(message)
