"""A job run in shares on a Ray cluster, step by step: the plan step here, the shares on the
workers (one actor each, the model loaded once per worker), the assemble step here again.
Nothing of the job's output exists until the assemble step publishes it, so a driver killed
mid-job leaves nothing that looks finished.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlpk.atomic import write_text_atomic
from dlpk.errors import JobFailedError, JobStoppedError
from dlpk.runners.backends.base import read_result
from dlpk.runners.backends.launch import PreparedJob
from dlpk.runners.backends.ray.cluster import connected, import_ray, placement
from dlpk.runners.backends.ray.progress import SharedProgress
from dlpk.runners.backends.ray.resume import (
    finished_share,
    job_signature,
    resumable,
    resume_warning,
    wants_resume,
    without_resume,
    work_folder,
)
from dlpk.runners.backends.ray.views import Views, share_paths
from dlpk.runners.backends.ray.worker import ShareWorker, attempts
from dlpk.runners.progress import Progress
from dlpk.spec.job import ClusterReport, NodeReport, Result, ResultError

#: The plan step's count of work units (batches of tiles, groups of chips).
UNITS = "plan_units"


@dataclass
class Settings:
    """What the Ray backend was asked for (dlpk.Ray's fields, checked)."""

    address: str | None
    workers: int | None
    cpus_per_worker: float
    gpus_per_worker: float | None
    retries: int
    timeout: float | None
    work_dir: Path | None
    poll: float


@dataclass
class Outcome:
    """How one share ended: where it ran, its exit code, or how its worker was lost."""

    node: str = ""
    address: str = ""
    exit_code: int | None = None
    lost: str | None = None
    peak_memory_mib: float | None = None


def run_in_shares(
    prepared: PreparedJob, settings: Settings, on_progress: Progress | None
) -> Result:
    """Run the prepared job (its mounts realised) in shares; its Result, failed or not."""
    from dlpk.runners.entrypoint import run_job  # the entrypoint, as every step runs it

    ray = import_ray()
    jobdir = prepared.jobdir
    job = json.loads((jobdir / "job.json").read_text(encoding="utf-8"))
    resume = wants_resume(job)
    parent = work_parent(prepared, settings.work_dir)
    work, taken = work_folder(parent, job_signature(prepared, job), resume)
    clock = Clock(settings.timeout)
    keep = False
    try:
        views = Views(prepared, work, without_resume(job))
        with connected(settings.address) as address:  # a bad address fails before any work
            clock.lap("connect")
            plan_dir = views.make("plan", {"step": "plan"})
            plan = read_result(plan_dir, run_job(plan_dir, on_progress, launched=True))
            clock.lap("plan")
            if plan.status != "done":
                return _record(jobdir, _in_job_paths(plan, plan_dir, jobdir))
            where = placement(
                ray.cluster_resources(),
                _device(views.job),
                settings.cpus_per_worker,
                settings.gpus_per_worker,
            )
            count = max(1, min(settings.workers or where.workers, plan.counts.get(UNITS, 1)))
            shares, kept = _shares(views, count, taken)
            options = where.options(settings.retries)
            todo = [share for n, share in enumerate(shares) if n not in kept]
            ran = iter(_run_shares(ray, todo, options, on_progress, settings, clock))
            outcomes = [kept[n] if n in kept else next(ran) for n in range(count)]
            clock.lap("shares")
        report = ClusterReport(
            address=address,
            workers=count,
            shares=count,
            retries=sum(max(0, len(attempts(share)) - 1) for share in shares),
            timings=clock.laps,
        )
        task = views.job.get("task")
        failure = _first_failure(
            jobdir, task if isinstance(task, str) else None, shares, outcomes, report
        )
        if failure is not None:
            return failure
        report.nodes = _nodes(shares, outcomes)
        assemble = views.make(
            "assemble", {"step": "assemble", "count": count, "shares": "shares"}, main_out=True
        )
        (assemble / "shares").symlink_to(work / "shares", target_is_directory=True)
        result = read_result(jobdir, run_job(assemble, on_progress, launched=True))
        clock.lap("assemble")
        report.timings = dict(clock.laps)
        result = _in_job_paths(result, assemble, jobdir)
        update: dict[str, Any] = {"cluster": report}
        if resume:
            said = resume_warning(taken, len(kept), count)
            update["warnings"] = [*result.warnings, said]
        return _record(jobdir, result.model_copy(update=update))
    except KeyboardInterrupt as stop:  # Ctrl-C, SIGTERM: the finished shares stay
        keep = resumable(job)
        if keep:
            stop.add_note(f"the finished shares are kept in {work}: rerun with --resume to finish")
        raise
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


class Clock:
    """The job's steps timed, and its --timeout."""

    def __init__(self, timeout: float | None) -> None:
        self.started = self.mark = time.monotonic()
        self.timeout = timeout
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.laps[name] = round(now - self.mark, 3)
        self.mark = now

    def check(self) -> None:
        if self.timeout is not None and time.monotonic() - self.started > self.timeout:
            raise JobStoppedError(f"the job ran longer than --timeout {self.timeout:g} s; stopped")


def _shares(views: Views, count: int, taken: bool) -> tuple[list[Path], dict[int, Outcome]]:
    """The job directories of the `count` shares, and the outcomes of those a taken-over work
    folder holds finished (run again: every other one, from an empty out/)."""
    shares: list[Path] = []
    kept: dict[int, Outcome] = {}
    for n in range(count):
        part = {"step": "share", "count": count, "index": n}
        folder = views.work / "shares" / str(n)
        if taken and finished_share(folder, part):
            records = attempts(folder)
            last = records[-1] if records else {}
            kept[n] = Outcome(str(last.get("node", "")), str(last.get("address", "")), 0)
            shares.append(folder)
            continue
        shutil.rmtree(folder, ignore_errors=True)
        shares.append(views.make(f"shares/{n}", part))
    return shares, kept


def work_parent(prepared: PreparedJob, work_dir: Path | None) -> Path:
    """Where the work folder goes: where asked, else beside the job's output (the shared file
    system every node writes to), else in a job directory written by hand."""
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
        return work_dir
    for mount in prepared.mounts:
        if not mount.read_only:
            return mount.source.parent
    return prepared.jobdir


def _device(job: dict[str, Any]) -> str:
    parameters = job.get("parameters")
    device = parameters.get("device", "cpu") if isinstance(parameters, dict) else "cpu"
    return str(device) if job.get("task") != "export_chips" else "cpu"


def _run_shares(
    ray: Any,
    shares: list[Path],
    options: dict[str, Any],
    on_progress: Progress | None,
    settings: Settings,
    clock: Clock,
) -> list[Outcome]:
    """Run every share on its own actor and wait, relaying progress; the first failure
    stops the others (their work would be thrown away)."""
    worker_class = ray.remote(ShareWorker).options(**options)
    actors = [worker_class.remote() for _ in shares]
    calls = {
        actor.run.remote(str(share)): n
        for n, (actor, share) in enumerate(zip(actors, shares, strict=True))
    }
    outcomes = [Outcome() for _ in shares]
    relay = SharedProgress(shares, on_progress)
    pending = list(calls)
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=len(pending), timeout=settings.poll)
            for call in ready:
                number = calls[call]
                outcomes[number] = _outcome(ray, call)
                ray.kill(actors[number])  # done: its CPUs (or GPU) serve other work now
                if outcomes[number].exit_code != 0:
                    pending = []
            relay.poll()
            if pending:
                clock.check()
    finally:
        for actor in actors:
            ray.kill(actor)
    relay.poll()
    return outcomes


def _outcome(ray: Any, call: Any) -> Outcome:
    try:
        value = ray.get(call)
    except ray.exceptions.RayError as exc:  # the worker was lost for good, or could not start
        text = next((line for line in str(exc).splitlines() if line.strip()), repr(exc))
        return Outcome(lost=f"{type(exc).__name__}: {text}")
    peak = value.get("peak_memory_mib")
    return Outcome(
        str(value["node"]),
        str(value["address"]),
        int(value["exit_code"]),
        peak_memory_mib=float(peak) if peak is not None else None,
    )


def _first_failure(
    jobdir: Path,
    task: str | None,
    shares: list[Path],
    outcomes: list[Outcome],
    report: ClusterReport,
) -> Result | None:
    """The job's failed Result when a share failed or was lost; None when all finished."""
    for number, (share, outcome) in enumerate(zip(shares, outcomes, strict=True)):
        if outcome.lost is not None:
            failed = Result(
                task=task,
                status="failed",
                exit_code=JobFailedError.exit_code,
                error=ResultError(
                    type="JobFailedError",
                    message=f"share {number} of {len(shares)} lost its worker for good "
                    f"({outcome.lost})",
                ),
                started=_now(),
                finished=_now(),
            )
            return _record(jobdir, failed.model_copy(update={"cluster": report}))
        if outcome.exit_code not in (0, None):
            result = read_result(share, outcome.exit_code)
            result = _in_job_paths(result, share, jobdir)
            return _record(jobdir, result.model_copy(update={"cluster": report}))
    return None


def _nodes(shares: list[Path], outcomes: list[Outcome]) -> list[NodeReport]:
    """What each node ran: its shares and their counts, summed."""
    nodes: dict[str, NodeReport] = {}
    for share, outcome in zip(shares, outcomes, strict=True):
        node = nodes.setdefault(
            outcome.node, NodeReport(node=outcome.node, address=outcome.address, shares=0)
        )
        node.shares += 1
        if outcome.peak_memory_mib is not None:
            node.peak_memory_mib = max(node.peak_memory_mib or 0.0, outcome.peak_memory_mib)
        counts = read_result(share, outcome.exit_code or 0).counts
        for key, value in counts.items():
            node.counts[key] = node.counts.get(key, 0) + value
    return list(nodes.values())


def _in_job_paths(result: Result, step: Path, jobdir: Path) -> Result:
    """A step's result with its paths in messages as the job's own."""
    update: dict[str, Any] = {
        "warnings": [share_paths(w, step, jobdir) for w in result.warnings],
    }
    if result.error is not None:
        message = share_paths(result.error.message, step, jobdir)
        update["error"] = result.error.model_copy(update={"message": message})
    return result.model_copy(update=update)


def _record(jobdir: Path, result: Result) -> Result:
    """The job's out/result.json, as its Result says."""
    write_text_atomic(jobdir / "out" / "result.json", result.model_dump_json(indent=2) + "\n")
    return result


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")
