"""Run a job in a local subprocess: exactly `python -m dlpk.runners JOBDIR`, progress relayed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from dlpk.errors import JobStoppedError
from dlpk.spec.job import ProgressRecord

OnProgress = Callable[[ProgressRecord], None]


def relay_progress(path: Path, offset: int, on_progress: OnProgress) -> int:
    """Pass on complete lines appended since `offset`; returns the new offset."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            chunk = handle.read()
    except FileNotFoundError:
        return offset
    end = chunk.rfind(b"\n") + 1
    for line in chunk[:end].splitlines():
        if line.strip():
            on_progress(ProgressRecord.model_validate(json.loads(line)))
    return offset + end


def run_local(
    jobdir: Path,
    on_progress: OnProgress | None = None,
    python: str = sys.executable,
    poll: float = 0.2,
    timeout: float | None = None,
) -> int:
    """Run the job and return the entrypoint's exit code; Ctrl-C or `timeout` stop it."""
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
        if proc.poll() is None:
            proc.kill()
            proc.wait()
