"""The LitServe APIs around a run's exported model (``ftcore.api.Predictor``).

No ``from __future__ import annotations`` here: LitServe and FastAPI read the request
types from these signatures at run time.
"""

from pathlib import Path
from typing import Any, Optional, Union

import litserve as ls
from fastapi import BackgroundTasks, HTTPException
from litserve.specs.openai import ChatCompletionRequest, OpenAISpec

from ftcore_serve.requests import PredictRequest, chat_problem, message_text


class _RunAPI(ls.LitAPI):
    """Loads the run's ``model/`` once per worker, in ``setup``."""

    def __init__(self, run_dir: Path, adapter: bool, trust_remote_code: bool, **litapi: Any):
        super().__init__(**litapi)
        self.run_dir, self.adapter, self.trust_remote_code = run_dir, adapter, trust_remote_code

    def setup(self, device: str) -> None:
        from ftcore.api import Predictor, plugin_hooks

        self.predictor = Predictor(
            self.run_dir,
            plugin_hooks(),
            adapter=self.adapter,
            trust_remote_code=self.trust_remote_code,
        )


class PredictAPI(_RunAPI):
    """``POST /predict`` for heads that label a text (classification, regression): the
    JSON of ``ftcore predict``, one object per text."""

    def decode_request(self, request: PredictRequest) -> tuple[bool, list[dict]]:
        return request.inputs is None, request.rows()

    def batch(self, inputs: list) -> list:
        return list(inputs)

    def predict(self, x: Any) -> Any:
        requests = x if isinstance(x, list) else [x]
        rows = [row for _, texts in requests for row in texts]
        lines = iter({**row, **pred} for row, pred in zip(rows, self.predictor.predict(rows)))
        answers = [(single, [next(lines) for _ in texts]) for single, texts in requests]
        return answers if isinstance(x, list) else answers[0]

    def unbatch(self, output: list) -> list:
        return list(output)

    def encode_response(self, output: tuple[bool, list[dict]]) -> dict:
        single, lines = output
        return lines[0] if single else {"predictions": lines}


class ChatSpec(OpenAISpec):
    """LitServe's OpenAI spec, with each request checked before it is queued."""

    def __init__(self, data_format: str) -> None:
        super().__init__()
        self.data_format = data_format

    async def chat_completion(
        self, request: ChatCompletionRequest, background_tasks: BackgroundTasks
    ) -> Any:
        problem = chat_problem(request, self.data_format)
        if problem:
            raise HTTPException(status_code=400, detail=problem)
        return await super().chat_completion(request, background_tasks)


class ChatAPI(_RunAPI):
    """``POST /v1/chat/completions`` for generation runs: the prompt laid out as the run
    trained (chat template, system prompt), answered with the run's generation settings
    (``head.max_new_tokens``, ``do_sample``, ``temperature``, ``top_p``, ``seed``)."""

    def decode_request(self, request: ChatCompletionRequest) -> dict:
        options = self.predictor.head_options
        messages = [{"role": m.role, "content": message_text(m.content)} for m in request.messages]
        data_format = getattr(options, "format", "instruction")
        if str(getattr(data_format, "value", data_format)) == "chat":
            return {options.messages_key: messages}
        return {"prompt": messages[-1]["content"]}

    def batch(self, inputs: list) -> list:
        return list(inputs)

    def predict(self, x: Union[dict, list]) -> Any:
        rows = x if isinstance(x, list) else [x]
        texts = [pred["generated"] for pred in self.predictor.predict(rows)]
        yield texts if isinstance(x, list) else texts[0]

    def encode_response(self, outputs: Any) -> Any:
        for output in outputs:
            if isinstance(output, list):
                yield [_message(text) for text in output]
            else:
                yield _message(output)


def _message(text: Optional[str]) -> dict:
    return {"role": "assistant", "content": text or ""}
