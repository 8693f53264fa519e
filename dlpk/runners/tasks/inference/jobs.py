"""The job-contract face of the inference tasks: paths resolve against the job directory, and a
folder of images as in_raster is read as one VRT mosaic of them (PROCESS_AS_MOSAICKED_IMAGE)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dlpk.errors import InvalidJobError
from dlpk.runners.io.checkpoint import file_identity
from dlpk.runners.io.job_model import job_model_emd
from dlpk.runners.io.sources import list_rasters, skipped_warning, write_mosaic
from dlpk.runners.progress import Progress
from dlpk.runners.tasks.report import TaskReport, output_files
from dlpk.scratch import scratch
from dlpk.spec.job import ClassifyObjectsJob, ClassifyPixelsJob, DetectObjectsJob

# What a mosaic error suggests instead: inference runs one raster (or one mosaic) per job.
ONE_BY_ONE = "run each image on its own"


def _report(jobdir: Path, output: Path, report: TaskReport) -> TaskReport:
    report.files = output_files(jobdir, output)
    return report


def _run(
    task: Callable[..., TaskReport],
    job: ClassifyPixelsJob | DetectObjectsJob | ClassifyObjectsJob,
    jobdir: Path,
    output_path: str,
    progress: Progress,
    mosaic: bool = True,
    **extra: Any,
) -> TaskReport:
    """Run `task` on the job; a folder as in_raster becomes one VRT mosaic unless `mosaic` is
    False (the task then reads the folder's images itself)."""
    output = jobdir / output_path
    output.parent.mkdir(parents=True, exist_ok=True)
    p = job.parameters
    model, raster = job_model_emd(jobdir, job.model), jobdir / job.inputs.in_raster
    with scratch("dlpk-mosaic-") as folder:
        sources = list_rasters(raster) if mosaic and raster.is_dir() else None
        if sources is not None:
            raster = write_mosaic(sources.rasters, folder / "mosaic.vrt", ONE_BY_ONE)
        summary = task(
            model, raster, output, p.arguments, p.device, progress, trust_code=p.trust_code, **extra
        )
    report = _report(jobdir, output, summary)
    if sources is not None:
        report.counts["rasters"] = len(sources.rasters)
        report.counts["files_not_rasters"] = len(sources.skipped)
        report.warnings += skipped_warning(jobdir / job.inputs.in_raster, sources)
    return report


def _area(
    job: ClassifyPixelsJob | DetectObjectsJob | ClassifyObjectsJob, jobdir: Path
) -> dict[str, Any]:
    """The processing extent and AOI of a job, as keyword arguments for the task."""
    aoi = job.inputs.in_aoi
    return {"extent": job.parameters.extent, "aoi": jobdir / aoi if aoi else None}


def run_classify_pixels(job: ClassifyPixelsJob, jobdir: Path, progress: Progress) -> TaskReport:
    from dlpk.runners.tasks.inference.classify_pixels import classify_pixels

    if job.parameters.processing_mode == "PROCESS_ITEMS_SEPARATELY":
        return _run_each(job, jobdir, progress)
    output = job.outputs.out_classified_raster
    raster = job.inputs.in_raster
    inputs: list[object] = [raster, file_identity(jobdir / raster, jobdir / raster)]
    resume: dict[str, Any] = {"resume": job.parameters.resume, "inputs": inputs}
    return _run(classify_pixels, job, jobdir, output, progress, **_area(job, jobdir), **resume)


def _run_each(job: ClassifyPixelsJob, jobdir: Path, progress: Progress) -> TaskReport:
    """PROCESS_ITEMS_SEPARATELY: one classified GeoTIFF per image, in out_classified_folder."""
    from dlpk.runners.tasks.inference.classify_items import classify_each

    p = job.parameters
    if job.outputs.out_classified_folder is None:
        raise InvalidJobError("PROCESS_ITEMS_SEPARATELY writes to outputs.out_classified_folder")
    if p.extent is not None or job.inputs.in_aoi is not None:
        raise InvalidJobError(
            "PROCESS_ITEMS_SEPARATELY takes no extent or AOI: each image is classified whole"
        )
    folder = jobdir / job.outputs.out_classified_folder
    summary = classify_each(
        job_model_emd(jobdir, job.model),
        jobdir / job.inputs.in_raster,
        folder,
        p.arguments,
        p.device,
        progress,
        trust_code=p.trust_code,
    )
    return _report(jobdir, folder, summary)


def run_detect_objects(job: DetectObjectsJob, jobdir: Path, progress: Progress) -> TaskReport:
    from dlpk.runners.tasks.inference.detect_objects import detect_objects

    output = job.outputs.out_detected_objects
    return _run(detect_objects, job, jobdir, output, progress, **_area(job, jobdir))


def run_classify_objects(job: ClassifyObjectsJob, jobdir: Path, progress: Progress) -> TaskReport:
    from dlpk.runners.tasks.inference.classify_objects import classify_objects

    output = job.outputs.out_classified_objects
    area = _area(job, jobdir)
    if job.inputs.in_features is None:  # each image one object: a folder is not a mosaic
        return _run(classify_objects, job, jobdir, output, progress, mosaic=False, **area)
    features = jobdir / job.inputs.in_features
    layer = job.parameters.features_layer
    return _run(
        classify_objects, job, jobdir, output, progress, features=features, features_layer=layer,
        **area,
    )  # fmt: skip
