"""Run a job on this machine: in a subprocess (`Local`, exactly `python -m dlpk.runners JOBDIR`)
or in the calling process (`InProcess`, for notebooks and the Python API's default).

Both realise the job's mounts as symbolic links inside the job directory, so inputs are
referenced, never copied.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from dlpk.errors import JobStoppedError
from dlpk.interrupts import STOP_GRACE_SECONDS
from dlpk.runners.backends.base import read_result
from dlpk.runners.backends.launch import PreparedJob, link_mounts
from dlpk.runners.progress import Progress, relay_progress
from dlpk.spec.choices import Device
from dlpk.spec.job import Result


def run_local(
    jobdir: Path,
    on_progress: Progress | None = None,
    python: str = sys.executable,
    poll: float = 0.2,
    timeout: float | None = None,
) -> int:
    """Run the job and return the entrypoint's exit code; `timeout`, Ctrl-C, SIGTERM or
    SIGHUP (raised here by `dlpk.interrupts`) stop it, its scratch cleaned by the runner."""
    progress_file = jobdir / "out" / "progress.jsonl"
    progress_file.unlink(missing_ok=True)  # a previous run's records are not this run's
    env = os.environ | {"DLPK_LAUNCHED": "1"}
    proc = subprocess.Popen([python, "-m", "dlpk.runners", str(jobdir)], env=env)
    offset, started = 0, time.monotonic()
    try:
        while True:
            code = proc.poll()
            if on_progress is not None:
                offset = relay_progress(progress_file, offset, on_progress)
            if code is not None:
                return code
            if timeout is not None and time.monotonic() - started > timeout:
                raise JobStoppedError(f"the job ran longer than --timeout {timeout:g} s; stopped")
            time.sleep(poll)
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen[bytes], grace: float = STOP_GRACE_SECONDS) -> None:
    """Stop a runner that is still running: SIGTERM first, which it unwinds as Ctrl-C (its
    scratch folders removed, classify-pixels' checkpoint recorded for --resume), then SIGKILL
    if it has not ended within `grace` seconds. Returns once it has ended."""
    if proc.poll() is not None:
        return
    try:
        proc.terminate()
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    except BaseException:  # a second interrupt while waiting (no handler made it wait)
        proc.kill()
        proc.wait()
        raise


@dataclass(frozen=True)
class Local:
    """A fresh interpreter per job: the caller's process stays clean of the job's imports and
    memory, and `timeout` can stop it."""

    device: Device = "auto"
    timeout: float | None = None
    python: str = sys.executable
    poll: float = 0.2
    name: ClassVar[str] = "local"
    sandboxed: ClassVar[bool] = False

    def run(self, prepared: PreparedJob, on_progress: Progress | None = None) -> Result:
        link_mounts(prepared)
        code = run_local(prepared.jobdir, on_progress, self.python, self.poll, self.timeout)
        return read_result(prepared.jobdir, code)


@dataclass(frozen=True)
class InProcess:
    """The entrypoint called in this process: no interpreter start-up, progress heard directly."""

    device: Device = "auto"
    name: ClassVar[str] = "in-process"
    sandboxed: ClassVar[bool] = False

    def run(self, prepared: PreparedJob, on_progress: Progress | None = None) -> Result:
        from dlpk.runners.entrypoint import run_job  # the entrypoint, as a subprocess would run it

        link_mounts(prepared)
        code = run_job(prepared.jobdir, on_progress, launched=True)
        return read_result(prepared.jobdir, code)
