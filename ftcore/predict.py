"""``ftcore predict``: the exported model of a run on new texts, decoded by the head."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftcore.errors import UserError
from ftcore.io import read_json
from ftcore.types import DataInfo


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
    """The exported model plus the head's hooks, ready to label new rows."""

    def __init__(self, run_dir: Path, hooks: Any) -> None:
        from transformers import AutoTokenizer

        model_dir = run_dir / "model"
        self.hooks = hooks
        self.recipe = load_run_recipe(run_dir, hooks)
        if not (model_dir / "ftcore_data_info.json").is_file():
            raise UserError(f"{run_dir} has no exported model/ (did the run finish?)")
        self.info = DataInfo.from_dict(read_json(model_dir / "ftcore_data_info.json"))
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = hooks.build_model(
            task=self.recipe.task,
            model_path=str(model_dir),
            info=self.info,
            head_config=self.recipe.head,
            trust_remote_code=self.recipe.model.trust_remote_code,
        )
        self.model.eval()

    def predict(self, rows: list[dict]) -> list[dict]:
        import torch

        from ftcore.data.normalize import normalizer
        from ftcore.data.prepare import encode_split

        clean = normalizer(list(self.recipe.data.normalize))
        rows = [{**r, "text": clean(r["text"])} for r in rows]
        features = encode_split(rows, self.recipe, self.hooks, self.tokenizer, self.info)
        size, out = self.recipe.data.eval_batch_size, []
        task = self.recipe.task
        with torch.inference_mode():
            for start in range(0, len(features), size):
                batch = self.hooks.collate(
                    task=task,
                    features=features[start : start + size],
                    tokenizer=self.tokenizer,
                    info=self.info,
                )
                step = self.hooks.step(
                    task=task,
                    model=self.model,
                    batch=batch,
                    info=self.info,
                    head_config=self.recipe.head,
                    stage="predict",
                )
                out.extend(self.hooks.decode(task=task, output=step, info=self.info))
        return out


def read_inputs(text: str | None, input_file: str | None) -> list[dict]:
    """Rows from --text or a JSONL file whose lines hold a "text" field."""
    import json

    if text is not None:
        return [{"text": text}]
    path = Path(input_file)
    if not path.is_file():
        raise UserError(f"--input: {path} does not exist")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}: line {number}: invalid JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise UserError(f'{path}: line {number}: expected an object with a "text" string')
        rows.append(row)
    if not rows:
        raise UserError(f'{path}: no rows; write one JSON object with a "text" field per line')
    return rows
