"""The ``head:`` section for ``task: generation``."""

# Optional[...] on purpose: typing.get_origin() gives typing.Union for it, as in core.
# ruff: noqa: UP045

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Optional


class AnswerMatch(str, Enum):
    number = "number"
    exact = "exact"


class DataFormat(str, Enum):
    instruction = "instruction"
    text = "text"
    chat = "chat"


@dataclass
class GenerationConfig:
    """Options of the generation head (a causal language model).

    ``format: instruction`` trains on prompt -> response pairs with the loss on the
    response tokens only; ``format: chat`` on conversations (several turns, the model's
    chat template) with the loss on the assistant turns only; ``format: text`` on plain
    text cut into blocks of ``data.max_length`` tokens. Test-split answer accuracy always
    decodes greedily; ``do_sample``/``temperature``/``top_p``/``seed`` apply to
    ``ftcore predict`` and are saved in the exported model's ``generation_config.json``.
    """

    # Data shape: "instruction" (prompt -> response rows), "chat" (conversations) or "text".
    format: DataFormat = DataFormat.instruction
    # Row field holding the prompt (instruction format).
    prompt_key: str = "prompt"
    # Row field holding the response to learn (instruction format).
    response_key: str = "response"
    # Row field holding the text (text format).
    text_key: str = "text"
    # Chat format: row field holding the conversation, a list of {"role", "content"}
    # messages (system/user/assistant). TRL's prompt/completion layout: set it to "prompt".
    messages_key: str = "messages"
    # Chat format: row field with messages that follow the conversation (TRL's
    # "completion"); when a row has it, only its assistant turns carry loss, otherwise
    # every assistant turn does. A plain string counts as one user/assistant message.
    completion_key: str = "completion"
    # Wrap prompt and response in the tokenizer's chat template when it has one.
    use_chat_template: bool = True
    # System message put before each prompt in the chat template; null: the template's own.
    system_prompt: Optional[str] = None
    # Prompt layout without a chat template; "{prompt}" is replaced by the prompt.
    prompt_template: str = "{prompt}\n"
    # The prompt field inside a longer instruction, chat template or not; "{prompt}" is
    # replaced by it (e.g. "Review: {prompt}\nIs this review fresh or rotten?").
    prompt_format: Optional[str] = None
    # Text format: pack several short texts into one block of up to data.max_length tokens
    # (each text attends only to itself; position ids restart per text).
    packing: bool = False
    # Text format: end every text with the tokenizer's end-of-sequence token.
    append_eos: bool = False
    # Row field with a checkable final answer (gsm8k: "answer"); rows without it are skipped.
    answer_key: Optional[str] = "answer"
    # How a generated answer is checked: "number" (the number after answer_marker equals
    # the reference number, gsm8k) or "exact" (the whole generation equals the reference
    # text, ignoring case, surrounding spaces and final punctuation: a label as the answer).
    answer_match: AnswerMatch = AnswerMatch.number
    # The final answer is the number after the last occurrence of this marker.
    answer_marker: str = "####"
    # Greedy-generate answers for the first this many test examples (0: no answer accuracy).
    eval_generate_limit: int = 50
    # Evaluate the pretrained model on the validation split before training (logged at step 0
    # and written to baseline.json in the run directory).
    baseline_eval: bool = True
    # Most tokens generated per prompt.
    max_new_tokens: int = 256
    # Sample instead of greedy decoding (ftcore predict and the exported generation config).
    do_sample: bool = False
    # Sampling temperature (do_sample only).
    temperature: float = 1.0
    # Nucleus sampling: keep the smallest token set with this total probability (do_sample only).
    top_p: float = 1.0
    # Seed of the sampler (do_sample only).
    seed: int = 0
    # Compute the loss from the last hidden states a chunk of tokens at a time, never
    # holding the whole batch's vocabulary logits (false: the full logits, as before).
    chunked_loss: bool = True
