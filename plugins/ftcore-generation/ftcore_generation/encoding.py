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
from typing import Any

from ftcore.errors import UserError
from ftcore_generation.answers import parse_number

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

    @classmethod
    def for_head(cls, tokenizer: Any, head: Any) -> Prompter:
        chat = uses_chat_template(tokenizer, head)
        return cls(tokenizer, chat, head.system_prompt, head.prompt_template)

    def _messages(self, prompt: str) -> list[dict]:
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return [*system, {"role": "user", "content": prompt}]

    def prompt(self, prompt: str) -> str:
        """The text a generation starts from."""
        if not self.chat:
            return self.prompt_template.replace("{prompt}", prompt)
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


def example(prompt: list[int], completion: list[int], index: int, answer: float = math.nan) -> dict:
    return {
        "input_ids": prompt + completion,
        "labels": [IGNORE] * len(prompt) + completion,
        "prompt_length": len(prompt),
        "index": index,
        "answer": answer,
    }


def reference(row: dict, answer_key: str | None) -> float:
    if not answer_key or row.get(answer_key) is None:
        return math.nan
    return parse_number(str(row[answer_key]))


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
        out.append(example(prompt, completion, index, reference(row, answer_key)))
    return out


def _prompt_of(row: dict, key: str) -> str:
    for name in (key, "prompt", "text"):
        if isinstance(row.get(name), str):
            return row[name]
    raise UserError(f"row has no '{key}' text to generate from: {sorted(row)}")


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
