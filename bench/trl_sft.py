"""TRL's side of the causal-LM memory benchmark: ``python -m bench.trl_sft RECIPE
[KEY=VALUE ...] --out FILE``.

Trains with ``trl.SFTTrainer`` on exactly the training rows ``ftcore run RECIPE`` trains
on (ftcore's datasets plugin, split and row limits), as TRL's documentation teaches: a
conversational prompt/completion dataset (the question as the user turn, the worked
answer as the assistant turn; SFTTrainer applies the tokenizer's chat template and takes
the loss on the completion only), the same model, batch size, sequence length, epochs,
learning rate, schedule, warm-up, weight decay, clipping and seed. TRL's defaults stand
elsewhere (activation checkpointing on, its full-logits ``nll`` loss), except ``bf16``:
off, as this CPU has no bf16 units and the ftcore side trains in fp32. No evaluation, no
checkpoints. Writes the training time and the tokens trained on (both ftcore's and
TRL's tokenisation of the rows, which should agree); the orchestrator reads the peak RSS.
"""

from __future__ import annotations

import tempfile
import time


def main() -> None:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    from bench.common import recipe_arguments, write_json
    from bench.memory import prepared_run

    args = recipe_arguments()
    run = prepared_run(args.recipe, args.overrides)
    recipe, head = run.recipe, run.recipe.head
    rows = run.data.rows["train"]
    dataset = Dataset.from_list(
        [
            {
                "prompt": [{"role": "user", "content": r[head.prompt_key]}],
                "completion": [{"role": "assistant", "content": r[head.response_key]}],
            }
            for r in rows
        ]
    )
    data, optim = recipe.data, recipe.optim
    steps = -(-len(rows) // data.batch_size) * recipe.trainer.max_epochs  # as ftcore counts
    with tempfile.TemporaryDirectory(prefix="ftcore-bench-trl-") as out:
        config = SFTConfig(
            output_dir=out,
            per_device_train_batch_size=data.batch_size,
            max_length=data.max_length,
            num_train_epochs=recipe.trainer.max_epochs,
            learning_rate=float(optim.lr),
            lr_scheduler_type=str(getattr(optim.schedule, "value", optim.schedule)),
            warmup_steps=optim.warmup_steps or int(float(optim.warmup_ratio) * steps),
            weight_decay=float(optim.weight_decay),
            max_grad_norm=float(optim.grad_clip or 0.0),
            optim="adamw_torch_fused",
            seed=recipe.seed,
            bf16=False,
            use_cpu=True,
            save_strategy="no",
            eval_strategy="no",
            report_to=[],
            logging_steps=5,
            dataloader_num_workers=0,
        )
        model = AutoModelForCausalLM.from_pretrained(run.model_path)
        trainer = SFTTrainer(
            model=model, args=config, train_dataset=dataset, processing_class=run.tokenizer
        )
        trl_tokens = sum(len(ids) for ids in trainer.train_dataset["input_ids"])
        started = time.perf_counter()
        output = trainer.train()
        seconds = time.perf_counter() - started
    ftcore_tokens = sum(len(f["input_ids"]) for f in run.features["train"])
    write_json(
        args.out,
        {
            "train_seconds": round(seconds, 1),
            "train_runtime": output.metrics.get("train_runtime"),
            "steps": output.global_step,
            "train_loss": output.training_loss,
            "tokens": trl_tokens,
            "ftcore_tokens": ftcore_tokens,
            "tokens_per_second": round(trl_tokens / seconds, 1),
            "gradient_checkpointing": config.gradient_checkpointing,
            "loss_type": config.loss_type,
        },
    )


if __name__ == "__main__":
    main()
