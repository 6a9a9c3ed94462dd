"""``ftcore predict``: the exported model of a run on new texts, decoded by the head."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftcore.errors import UserError
from ftcore.io import read_json
from ftcore.types import DataInfo, StepOutput

log = logging.getLogger(__name__)


def load_run_recipe(run_dir: Path, hooks: Any) -> Any:
    from ftcore.recipe import loader
    from ftcore.recipe.validate import validate

    path = run_dir / "recipe.yaml"
    if not path.is_file():
        raise UserError(
            f"{run_dir} is not an ftcore run directory (no recipe.yaml); "
            f"give the folder `ftcore run` printed"
        )
    return validate(
        loader.load_raw(path, []),
        hooks,
        source=str(path),
        default_name=run_dir.name,
        training=False,
    )


class Predictor:
    """The exported model plus the head's hooks, ready to label new rows.

    adapter: use the run's base model plus its ``adapter/`` (a PEFT adapter such as LoRA)
    instead of the merged ``model/``; tokenizer and data facts still come from ``model/``.
    trust_remote_code: run Python code shipped in the run's model folder. A run folder may
    come from someone else, so what its ``recipe.yaml`` says is never enough: only the
    user of this command can allow it (``--trust-remote-code``).
    """

    def __init__(
        self, run_dir: Path, hooks: Any, adapter: bool = False, trust_remote_code: bool = False
    ) -> None:
        from transformers import AutoTokenizer

        model_dir = run_dir / "model"
        self.run_dir = run_dir
        self.hooks = hooks
        self.recipe = load_run_recipe(run_dir, hooks)
        self.recipe.model.trust_remote_code = trust_remote_code
        if trust_remote_code:
            log.warning(
                "--trust-remote-code: running Python code shipped in %s; use it only for "
                "a run folder whose code you have reviewed",
                model_dir,
            )
        adapter_dir = adapter_folder(run_dir) if adapter else None
        if not (model_dir / "ftcore_data_info.json").is_file():
            raise UserError(f"{run_dir} has no exported model/ (did the run finish?)")
        exported = read_exported(model_dir / "ftcore_data_info.json")
        self.info = exported.info
        self.head = hooks.head(self.recipe.task)
        self.head_options = exported_options(hooks, self.recipe, exported)
        with _loading_model(run_dir, trust_remote_code):
            self.tokenizer = AutoTokenizer.from_pretrained(
                model_dir, trust_remote_code=trust_remote_code
            )
            self.model = self.head.build_model(
                model_path=base_model(self.recipe, hooks) if adapter else str(model_dir),
                info=self.info,
                options=self.head_options,
                trust_remote_code=trust_remote_code,
            )
        if adapter_dir is not None:
            self.model = load_adapter(self.model, adapter_dir)
        self.model.eval()

    def predict(self, rows: list[dict]) -> list[dict]:
        import torch

        from ftcore.data.normalize import normalizer
        from ftcore.data.prepare import encode_split

        clean = normalizer(list(self.recipe.data.normalize))
        key = self.head.text_key(options=self.head_options)
        rows = [_normalized(r, _text_key(r, key), clean) for r in rows]
        features = encode_split(rows, self)
        size, out = self.recipe.data.eval_batch_size, []
        with torch.inference_mode():
            for start in range(0, len(features), size):
                step = self.step(features[start : start + size])
                out.extend(self.decode(step))
        if not all(map(finite, out)):
            raise UserError(
                f"the model in {self.run_dir}/model predicts NaN or Inf (its weights are not "
                f"finite); run the recipe again with a lower optim.lr or optim.grad_clip set"
            )
        return out

    def step(self, features: list[dict], stage: str = "predict") -> StepOutput:
        """The head's step on encoded examples (collated here); ``stage="test"`` for
        examples with targets, scored as in a run's test."""
        batch = self.head.collate(
            features=features, tokenizer=self.tokenizer, info=self.info, options=self.head_options
        )
        return self.head.step(
            model=self.model, batch=batch, info=self.info, options=self.head_options, stage=stage
        )

    def decode(self, output: StepOutput) -> list[dict]:
        return self.head.decode(output=output, info=self.info, options=self.head_options)


@dataclass
class Exported:
    """``model/ftcore_data_info.json``: the data info and, since Plugin API v1, the head's
    options (``head_options``; None in folders exported before)."""

    info: DataInfo
    head_options: dict[str, Any] | None = None


@dataclass
class FinishedRun:
    """What a finished run exported for its model: recipe, head, head options, data info."""

    recipe: Any
    head: Any
    head_options: Any
    info: DataInfo


def finished_run(run_dir: Path, hooks: Any) -> FinishedRun:
    """The recipe, head, head options and data info of the run in ``run_dir`` (one whose
    ``model/`` was exported, by this version or an older one)."""
    recipe = load_run_recipe(run_dir, hooks)
    path = run_dir / "model" / "ftcore_data_info.json"
    if not path.is_file():
        raise UserError(f"{run_dir} has no exported model/ (did the run finish?)")
    exported = read_exported(path)
    options = exported_options(hooks, recipe, exported)
    return FinishedRun(recipe, hooks.head(recipe.task), options, exported.info)


def exported_options(hooks: Any, recipe: Any, exported: Exported) -> Any:
    """The head options the model was exported with: ``head_options`` when saved, else
    (an older export) the run's ``recipe.yaml`` ``head:`` section, which they came from."""
    from ftcore.heads import options_from

    schema = hooks.find("head", recipe.task, "task").component.schema
    return options_from(schema, exported.head_options, hooks.head_options(recipe))


def finite(value: Any) -> bool:
    """No NaN or Inf anywhere in a decoded prediction (JSON has no way to write them)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(map(finite, value.values()))
    if isinstance(value, (list, tuple)):
        return all(map(finite, value))
    return True


def read_data_info(path: Path) -> DataInfo:
    """The data facts a run exported next to its model; a damaged file is one line."""
    return read_exported(path).info


def read_exported(path: Path) -> Exported:
    """The data facts and head options a run exported next to its model; a damaged file
    is one line."""
    try:
        data = read_json(path)
        options = data.get("head_options")
        if options is not None and not isinstance(options, dict):
            raise TypeError("head_options is not an object")
        return Exported(DataInfo.from_dict(data), options)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise UserError(
            f"{path} is damaged ({type(exc).__name__}: {str(exc).splitlines()[0][:80]}); "
            f"restore it from a copy of the run, or run the recipe again"
        ) from None


@contextmanager
def _loading_model(run_dir: Path, trusted: bool) -> Iterator[None]:
    """One line for the model folder's own faults: damaged or truncated weights, missing
    files, and transformers' refusal to load a model that needs its own code."""
    from safetensors import SafetensorError

    try:
        yield
    except (SafetensorError, OSError, EOFError) as exc:
        raise UserError(
            f"{run_dir}/model cannot be loaded: its files are damaged, truncated or missing "
            f"({type(exc).__name__}: {str(exc).splitlines()[0][:100]}); restore the folder "
            f"from a copy of the run, or run the recipe again"
        ) from None
    except ValueError as exc:
        if trusted or "trust_remote_code" not in str(exc):
            raise
        raise UserError(
            f"{run_dir}/model needs Python code shipped with it (auto_map in config.json), "
            f"which ftcore does not run for a run folder; review the .py files there, then "
            f"pass --trust-remote-code"
        ) from None


def _text_key(row: dict, key: str) -> str:
    """The row's field to normalise: the head's text key, else the input's own field."""
    return key if key in row else ("prompt" if "prompt" in row else "text")


def _normalized(row: dict, key: str, clean: Any) -> dict:
    from ftcore.data.normalize import normalized

    return {**row, key: normalized(row[key], clean)}


def base_model(recipe: Any, hooks: Any) -> str:
    """The local folder of the pretrained model the run started from."""
    from ftcore.models import resolve_model

    return resolve_model(recipe, hooks)


def adapter_folder(run_dir: Path) -> Path:
    """The run's ``adapter/`` folder, or a UserError when the run saved none."""
    folder = run_dir / "adapter"
    if not (folder / "adapter_config.json").is_file():
        raise UserError(
            f"{run_dir} has no adapter/ (only runs with an adapter strategy such as "
            f"strategies.lora save one); predict without --adapter to use model/"
        )
    return folder


def load_adapter(model: Any, folder: Path) -> Any:
    """``model`` with the PEFT adapter saved in ``folder`` (peft's own loader)."""
    try:
        from peft import PeftModel
    except ImportError:
        raise UserError("--adapter needs the peft package: pip install peft") from None
    return PeftModel.from_pretrained(model, str(folder))


def read_inputs(text: str | None, input_file: str | None, prompt: str | None = None) -> list[dict]:
    """Rows from --text, --prompt, or a JSONL file whose lines hold a "text" field."""
    from ftcore.io import read_jsonl

    if text is not None:
        return [{"text": text}]
    if prompt is not None:
        return [{"prompt": prompt}]
    path = Path(input_file)
    if not path.is_file():
        raise UserError(f"--input: {path} does not exist")
    rows = []
    for number, row in read_jsonl(path, example='{"text": "..."}'):
        if not isinstance(row.get("text"), str):
            raise UserError(f'{path}: line {number}: expected an object with a "text" string')
        rows.append(row)
    if not rows:
        raise UserError(f'{path}: no rows; write one JSON object with a "text" field per line')
    return rows
