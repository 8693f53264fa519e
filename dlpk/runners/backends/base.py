"""The Backend protocol: the one way a prepared job is run, whoever launched it.

A backend takes a job directory that `launch.JobBuilder` wrote (or a user's own) and runs the
one entrypoint on it, somewhere: in this process, a subprocess, a container, a cluster. It hands
back the job's `Result` as out/result.json holds it, failed or not; raising is for what stopped
the job from producing one (a timeout, a missing image, an unreachable daemon).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from dlpk.errors import JobFailedError
from dlpk.runners.backends.launch import PreparedJob
from dlpk.runners.progress import Progress
from dlpk.spec.choices import Device
from dlpk.spec.job import Result


@runtime_checkable
class Backend(Protocol):
    """Runs prepared jobs. `device` is where models run unless a task asks otherwise;
    `sandboxed` backends may run a package's code without an explicit trust flag."""

    @property
    def name(self) -> str: ...

    @property
    def device(self) -> Device: ...

    @property
    def sandboxed(self) -> bool: ...

    def run(self, prepared: PreparedJob, on_progress: Progress | None = None) -> Result: ...


def read_result(jobdir: Path, exit_code: int) -> Result:
    """out/result.json of a job that ended; its absence means the runner died before it."""
    path = jobdir / "out" / "result.json"
    if not path.is_file():
        error = JobFailedError(f"the job stopped without a result (exit {exit_code})")
        error.exit_code = exit_code or 1
        raise error
    return Result.model_validate_json(path.read_text(encoding="utf-8"))
