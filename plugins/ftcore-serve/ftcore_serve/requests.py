"""What a request may hold, checked in the HTTP server before it is queued.

A malformed request is answered there with a 4xx JSON error naming the problem: FastAPI
answers 422 for a body that fails these pydantic models, and :func:`chat_problem` gives
the 400 of the chat endpoint. LitServe batches requests in its workers, where one bad
request would fail every request batched with it; none reaches them.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr, model_validator

MAX_INPUTS = 256  # texts in one /predict request
MAX_CHARS = 100_000  # characters in one text, or in one chat request's messages together
MAX_MESSAGES = 256  # messages in one chat request
MAX_BODY = 32 * 2**20  # bytes in one request body (413 beyond)
ROLES = ("system", "user", "assistant")


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("the text is empty; send the text to label")
    return text


Text = Annotated[StrictStr, Field(max_length=MAX_CHARS), AfterValidator(_not_blank)]


class TextRow(BaseModel):
    """One input, as a line of ``ftcore predict --input``: ``{"text": "..."}``."""

    model_config = ConfigDict(extra="forbid")
    text: Text


class PredictRequest(BaseModel):
    """``{"text": "..."}`` (as ``ftcore predict --text``) or ``{"inputs": [{"text":
    "..."}, ...]}`` (as the lines of ``ftcore predict --input``)."""

    model_config = ConfigDict(extra="forbid")
    text: Text | None = None
    inputs: Annotated[list[TextRow], Field(min_length=1, max_length=MAX_INPUTS)] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> PredictRequest:
        if (self.text is None) == (self.inputs is None):
            raise ValueError('give either "text" (one text) or "inputs" (a list of {"text": ...})')
        return self

    def rows(self) -> list[dict[str, str]]:
        """The rows ``ftcore predict`` would read: one per text."""
        if self.inputs is None:
            return [{"text": self.text}]
        return [{"text": row.text} for row in self.inputs]


def message_text(content: Any) -> str | None:
    """A message's text: a string, or the joined text parts of a content list (None when a
    part is not text)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return None
    parts = [getattr(part, "text", None) for part in content]
    if any(getattr(p, "type", None) != "text" or t is None for p, t in zip(content, parts)):
        return None
    return "".join(parts)


def chat_problem(request: Any, data_format: str) -> str | None:
    """What is wrong with a chat completion request for a run of ``data_format``
    (``instruction``, ``chat`` or ``text``), or None."""
    messages = request.messages
    if request.n not in (None, 1):
        return f"n: this server answers one choice per request (n=1), not n={request.n}"
    if not messages:
        return "messages: empty; send at least one user message"
    if len(messages) > MAX_MESSAGES:
        return f"messages: {len(messages)} messages, more than the {MAX_MESSAGES} accepted"
    for i, message in enumerate(messages):
        problem = _message_problem(message)
        if problem:
            return f"messages[{i}]: {problem}"
    if sum(len(message_text(m.content)) for m in messages) > MAX_CHARS:
        return f"messages: more than {MAX_CHARS} characters in all"
    if messages[-1].role != "user":
        return f"messages[{len(messages) - 1}]: the last message must be the user's, to answer"
    if data_format != "chat" and len(messages) != 1:
        return (
            f"messages: this run was trained on single prompts (head.format: {data_format}); "
            f"send one user message (its system prompt is the recipe's head.system_prompt)"
        )
    return None


def _message_problem(message: Any) -> str | None:
    if message.role not in ROLES:
        return f"role '{message.role}' is not supported; use one of: {', '.join(ROLES)}"
    text = message_text(message.content)
    if text is None:
        return "content must be text (a string, or a list of text parts)"
    if not text.strip():
        return "content is empty"
    return None
