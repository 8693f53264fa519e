"""REST: the tasks' submitJob, jobs, their results and cancel, shaped as ArcGIS's raster
analysis geoprocessing services answer."""

from __future__ import annotations

import json
import os
import uuid
import zipfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from dlpk.errors import UsageError
from dlpk.serve.bodies import parameters, remove
from dlpk.serve.http import BusyError, ConflictError, NotFoundError, require_token
from dlpk.serve.model_routes import uploaded
from dlpk.serve.paths import server_path
from dlpk.serve.queue import FINISHED, INFO, SUBMITTED, SUCCEEDED, WARNING, JobQueue
from dlpk.serve.store import Store, now
from dlpk.serve.tasks import FOLDER, TASKS, Submission, parse_submission

router = APIRouter()


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _queue(request: Request) -> JobQueue:
    queue: JobQueue = request.app.state.queue
    return queue


@router.post("/tasks/{task}/submitJob", dependencies=[Depends(require_token)])
async def submit_job(request: Request, task: str) -> dict[str, Any]:
    if task not in TASKS:
        raise NotFoundError(f"no task {task!r}", f"the tasks are {', '.join(TASKS)}")
    store, settings = _store(request), request.app.state.settings
    if store.count_jobs((SUBMITTED,)) >= settings.max_queued:
        raise BusyError(f"{settings.max_queued} jobs are waiting already", "submit again later")
    job_id = "j" + uuid.uuid4().hex[:20]
    jobdir = store.data / "jobs" / job_id
    try:
        values = await parameters(request, jobdir / "in")

        def resolve(name: str, value: Any) -> Path:
            return _input_path(store.data, settings.roots, name, value)

        def model_ok(model_id: str) -> None:
            if store.model_row(model_id) is None:
                raise NotFoundError(f"model: no model item {model_id!r}", "see GET /models")

        submission = await run_in_threadpool(parse_submission, task, values, resolve, model_ok)
        (jobdir / "out").mkdir(parents=True, exist_ok=True)
        store.add_job(_job_row(store, job_id, submission))
    except BaseException:
        remove(jobdir)
        raise
    _queue(request).wake()
    return {"jobId": job_id, "jobStatus": SUBMITTED}


@router.get("/jobs")
def list_jobs(request: Request, status: str | None = None) -> dict[str, Any]:
    statuses = tuple(status.split(",")) if status else ()
    return {"jobs": [job_item(row) for row in _store(request).job_rows(statuses)]}


@router.get("/jobs/{job_id}")
def get_job(request: Request, job_id: str) -> dict[str, Any]:
    return job_item(_job(request, job_id))


@router.post("/jobs/{job_id}/cancel", dependencies=[Depends(require_token)])
def cancel_job(request: Request, job_id: str) -> dict[str, Any]:
    row = _job(request, job_id)
    if row["status"] in FINISHED or not _queue(request).cancel(job_id):
        raise ConflictError(f"job {job_id} has finished already ({row['status']})")
    return job_item(_job(request, job_id))


@router.get("/jobs/{job_id}/results/{param}")
def get_result(request: Request, job_id: str, param: str) -> dict[str, Any]:
    result = _result(request, job_id, param)
    return {
        "paramName": param,
        "dataType": result["dataType"],
        "value": {"url": f"/jobs/{job_id}/results/{param}/file"},
    }


@router.get("/jobs/{job_id}/results/{param}/file")
async def download_result(request: Request, job_id: str, param: str) -> FileResponse:
    result = _result(request, job_id, param)
    path = _store(request).data / result["path"]
    if result["dataType"] == FOLDER:
        path = await run_in_threadpool(_zipped, path)
    if not path.is_file():
        raise NotFoundError(f"the output of {job_id} is gone from the server")
    return FileResponse(path, filename=path.name)


def job_item(row: dict[str, Any]) -> dict[str, Any]:
    """The REST shape of a job (ArcGIS's job info, plus dlpk's progress and times)."""
    results = row["results"] if row["status"] == SUCCEEDED else {}
    return {
        "jobId": row["id"],
        "task": row["task"],
        "jobStatus": row["status"],
        "model": row["model_id"],
        "submitted": row["submitted"],
        "started": row["started"],
        "finished": row["finished"],
        "messages": row["messages"],
        "progress": row["progress"],
        "results": {name: {"paramUrl": f"results/{name}"} for name in results},
        "inputs": {k: v for k, v in row["request"]["inputs"].items()},
        "attempts": row["attempts"],
    }


def _job(request: Request, job_id: str) -> dict[str, Any]:
    row = _store(request).job_row(job_id)
    if row is None:
        raise NotFoundError(f"no job {job_id!r}", "see GET /jobs")
    return row


def _result(request: Request, job_id: str, param: str) -> dict[str, Any]:
    row = _job(request, job_id)
    if row["status"] != SUCCEEDED:
        raise NotFoundError(f"job {job_id} has no results ({row['status']})")
    result = row["results"].get(param)
    if result is None:
        raise NotFoundError(
            f"job {job_id} has no result {param!r}", f"its results: {', '.join(row['results'])}"
        )
    return dict(result)


def _input_path(data: Path, roots: list[Path], name: str, value: Any) -> Path:
    """An input as a checked path: an uploaded file (of this request or /uploads), or a path
    on the server under a root (a string, or ArcGIS's {"uri"} / {"url"})."""
    if isinstance(value, Path):  # a file sent with this request
        return value
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{name}: not valid JSON ({exc.msg})") from None
    if isinstance(value, dict):
        if "itemId" in value or "itemID" in value:
            return uploaded(data, str(value.get("itemId") or value.get("itemID")))
        value = value.get("uri") or value.get("url") or value.get("path")
    if not isinstance(value, str):
        raise UsageError(f'{name}: expected a path, or {{"itemId": ID}} of an upload')
    return server_path(value, roots)


def _job_row(store: Store, job_id: str, submission: Submission) -> dict[str, Any]:
    task = TASKS[submission.task]
    model_path = None
    if submission.model_id is not None:
        model = store.model_row(submission.model_id)
        assert model is not None
        model_path = str(store.data / model["path"])
    output = Path("jobs") / job_id / "out" / submission.output_name
    messages = [{"type": INFO, "description": "Submitted."}]
    messages += [{"type": WARNING, "description": w} for w in submission.warnings]
    return {
        "id": job_id,
        "task": submission.task,
        "status": SUBMITTED,
        "model_id": submission.model_id,
        "submitted": now(),
        "request": {
            "function": task.function,
            "model": model_path,
            "inputs": {k: str(v) for k, v in submission.inputs.items()},
            "options": submission.options,
            "output": str(output),
            "dataType": submission.data_type,
        },
        "messages": messages,
        "progress": None,
        "results": {},
        "attempts": 0,
        "cancel_requested": False,
    }


def _zipped(folder: Path) -> Path:
    """A folder output as one .zip beside it, made once (under a temporary name first)."""
    target = folder.with_name(folder.name + ".zip")
    if target.is_file():
        return target
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink():
                archive.write(path, path.relative_to(folder.parent).as_posix())
    os.replace(partial, target)
    return target
