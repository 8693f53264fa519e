"""The job-contract face of the inference tasks: paths resolve against the job directory."""

from __future__ import annotations

from pathlib import Path

from dlpk.errors import InvalidJobError
from dlpk.runners.inference.summary import TaskSummary
from dlpk.runners.progress import Progress
from dlpk.runners.tasks.report import TaskReport, output_files
from dlpk.spec.job import ClassifyObjectsJob, ClassifyPixelsJob, DetectObjectsJob


def _model(jobdir: Path, model: str) -> Path:
    """job.model names the .emd, or the folder holding exactly one."""
    path = jobdir / model
    if path.is_dir():
        emds = sorted(path.glob("*.emd"))
        if len(emds) != 1:
            raise InvalidJobError(f"model folder {model} must hold exactly one .emd")
        return emds[0]
    return path


def _report(jobdir: Path, output: Path, summary: TaskSummary) -> TaskReport:
    counts = {"tiles": summary.tiles, "pixels": summary.pixels, **summary.counts}
    parameters = {"arguments": summary.arguments, "device": summary.device}
    return TaskReport(
        files=output_files(jobdir, output),
        counts=counts,
        timings={"task": summary.seconds},
        parameters=parameters,
        warnings=summary.warnings,
    )


def run_classify_pixels(job: ClassifyPixelsJob, jobdir: Path, progress: Progress) -> TaskReport:
    from dlpk.runners.inference.classify_pixels import classify_pixels

    output = jobdir / job.outputs.out_classified_raster
    output.parent.mkdir(parents=True, exist_ok=True)
    p = job.parameters
    summary = classify_pixels(
        _model(jobdir, job.model), jobdir / job.inputs.in_raster, output, p.arguments, p.device,
        progress, trust_code=p.trust_code,
    )  # fmt: skip
    return _report(jobdir, output, summary)


def run_detect_objects(job: DetectObjectsJob, jobdir: Path, progress: Progress) -> TaskReport:
    from dlpk.runners.inference.detect_objects import detect_objects

    output = jobdir / job.outputs.out_detected_objects
    output.parent.mkdir(parents=True, exist_ok=True)
    p = job.parameters
    summary = detect_objects(
        _model(jobdir, job.model), jobdir / job.inputs.in_raster, output, p.arguments, p.device,
        progress, trust_code=p.trust_code,
    )  # fmt: skip
    return _report(jobdir, output, summary)


def run_classify_objects(job: ClassifyObjectsJob, jobdir: Path, progress: Progress) -> TaskReport:
    from dlpk.runners.inference.classify_objects import classify_objects

    output = jobdir / job.outputs.out_classified_objects
    output.parent.mkdir(parents=True, exist_ok=True)
    p = job.parameters
    summary = classify_objects(
        _model(jobdir, job.model), jobdir / job.inputs.in_raster, output, p.arguments, p.device,
        progress, trust_code=p.trust_code, features=jobdir / job.inputs.in_features,
    )  # fmt: skip
    return _report(jobdir, output, summary)
