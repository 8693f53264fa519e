"""The launcher's side of every task: check the user's paths, open the model once, build the
job directory, run it with a Backend, deliver the output, and turn a failed result into the
error it reports. The CLI and the Python API both come through here; backends only run jobs.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from dlpk.errors import (
    BadInputError,
    InvalidJobError,
    JobStoppedError,
    ModelError,
    OutputExistsError,
    PackageError,
    UsageError,
    error_from_result,
)
from dlpk.packaging.unpack import prepared_model
from dlpk.remote import check_readable, is_remote
from dlpk.runners.backends.base import Backend
from dlpk.runners.backends.deliver import deliver
from dlpk.runners.backends.launch import JobBuilder, PreparedJob, staging_folder
from dlpk.runners.io.checkpoint import FOLDER as CHECKPOINT_FOLDER
from dlpk.runners.io.job_model import job_model_emd
from dlpk.runners.io.outputs import LAYER_SUFFIXES, RASTER_SUFFIXES, check_output
from dlpk.runners.progress import Progress
from dlpk.spec.choices import Device, ProcessingMode
from dlpk.spec.job import ExportChipsParameters, Result

#: Where each inference task's job writes its output, and what the output may be.
OUTPUT_KEYS = {
    "classify_pixels": "out_classified_raster",
    "detect_objects": "out_detected_objects",
    "classify_objects": "out_classified_objects",
}
OUTPUT_SUFFIXES = {
    "classify_pixels": RASTER_SUFFIXES,
    "detect_objects": LAYER_SUFFIXES,
    "classify_objects": LAYER_SUFFIXES,
}


@dataclass(frozen=True)
class ExportRequest:
    """export_chips as asked: the inputs by their ArcGIS names, the typed parameters."""

    raster: Path
    output: Path
    parameters: ExportChipsParameters
    labels: Path | None = None
    raster2: Path | None = None
    mask_polygons: Path | None = None
    instance_data: Path | None = None


@dataclass(frozen=True)
class InferenceRequest:
    """classify_pixels, detect_objects or classify_objects as asked."""

    task: str
    model: Path
    raster: Path
    output: Path
    arguments: dict[str, str] = field(default_factory=dict)
    device: Device | None = None  # None: the backend's
    trust_code: bool = False
    overwrite: bool = False
    extent: tuple[float, float, float, float] | None = None
    aoi: Path | None = None
    features: Path | None = None
    features_layer: str | None = None  # classify_objects: the layer of `features`
    processing_mode: ProcessingMode = "PROCESS_AS_MOSAICKED_IMAGE"
    resume: bool = False  # classify_pixels: finish an interrupted run from its tiles


def run_export(request: ExportRequest, backend: Backend, progress: Progress | None) -> Result:
    """Export training chips into `request.output` (a folder the job writes in place)."""
    _check_raster(request.raster)
    builder = JobBuilder("export_chips")
    builder.add_input("in_raster", request.raster)
    for name, path, what in (
        ("in_class_data", request.labels, "class data"),
        ("in_raster2", request.raster2, "second raster"),
        ("in_mask_polygons", request.mask_polygons, "mask polygons"),
        ("in_instance_data", request.instance_data, "instance data"),
    ):
        if path is not None:
            if not path.exists():
                raise BadInputError(f"{what} not found: {path}")
            builder.add_input(name, path)
    builder.parameters = request.parameters.model_dump(exclude_defaults=True)
    builder.add_output_folder("out_folder", request.output, "out/chips")
    return run_prepared(builder.write(), backend, progress)


def run_inference(request: InferenceRequest, backend: Backend, progress: Progress | None) -> Result:
    """Lint and unpack the model once, run the task, rename the output into place."""
    each = request.processing_mode == "PROCESS_ITEMS_SEPARATELY"
    _check_inference(request, each)
    with prepared_model(request.model) as model:
        builder = JobBuilder(request.task)
        builder.set_model(model.folder, model.emd_name, model.framework)
        builder.add_input("in_raster", request.raster)
        if request.features is not None:
            builder.add_input("in_features", request.features)
        if request.aoi is not None:
            builder.add_input("in_aoi", request.aoi)
        builder.parameters = {
            "arguments": request.arguments,
            "device": request.device or backend.device,
            # a container is the sandbox: code and pickles run there without trust_code
            "trust_code": request.trust_code or backend.sandboxed,
        }
        if request.extent is not None:
            builder.parameters["extent"] = list(request.extent)
        if request.features_layer is not None:
            builder.parameters["features_layer"] = request.features_layer
        if each:
            builder.parameters["processing_mode"] = "PROCESS_ITEMS_SEPARATELY"
        if request.resume:
            builder.parameters["resume"] = True
        staging = staging_folder(request.output, request.resume)
        delivered, failure = False, None
        try:
            key = "out_classified_folder" if each else OUTPUT_KEYS[request.task]
            builder.add_output(key, staging, request.output.name)
            result = run_prepared(builder.write(), backend, progress)
            warnings = deliver(staging, request.output, request.overwrite)
            delivered = True
            result = result.model_copy(update={"warnings": [*result.warnings, *warnings]})
        except BaseException as exc:
            failure = exc
            raise
        finally:
            # an interrupted classify-pixels keeps its finished tiles for --resume; the next
            # run of this output without --resume removes them
            if delivered or not _worth_resuming(staging, failure):
                shutil.rmtree(staging, ignore_errors=True)
            elif isinstance(failure, KeyboardInterrupt | JobStoppedError):  # errors stay one line
                failure.add_note(
                    f"the finished tiles are kept beside {request.output}: rerun with "
                    "--resume to finish"
                )
        return result


# failures that a second run of the same job meets again: nothing to resume
DETERMINISTIC = (UsageError, PackageError, InvalidJobError, BadInputError, ModelError)


def _worth_resuming(staging: Path, failure: BaseException | None) -> bool:
    """Whether a failed run's finished tiles are kept: it was interrupted, stopped, killed
    for memory, or met a full disk, and it had a checkpoint."""
    if failure is None or isinstance(failure, DETERMINISTIC):
        return False
    return (staging / CHECKPOINT_FOLDER).is_dir()


def _check_inference(request: InferenceRequest, each: bool) -> None:
    """Refuse before any work what would fail or overwrite after it."""
    if request.task not in OUTPUT_KEYS:
        raise UsageError(
            f"unknown inference task {request.task!r}", f"use {', '.join(OUTPUT_KEYS)}"
        )
    if request.resume and request.task != "classify_pixels":
        raise UsageError("--resume is an option of classify-pixels")
    if each:
        _check_each(request)
    else:
        check_output(request.output, request.overwrite, OUTPUT_SUFFIXES[request.task])
    _check_raster(request.raster)
    if request.features is not None and not request.features.exists():
        raise BadInputError(f"features not found: {request.features}")
    if request.aoi is not None and not request.aoi.exists():
        raise BadInputError(f"AOI not found: {request.aoi}")
    extent = request.extent
    if extent is not None and not (extent[0] < extent[2] and extent[1] < extent[3]):
        raise UsageError(
            f"--extent {' '.join(map(str, extent))}: expected XMIN YMIN XMAX YMAX "
            "with XMIN < XMAX and YMIN < YMAX"
        )


def _check_raster(raster: Path) -> None:
    """The input raster exists here, or GDAL can read it where it lives (a URL)."""
    if is_remote(raster):
        check_readable(raster, "raster")
    elif not raster.exists():
        raise BadInputError(f"raster not found: {raster}")


def _check_each(request: InferenceRequest) -> None:
    """PROCESS_ITEMS_SEPARATELY writes a folder of GeoTIFFs, one per image."""
    output = request.output
    if request.task != "classify_pixels":
        raise UsageError("PROCESS_ITEMS_SEPARATELY is a mode of classify-pixels")
    if request.resume:
        raise UsageError(
            "--resume finishes one raster or one mosaic, not PROCESS_ITEMS_SEPARATELY",
            hint="run again without --resume",
        )
    if request.extent is not None or request.aoi is not None:
        raise UsageError(
            "--extent and --aoi apply to one raster or one mosaic",
            hint="drop them, or use --processing-mode PROCESS_AS_MOSAICKED_IMAGE",
        )
    if output.exists() and not output.is_dir():
        raise UsageError(
            f"{output} is a file; PROCESS_ITEMS_SEPARATELY writes a folder of GeoTIFFs",
            hint="name a folder with -o",
        )
    if output.is_dir() and any(output.iterdir()) and not request.overwrite:
        raise OutputExistsError(
            f"{output} already exists and is not empty", "pass --overwrite to replace it"
        )


def run_jobdir(jobdir: Path, backend: Backend, progress: Progress | None) -> Result:
    """Run a job directory written by hand or by another tool; its model is linted first."""
    jobdir = jobdir.resolve()
    path = jobdir / "job.json"
    if not path.is_file():
        raise InvalidJobError(f"{path} not found", "a job directory holds job.json")
    try:
        job = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidJobError(f"{path} is not valid JSON ({exc})") from exc
    (jobdir / "out").mkdir(exist_ok=True)
    model = job.get("model") if isinstance(job, dict) else None
    framework = None
    if isinstance(model, str):
        emd = job_model_emd(jobdir, model)
        if emd.is_file() and emd.suffix.lower() == ".emd":  # else the runner says what is wrong
            with prepared_model(emd) as opened:  # lints it (errors stop the job) and reads it
                framework = opened.framework
    prepared = PreparedJob(jobdir, job, owned=False, framework=framework)
    return run_prepared(prepared, backend, progress)


def run_prepared(prepared: PreparedJob, backend: Backend, progress: Progress | None) -> Result:
    """Run the job, rewrite job paths in its messages as the user's, raise what it reported.

    The scratch job directory is removed whatever happens; an output folder made for the job
    is removed too when the job failed and left it empty.
    """
    succeeded = False
    try:
        result = backend.run(prepared, progress)
        warnings = [prepared.host_paths(w) for w in result.warnings]
        result = result.model_copy(update={"warnings": warnings})
        if result.error is not None:
            message = prepared.host_paths(result.error.message)
            error = error_from_result(result.error.type, message, result.exit_code)
            error.result = result
            error.log = _log_text(prepared.jobdir)
            raise error
        succeeded = True
        return result
    finally:
        prepared.cleanup(succeeded)


def _log_text(jobdir: Path) -> str | None:
    try:
        return (jobdir / "out" / "log.txt").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
