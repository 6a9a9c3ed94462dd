"""Schemas of the core recipe sections (omegaconf structured configs).

Sections owned by plugins are typed ``Any`` here and validated against the schema the
plugin declares through ``ftcore_components``: ``head`` (by ``task``), ``data.options``
(by ``data.source``), each key of ``strategies`` and of ``callbacks``, and ``evaluation``
(by the installed evaluation plugin).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Optional, Union

from omegaconf import MISSING


class OnInvalid(str, Enum):
    error = "error"
    drop = "drop"


class Normalize(str, Enum):
    lowercase = "lowercase"
    whitespace = "whitespace"
    nfc = "nfc"


class Schedule(str, Enum):
    constant = "constant"
    linear = "linear"
    cosine = "cosine"
    one_cycle = "one_cycle"


class OnNonFinite(str, Enum):
    stop = "stop"
    skip = "skip"


class Optimizer(str, Enum):
    adamw = "adamw"
    sgd = "sgd"


class WeightDtype(str, Enum):
    float32 = "float32"
    bfloat16 = "bfloat16"
    float16 = "float16"


@dataclass
class ModelConfig:
    """The pretrained model to start from."""

    # A bundled model name (see `ftcore plugins`), a local Hugging Face folder, or a hub id.
    name: str = MISSING
    # Allow the model's own Python code to run. Off: a recipe must not run code by default.
    trust_remote_code: bool = False
    # Where converted/bundled weights are cached (default: $FTCORE_CACHE or ~/.cache/ftcore).
    cache_dir: Optional[str] = None
    # Dtype of the weights (and so of their gradients and optimiser state): float32, or
    # bfloat16/float16 at half the memory. Half precision is fast only where the hardware
    # computes in it (GPUs; CPUs with AVX512-BF16 or AMX); elsewhere it is emulated and slow.
    dtype: WeightDtype = WeightDtype.float32
    # Recompute each layer's activations during the backward pass instead of keeping them
    # (activation checkpointing): much less memory for about a third more compute.
    gradient_checkpointing: bool = False


@dataclass
class DataConfig:
    """Where the examples come from and how they become batches."""

    # A dataset name provided by a plugin (e.g. rotten_tomatoes, csv, jsonl, parquet).
    source: str = MISSING
    # Options of the dataset, validated against the dataset plugin's schema.
    options: Any = None
    # Tokens per example; longer texts are truncated.
    max_length: int = 128
    # Training batch size.
    batch_size: int = 32
    # Batch size for validation, test and prediction.
    eval_batch_size: int = 64
    # Text normalisation steps applied in order before tokenisation.
    normalize: list[Normalize] = field(default_factory=list)
    # What to do with an invalid row (empty text, unknown label): fail, or drop and report.
    on_invalid: OnInvalid = OnInvalid.error
    # A text longer than this many characters is an invalid row (a guard against a broken
    # file whose quoting swallowed the rest of it); tokenisation truncates at max_length.
    max_chars: int = 100_000
    # Use at most this many training rows (a seeded random subset); null for all.
    limit_train: Optional[int] = None
    # Use at most this many validation and test rows each; null for all.
    limit_eval: Optional[int] = None
    # Batch training examples of similar length together (less padding, faster).
    group_by_length: bool = True
    # DataLoader worker processes (0: load in the training process).
    num_workers: int = 0
    # Cache the tokenised splits on disk (under the ftcore cache folder, keyed by
    # tokenizer files, rows and encode options), so a rerun skips tokenisation.
    cache_tokenized: bool = True


@dataclass
class OptimConfig:
    """Optimiser and learning-rate schedule."""

    # AdamW (decoupled weight decay) or SGD with momentum 0.9.
    optimizer: Optimizer = Optimizer.adamw
    # Peak learning rate, or "auto" to use an LR finder's suggestion (needs its plugin).
    lr: Union[float, str] = 5e-5
    # Decoupled weight decay (AdamW); not applied to biases and normalisation weights.
    weight_decay: float = 0.01
    # Warm-up as a fraction of all optimiser steps (used when warmup_steps is 0).
    warmup_ratio: float = 0.0
    # Warm-up in optimiser steps.
    warmup_steps: int = 0
    # Decay after warm-up.
    schedule: Schedule = Schedule.linear
    # Clip the gradient norm to this value; null for no clipping.
    grad_clip: Optional[float] = 1.0
    # Accumulate gradients over this many batches per optimiser step.
    accumulate: int = 1
    # Use torch's fused AdamW kernel (faster on CPU and GPU).
    fused: bool = True


@dataclass
class TrainerConfig:
    """Options passed to Lightning's Trainer."""

    max_epochs: int = 1
    # Stop after this many optimiser steps (-1: no limit).
    max_steps: int = -1
    # Any precision Lightning accepts: "32-true", "bf16-mixed", "16-mixed", "bf16-true"...
    precision: Union[str, int] = "32-true"
    # Lightning accelerator: auto, cpu, gpu, cuda, mps, tpu.
    accelerator: str = "auto"
    # Number of devices (-1: all), "auto", or device indices: [0, 1] or "0,1".
    devices: Union[int, str, list[int]] = "auto"
    # Lightning strategy: auto, ddp, ddp_spawn, fsdp, deepspeed... (any registered name).
    strategy: str = "auto"
    num_nodes: int = 1
    # Validate every this fraction of an epoch (1.0: once per epoch), or every this many
    # training batches when a whole number above 1 (at most the batches of an epoch).
    val_check_interval: float = 1.0
    # Write training metrics (train/loss, penalties, learning rates) to the loggers every
    # this many optimiser steps; ftcore logs them only on those steps.
    log_every_n_steps: int = 10
    # Use deterministic algorithms (exact reproducibility, sometimes slower).
    deterministic: bool = False
    # torch intra-op threads; null: torch's default.
    num_threads: Optional[int] = None
    # Compile the model's forward with torch.compile (nn.Module.compile). Pays on GPUs and
    # for long runs of fixed shapes; the first steps are slow while it compiles.
    compile: bool = False
    # Show Lightning's progress bar.
    progress_bar: bool = True
    # A NaN/Inf loss or gradient: stop the run (keeping checkpoints) or skip that batch.
    on_nonfinite: OnNonFinite = OnNonFinite.stop
    # With on_nonfinite=skip: stop once this many batches were skipped.
    max_skipped_batches: int = 10


@dataclass
class CheckpointConfig:
    """Which checkpoint is "best" (used for testing and export)."""

    # Validation metric to monitor; null: the head's choice (e.g. val/accuracy). A metric
    # the head does not log (another plugin's) needs mode too.
    monitor: Optional[str] = None
    # "max" or "min"; null: the head's choice.
    mode: Optional[str] = None
    # Keep this many best checkpoints (plus last.ckpt); -1: all, 0: only last.ckpt.
    save_top_k: int = 1
    # Also write last.ckpt every this many optimiser steps (null: at epoch ends only).
    every_n_steps: Optional[int] = None
    # Also write last.ckpt every this many minutes of training (null: off).
    every_n_minutes: Optional[float] = None


@dataclass
class OutputConfig:
    """Where the run directory goes."""

    # Root folder of run directories.
    root: str = "runs"
    # Run directory name under root/<recipe-name>/; default: a timestamp.
    run_name: Optional[str] = None


@dataclass
class PluginsConfig:
    """Operator controls over plugins."""

    # Entry-point names of plugins not to load for this recipe.
    disable: list[str] = field(default_factory=list)
    # Fail if any plugin fails to load.
    strict: bool = False


class WandbMode(str, Enum):
    online = "online"
    offline = "offline"
    disabled = "disabled"


@dataclass
class TensorBoardLoggerConfig:
    """TensorBoard event files and hparams.yaml in ``<run_dir>/tensorboard/``."""

    # Write TensorBoard files to <run_dir>/tensorboard/ (on when the `loggers` section is
    # absent or lists this logger).
    enabled: bool = True


@dataclass
class CSVLoggerConfig:
    """``<run_dir>/logs/metrics.csv`` (continued by --resume) and logs/hparams.yaml."""

    # Write <run_dir>/logs/metrics.csv, which the report's training curves read (on when
    # the `loggers` section is absent or lists this logger).
    enabled: bool = True


@dataclass
class MLflowLoggerConfig:
    """An MLflow run per ftcore run (needs the mlflow or mlflow-skinny package)."""

    # Log to MLflow (on when the `loggers` section lists this logger).
    enabled: bool = False
    # A server (http://host:5000), a database (sqlite:///mlflow.db) or a local folder
    # (file:mlruns or a plain path; relative to the current folder); null: the run
    # directory's mlruns/ folder.
    tracking_uri: Optional[str] = None
    # MLflow experiment (made if missing); null: the recipe's name.
    experiment_name: Optional[str] = None
    # Name of the MLflow run; null: the run directory's name.
    run_name: Optional[str] = None
    # Extra tags on the MLflow run.
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class WandbLoggerConfig:
    """A Weights & Biases run per ftcore run (needs the wandb package)."""

    # Log to Weights & Biases (on when the `loggers` section lists this logger).
    enabled: bool = False
    # offline: write to <run_dir>/wandb/ only (`wandb sync` uploads it); online: upload.
    mode: WandbMode = WandbMode.offline
    # W&B project; null: the recipe's name.
    project: Optional[str] = None
    # W&B team or user; null: your default entity.
    entity: Optional[str] = None
    # Name of the W&B run; null: the run directory's name.
    name: Optional[str] = None
    # Group the run with others (e.g. the trials of a sweep).
    group: Optional[str] = None
    # Tags on the W&B run.
    tags: list[str] = field(default_factory=list)


@dataclass
class LoggersConfig:
    """Where metrics and the recipe (as hyperparameters) are logged. Absent: csv and
    tensorboard. Given: only the loggers it lists; `enabled: false` or null turns one off."""

    tensorboard: TensorBoardLoggerConfig = field(default_factory=TensorBoardLoggerConfig)
    csv: CSVLoggerConfig = field(default_factory=CSVLoggerConfig)
    mlflow: MLflowLoggerConfig = field(default_factory=MLflowLoggerConfig)
    wandb: WandbLoggerConfig = field(default_factory=WandbLoggerConfig)


@dataclass
class RecipeConfig:
    """A whole recipe."""

    # Recipe name (defaults to the file name).
    name: str = MISSING
    # One line shown by `ftcore recipes`.
    description: str = ""
    # The task head (a head plugin's name, e.g. classification).
    task: str = MISSING
    # Seed for data splits, subsets, initialisation and training (0 to 4294967295).
    seed: int = 42
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    # The head's options, validated against the head plugin's schema.
    head: Any = None
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    # Enabled strategies by name, each with its options.
    strategies: Any = None
    # Extra Lightning callbacks contributed by plugins, by name, each with its options.
    callbacks: Any = None
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    # Evaluation options (baselines, confidence intervals, report), validated against the
    # schema of the installed evaluation plugin.
    evaluation: Any = None
    # Search space of `ftcore sweep` (dotted recipe key -> choices or range), checked by
    # the sweep plugin; `ftcore run` ignores it and runs the recipe's own values.
    sweep: Any = None
    # Loggers by name (tensorboard, csv, mlflow, wandb); see LoggersConfig.
    loggers: LoggersConfig = field(default_factory=LoggersConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    plugins: PluginsConfig = field(default_factory=PluginsConfig)
    # Written by `ftcore run` into recipe.yaml (package versions); ignored when read.
    versions: Any = None
    # Written by `ftcore run` into recipe.yaml: the run's id, also stamped into each of its
    # checkpoints (`--resume` uses only the run's own); a new run always gets a new one.
    run_id: Any = None


PLUGIN_SECTIONS = {"head", "strategies", "callbacks", "evaluation"}
