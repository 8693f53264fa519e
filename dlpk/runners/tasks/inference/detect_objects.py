"""detect-objects: boxes from an ObjectDetector model as polygons in the raster's CRS.

Per tile, a detection is kept when its score reaches `threshold`, its centre is a valid (not
nodata) pixel and, with `exclude_pad_detections` (default), its centre lies in the tile's core:
cores partition the raster, so an object seen whole by two overlapping tiles is kept by one.
Then class-aware NMS (`nms_overlap`, measured as `nms_metric`: IoU, or intersection over the
smaller box, which also merges a box lying inside a larger one) runs within each tile and once
more over the whole raster. With `test_time_augmentation`, a tile's detections are first those
of each of its flips and quarter turns, and of the tile resized by each of `tta_scales`, mapped
back and merged by the same NMS (`detect_tta`).
Fields: Class (name), ClassValue (Value), Confidence on the scale ArcGIS writes for the
model's configuration (`confidence_scale`); `threshold` is 0-1 for every configuration.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dlpk.runners.io.area import Area, planned_tiles
from dlpk.runners.io.layers import pixel_boxes_to_polygons, write_polygons
from dlpk.runners.io.outputs import DRIVERS, check_output
from dlpk.runners.io.raster_source import RasterSource, open_source
from dlpk.runners.io.windows import Tile, plan_tiles
from dlpk.runners.models.base import Adapter
from dlpk.runners.models.opened import OpenedModel, open_model
from dlpk.runners.tasks.inference.arguments import DETECTOR_ARGUMENTS, Arguments, parse_arguments
from dlpk.runners.tasks.inference.classes import detections_key
from dlpk.runners.tasks.inference.common import (
    TaskRequest,
    check_device,
    crs_warnings,
)
from dlpk.runners.tasks.inference.detect_tta import augmented_detector
from dlpk.runners.tasks.inference.detections import candidates, split_outputs
from dlpk.runners.tasks.inference.engine import Forward, Progress, run_tiles
from dlpk.runners.tasks.inference.nms import class_aware_nms
from dlpk.runners.tasks.inference.tta import Transform, transforms_for
from dlpk.runners.tasks.report import TaskReport, inference_report
from dlpk.spec.configurations import Configuration
from dlpk.spec.emd import ClassEntry

TASK = "detect-objects"

#: Configurations whose Confidence ArcGIS writes as the model's own 0-1 score: the generic
#: ObjectDetector.py runs them and writes what its TensorFlow child returns
#: (docs/esri-formats.md#tiling-padding-and-confidence).
SCORE_CONFIDENCE = frozenset({("TensorFlow", "ObjectDetectionAPI")})


def confidence_scale(configuration: Configuration) -> float:
    """What a 0-1 score is multiplied by to give Confidence, as ArcGIS writes it: 1 for
    TensorFlow ObjectDetectionAPI models (Esri's ObjectDetector.py writes the score as the
    model returns it), 100 otherwise (arcgis.learn's detectors write score * 100, and dlpk's own
    configurations follow them)."""
    return 1.0 if (configuration.framework, configuration.name) in SCORE_CONFIDENCE else 100.0


def class_detections(classes: list[ClassEntry], values: NDArray[np.int32]) -> dict[str, int]:
    """The detections of each class, every class named (0 for a class found nowhere)."""
    found = {int(v): int(n) for v, n in zip(*np.unique(values, return_counts=True), strict=True)}
    return {detections_key(c.Value): found.get(c.Value, 0) for c in classes}


@dataclass
class Detections:
    """Boxes in raster pixel-edge coordinates, with score (0-1) and 1-based label."""

    boxes: list[NDArray[np.float64]] = field(default_factory=list)
    scores: list[NDArray[np.float64]] = field(default_factory=list)
    labels: list[NDArray[np.int64]] = field(default_factory=list)

    def arrays(self) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
        if not self.boxes:
            return np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64)
        return np.concatenate(self.boxes), np.concatenate(self.scores), np.concatenate(self.labels)


def tile_detections(
    tile: Tile,
    boxes: NDArray[np.float64],
    scores: NDArray[np.float64],
    labels: NDArray[np.float64],
    valid: NDArray[np.bool_],
    classes: int,
    args: Arguments,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """One tile's kept detections, shifted into raster pixel coordinates."""
    keep = candidates(boxes, scores, labels, classes, args.threshold)
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    col, row = np.floor(cx).astype(np.int64), np.floor(cy).astype(np.int64)
    height, width = valid.shape
    inside = (row >= 0) & (row < height) & (col >= 0) & (col < width)
    keep &= inside
    keep[keep] &= valid[row[keep], col[keep]]
    if args.exclude_pad_detections:
        top, left = tile.core_offset
        keep &= (cy >= top) & (cy < top + tile.core.height)
        keep &= (cx >= left) & (cx < left + tile.core.width)
    kept_boxes = boxes[keep] + np.array([tile.read.col, tile.read.row] * 2, dtype=np.float64)
    kept_scores = scores[keep]
    kept_labels = np.asarray(labels[keep], dtype=np.int64)
    chosen = class_aware_nms(
        kept_boxes, kept_scores, kept_labels, args.nms_overlap, args.nms_metric
    )
    return kept_boxes[chosen], kept_scores[chosen], kept_labels[chosen]


def detect_tiles(
    source: RasterSource,
    tiles: list[Tile],
    forward: Forward,
    classes: int,
    args: Arguments,
    progress: Progress,
    area: Area | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Every tile's detections, merged across tiles by class-aware NMS, clipped to the raster;
    with an `area`, those whose centre lies outside it are dropped."""
    found = collect_detections(source, tiles, forward, classes, args, progress)
    return merge_detections(found, args, source.width, source.height, area)


def collect_detections(
    source: RasterSource,
    tiles: list[Tile],
    forward: Forward,
    classes: int,
    args: Arguments,
    progress: Progress,
) -> Detections:
    """Each tile's kept detections, in plan order, before the merge across tiles (what a
    share of the plan hands to the assemble step, tasks/shares)."""
    found = Detections()
    for batch in run_tiles(source, tiles, forward, args.batch_size, args.edge_fill, progress):
        boxes, scores, labels = split_outputs(batch.outputs, len(batch.tiles))
        for number, tile in enumerate(batch.tiles):
            kept = tile_detections(
                tile,
                boxes[number],
                scores[number],
                labels[number],
                batch.valid[number],
                classes,
                args,
            )
            found.boxes.append(kept[0])
            found.scores.append(kept[1])
            found.labels.append(kept[2])
    return found


def merge_detections(
    found: Detections, args: Arguments, width: int, height: int, area: Area | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """The tiles' detections merged by class-aware NMS, clipped to a `width x height`
    raster; with an `area`, those whose centre lies outside it are dropped."""
    all_boxes, all_scores, all_labels = found.arrays()
    if area is not None:
        centres = area.holds(
            (all_boxes[:, 0] + all_boxes[:, 2]) / 2, (all_boxes[:, 1] + all_boxes[:, 3]) / 2
        )
        all_boxes, all_scores, all_labels = (
            all_boxes[centres],
            all_scores[centres],
            all_labels[centres],
        )
    chosen = class_aware_nms(all_boxes, all_scores, all_labels, args.nms_overlap, args.nms_metric)
    limits = np.array([width, height] * 2, dtype=np.float64)
    clipped = np.clip(all_boxes[chosen], 0, limits)
    return clipped, all_scores[chosen], all_labels[chosen]


def detector_forward(opened: OpenedModel, adapter: Adapter, args: Arguments) -> Forward:
    """The model's forward pass, with test-time augmentation and scales when asked for."""
    forward: Forward = adapter.forward
    if args.test_time_augmentation or args.tta_scales != (1.0,):
        square = args.grid.tile_height == args.grid.tile_width
        transforms = (
            transforms_for(opened.emd.ImageSpaceUsed, square)
            if args.test_time_augmentation
            else [Transform()]
        )
        forward = augmented_detector(forward, transforms, len(opened.classes), args)
    return forward


def detection_fields(
    opened: OpenedModel, scores: NDArray[np.float64], labels: NDArray[np.int64]
) -> dict[str, NDArray[Any]]:
    """The layer's attribute columns: Class, ClassValue and Confidence."""
    classes = opened.classes
    scale = confidence_scale(opened.configuration)
    return {
        "Class": np.array([classes[k - 1].Name for k in labels], dtype=object),
        "ClassValue": np.array([classes[k - 1].Value for k in labels], dtype=np.int32),
        "Confidence": np.round(scores * scale, 6 if scale == 1 else 4).astype(np.float64),
    }


def detect_objects(
    model: Path,
    raster: Path,
    output: Path,
    arguments: dict[str, str],
    device: str,
    progress: Progress,
    overwrite: bool = False,
    trust_code: bool = False,
    extent: list[float] | None = None,
    aoi: Path | None = None,
) -> TaskReport:
    """Detect objects in `raster` with `model`; write polygons to `output` (.gpkg by default).

    With `extent` (raster CRS) and/or `aoi` (polygons), only tiles meeting that area run and
    detections centred outside it are dropped."""
    started = time.perf_counter()
    check_device(device)
    check_output(output, overwrite, tuple(DRIVERS))
    with open_model(model, TASK) as opened:
        if opened.runs_function:
            from dlpk.runners.tasks.inference.function_tasks import detect_with_function

            return detect_with_function(
                opened,
                TaskRequest(
                    raster, output, arguments, device, progress, overwrite, trust_code, extent, aoi
                ),
            )
        args = parse_arguments(arguments, opened.emd, DETECTOR_ARGUMENTS)
        classes = opened.classes
        with open_source(raster, opened.emd, opened.configuration.normalised) as source:
            warnings = [*opened.warnings, *crs_warnings(source.dataset), *source.warnings]
            adapter = opened.load(device, trust_code)
            planned = plan_tiles(source.height, source.width, args.grid)
            tiles, area = planned_tiles(source.dataset, planned, extent, aoi)
            forward = detector_forward(opened, adapter, args)
            boxes, scores, labels = detect_tiles(
                source, tiles, forward, len(classes), args, progress, area
            )
            polygons = pixel_boxes_to_polygons(boxes, source.dataset.transform)
            crs = source.dataset.crs.to_wkt() if source.dataset.crs else None
            size = (source.height, source.width)
    fields = detection_fields(opened, scores, labels)
    values = fields["ClassValue"]
    progress("write", 0, 1)
    write_polygons(output, polygons, fields, crs, overwrite)
    progress("write", 1, 1)
    return inference_report(
        tiles=len(tiles),
        pixels=size[0] * size[1],
        seconds=round(time.perf_counter() - started, 3),
        device=adapter.device,
        arguments=args.resolved(),
        counts={"detections": len(labels), **class_detections(classes, values)},
        warnings=warnings,
    )
