"""Pure tokenisation for causal LMs: prompt/response pairs, text blocks, packing.

Every example becomes a feature dict with ``input_ids``, ``labels`` (``-100`` where no
loss is taken), ``prompt_length`` (the tokens a generation starts from), ``index``
(its position in the split) and ``answer`` (the reference number, NaN when none);
packed text examples also carry ``positions`` (position ids restarting at 0 per text).
Nothing here imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Optional

from ftcore.errors import UserError
from ftcore_generation.answers import match_mode, parse_number

IGNORE = -100
MIN_BLOCK = 2  # a block needs two tokens for one next-token prediction


def eos_id(tokenizer: Any) -> int | None:
    """The token that ends a text: EOS, else SEP (BERT-style tokenizers)."""
    found = tokenizer.eos_token_id
    return found if found is not None else tokenizer.sep_token_id


def pad_id(tokenizer: Any) -> int:
    found = tokenizer.pad_token_id
    if found is None:
        found = eos_id(tokenizer)
    return found if found is not None else 0


def eos_text(tokenizer: Any) -> str:
    return tokenizer.eos_token or tokenizer.sep_token or ""


def uses_chat_template(tokenizer: Any, head: Any) -> bool:
    return bool(head.use_chat_template and getattr(tokenizer, "chat_template", None))


@dataclass
class Prompter:
    """Lays out prompts (and responses) as text, with the chat template or without."""

    tokenizer: Any
    chat: bool
    system_prompt: str | None
    prompt_template: str
    prompt_format: str | None = None

    @classmethod
    def for_head(cls, tokenizer: Any, head: Any) -> Prompter:
        chat = uses_chat_template(tokenizer, head)
        return cls(tokenizer, chat, head.system_prompt, head.prompt_template, head.prompt_format)

    def _instruction(self, prompt: str) -> str:
        return self.prompt_format.replace("{prompt}", prompt) if self.prompt_format else prompt

    def _messages(self, prompt: str) -> list[dict]:
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return [*system, {"role": "user", "content": self._instruction(prompt)}]

    def prompt(self, prompt: str) -> str:
        """The text a generation starts from."""
        if not self.chat:
            return self.prompt_template.replace("{prompt}", self._instruction(prompt))
        return self.tokenizer.apply_chat_template(
            self._messages(prompt), tokenize=False, add_generation_prompt=True
        )

    def completion(self, prompt: str, response: str) -> str:
        """The text after ``self.prompt(prompt)`` that the model learns to write."""
        if not self.chat:
            return response + eos_text(self.tokenizer)
        head = self.prompt(prompt)
        messages = [*self._messages(prompt), {"role": "assistant", "content": response}]
        full = self.tokenizer.apply_chat_template(messages, tokenize=False)
        if not full.startswith(head):
            raise UserError(
                "head.use_chat_template: the tokenizer's chat template does not render a "
                "conversation as prompt + response; set head.use_chat_template=false"
            )
        return full[len(head) :]


def token_ids(tokenizer: Any, texts: list[str]) -> list[list[int]]:
    if not texts:
        return []
    return list(tokenizer(texts, add_special_tokens=False)["input_ids"])


def cut_after_last(ids: list[int], token: int | None) -> list[int]:
    """Drop what follows the last ``token`` (the chat template's newline after EOS)."""
    if token is None or token not in ids:
        return ids
    return ids[: len(ids) - ids[::-1].index(token)]


def fit_pair(prompt: list[int], completion: list[int], max_length: int) -> tuple[list, list]:
    """Truncate to ``max_length`` tokens, keeping some of the response to learn from.

    The response keeps at least min(its length, max_length // 4) tokens; the prompt is
    cut from the left (its end, where the answer starts, matters most), then the
    response from the right.
    """
    keep = min(len(completion), max_length // 4)
    if len(prompt) > max_length - keep:
        prompt = prompt[len(prompt) - (max_length - keep) :]
    return prompt, completion[: max_length - len(prompt)]


Answer = tuple[float, Optional[str]]  # the reference number (NaN: none), the text to check


def example(
    prompt: list[int], completion: list[int], index: int, answer: Answer = (math.nan, None)
) -> dict:
    return {
        "input_ids": prompt + completion,
        "labels": [IGNORE] * len(prompt) + completion,
        "prompt_length": len(prompt),
        "index": index,
        "answer": answer[0],
        "reference": answer[1],
    }


def reference(row: dict, answer_key: str | None, head: Any = None) -> Answer:
    """The row's checkable answer: (number, text) in ``answer_match: number`` (NaN and None
    when the field holds no number), (NaN, text) in ``exact``, (NaN, None) when absent."""
    value = row.get(answer_key) if answer_key else None
    if value is None or not str(value).strip():
        return math.nan, None
    if match_mode(head) == "exact":
        return math.nan, str(value)
    number = parse_number(str(value))
    return number, (None if math.isnan(number) else str(value))


def prompt_only(tokenizer: Any, prompter: Prompter, text: str, max_length: int) -> list[int]:
    """A generation prompt, cut from the left to ``max_length`` tokens."""
    return token_ids(tokenizer, [prompter.prompt(text)])[0][-max_length:]


def encode_instruction(
    rows: list[dict], tokenizer: Any, max_length: int, head: Any, answer_key: str | None
) -> list[dict]:
    """Prompt -> response pairs; rows without a response become generation prompts."""
    prompter = Prompter.for_head(tokenizer, head)
    pkey, rkey = head.prompt_key, head.response_key
    pairs = [i for i, r in enumerate(rows) if isinstance(r.get(rkey), str)]
    prompts = token_ids(tokenizer, [prompter.prompt(rows[i][pkey]) for i in pairs])
    completions = token_ids(
        tokenizer, [prompter.completion(rows[i][pkey], rows[i][rkey]) for i in pairs]
    )
    stop = eos_id(tokenizer) if prompter.chat else None
    encoded = {
        i: fit_pair(p, cut_after_last(c, stop), max_length)
        for i, p, c in zip(pairs, prompts, completions)
    }
    out = []
    for index, row in enumerate(rows):
        if index in encoded:
            prompt, completion = encoded[index]
        else:
            prompt, completion = (
                prompt_only(tokenizer, prompter, _prompt_of(row, pkey), max_length),
                [],
            )
        out.append(example(prompt, completion, index, reference(row, answer_key, head)))
    return out


def _prompt_of(row: dict, key: str) -> str:
    for name in (key, "prompt", "text"):
        if isinstance(row.get(name), str):
            return row[name]
    raise UserError(f"row has no '{key}' text to generate from: {sorted(row)}")


# --- chat: conversations, the loss on assistant turns only ---------------------------


def as_messages(value: Any, role: str) -> list[dict]:
    """A conversation field: a message list as is; a plain string, one ``role`` message."""
    return [{"role": role, "content": value}] if isinstance(value, str) else list(value or [])


def conversation(row: dict, head: Any) -> tuple[list[dict], int]:
    """The row's messages and the index of the first one that may carry loss.

    TRL's prompt/completion layout (``head.completion_key`` present): the prompt's
    messages carry none. A system prompt from ``head.system_prompt`` goes first when the
    conversation has none.
    """
    messages = as_messages(row.get(head.messages_key), "user")
    first = 0
    if row.get(head.completion_key) is not None:
        first = len(messages)
        messages += as_messages(row[head.completion_key], "assistant")
    if head.system_prompt and (not messages or messages[0]["role"] != "system"):
        messages = [{"role": "system", "content": head.system_prompt}, *messages]
        first += 1
    return messages, first


def chat_problem(row: dict, head: Any) -> str | None:
    messages, first = conversation(row, head)
    if not any(m["role"] == "assistant" for m in messages[first:]):
        return "no assistant message to learn from"
    return None


def render(tokenizer: Any, messages: list[dict], generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=generation_prompt
    )


def assistant_spans(tokenizer: Any, messages: list[dict], first: int) -> tuple[str, list]:
    """The rendered conversation and the character spans of its trainable assistant turns.

    A turn's span runs from the end of the generation prompt before it to its end-of-turn
    token included (what the model must write to answer and stop); the template's text
    after that token (a newline) is not learned.
    """
    full = render(tokenizer, messages)
    stop = eos_text(tokenizer)
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant" or i < first:
            continue
        before = render(tokenizer, messages[:i], generation_prompt=True)
        through = render(tokenizer, messages[: i + 1])
        if not (through.startswith(before) and full.startswith(through)):
            raise UserError(
                "head.format: the tokenizer's chat template does not render a conversation "
                "turn by turn (each prefix must begin the whole); use head.format=instruction"
            )
        turn = through[len(before) :]
        if stop and stop in turn:
            turn = turn[: turn.rindex(stop) + len(stop)]
        spans.append((len(before), len(before) + len(turn)))
    return full, spans


def chat_example(
    tokenizer: Any, messages: list[dict], first: int, max_length: int, index: int, answer: Answer
) -> dict:
    """A conversation's tokens, with labels on the tokens inside its assistant spans.

    ``prompt_length`` ends where the last trainable assistant turn begins (generation
    continues the conversation from there); a conversation without one is a prompt.
    """
    if not messages or messages[-1]["role"] != "assistant":
        text = render(tokenizer, messages, generation_prompt=True)
        ids = token_ids(tokenizer, [text])[0][-max_length:]
        return example(ids, [], index, answer)
    full, spans = assistant_spans(tokenizer, messages, first)
    encoded = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = encoded["input_ids"], encoded["offset_mapping"]
    labels = [
        token if end > start and any(a <= start and end <= b for a, b in spans) else IGNORE
        for token, (start, end) in zip(ids, offsets)
    ]
    last = spans[-1][0] if spans else len(full)
    prompt_length = next((t for t, (s, _) in enumerate(offsets) if s >= last), len(ids))
    return {
        "input_ids": ids[:max_length],
        "labels": labels[:max_length],
        "prompt_length": min(prompt_length, max_length),
        "index": index,
        "answer": answer[0],
        "reference": answer[1],
    }


def encode_chat(
    rows: list[dict], tokenizer: Any, max_length: int, head: Any, answer_key: str | None
) -> list[dict]:
    """Conversations through the tokenizer's chat template (cut at ``max_length`` from the
    right, as TRL does); rows without a final assistant turn become generation prompts."""
    if not getattr(tokenizer, "chat_template", None):
        raise UserError(
            "head.format: chat needs a tokenizer with a chat template, and this model's has "
            "none; use head.format=instruction with head.prompt_template"
        )
    out = []
    for index, row in enumerate(rows):
        messages, first = conversation(row, head)
        if not messages and isinstance(row.get("prompt"), str):  # ftcore predict --prompt
            messages = as_messages(row["prompt"], "user")
        out.append(
            chat_example(
                tokenizer, messages, first, max_length, index, reference(row, answer_key, head)
            )
        )
    return out


def blocks(ids: list[int], size: int) -> list[list[int]]:
    """``ids`` cut into consecutive blocks of ``size`` tokens (a 1-token tail is dropped)."""
    return [
        ids[i : i + size] for i in range(0, len(ids), size) if len(ids[i : i + size]) >= MIN_BLOCK
    ]


def pack(pieces: Iterable[list[int]], size: int) -> list[list[list[int]]]:
    """Consecutive pieces grouped greedily into bins of at most ``size`` tokens, in order."""
    bins: list[list[list[int]]] = []
    used = size
    for piece in pieces:
        if used + len(piece) > size:
            bins.append([])
            used = 0
        bins[-1].append(piece)
        used += len(piece)
    return bins


def packed_example(pieces: list[list[int]], index: int) -> dict:
    """Pieces side by side; each piece's first token is not a target, positions restart."""
    ids, labels, positions = [], [], []
    for piece in pieces:
        ids += piece
        labels += [IGNORE] + piece[1:]
        positions += list(range(len(piece)))
    return {
        "input_ids": ids,
        "labels": labels,
        "prompt_length": len(ids),
        "index": index,
        "answer": math.nan,
        "reference": None,
        "positions": positions,
    }


def encode_text(rows: list[dict], tokenizer: Any, max_length: int, head: Any) -> list[dict]:
    """Plain text cut into blocks (optionally packed), in row order.

    A row without the text field but with a ``prompt`` (``ftcore predict --prompt``) is a
    generation prompt: one example, no targets, never packed.
    """
    key = head.text_key
    end = eos_id(tokenizer) if head.append_eos else None
    plain = Prompter(tokenizer, False, None, "{prompt}")
    runs: list[tuple[bool, list[list[int]]]] = []  # (is a prompt, consecutive blocks)
    for row in rows:
        if isinstance(row.get(key), str):
            ids = token_ids(tokenizer, [row[key]])[0] + ([end] if end is not None else [])
            if not runs or runs[-1][0]:
                runs.append((False, []))
            runs[-1][1].extend(blocks(ids, max_length))
        else:
            prompt = prompt_only(tokenizer, plain, _prompt_of(row, "prompt"), max_length)
            runs.append((True, [prompt]))
    out: list[dict] = []
    for is_prompt, run in runs:
        if is_prompt:
            out.append(packed_example(run, len(out)) | {"labels": [IGNORE] * len(run[0])})
            continue
        groups = pack(run, max_length) if head.packing else [[b] for b in run]
        out.extend(packed_example(g, len(out) + i) for i, g in enumerate(groups))
    if not head.packing:
        for feature in out:
            del feature["positions"]
    return out


def columns(features: list[dict]) -> dict[str, list]:
    """Feature dicts -> the column lists the head's ``encode`` returns."""
    names = list(features[0]) if features else ["input_ids", "labels"]
    return {name: [f[name] for f in features] for name in names}
