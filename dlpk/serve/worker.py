"""One service job, in a process of its own: `python -m dlpk.serve.worker JOBDIR`.

It makes the dlpk.api call that JOBDIR/request.json describes (the API writes the job
directory of the job contract and runs it with the configured backend), reports progress in
JOBDIR/progress.json and ends by writing JOBDIR/outcome.json. A process per job is what lets
the service cancel one (SIGTERM unwinds it as Ctrl-C: the runner stopped, classify-pixels'
finished tiles kept) and lose none when the service stops: the worker is told to stop when
its service ends, and the next service resumes the job.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from dlpk.atomic import write_text_atomic
from dlpk.errors import DlpkError

PROGRESS = "progress.json"
OUTCOME = "outcome.json"
REQUEST = "request.json"
PARENT_ENV = "DLPK_SERVE_PARENT"
_PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> int:
    jobdir = Path(argv[0])
    _die_with_parent()
    from dlpk.interrupts import stop_on_signals

    try:
        with stop_on_signals():
            outcome = run(jobdir)
    except KeyboardInterrupt as exc:
        outcome = {"status": "stopped", "error": {"type": "Stopped", "message": str(exc)}}
    write_text_atomic(jobdir / OUTCOME, json.dumps(outcome, indent=2))
    return 0 if outcome["status"] == "succeeded" else 1


def run(jobdir: Path) -> dict[str, Any]:
    """The API call, and what came of it (a failure is an outcome too, not a crash)."""
    from dlpk import api

    request = json.loads((jobdir / REQUEST).read_text(encoding="utf-8"))
    function = getattr(api, request["function"])
    inputs = {k: Path(v) for k, v in request["inputs"].items()}
    options: dict[str, Any] = dict(request["options"])
    for key in ("extent", "tile_size", "stride"):
        if isinstance(options.get(key), list):
            options[key] = tuple(options[key])
    raster = inputs.pop("raster")
    output = Path(request["output"])
    if request.get("resume"):
        options["resume"] = True
    if request["function"] != "export_training_data":
        options["overwrite"] = True  # the job's own output folder: a rerun replaces it
        positional: tuple[Any, ...] = (Path(request["model"]), raster, output)
    else:
        options["overwrite"] = bool(request.get("resume"))
        positional = (raster, output)
    try:
        result = function(
            *positional,
            **inputs,
            **options,
            backend=request["backend"],
            progress=ProgressFile(jobdir / PROGRESS),
        )
    except DlpkError as exc:
        return {
            "status": "failed",
            "error": {"type": type(exc).__name__, "message": str(exc)},
            "warnings": list(exc.result.warnings) if exc.result is not None else [],
        }
    except Exception as exc:  # a bug: reported on the job, the traceback in the worker log
        import traceback

        traceback.print_exc()
        return {"status": "failed", "error": {"type": type(exc).__name__, "message": str(exc)}}
    return {
        "status": "succeeded",
        "warnings": list(result.warnings),
        "counts": dict(result.counts),
        "timings": dict(result.timings),
    }


class ProgressFile:
    """The API's progress listener: the latest (stage, done, total), written atomically at
    most every `interval` seconds (and whenever the stage changes or ends)."""

    def __init__(self, path: Path, interval: float = 0.25) -> None:
        self.path = path
        self.interval = interval
        self.stage: str | None = None
        self.written = 0.0

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        moment = time.monotonic()
        finished = total is not None and done >= total
        if stage == self.stage and not finished and moment - self.written < self.interval:
            return
        self.stage, self.written = stage, moment
        record = {"stage": stage, "done": done, "total": total}
        write_text_atomic(self.path, json.dumps(record))


def _die_with_parent() -> None:
    """Ask Linux for SIGTERM when the service that started this worker ends, however it ends;
    a service already gone by now means exit at once."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the service stops its workers itself
        return
    expected = os.environ.get(PARENT_ENV)
    if expected and int(expected) != os.getppid():
        sys.exit(1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
