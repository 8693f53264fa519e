"""An internal error in a job: one line without --debug; with it, the job's own traceback (from
its log) and the launcher's, whichever backend ran it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dlpk.cli import main
from dlpk.errors import JobFailedError
from dlpk.runners import tasks
from tests.conftest import REPO


def _job(tmp_path: Path) -> Path:
    jobdir = tmp_path / "job"
    (jobdir / "in").mkdir(parents=True)
    (jobdir / "in" / "scene.tif").write_bytes((REPO / "examples" / "scene.tif").read_bytes())
    job = {"apiVersion": "dlpk/v1", "task": "export_chips", "inputs": {"in_raster": "in/scene.tif"}}
    (jobdir / "job.json").write_text(json.dumps(job))
    return jobdir


def _broken_task(job: Any, jobdir: Path, progress: Any) -> Any:
    raise RuntimeError("a bug deep in a task")


def test_internal_error_is_one_line_and_debug_shows_the_jobs_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(tasks.TASKS, "export_chips", _broken_task)
    jobdir = _job(tmp_path)
    assert main(["run", str(jobdir)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [
        "dlpk: error: internal error in the job: RuntimeError('a bug deep in a task') "
        "(rerun with --debug)"
    ]
    with pytest.raises(JobFailedError):
        main(["--debug", "run", str(jobdir)])
    err = capsys.readouterr().err
    assert "Traceback" in err and "_broken_task" in err and "RuntimeError: a bug deep" in err
