"""Progress reporting that tasks call without knowing who listens (a terminal, a job file).

One signature everywhere, from a task's loop to a launcher's caller: `(stage, done, total)`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from dlpk.spec.job import ProgressRecord

Progress = Callable[[str, int, int | None], None]
"""Called with (stage, done, total); total is None when unknown."""


def no_progress(stage: str, done: int, total: int | None) -> None:
    """The default listener: nobody."""


class JsonlProgress:
    """Appends one ProgressRecord a line, flushed, so a launcher can tail it while the job runs.

    Records are throttled (one per `interval` seconds per stage) except the first and last of a
    stage, which are always written; `listener`, when given, hears the same records.
    """

    def __init__(
        self, path: Path, listener: Progress | None = None, interval: float = 0.25
    ) -> None:
        self._handle: IO[str] = open(path, "w", encoding="utf-8")  # noqa: SIM115
        self._start = time.monotonic()
        self._interval = interval
        self._last: dict[str, float] = {}
        self._listener = listener

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
        if self._listener is not None:
            self._listener(stage, done, total)

    def close(self) -> None:
        self._handle.close()


def relay_progress(path: Path, offset: int, on_progress: Progress) -> int:
    """Pass on the complete lines another process appended to `path` since `offset`; returns
    the new offset (a launcher tails out/progress.jsonl with it)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            chunk = handle.read()
    except FileNotFoundError:
        return offset
    end = chunk.rfind(b"\n") + 1
    for line in chunk[:end].splitlines():
        if line.strip():
            record = ProgressRecord.model_validate(json.loads(line))
            on_progress(record.stage, record.done, record.total)
    return offset + end


@contextmanager
def terminal_progress() -> Iterator[Progress]:
    """A rich bar with ETA per stage on a terminal; silent otherwise.

    Redrawn from the caller's thread (no refresh thread), so the export may fork its workers.
    rich is imported here, not at module level: most commands never draw a bar.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as RichProgress

    console = Console(stderr=True)
    if not console.is_terminal:
        yield no_progress
        return
    bars: dict[str, Any] = {}
    with RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        auto_refresh=False,
    ) as rich_progress:
        last = [0.0]

        def update(stage: str, done: int, total: int | None) -> None:
            if stage not in bars:
                bars[stage] = rich_progress.add_task(stage, total=total)
            rich_progress.update(bars[stage], completed=done, total=total)
            now = time.monotonic()
            if now - last[0] >= 0.1 or done == total:
                last[0] = now
                rich_progress.refresh()

        yield update
