"""classify-objects: one class label per input feature, from an ObjectClassifier model.

Each feature gets one chip (object_chips: ImageHeight x ImageWidth centred on the feature, or
its bounding box resized to that size when the .emd says CropSizeFixed = 0), read like a tile
(pixels beyond the raster and nodata are 0 after normalisation). With BlackenAroundFeature = 1
in the .emd, pixels outside a polygon feature are 0 too. Features in another CRS are reprojected
to the raster's to cut the chip; the output keeps each input feature's geometry, CRS and fields,
and adds ClassLabel, ClassValue and Confidence (0-100). A feature outside the raster gets no
label (null). A package whose .emd names an InferenceFunction runs through it instead
(function_objects).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from dlpk.errors import UsageError
from dlpk.runners.io.area import features_in_area
from dlpk.runners.io.outputs import DRIVERS, check_output
from dlpk.runners.io.raster_source import RasterSource, open_source
from dlpk.runners.models.opened import open_model
from dlpk.runners.tasks.inference.arguments import parse_arguments
from dlpk.runners.tasks.inference.common import (
    TaskRequest,
    check_device,
    crs_warnings,
)
from dlpk.runners.tasks.inference.engine import Forward, Progress
from dlpk.runners.tasks.inference.object_chips import (
    ChipShape,
    chip_window,
    outside_feature,
    resize,
)
from dlpk.runners.tasks.inference.object_features import (
    Labels,
    label_counts,
    read_features,
    replaced_fields,
    to_raster_crs,
    write_labelled,
)
from dlpk.runners.tasks.inference.object_labels import OBJECT_ARGUMENTS, TASK, label_batch
from dlpk.runners.tasks.report import TaskReport, inference_report
from dlpk.spec.emd import ClassEntry


def chip_for(
    source: RasterSource,
    geometry: Any,
    height: int,
    width: int,
    blacken: bool,
    fixed: bool = True,
) -> tuple[NDArray[np.float32], bool]:
    """The model input for one feature, `height` x `width`, and whether it touches any valid
    pixel; a bounding-box chip (`fixed` False) is resized to that size."""
    if geometry is None or shapely.is_empty(geometry):
        return np.zeros((len(source.bands), height, width), dtype=np.float32), False
    transform = source.dataset.transform
    window = chip_window(geometry, transform, height, width, fixed)
    chip, valid = source.read_tile(window)
    outside = outside_feature(geometry, window, transform) if blacken else None
    if outside is not None:
        chip[:, outside] = 0.0
        valid &= ~outside
    return resize(chip, height, width), bool(valid.any())


def label_features(
    source: RasterSource,
    geometries: NDArray[np.object_],
    todo: NDArray[np.intp],
    forward: Forward,
    classes: list[ClassEntry],
    chip: ChipShape,
    batch_size: int,
    progress: Progress,
) -> Labels:
    """Label the features numbered in `todo`, `batch_size` chips a forward pass."""
    labels = Labels.empty(len(geometries))
    progress("classify", 0, len(todo))
    for start in range(0, len(todo), batch_size):
        numbers = todo[start : start + batch_size]
        pairs = [
            chip_for(source, geometries[i], chip.height, chip.width, chip.blacken, chip.fixed)
            for i in numbers
        ]
        label_batch(forward, pairs, numbers.tolist(), classes, labels)
        progress("classify", start + len(numbers), len(todo))
    return labels


def classify_objects(
    model: Path,
    raster: Path,
    output: Path,
    arguments: dict[str, str],
    device: str,
    progress: Progress,
    overwrite: bool = False,
    trust_code: bool = False,
    features: Path | None = None,
    extent: list[float] | None = None,
    aoi: Path | None = None,
    features_layer: str | None = None,
) -> TaskReport:
    """Label every feature of `features` (its `features_layer`) from its chip of `raster`;
    write them to `output`. Without `features`, each image of `raster` is one object.

    With `extent` (raster CRS) and/or `aoi` (polygons), only features meeting that area are
    classified; the others are written too, with null ClassLabel, ClassValue and Confidence."""
    started = time.perf_counter()
    if features is None:
        if extent is not None or aoi is not None:
            raise UsageError(
                "--extent and --aoi choose features to classify",
                hint="pass --features, or drop them to label each image as a whole",
            )
        from dlpk.runners.tasks.inference.image_objects import classify_images

        return classify_images(
            model, raster, output, arguments, device, progress, overwrite, trust_code
        )
    check_device(device)
    check_output(output, overwrite, tuple(DRIVERS))
    layer = read_features(features, features_layer)
    replaced = replaced_fields(layer, features)
    with open_model(model, TASK) as opened:
        if opened.runs_function:
            from dlpk.runners.tasks.inference.function_objects import classify_objects_with_function

            report = classify_objects_with_function(
                opened,
                TaskRequest(
                    raster, output, arguments, device, progress, overwrite, trust_code, extent, aoi
                ),
                layer,
            )
            report.warnings += replaced
            return report
        args = parse_arguments(arguments, opened.emd, OBJECT_ARGUMENTS)
        classes = opened.classes
        height, width = args.grid.tile_height, args.grid.tile_width
        emd = opened.emd
        chip = ChipShape(height, width, emd.CropSizeFixed != 0, emd.BlackenAroundFeature == 1)
        with open_source(raster, opened.emd, opened.configuration.normalised) as source:
            warnings = [
                *opened.warnings,
                *crs_warnings(source.dataset),
                *source.warnings,
                *replaced,
            ]
            adapter = opened.load(device, trust_code)
            local = to_raster_crs(layer.geometries, layer.crs, source.dataset.crs)
            todo = features_in_area(source.dataset, local, extent, aoi)
            labels = label_features(
                source, local, todo, adapter.forward, classes, chip, args.batch_size, progress
            )
            size = source.height * source.width
    write_labelled(output, layer, labels, overwrite)
    return inference_report(
        tiles=len(todo),
        pixels=size,
        seconds=round(time.perf_counter() - started, 3),
        device=adapter.device,
        arguments=args.resolved()
        | {"chip": f"{height}x{width}", "CropSizeFixed": str(int(chip.fixed))},
        counts=label_counts(labels, len(todo)),
        warnings=warnings,
    )
