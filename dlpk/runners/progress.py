"""Progress reporting that tasks call without knowing who listens (a terminal, a job file).

One signature everywhere, from a task's loop to a launcher's caller: `(stage, done, total)`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, TextIO, cast, get_args

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
        from dlpk.spec.job import ProgressRecord  # pydantic: not for a command that only parses

        self._record = ProgressRecord
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
        record = self._record(stage=stage, done=done, total=total, elapsed=now - self._start)
        self._handle.write(record.model_dump_json() + "\n")
        self._handle.flush()
        if self._listener is not None:
            self._listener(stage, done, total)

    def close(self) -> None:
        self._handle.close()


def relay_progress(path: Path, offset: int, on_progress: Progress) -> int:
    """Pass on the complete lines another process appended to `path` since `offset`; returns
    the new offset (a launcher tails out/progress.jsonl with it)."""
    from dlpk.spec.job import ProgressRecord

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


ProgressMode = Literal["auto", "bar", "plain", "json", "none"]
"""How a command shows progress on stderr (`--progress`, the API's `progress=`): auto is a bar
on a terminal and plain lines otherwise (a log, a CI job, a pipe)."""
PROGRESS_MODES: tuple[str, ...] = get_args(ProgressMode)


def progress_mode(name: str) -> ProgressMode | None:
    """`name` as a ProgressMode, or None when it is not one."""
    return cast(ProgressMode, name) if name in PROGRESS_MODES else None


DEFAULT_PLAIN_SECONDS = 5.0  # between plain lines of one stage (DLPK_PROGRESS_SECONDS)


@contextmanager
def progress_display(mode: ProgressMode, stream: TextIO | None = None) -> Iterator[Progress]:
    """The listener that shows progress on `stream` (default stderr) as `mode` says."""
    out = stream if stream is not None else sys.stderr
    if mode == "auto":
        isatty = getattr(out, "isatty", None)
        mode = "bar" if isatty is not None and isatty() else "plain"
    if mode == "bar":
        with _bar(out) as bar:
            yield bar
    elif mode == "plain":
        yield PlainProgress(out, _plain_interval())
    elif mode == "json":
        yield JsonProgress(out)
    else:
        yield no_progress


def _plain_interval() -> float:
    try:
        return max(0.0, float(os.environ.get("DLPK_PROGRESS_SECONDS", DEFAULT_PLAIN_SECONDS)))
    except ValueError:
        return DEFAULT_PLAIN_SECONDS


@dataclass
class _Stage:
    """When a stage started, from what count (a resumed run starts past 0), and its pace."""

    started: float
    first: int
    shown: float | None = None  # when its last line was written
    finished: bool = False

    def rate(self, done: int, now: float) -> float | None:
        elapsed = now - self.started
        return (done - self.first) / elapsed if elapsed > 0 and done > self.first else None


class _Stages:
    """The stages a listener has heard of, each with its start and pace."""

    def __init__(self) -> None:
        self.stages: dict[str, _Stage] = {}

    def stage(self, name: str, done: int, now: float) -> _Stage:
        if name not in self.stages:
            self.stages[name] = _Stage(now, done)
        return self.stages[name]


def eta_seconds(rate: float | None, done: int, total: int | None) -> float | None:
    if rate is None or total is None or rate <= 0:
        return None
    return max(total - done, 0) / rate


def clock(seconds: float) -> str:
    """1:02:03 or 2:03, as rich's bar shows a time."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class PlainProgress:
    """A line every `interval` seconds while a stage runs, with counts, rate and ETA, and one
    when a stage that had a line ends: readable in a log file or a CI job, where a bar is not.
    A stage over within its first `interval` says nothing (the `done:` line says it all)."""

    def __init__(self, stream: TextIO, interval: float = DEFAULT_PLAIN_SECONDS) -> None:
        self._stream = stream
        self._interval = interval
        self._stages = _Stages()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        state = self._stages.stage(stage, done, now)
        final = total is not None and done >= total
        since = state.started if state.shown is None else state.shown
        due = now - since >= self._interval
        if state.finished or not (due or (final and state.shown is not None)):
            return
        state.shown, state.finished = now, final
        self._stream.write(f"dlpk: {self.line(stage, done, total, state, now)}\n")
        self._stream.flush()

    @staticmethod
    def line(stage: str, done: int, total: int | None, state: _Stage, now: float) -> str:
        count = f"{stage} {done}" if total is None else f"{stage} {done}/{total}"
        if total:
            count += f" ({100 * done // total}%)"
        if total is not None and done >= total:
            return f"{count} in {now - state.started:.1f} s"
        rate = state.rate(done, now)
        if rate is None:
            return count
        eta = eta_seconds(rate, done, total)
        return f"{count}, {rate:.1f}/s" + (f", ETA {clock(eta)}" if eta is not None else "")


class JsonProgress:
    """One JSON object a line, for a program reading stderr: stage, done, total (null when
    unknown), elapsed seconds in the stage, rate (per second) and eta (seconds; null until
    known). It hears what the job's progress file holds: a few records a second at most."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._stages = _Stages()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        state = self._stages.stage(stage, done, now)
        rate = state.rate(done, now)
        eta = eta_seconds(rate, done, total)
        record = {
            "stage": stage,
            "done": done,
            "total": total,
            "elapsed": round(now - state.started, 3),
            "rate": None if rate is None else round(rate, 3),
            "eta": None if eta is None else round(eta, 1),
        }
        self._stream.write(json.dumps(record) + "\n")
        self._stream.flush()


@contextmanager
def _bar(stream: TextIO) -> Iterator[Progress]:
    """A rich bar with ETA per stage (drawn with terminal codes even when `stream` is not a
    terminal: `--progress bar` asks for it).

    Redrawn from the caller's thread (no refresh thread), so the export may fork its workers.
    rich is imported here, not at module level: most commands never draw a bar.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as RichProgress

    console = Console(file=stream, force_terminal=True)
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
