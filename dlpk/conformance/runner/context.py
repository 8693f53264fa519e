"""What the runner cases share: the target, a scratch folder, and each kit job run once."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlpk.conformance.runner.jobs import make_jobdir, snapshot
from dlpk.conformance.runner.targets import Ended, KillWhen, Target

#: A job that runs longer than this is stopped (and the case fails).
TIMEOUT = 300.0


@dataclass
class JobRun:
    """One kit job: its directory, how it ended, and its read-only part before and after."""

    jobdir: Path
    ended: Ended
    declared: list[str]  # the outputs job.json names
    before: dict[str, tuple[int, int]]
    after: dict[str, tuple[int, int]]

    @property
    def out(self) -> Path:
        return self.jobdir / "out"

    def result_text(self) -> str | None:
        try:
            return (self.out / "result.json").read_text(encoding="utf-8")
        except OSError:
            return None


@dataclass(frozen=True)
class RunnerOptions:
    """What `dlpk conformance --runner` was asked."""

    runner: str
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    strict: bool = False
    timeout: float = TIMEOUT
    on_check: Callable[[str, str, str], None] | None = None


@dataclass
class RunnerContext:
    options: RunnerOptions
    target: Target
    folder: Path
    jobs: dict[str, JobRun] = field(default_factory=dict)

    def job(
        self,
        label: str,
        job: dict[str, Any] | str | None,
        kill_when: KillWhen | None = None,
        **layout: Any,
    ) -> JobRun:
        """Run the kit job `label` (once; later calls get the same run)."""
        if label in self.jobs:
            return self.jobs[label]
        jobdir = make_jobdir(self.folder / label, job, **layout)
        before = _readable(jobdir)
        ended = self.target.run(jobdir, self.options.timeout, kill_when)
        declared = []
        if isinstance(job, dict):
            declared = [str(v) for v in (job.get("outputs") or {}).values()]
        run = JobRun(jobdir, ended, declared, before, _readable(jobdir))
        self.jobs[label] = run
        return run


def _readable(jobdir: Path) -> dict[str, tuple[int, int]]:
    """The job's read-only part: job.json, in/ and model/."""
    found = {f"in/{k}": v for k, v in snapshot(jobdir / "in").items()}
    found |= {f"model/{k}": v for k, v in snapshot(jobdir / "model").items()}
    job = jobdir / "job.json"
    if job.is_file():
        info = job.stat()
        found["job.json"] = (info.st_size, info.st_mtime_ns)
    return found


def parsed(text: str | None) -> Any:
    try:
        return json.loads(text) if text is not None else None
    except ValueError:
        return None
