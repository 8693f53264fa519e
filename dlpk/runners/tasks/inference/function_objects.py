"""classify-objects through a package's Python raster function
(docs/esri-formats.md#classify-objects-through-a-raster-function).

dlpk plays ArcGIS: it cuts one chip per feature (object_chips, with CropSizeFixed and
BlackenAroundFeature from getConfiguration, else from the .emd), of (ty + 2 x padding) x
(tx + 2 x padding) pixels in the raster's own type, and hands them to vectorize as
`<rasters>_pixels` (named by the function's rasters parameter, `rasters` in arcgis.learn's), a
tuple of [bands, rows, cols] arrays (`<rasters>_mask` alike with inputMask),
up to batch_size chips a call. Bounding-box chips differ in size, so one call holds chips of one
size only: functions that stack the tuple into one array, as arcgis.learn's do, still work. The
function returns one feature per chip, in order; its `Label` and `Confidence` attributes become
ClassLabel and Confidence (a multi-label model's `;`-joined text is kept as text).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from dlpk.errors import ModelError
from dlpk.runners.io.area import features_in_area
from dlpk.runners.io.data_range import rescaler
from dlpk.runners.io.raster_source import read_block
from dlpk.runners.models.opened import OpenedModel
from dlpk.runners.models.raster_function import (
    BlockConfiguration,
)
from dlpk.runners.tasks.inference.common import TaskRequest
from dlpk.runners.tasks.inference.function_host import (
    function_and_raster,
    function_summary,
    output_features,
    prepare_function,
)
from dlpk.runners.tasks.inference.object_chips import chip_window, outside_feature
from dlpk.runners.tasks.inference.object_features import (
    Confidence,
    FeatureLayer,
    Labels,
    label_counts,
    to_raster_crs,
    write_labelled,
)
from dlpk.runners.tasks.report import TaskReport

TASK = "classify-objects"


@dataclass(frozen=True)
class ObjectChip:
    """The chip of feature `index`: raw pixels [bands, rows, cols] and their mask (1 valid)."""

    index: int
    pixels: NDArray[Any]
    mask: NDArray[np.uint8]


def cut_chip(
    dataset: Any, config: BlockConfiguration, index: int, geometry: Any, fixed: bool, blacken: bool
) -> ObjectChip | None:
    """The feature's chip, or None when it holds no valid pixel (the feature gets no label)."""
    if geometry is None or shapely.is_empty(geometry):
        return None
    height, width = config.ty + 2 * config.padding, config.tx + 2 * config.padding
    window = chip_window(geometry, dataset.transform, height, width, fixed)
    pixels, mask = read_block(dataset, config.bands, window)
    outside = outside_feature(geometry, window, dataset.transform) if blacken else None
    if outside is not None:
        pixels[:, outside] = 0
        mask[:, outside] = 0
    if not np.all(mask > 0, axis=0).any():
        return None
    return ObjectChip(index, pixels, mask)


def batches(chips: Iterable[ObjectChip], size: int) -> Iterator[list[ObjectChip]]:
    """Consecutive chips, at most `size` a batch, each batch of one chip size."""
    group: list[ObjectChip] = []
    for chip in chips:
        if group and (len(group) == size or chip.pixels.shape != group[0].pixels.shape):
            yield group
            group = []
        group.append(chip)
    if group:
        yield group


def _label(feature: dict[str, Any], name: str) -> tuple[str, Confidence]:
    attributes = feature.get("attributes")
    if not isinstance(attributes, dict) or attributes.get("Label") is None:
        raise ModelError(f"{name}: vectorize() gave a feature without a Label attribute")
    confidence = attributes.get("Confidence")
    if confidence is not None and not isinstance(confidence, int | float | str):
        confidence = str(confidence)
    return str(attributes["Label"]), confidence


def classify_objects_with_function(
    opened: OpenedModel,
    request: TaskRequest,
    layer: FeatureLayer,
) -> TaskReport:
    """Label every feature of `layer` through vectorize (only those meeting the `extent` and
    `aoi`, when given); write the layer to `output`."""
    started = time.perf_counter()
    values_of = {c.Name: c.Value for c in opened.emd.Classes or []}
    with function_and_raster(opened, request) as (function, dataset, warnings):
        prepared = prepare_function(
            function, opened, dataset, request.arguments, request.device, "rasters"
        )
        config, pixels_key = prepared.config, f"{prepared.raster}_pixels"
        fixed = (
            config.crop_fixed if config.crop_fixed is not None else opened.emd.CropSizeFixed != 0
        )
        blacken = (
            config.blacken if config.blacken is not None else opened.emd.BlackenAroundFeature == 1
        )
        scale = rescaler(dataset, config.bands, config.data_range)
        local = to_raster_crs(layer.geometries, layer.crs, dataset.crs)
        labels = Labels.empty(len(local))
        todo = features_in_area(dataset, local, request.extent, request.aoi)
        chips = (cut_chip(dataset, config, i, local[i], fixed, blacken) for i in todo.tolist())
        sent = 0
        request.progress("classify", 0, len(todo))
        for group in batches((c for c in chips if c is not None), config.batch_size or 1):
            pixels = tuple(
                c.pixels if scale is None else scale(c.pixels) * (c.mask > 0) for c in group
            )
            blocks: dict[str, Any] = {pixels_key: pixels}
            if config.input_mask:
                blocks[f"{prepared.raster}_mask"] = tuple(c.mask for c in group)
            features = output_features(function.call("vectorize", **blocks), function.name)
            if len(features) != len(group):
                raise ModelError(
                    f"{function.name}: vectorize() gave {len(features)} features for "
                    f"{len(group)} chips; it must give one per chip"
                )
            for chip, feature in zip(group, features, strict=True):
                name, labels.confidence[chip.index] = _label(feature, function.name)
                labels.names[chip.index], labels.values[chip.index] = name, values_of.get(name)
            sent += len(group)
            request.progress("classify", sent, len(todo))
        request.progress("classify", len(todo), len(todo))
    write_labelled(request.output, layer, labels, request.overwrite)
    counts = label_counts(labels, len(todo))
    chosen = {"CropSizeFixed": str(int(fixed)), "BlackenAroundFeature": str(int(blacken))}
    return function_summary(
        request.output,
        sent,
        dataset,
        started,
        request.device,
        prepared.arguments | chosen,
        counts,
        [*warnings, *function.warnings_said()],
    )
