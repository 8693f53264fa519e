"""classify-objects without features: each image is one object
(docs/esri-formats.md#the-inference-tools).

ArcGIS's Classify Objects, given no features, labels every input image as a whole: the way to
classify a folder of photos or of exported image chips. Each image is read whole (up to
MAX_PIXELS), with the .emd's bands, DataRange and normalisation, resized bilinearly to
ImageHeight x ImageWidth as in classify_objects, and classified; the output has one feature per
image, its footprint, with the fields Image (file name), ClassLabel, ClassValue and Confidence
(0-100). Footprints are in the first image's CRS (other images' are reprojected); images
without a CRS get their pixel-space footprint and no CRS, with a warning.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from rasterio.crs import CRS

from dlpk.errors import BadInputError, UsageError
from dlpk.runners.io.outputs import DRIVERS, check_output
from dlpk.runners.io.raster_source import open_source
from dlpk.runners.io.rasters import RasterInfo
from dlpk.runners.io.sources import list_rasters, skipped_warning
from dlpk.runners.io.windows import Window
from dlpk.runners.models.opened import open_model
from dlpk.runners.tasks.inference.arguments import parse_arguments
from dlpk.runners.tasks.inference.common import check_device
from dlpk.runners.tasks.inference.engine import Progress
from dlpk.runners.tasks.inference.object_chips import resize
from dlpk.runners.tasks.inference.object_features import (
    FeatureLayer,
    Labels,
    to_raster_crs,
    write_labelled,
)
from dlpk.runners.tasks.inference.object_labels import OBJECT_ARGUMENTS, TASK, label_batch
from dlpk.runners.tasks.report import TaskReport, inference_report
from dlpk.spec.emd import EsriModelDefinition

MAX_PIXELS = 4096 * 4096  # an image is read whole: past this, classify features within it


def classify_images(
    model: Path,
    raster: Path,
    output: Path,
    arguments: dict[str, str],
    device: str,
    progress: Progress,
    overwrite: bool = False,
    trust_code: bool = False,
) -> TaskReport:
    """Label each image of `raster` (one raster, or a folder of them) as a whole."""
    started = time.perf_counter()
    check_device(device)
    check_output(output, overwrite, tuple(DRIVERS))
    found = list_rasters(raster)
    layer, warnings = _footprints(found.rasters)  # refuses mixed CRSs before any model runs
    for info in found.rasters:
        if info.width * info.height > MAX_PIXELS:
            raise BadInputError(
                f"image {Path(info.path).name} is {info.width} x {info.height} px; without "
                f"--features each image is one object, read whole (at most {MAX_PIXELS} px)",
                hint="pass --features to classify objects within it",
            )
    with open_model(model, TASK) as opened:
        if opened.runs_function:
            raise UsageError(
                "this package runs a Python raster function, which classifies features",
                hint="pass --features",
            )
        args = parse_arguments(arguments, opened.emd, OBJECT_ARGUMENTS)
        adapter = opened.load(device, trust_code)
        size = (args.grid.tile_height, args.grid.tile_width)
        normalised = opened.configuration.normalised
        labels = Labels.empty(len(found.rasters))
        progress("classify", 0, len(found.rasters))
        for start in range(0, len(found.rasters), args.batch_size):
            batch = found.rasters[start : start + args.batch_size]
            chips = [_image_chip(Path(i.path), opened.emd, normalised, size) for i in batch]
            numbers = list(range(start, start + len(batch)))
            # an image of nothing but nodata gets no label
            label_batch(adapter.forward, chips, numbers, opened.classes, labels)
            progress("classify", start + len(batch), len(found.rasters))
        device_used = adapter.device
    write_labelled(output, layer, labels, overwrite)
    labelled = sum(name is not None for name in labels.names)
    return inference_report(
        tiles=len(found.rasters),
        pixels=sum(i.width * i.height for i in found.rasters),
        seconds=round(time.perf_counter() - started, 3),
        device=device_used,
        arguments=args.resolved() | {"chip": f"{size[0]}x{size[1]}"},
        counts={
            "images": len(found.rasters),
            "labelled": labelled,
            "files_not_rasters": len(found.skipped),
        },
        warnings=[*opened.warnings, *skipped_warning(raster, found), *warnings],
    )


def _image_chip(
    path: Path, emd: EsriModelDefinition, normalised: bool, size: tuple[int, int]
) -> tuple[NDArray[np.float32], bool]:
    """The whole image as model input, resized, and whether it holds any valid pixel."""
    with open_source(path, emd, normalised) as source:
        pixels, valid = source.read_tile(Window(0, 0, source.height, source.width))
    return resize(pixels, *size), bool(valid.any())


def _footprints(infos: list[RasterInfo]) -> tuple[FeatureLayer, list[str]]:
    """One polygon per image, in the first image's CRS; pixel-space when none has one."""
    placed = [i.crs_wkt is not None for i in infos]
    if any(placed) and not all(placed):
        name = Path(infos[placed.index(False)].path).name
        raise BadInputError(
            f"image {name} has no CRS while others have one: their footprints cannot share a layer",
            hint="classify georeferenced and plain images in separate runs",
        )
    crs = infos[0].crs_wkt
    geometries = []
    for info in infos:
        t = info.transform  # the identity for an image without georeferencing: pixels
        corners = [t @ xy for xy in ((0, 0), (info.width, 0), (info.width, info.height))]
        corners.append(t @ (0, info.height))
        polygon = np.array([shapely.Polygon(corners)], dtype=object)
        if crs is not None and info.crs_wkt != crs:
            polygon = to_raster_crs(polygon, info.crs_wkt, CRS.from_wkt(crs))
        geometries.append(polygon[0])
    meta: dict[str, Any] = {"fields": ["Image"], "geometry_type": "Polygon", "crs": crs}
    names = np.array([Path(i.path).name for i in infos], dtype=object)
    layer = FeatureLayer(meta, np.array(geometries, dtype=object), [names])
    warnings = [] if crs is not None else ["the images have no CRS: footprints are in pixels"]
    return layer, warnings
