"""The VADER ground truth: texts with human sentiment intensity (regression).

``vader_movie`` holds 10,605 movie-review snippets, ``vader_amazon`` 3,708 Amazon
product-review snippets, ``vader_tweets`` 4,200 tweets and ``vader_nyt`` 5,190 sentences
of New York Times opinion pieces (Hutto & Gilbert, ICWSM 2014; the same raters' protocol).

The data ships only in the source distribution of ``vaderSentiment==3.3.2`` (not in its
wheel). On first use the sdist is fetched with ``pip download`` into
``<cache>/vader``, the ground-truth file is extracted next to it, and later runs read
the extracted file. Labels are the mean rating of about 20 people, from -4 to +4.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from ftcore.errors import UserError
from ftcore.types import RawSplits, Row
from ftcore_datasets.common import SPLITS, cache_root, offline
from ftcore_datasets.schema import VaderOptions
from ftcore_datasets.split import stratified_split

PIN = "vaderSentiment==3.3.2"
SDIST = "vaderSentiment-3.3.2.tar.gz"
ARCHIVE = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
MEMBER = "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"
MEMBERS = {
    "vader_movie": MEMBER,
    "vader_amazon": "hutto_ICWSM_2014/amazonReviewSnippets_GroundTruth.txt",
    "vader_tweets": "hutto_ICWSM_2014/tweets_GroundTruth.txt",
    "vader_nyt": "hutto_ICWSM_2014/nytEditorialSnippets_GroundTruth.txt",
}


def download_command(folder: Path) -> list[str]:
    """The pip command that fetches the sdist into ``folder``."""
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
    return [*pip, PIN, "-d", str(folder)]


def download(folder: Path, name: str = "vader_movie") -> Path:
    """Fetch the sdist into ``folder`` with pip; a UserError saying why if that fails.

    Offline (``HF_HUB_OFFLINE=1`` and its relatives) no connection is attempted.
    """
    command = download_command(folder)
    forbidden = offline()
    if forbidden:
        raise UserError(
            f"dataset {name!r}: {SDIST} is not in the cache ({folder}) and "
            f"{forbidden}=1 forbids downloading it; on a machine with network run "
            f"`{' '.join(command[2:])}` and copy the file into {folder}, or unset {forbidden}"
        )
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as err:
        reason = str(err)
    else:
        if proc.returncode == 0 and (folder / SDIST).exists():
            return folder / SDIST
        lines = [ln.strip() for ln in (proc.stderr + "\n" + proc.stdout).splitlines()]
        errors = [ln for ln in lines if ln.lower().startswith("error")]
        reason = (errors or [ln for ln in lines if ln] or [f"exit code {proc.returncode}"])[-1]
    raise UserError(
        f"dataset {name!r}: could not download {PIN} with pip ({reason}); it needs "
        f"PyPI once, then it is cached in {folder}; check the network, or fetch it yourself "
        f"with: python -m pip download --no-deps --no-binary :all: {PIN} -d {folder}"
    )


def extract(sdist: Path, target: Path, name: str = "vader_movie") -> None:
    """Extract the ground-truth file from the archive nested in the sdist, to ``target``."""
    try:
        with tarfile.open(sdist, "r:gz") as outer:
            handle = outer.extractfile(ARCHIVE)
            if handle is None:
                raise KeyError(ARCHIVE)
            nested = handle.read()
        with tarfile.open(fileobj=io.BytesIO(nested), mode="r:gz") as inner:
            handle = inner.extractfile(MEMBERS[name])
            if handle is None:
                raise KeyError(MEMBERS[name])
            data = handle.read()
    except (tarfile.TarError, KeyError, OSError, EOFError) as err:
        raise UserError(
            f"dataset {name!r}: {sdist} is damaged or not the {PIN} sdist ({err!r}); "
            f"delete it and run again to download it afresh"
        ) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    partial.write_bytes(data)
    os.replace(partial, target)


def ground_truth_file(name: str, cache_dir: str | None) -> Path:
    """The dataset's extracted ground-truth file, downloading and extracting on first use."""
    folder = cache_root(cache_dir) / "vader"
    target = folder / MEMBERS[name]
    if target.exists():
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(
            f"dataset {name!r}: cannot create the cache folder {folder} ({err}); set "
            f"data.options.cache_dir or the FTCORE_CACHE environment variable to a "
            f"writable folder"
        ) from None
    sdist = folder / SDIST
    if not sdist.exists():
        download(folder, name)
    extract(sdist, target, name)
    return target


def read_ground_truth(path: Path) -> tuple[list[Row], list[int]]:
    """Tab-separated ``id, score, text`` lines, read with quoting off; rows text + float."""
    rows: list[Row] = []
    numbers: list[int] = []
    text = path.read_bytes().decode("utf-8", errors="replace")
    for lineno, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        fields = line.split("\t", 2)
        try:
            score = float(fields[1])
            body = fields[2]
        except (IndexError, ValueError):
            raise UserError(
                f"{path} line {lineno}: expected 'id<TAB>score<TAB>text'; delete the file "
                f"to extract it again"
            ) from None
        rows.append({"text": body, "label": score})
        numbers.append(lineno)
    return rows, numbers


def load_vader(name: str, options: VaderOptions, seed: int) -> RawSplits:
    path = ground_truth_file(name, options.cache_dir)
    rows, numbers = read_ground_truth(path)
    split = stratified_split(rows, options.val_ratio, options.test_ratio, seed, row_numbers=numbers)
    return RawSplits(
        splits=split.splits,
        origin={name: str(path) for name in SPLITS},
        row_numbers=split.row_numbers,
    )


def load_vader_movie(options: VaderOptions, seed: int) -> RawSplits:
    return load_vader("vader_movie", options, seed)


def load_vader_amazon(options: VaderOptions, seed: int) -> RawSplits:
    return load_vader("vader_amazon", options, seed)


def load_vader_tweets(options: VaderOptions, seed: int) -> RawSplits:
    return load_vader("vader_tweets", options, seed)


def load_vader_nyt(options: VaderOptions, seed: int) -> RawSplits:
    return load_vader("vader_nyt", options, seed)
