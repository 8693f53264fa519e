"""The job queue: at most `max_jobs` workers at once, oldest submitted first; progress and
outcomes recorded as they come; cancel; and no job lost when the service stops, however it
stops (a job found executing at start is queued again, classify-pixels resuming from its
finished tiles)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlpk.interrupts import STOP_GRACE_SECONDS
from dlpk.serve.settings import Settings
from dlpk.serve.store import Store, now
from dlpk.serve.tasks import TASKS
from dlpk.serve.worker import OUTCOME, PARENT_ENV, PROGRESS, REQUEST

SUBMITTED, EXECUTING = "esriJobSubmitted", "esriJobExecuting"
SUCCEEDED, FAILED, CANCELLED = "esriJobSucceeded", "esriJobFailed", "esriJobCancelled"
FINISHED = (SUCCEEDED, FAILED, CANCELLED)
INFO, WARNING, ERROR = (
    "esriJobMessageTypeInformative",
    "esriJobMessageTypeWarning",
    "esriJobMessageTypeError",
)
#: The environment variable that may hold the service's token (dlpk/cli/serve.py).
TOKEN_ENV = "DLPK_TOKEN"
#: Tasks whose rerun picks up what a stopped run finished.
RESUMABLE = ("classify_pixels", "export_training_data")


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    cancel: threading.Event = field(default_factory=threading.Event)


class JobQueue:
    def __init__(self, store: Store, settings: Settings, poll: float = 0.2) -> None:
        self.store = store
        self.settings = settings
        self.poll = poll
        self.running: dict[str, Running] = {}
        self._active: set[str] = set()  # claimed, starting or running: what max_jobs bounds
        self._wake = threading.Condition()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._dispatcher: threading.Thread | None = None

    # -- life --------------------------------------------------------------------------
    def start(self) -> None:
        self.recover()
        self._dispatcher = threading.Thread(target=self._dispatch, name="dlpk-queue", daemon=True)
        self._dispatcher.start()

    def stop(self) -> None:
        """Stop taking jobs and stop the running ones; they stay recorded as executing, so the
        next start queues them again."""
        self._stopping.set()
        self.wake()
        for running in list(self.running.values()):
            with contextlib.suppress(ProcessLookupError):
                running.process.terminate()
        for thread in list(self._threads):
            thread.join(STOP_GRACE_SECONDS + 5)
        if self._dispatcher is not None:
            self._dispatcher.join(5)

    def wake(self) -> None:
        with self._wake:
            self._wake.notify_all()

    def recover(self) -> None:
        """Jobs a stopped service left executing: cancelled if that was asked, else queued
        again (their old worker, if it still runs, stopped first)."""
        for row in self.store.job_rows((EXECUTING,)):
            _stop_stale_worker(row.get("worker_pid"), row["id"])
            if row["cancel_requested"]:
                self.store.update_job(
                    row["id"], (INFO, "Cancelled."), status=CANCELLED, finished=now()
                )
                continue
            request = row["request"]
            resumable = request["function"] in RESUMABLE
            request["resume"] = resumable
            how = "resuming from what it had finished" if resumable else "from the start"
            self.store.update_job(
                row["id"],
                (WARNING, f"The service stopped while this job ran; it was queued again ({how})."),
                status=SUBMITTED,
                request=request,
                worker_pid=None,
            )

    # -- requests ----------------------------------------------------------------------
    def cancel(self, job_id: str) -> bool:
        """Cancel a job that has not finished; False when it had."""
        if self.store.cancel_submitted(job_id, now()):
            return True
        row = self.store.job_row(job_id)
        if row is None or row["status"] != EXECUTING:
            return False
        self.store.update_job(job_id, (INFO, "Cancelling."), cancel_requested=True)
        running = self.running.get(job_id)
        if running is not None:
            running.cancel.set()
        return True

    # -- the dispatcher and one thread per running job ------------------------------------
    def _dispatch(self) -> None:
        while not self._stopping.is_set():
            started = False
            if len(self._active) < self.settings.max_jobs:
                started = self._start_next()
            if not started:
                with self._wake:
                    self._wake.wait(1.0)

    def _start_next(self) -> bool:
        busy = set(self._active)
        for row in self.store.job_rows((SUBMITTED,), limit=len(busy) + 8):
            if row["id"] in busy or not self.store.claim_job(row["id"], now()):
                continue
            self._active.add(row["id"])
            thread = threading.Thread(
                target=self._run, args=(row,), name=f"dlpk-job-{row['id']}", daemon=True
            )
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()
            return True
        return False

    def _run(self, row: dict[str, Any]) -> None:
        job_id = row["id"]
        jobdir = self.store.data / "jobs" / job_id
        try:
            try:
                process = self._launch(jobdir, row)
            except OSError as exc:
                self._finish(job_id, FAILED, (ERROR, f"the job could not start: {exc}"))
                return
            running = Running(process)
            self.running[job_id] = running
            self.store.update_job(job_id, (INFO, "Executing..."), worker_pid=process.pid)
            current = self.store.job_row(job_id)
            if current is not None and current["cancel_requested"]:  # asked while starting
                running.cancel.set()
            self._watch(job_id, jobdir, running)
        finally:
            self.running.pop(job_id, None)
            self._active.discard(job_id)
            self.wake()

    def _launch(self, jobdir: Path, row: dict[str, Any]) -> subprocess.Popen[bytes]:
        request = row["request"] | {
            "backend": self.settings.backend,
            "output": str(self.store.data / row["request"]["output"]),
        }
        for name in (OUTCOME, PROGRESS):
            (jobdir / name).unlink(missing_ok=True)
        (jobdir / REQUEST).write_text(json.dumps(request, indent=2), encoding="utf-8")
        scratch = jobdir / "tmp"
        scratch.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}  # jobs never see it
        env |= {"TMPDIR": str(scratch), PARENT_ENV: str(os.getpid())}
        with open(jobdir / "worker.log", "ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "dlpk.serve.worker", str(jobdir)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # Ctrl-C at the service's terminal reaches it once
            )

    def _watch(self, job_id: str, jobdir: Path, running: Running) -> None:
        """Relay progress until the worker ends; stop it when cancelled or when the service
        stops (SIGTERM, then SIGKILL after the grace period); record how it ended."""
        progress_file, seen = jobdir / PROGRESS, 0.0
        stopped_at: float | None = None
        while True:
            code = running.process.poll()
            seen = self._relay_progress(job_id, progress_file, seen)
            if code is not None:
                break
            if stopped_at is None and (running.cancel.is_set() or self._stopping.is_set()):
                running.process.terminate()
                stopped_at = time.monotonic()
            elif stopped_at is not None and time.monotonic() - stopped_at > STOP_GRACE_SECONDS:
                _kill(running.process)
            if stopped_at is None:
                running.cancel.wait(self.poll)  # a cancel is acted on at once
            else:
                time.sleep(self.poll)
        if running.cancel.is_set() and (stopped_at is not None or _stopped(jobdir)):
            self._finish(job_id, CANCELLED, (INFO, "Cancelled."))
        elif self._stopping.is_set() and (stopped_at is not None or _stopped(jobdir)):
            pass  # the service is stopping: left executing, the next start queues it again
        else:  # it ended by itself, whatever was asked meanwhile
            self._record_outcome(job_id, jobdir, code)

    def _relay_progress(self, job_id: str, path: Path, seen: float) -> float:
        try:
            modified = path.stat().st_mtime
            if modified == seen:
                return seen
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return seen
        self.store.update_job(job_id, progress=record)
        return modified

    def _record_outcome(self, job_id: str, jobdir: Path, code: int) -> None:
        try:
            outcome = json.loads((jobdir / OUTCOME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self._finish(
                job_id,
                FAILED,
                (ERROR, f"the job's worker ended without an outcome (exit {code}); see worker.log"),
            )
            return
        for warning in outcome.get("warnings", []):
            self.store.update_job(job_id, (WARNING, str(warning)))
        if outcome["status"] == "succeeded":
            row = self.store.job_row(job_id)
            assert row is not None
            task = TASKS[row["task"]]
            request = row["request"]
            kind = request.get("dataType") or task.data_type
            results = {task.output: {"path": request["output"], "dataType": kind}}
            counts = outcome.get("counts", {})
            summary = ", ".join(f"{k} {v}" for k, v in counts.items())
            self.store.update_job(job_id, (INFO, f"Counts: {summary}." if summary else "Done."))
            self._finish(job_id, SUCCEEDED, (INFO, "Succeeded."), results=results)
        else:
            error = outcome.get("error", {})
            self._finish(job_id, FAILED, (ERROR, f"{error.get('type')}: {error.get('message')}"))

    def _finish(self, job_id: str, status: str, message: tuple[str, str], **values: Any) -> None:
        self.store.update_job(
            job_id, message, status=status, finished=now(), worker_pid=None, **values
        )


def _stopped(jobdir: Path) -> bool:
    """Whether the worker says it was stopped (the service's stop() may signal it before this
    job's watcher sees the service stopping)."""
    try:
        outcome = json.loads((jobdir / OUTCOME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True  # ended without an outcome: killed
    return bool(outcome.get("status") == "stopped")


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()


def _stop_stale_worker(pid: int | None, job_id: str) -> None:
    """A worker of an earlier service that is still running this job: SIGTERM, then wait."""
    if not pid:
        return
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\x00")
    except OSError:
        return
    if b"dlpk.serve.worker" not in command or not any(job_id.encode() in c for c in command):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    for _ in range(int(STOP_GRACE_SECONDS * 10) + 20):
        if not Path(f"/proc/{pid}").exists():
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
