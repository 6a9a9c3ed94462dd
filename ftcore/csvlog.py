"""``logs/metrics.csv`` that a resumed run continues instead of rewriting.

Lightning's ``CSVLogger`` deletes an existing ``metrics.csv`` when it starts, so
``ftcore run --resume`` lost every row logged before the interruption. :class:`RunCSVLogger`
keeps them: on resume it keeps the rows of the steps the checkpoint already holds (``step``
below the checkpoint's ``global_step``) and drops the later ones, which the resumed run
logs again, so no step appears twice; new rows are appended under the same header (a new
column rewrites the file with the wider header, as Lightning does).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

from ftcore.io import atomic_write_text, disk_full, is_disk_full


class RunCSVLogger(CSVLogger):
    """``CSVLogger`` whose file survives ``--resume`` (``resume_from``: the checkpoint the
    run continues from, or None for a run that starts from the beginning)."""

    def __init__(self, *args: Any, resume_from: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._resume_from = resume_from

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            step = None
            if self._resume_from is not None:
                from ftcore.runstamp import facts

                step = facts(Path(self._resume_from)).global_step
            self._experiment = ContinuedWriter(self.log_dir, keep_before=step)
        return self._experiment


class ContinuedWriter(ExperimentWriter):
    """Lightning's writer, keeping the rows of an earlier ``metrics.csv`` whose ``step`` is
    below ``keep_before`` (None: start the file over, as Lightning does)."""

    def __init__(self, log_dir: str, keep_before: int | None = None) -> None:
        self._keep_before = keep_before
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:
        path = Path(self.metrics_file_path)
        if not path.is_file():
            return
        if self._keep_before is None:
            path.unlink()
            return
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = list(reader.fieldnames or [])
            rows = [r for r in reader if _step(r) is not None and _step(r) < self._keep_before]
        if not header:
            path.unlink()
            return
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=header)  # \r\n, as Lightning writes
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(path, out.getvalue())
        self.metrics_keys = sorted(header)
        if self.metrics_keys != header:  # Lightning keeps its header sorted
            self._rewrite_with_new_header(self.metrics_keys)

    def save(self) -> None:
        try:
            super().save()
        except OSError as exc:
            if is_disk_full(exc):
                raise disk_full(Path(self.log_dir), f"writing {self.metrics_file_path}") from None
            raise


def _step(row: dict[str, str]) -> int | None:
    try:
        return int(float(row.get("step") or ""))
    except ValueError:
        return None
