"""`--resume` through Ray: a driver killed mid-job leaves its work folder beside the output,
with the part files of every share that finished. The same job run again with `--resume` takes
that folder over and runs only the shares that had not finished; the assemble step then writes
the same bytes as an uninterrupted run.

A work folder is taken over only when it was made for the same job: the same parameters, the
same model (its .emd and files) and the same inputs (names, sizes, modification times), recorded
in its signature.json; and a share only when the plan cut the job into as many shares again.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from dlpk.runners.backends.launch import PreparedJob
from dlpk.runners.backends.ray.views import WORK_PREFIX
from dlpk.runners.io.checkpoint import file_identity, model_identity
from dlpk.scratch import leftovers, scratch_folder, take_over
from dlpk.spec.job import Result

SIGNATURE = "signature.json"
#: Tasks whose shares a resumed run takes up (export-chips resumes in its output folder).
RESUMABLE = ("classify_pixels",)


def resumable(job: dict[str, Any]) -> bool:
    """Whether a stopped run of the job keeps its finished shares for `--resume`."""
    return job.get("task") in RESUMABLE


def wants_resume(job: dict[str, Any]) -> bool:
    parameters = job.get("parameters")
    return resumable(job) and isinstance(parameters, dict) and parameters.get("resume") is True


def without_resume(job: dict[str, Any]) -> dict[str, Any]:
    """The job as its steps see it: resuming is the driver's business, not the tasks'."""
    parameters = job.get("parameters")
    if not isinstance(parameters, dict) or "resume" not in parameters:
        return job
    return {**job, "parameters": {k: v for k, v in parameters.items() if k != "resume"}}


def job_signature(prepared: PreparedJob, job: dict[str, Any]) -> dict[str, Any]:
    """What makes two runs the same job: its job.json without `resume`, the model's .emd and
    files, and each input's files (names, sizes, modification times: rasters are not hashed)."""
    reads: dict[str, Any] = {}
    model = job.get("model")
    if isinstance(model, str):
        reads["model"] = _model_identity(_on_host(prepared, model))
    inputs = job.get("inputs")
    for name, value in (inputs if isinstance(inputs, dict) else {}).items():
        if isinstance(value, str):
            path = _on_host(prepared, value)
            reads[name] = file_identity(path, path if path.is_dir() else None)
    return {"job": without_resume(job), "reads": reads}


def _on_host(prepared: PreparedJob, path: str) -> Path:
    """A job path (`in/0/scene.tif`) where the launcher's mount puts it on the host."""
    for mount in sorted(prepared.mounts, key=lambda m: -len(m.target)):
        if path == mount.target or path.startswith(f"{mount.target}/"):
            return mount.source / path[len(mount.target) :].lstrip("/")
    return prepared.jobdir / path


def _model_identity(path: Path) -> Any:
    if path.is_file():  # the package's .emd, unpacked afresh for each run
        return model_identity(path)
    return file_identity(path, path)


def work_folder(parent: Path, signature: dict[str, Any], resume: bool) -> tuple[Path, bool]:
    """The job's work folder in `parent`, recorded with its signature; with `resume`, an
    interrupted run's of the same job taken over (renamed as this process's). Whether it was."""
    taken = _take_over(parent, signature) if resume else None
    folder = taken if taken is not None else scratch_folder(WORK_PREFIX, parent)
    (folder / SIGNATURE).write_text(json.dumps(signature, sort_keys=True), encoding="utf-8")
    return folder, taken is not None


def _take_over(parent: Path, signature: dict[str, Any]) -> Path | None:
    wanted = json.loads(json.dumps(signature, sort_keys=True))  # as read back from the file
    for folder in leftovers(parent, WORK_PREFIX, own=True):
        try:
            found = json.loads((folder / SIGNATURE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if found != wanted:
            continue
        fresh = take_over(folder, WORK_PREFIX)
        for step in ("plan", "assemble"):  # cheap, and run again
            shutil.rmtree(fresh / step, ignore_errors=True)
        return fresh
    return None


def finished_share(folder: Path, part: dict[str, Any]) -> bool:
    """Whether the share in `folder` is the one `part` names and finished."""
    try:
        job = json.loads((folder / "job.json").read_text(encoding="utf-8"))
        result = Result.model_validate_json((folder / "out" / "result.json").read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return bool(job["parameters"]["part"] == part and result.status == "done")


def resume_warning(taken: bool, reused: int, count: int) -> str:
    if not taken:
        return (
            "no interrupted run of this job (the same model, inputs and arguments) was found "
            "beside the output to resume: classified from the start"
        )
    return f"resumed an interrupted run: {reused} of {count} shares had finished and were kept"
