"""detect-objects in shares: each share detects in whole batches of the tile plan and keeps
each tile's detections (its own NMS done) in a part file; the assemble step concatenates them
in plan order and runs the one merge across tiles, as a whole run does, before writing the
layer."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from dlpk.errors import InvalidJobError
from dlpk.runners.io.area import planned_tiles
from dlpk.runners.io.layers import pixel_boxes_to_polygons, write_polygons
from dlpk.runners.io.outputs import DRIVERS, check_output
from dlpk.runners.io.raster_source import open_source
from dlpk.runners.io.windows import plan_tiles
from dlpk.runners.models.opened import open_model
from dlpk.runners.progress import Progress
from dlpk.runners.tasks.inference.arguments import DETECTOR_ARGUMENTS, parse_arguments
from dlpk.runners.tasks.inference.common import check_device, crs_warnings
from dlpk.runners.tasks.inference.detect_objects import (
    TASK,
    Detections,
    class_detections,
    collect_detections,
    detection_fields,
    detector_forward,
    merge_detections,
)
from dlpk.runners.tasks.inference.jobs import _area, _run
from dlpk.runners.tasks.report import TaskReport, inference_report
from dlpk.runners.tasks.shares.parts import (
    UNITS,
    batch_range,
    finished_shares,
    new_warnings,
    part_folder,
)
from dlpk.runners.tasks.shares.pixels import _no_function
from dlpk.spec.job import DetectObjectsJob, JobPart

DETECTIONS = "detections.npz"  # a share's part file, in its out/part/


def plan(job: DetectObjectsJob, jobdir: Path, progress: Progress) -> TaskReport:
    output = job.outputs.out_detected_objects
    return _run(_plan, job, jobdir, output, progress, **_area(job, jobdir))


def share(job: DetectObjectsJob, jobdir: Path, progress: Progress) -> TaskReport:
    output = job.outputs.out_detected_objects
    extra = {**_area(job, jobdir), "part": job.parameters.part, "parts": part_folder(jobdir)}
    report = _run(_share, job, jobdir, output, progress, **extra)
    report.files = []  # part files are no output of the job
    return report


def assemble(job: DetectObjectsJob, jobdir: Path, progress: Progress) -> TaskReport:
    output = job.outputs.out_detected_objects
    extra = {**_area(job, jobdir), "part": job.parameters.part, "home": jobdir}
    return _run(_assemble, job, jobdir, output, progress, **extra)


def _plan(
    model: Path,
    raster: Path,
    output: Path,
    arguments: dict[str, str],
    device: str,
    progress: Progress,
    *,
    trust_code: bool,
    extent: list[float] | None,
    aoi: Path | None,
) -> TaskReport:
    """Refuse what a whole run would refuse before its first tile; count the batches."""
    check_device(device)
    check_output(output, False, tuple(DRIVERS))
    with open_model(model, TASK) as opened:
        _no_function(opened)
        args = parse_arguments(arguments, opened.emd, DETECTOR_ARGUMENTS)
        with open_source(raster, opened.emd, opened.configuration.normalised) as source:
            planned = plan_tiles(source.height, source.width, args.grid)
            tiles, _ = planned_tiles(source.dataset, planned, extent, aoi)
    batches = -(-len(tiles) // args.batch_size)
    return TaskReport(counts={"tiles": len(tiles), UNITS: batches})


def _share(
    model: Path,
    raster: Path,
    output: Path,
    arguments: dict[str, str],
    device: str,
    progress: Progress,
    *,
    trust_code: bool,
    extent: list[float] | None,
    aoi: Path | None,
    part: JobPart,
    parts: Path,
) -> TaskReport:
    """Detect in the share's batches; keep every tile's detections for the assemble step."""
    started = time.perf_counter()
    check_device(device)
    with open_model(model, TASK) as opened:
        _no_function(opened)
        args = parse_arguments(arguments, opened.emd, DETECTOR_ARGUMENTS)
        with open_source(raster, opened.emd, opened.configuration.normalised) as source:
            notes = [*opened.warnings, *crs_warnings(source.dataset), *source.warnings]
            adapter = opened.load(device, trust_code)
            planned = plan_tiles(source.height, source.width, args.grid)
            tiles, _ = planned_tiles(source.dataset, planned, extent, aoi)
            numbers = batch_range(len(tiles), args.batch_size, part.count, part.index)
            mine = tiles[numbers.start : numbers.stop]
            forward = detector_forward(opened, adapter, args)
            found = collect_detections(source, mine, forward, len(opened.classes), args, progress)
    boxes, scores, labels = found.arrays()
    with open(parts / DETECTIONS, "wb") as handle:
        np.savez(handle, boxes=boxes, scores=scores, labels=labels)
    return inference_report(
        tiles=len(mine),
        pixels=sum(tile.core.height * tile.core.width for tile in mine),
        seconds=round(time.perf_counter() - started, 3),
        device=adapter.device,
        arguments=args.resolved(),
        counts={"tile_detections": len(labels)},
        warnings=notes,
    )


def _assemble(
    model: Path,
    raster: Path,
    output: Path,
    arguments: dict[str, str],
    device: str,
    progress: Progress,
    *,
    trust_code: bool,
    extent: list[float] | None,
    aoi: Path | None,
    part: JobPart,
    home: Path,
) -> TaskReport:
    """One layer from every share's detections, merged across tiles as a whole run does."""
    started = time.perf_counter()
    check_output(output, False, tuple(DRIVERS))
    shares = finished_shares(home, part)
    with open_model(model, TASK) as opened:
        args = parse_arguments(arguments, opened.emd, DETECTOR_ARGUMENTS)
        with open_source(raster, opened.emd, opened.configuration.normalised) as source:
            notes = [*opened.warnings, *crs_warnings(source.dataset), *source.warnings]
            planned = plan_tiles(source.height, source.width, args.grid)
            tiles, area = planned_tiles(source.dataset, planned, extent, aoi)
            found = Detections()
            for each in shares:
                boxes, scores, labels = read_detections(each.parts / DETECTIONS)
                found.boxes.append(boxes)
                found.scores.append(scores)
                found.labels.append(labels)
            boxes, scores, labels = merge_detections(found, args, source.width, source.height, area)
            polygons = pixel_boxes_to_polygons(boxes, source.dataset.transform)
            crs = source.dataset.crs.to_wkt() if source.dataset.crs else None
            pixels = source.height * source.width
        fields = detection_fields(opened, scores, labels)
        progress("write", 0, 1)
        write_polygons(output, polygons, fields, crs, False)
        progress("write", 1, 1)
        counts = {
            "detections": len(labels),
            **class_detections(opened.classes, fields["ClassValue"]),
        }
    return inference_report(
        tiles=len(tiles),
        pixels=pixels,
        seconds=round(time.perf_counter() - started, 3),
        device=str(shares[0].result.parameters.get("device", device)),
        arguments=args.resolved(),
        counts=counts,
        warnings=notes + new_warnings(shares, notes),
    )


def read_detections(
    path: Path,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """A share's detections: boxes [M, 4], scores [M] and labels [M] (no pickles)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            boxes = np.asarray(data["boxes"], dtype=np.float64).reshape(-1, 4)
            scores = np.asarray(data["scores"], dtype=np.float64)
            labels = np.asarray(data["labels"], dtype=np.int64)
    except (OSError, KeyError, ValueError) as exc:
        raise InvalidJobError(f"part file {path} is unreadable ({exc})") from None
    if not len(boxes) == len(scores) == len(labels):
        raise InvalidJobError(f"part file {path} holds arrays of different lengths")
    return boxes, scores, labels
