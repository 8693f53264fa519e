"""The one entrypoint every backend runs: `python -m dlpk.runners JOBDIR`.

Validates job.json, runs its task, streams out/progress.jsonl and out/log.txt, and writes
out/result.json last and atomically, whether the job succeeded or failed, so its presence means
the job is over. Exit codes: 0 done, 2 invalid job, 3 bad input, 4 model error, 1 internal.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from dlpk.atomic import write_text_atomic
from dlpk.errors import DlpkError, InvalidJobError, JobIOError
from dlpk.interrupts import stop_exit_code, stop_on_signals, stop_reason
from dlpk.runners.progress import JsonlProgress, Progress
from dlpk.runners.tasks import TASKS
from dlpk.spec.job import JOB, Job, OutputFile, Result, ResultError
from dlpk.version import __version__

log = logging.getLogger("dlpk.runners")
#: Set by the backends: the launching CLI prints the job's error itself, with the user's paths.
LAUNCHED_ENV = "DLPK_LAUNCHED"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def software_versions() -> dict[str, str]:
    versions = {"dlpk": __version__, "python": platform.python_version()}
    for name in ("numpy", "rasterio", "shapely", "pyogrio", "pyproj"):
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = str(getattr(module, "__version__", "unknown"))
    gdal = sys.modules.get("rasterio")
    if gdal is not None:
        versions["gdal"] = str(getattr(gdal, "__gdal_version__", "unknown"))
    return versions


def load_job(jobdir: Path) -> Job:
    path = jobdir / "job.json"
    if not path.is_file():
        raise InvalidJobError(f"{path} not found")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidJobError(f"{path} is not valid JSON: {exc}") from None
    task = raw.get("task") if isinstance(raw, dict) else None
    if task not in TASKS:
        raise InvalidJobError(f"{path}: unknown task {task!r}", hint=f"known: {', '.join(TASKS)}")
    try:
        return JOB.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidJobError(
            f"{path}: {where}: {first['msg']}", hint=f"{exc.error_count()} error(s)"
        ) from None


def run_job(jobdir: Path, listener: Progress | None = None, launched: bool = False) -> int:
    """Run the job in `jobdir` and return its exit code; never raises for job failures.

    `listener` also hears every progress call (the in-process backend's caller); a `launched`
    job leaves printing its error to the launcher, which reads it from result.json.
    """
    started, t0 = _now(), time.monotonic()
    out = jobdir / "out"
    if not jobdir.is_dir():
        print(f"dlpk: job directory {jobdir} not found", file=sys.stderr)
        return InvalidJobError.exit_code
    out.mkdir(exist_ok=True)
    handler = logging.FileHandler(out / "log.txt", mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    progress = JsonlProgress(out / "progress.jsonl", listener)
    quiet = launched or bool(os.environ.get(LAUNCHED_ENV))  # the launcher reports errors
    task: str | None = None
    result: Result
    try:
        job = load_job(jobdir)
        task = job.task
        log.info("running %s in %s", task, jobdir)
        with warnings.catch_warnings():
            # a raster without a CRS runs in pixel space; the task says so in its own warning
            warnings.filterwarnings("ignore", "Dataset has no geotransform")
            report = TASKS[task](job, jobdir, progress)
        result = Result(
            task=task,
            status="done",
            exit_code=0,
            outputs=[OutputFile(path=p, size=s, sha256=h) for p, s, h in report.files],
            counts=report.counts,
            timings=report.timings,
            parameters=report.parameters,
            software=software_versions(),
            warnings=report.warnings,
            started=started,
            finished=_now(),
        )
        log.info("done: %s", json.dumps(report.counts))
    except DlpkError as exc:  # the traceback of what it wraps (a package's code) goes to the log
        log.error("%s", exc, exc_info=exc.__cause__ is not None)
        if not quiet:
            print(f"dlpk: error: {exc}", file=sys.stderr)
        result = _failed(task, exc.exit_code, type(exc).__name__, str(exc), started)
    except OSError as exc:  # the data or the disk, not a bug: one line naming what failed
        log.exception("I/O failure")
        error = JobIOError(
            io_message(exc),
            "check that the file is complete and readable, and that the output's disk has room",
        )
        if not quiet:
            print(f"dlpk: error: {error}", file=sys.stderr)
        result = _failed(task, error.exit_code, "JobIOError", str(error), started)
    except Exception as exc:  # an internal error: full traceback in the log, one line out
        log.exception("internal error")
        if not quiet:
            where = (out / "log.txt").resolve()  # the job directory stays: the log is there
            print(f"dlpk: internal error: {exc!r} (see {where})", file=sys.stderr)
        result = _failed(task, 1, type(exc).__name__, repr(exc), started)
    except BaseException:  # stopped (Ctrl-C, SIGTERM): no result, nothing looks finished
        log.warning("stopped before the job ended")
        log.removeHandler(handler)  # the same logger serves the next job of this process
        handler.close()
        raise
    finally:
        progress.close()
    result.timings.setdefault("total", time.monotonic() - t0)
    write_text_atomic(out / "result.json", result.model_dump_json(indent=2) + "\n")
    log.removeHandler(handler)
    handler.close()
    return result.exit_code


def io_message(exc: OSError) -> str:
    """What failed, with the underlying cause (GDAL's message behind rasterio's summary, also
    when a worker process raised it and only its traceback text came back), on one line."""
    parts = [_first_line(str(exc))]
    cause = exc.__cause__ or exc.__context__
    if cause is not None:
        reason = _reason(str(cause))
        if reason and reason not in parts[0]:
            parts.append(reason)
    return "I/O failure: " + "; ".join(parts)


_RAISED = re.compile(r"^[\w.]+(?:Error|Exception|Warning): (.+)$")


def _reason(text: str) -> str:
    """The most telling exception message in `text` (a traceback or a message): GDAL's that
    names the file and band when there is one, else the first."""
    found = [m.group(1) for m in map(_RAISED.match, map(str.strip, text.splitlines())) if m]
    named = [message for message in found if ", band " in message]
    return (named or found or [_first_line(text)])[0]


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _failed(task: str | None, code: int, kind: str, message: str, started: str) -> Result:
    return Result(
        task=task,
        status="failed",
        exit_code=code,
        error=ResultError(type=kind, message=message),
        software=software_versions(),
        started=started,
        finished=_now(),
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m dlpk.runners JOBDIR", file=sys.stderr)
        return 2
    try:
        with stop_on_signals():  # SIGTERM and SIGHUP unwind as Ctrl-C: scratch is removed
            return run_job(Path(args[0]))
    except KeyboardInterrupt as stop:  # the launcher that stopped it says so itself
        if not os.environ.get(LAUNCHED_ENV):
            print(f"dlpk: runner {stop_reason(stop)}", file=sys.stderr)
        return stop_exit_code(stop)
