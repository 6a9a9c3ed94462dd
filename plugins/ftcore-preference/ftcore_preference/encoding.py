"""Pure tokenisation of preference pairs (no torch), laid out as TRL's ``DPOTrainer`` does.

With a chat template, the prompt is the rendered user turn plus the generation prompt, and
each response is what the template adds after it for the assistant turn (its end-of-turn
token and the template's trailing text included). Without one, the prompt is
``prompt_template`` and each response ends with the end-of-sequence token. As in TRL, the
prompt and prompt + response are tokenised separately and the response starts where the
token lists first differ (a token merging across the boundary stays with the response).

Every pair becomes one feature dict: ``input_ids`` (prompt + chosen), ``rejected_ids``
(prompt + rejected), ``prompt_length`` and ``index`` (its position in the split).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ftcore.errors import UserError

IGNORE = -100


def eos_text(tokenizer: Any) -> str:
    return tokenizer.eos_token or tokenizer.sep_token or ""


def pad_id(tokenizer: Any) -> int:
    for found in (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.sep_token_id):
        if found is not None:
            return found
    return 0


@dataclass
class Layout:
    """Renders a prompt alone and a prompt with a response, as text."""

    tokenizer: Any
    chat: bool
    system_prompt: str | None
    prompt_template: str

    @classmethod
    def for_options(cls, tokenizer: Any, options: Any) -> Layout:
        chat = bool(options.use_chat_template and getattr(tokenizer, "chat_template", None))
        return cls(tokenizer, chat, options.system_prompt, options.prompt_template)

    def _messages(self, prompt: str) -> list[dict]:
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return [*system, {"role": "user", "content": prompt}]

    def prompt(self, prompt: str) -> str:
        if not self.chat:
            return self.prompt_template.replace("{prompt}", prompt)
        return self.tokenizer.apply_chat_template(
            self._messages(prompt), tokenize=False, add_generation_prompt=True
        )

    def full(self, prompt: str, response: str) -> str:
        if not self.chat:
            end = eos_text(self.tokenizer)
            return self.prompt(prompt) + (response if response.endswith(end) else response + end)
        messages = [*self._messages(prompt), {"role": "assistant", "content": response}]
        return self.tokenizer.apply_chat_template(messages, tokenize=False)


def token_ids(tokenizer: Any, texts: list[str]) -> list[list[int]]:
    if not texts:
        return []
    return list(tokenizer(texts, add_special_tokens=False)["input_ids"])


def common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def split_pair(
    prompt: list[int], chosen_full: list[int], rejected_full: list[int]
) -> tuple[list[int], list[int], list[int]]:
    """(prompt, chosen, rejected) token lists: the responses start where the tokenised
    prompt and prompt + response first differ (TRL's ``common_prefix_length``)."""
    n = min(common_prefix(prompt, chosen_full), common_prefix(prompt, rejected_full))
    return prompt[:n], chosen_full[n:], rejected_full[n:]


def fit(
    prompt: list[int], chosen: list[int], rejected: list[int], max_length: int
) -> tuple[list[int], list[int], list[int]]:
    """Cut to ``max_length`` tokens per sequence, keeping some of each response to compare.

    The prompt is cut from the left so that min(longest response, max_length // 4) tokens
    of response fit (at least one), then each response from the right.
    """
    keep = max(1, min(max(len(chosen), len(rejected)), max_length // 4))
    if len(prompt) > max_length - keep:
        prompt = prompt[len(prompt) - (max_length - keep) :]
    room = max_length - len(prompt)
    return prompt, chosen[:room], rejected[:room]


def pair_texts(row: dict, options: Any) -> tuple[str, str, str]:
    keys = (options.prompt_key, options.chosen_key, options.rejected_key)
    missing = [k for k in keys if not isinstance(row.get(k), str)]
    if missing:
        raise UserError(
            f"the preference head scores pairs: every row needs text in "
            f"'{keys[0]}', '{keys[1]}' and '{keys[2]}' (this one lacks "
            f"{', '.join(repr(k) for k in missing)})"
        )
    return row[keys[0]], row[keys[1]], row[keys[2]]


def encode(rows: list[dict], tokenizer: Any, max_length: int, options: Any) -> list[dict]:
    """One feature dict per row (see the module docstring)."""
    layout = Layout.for_options(tokenizer, options)
    texts = [pair_texts(row, options) for row in rows]
    prompts = token_ids(tokenizer, [layout.prompt(p) for p, _, _ in texts])
    chosen = token_ids(tokenizer, [layout.full(p, c) for p, c, _ in texts])
    rejected = token_ids(tokenizer, [layout.full(p, r) for p, _, r in texts])
    out = []
    for index, ids in enumerate(zip(prompts, chosen, rejected)):
        prompt, good, bad = fit(*split_pair(*ids), max_length)
        out.append(
            {
                "input_ids": prompt + good,
                "rejected_ids": prompt + bad,
                "prompt_length": len(prompt),
                "index": index,
            }
        )
    return out


def columns(features: list[dict]) -> dict[str, list]:
    """Feature dicts -> the column lists the head's ``encode`` returns."""
    names = ["input_ids", "rejected_ids", "prompt_length", "index"]
    return {name: [f[name] for f in features] for name in names}
