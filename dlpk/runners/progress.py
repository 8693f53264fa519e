"""Progress reporting that tasks call without knowing who listens (a terminal, a job file)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from dlpk.spec.job import ProgressRecord

Progress = Callable[[str, int, int | None], None]
"""Called with (stage, done, total); total is None when unknown."""


def no_progress(stage: str, done: int, total: int | None) -> None:
    """The default listener: nobody."""


class JsonlProgress:
    """Appends one ProgressRecord a line, flushed, so a launcher can tail it while the job runs.

    Records are throttled (one per `interval` seconds per stage) except the first and last of a
    stage, which are always written.
    """

    def __init__(self, path: Path, interval: float = 0.25) -> None:
        self._handle: IO[str] = open(path, "w", encoding="utf-8")  # noqa: SIM115
        self._start = time.monotonic()
        self._interval = interval
        self._last: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        last = self._last.get(stage)
        final = total is not None and done >= total
        if last is not None and not final and now - last < self._interval:
            return
        self._last[stage] = now
        record = ProgressRecord(stage=stage, done=done, total=total, elapsed=now - self._start)
        self._handle.write(record.model_dump_json() + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()
