"""Option schema of ``callbacks.sample_predictions``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SamplePredictionsConfig:
    """Options of the sample_predictions callback."""

    # How many validation examples to predict and log (the first ones of the split).
    num_samples: int = 8
    # Log every this many epochs (1: after every validation epoch).
    every_n_epochs: int = 1
    # Cut texts and predictions longer than this many characters in the table.
    max_chars: int = 200
    # Also append the samples to sample_predictions.jsonl in the run directory.
    write_jsonl: bool = True
