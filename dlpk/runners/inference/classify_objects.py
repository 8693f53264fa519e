"""classify-objects: one class label per input feature, from an ObjectClassifier model.

Each feature gets one ImageHeight x ImageWidth chip centred on the centre of its bounding box
(ArcGIS's CropSizeFixed = 1, reference §3.4.9), read like a tile (pixels beyond the raster and
nodata are 0 after normalisation). With BlackenAroundFeature = 1 in the .emd, pixels outside a
polygon feature are 0 too. Features in another CRS are reprojected to the raster's to cut the
chip; the output keeps each input feature's geometry, CRS and fields, and adds ClassLabel,
ClassValue and Confidence (0-100). A feature outside the raster gets no label (null).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import shapely
from numpy.typing import NDArray
from pyproj import CRS, Transformer
from rasterio.features import geometry_mask
from rasterio.transform import Affine

from dlpk.errors import BadInputError, InputNotFoundError, ModelError, UsageError
from dlpk.runners.inference.arguments import parse_arguments
from dlpk.runners.inference.common import check_device, check_output, crs_warnings
from dlpk.runners.inference.engine import Forward, Progress
from dlpk.runners.inference.model import open_model
from dlpk.runners.inference.source import RasterSource, open_source
from dlpk.runners.inference.summary import TaskSummary
from dlpk.runners.inference.windows import Window
from dlpk.runners.io.vectors import DRIVERS, write_layer
from dlpk.spec.emd import ClassEntry

TASK = "classify-objects"
OBJECT_ARGUMENTS = ("batch_size",)
ADDED_FIELDS = ("ClassLabel", "ClassValue", "Confidence")


def read_features(path: Path) -> tuple[dict[str, Any], NDArray[np.object_], list[NDArray[Any]]]:
    """The layer's metadata, shapely geometries and field arrays."""
    if not path.exists():
        raise InputNotFoundError(f"{path}: no such file")
    try:
        meta, _, wkb, fields = pyogrio.raw.read(path)
    except Exception as exc:  # pyogrio raises its own DataSourceError / DataLayerError
        raise BadInputError(f"{path} is not a readable feature layer ({exc})") from exc
    if wkb is None:
        raise BadInputError(f"{path} has no geometries")
    return meta, np.asarray(shapely.from_wkb(wkb), dtype=object), list(fields)


def to_raster_crs(
    geometries: NDArray[np.object_], source_crs: str | None, raster_crs: Any
) -> NDArray[np.object_]:
    """Reproject when both CRSs are known and differ; otherwise assume they agree."""
    if not source_crs or raster_crs is None:
        return geometries
    source, target = CRS.from_user_input(source_crs), CRS.from_user_input(raster_crs.to_wkt())
    if source == target:
        return geometries
    transformer = Transformer.from_crs(source, target, always_xy=True)

    def move(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return np.asarray(shapely.transform(geometries, move), dtype=object)


def chip_for(
    source: RasterSource,
    geometry: Any,
    height: int,
    width: int,
    blacken: bool,
) -> tuple[NDArray[np.float32], bool]:
    """The model input for one feature, and whether it touches any valid pixel."""
    if geometry is None or shapely.is_empty(geometry):
        return np.zeros((len(source.bands), height, width), dtype=np.float32), False
    inverse = ~source.dataset.transform
    x1, y1, x2, y2 = shapely.bounds(geometry)
    cols, rows = zip(*(inverse * (x, y) for x in (x1, x2) for y in (y1, y2)), strict=True)
    centre_row, centre_col = (min(rows) + max(rows)) / 2, (min(cols) + max(cols)) / 2
    window = Window(
        math.floor(centre_row - height / 2), math.floor(centre_col - width / 2), height, width
    )
    chip, valid = source.read_tile(window)
    if blacken and shapely.get_type_id(geometry) in (3, 6):  # Polygon, MultiPolygon
        chip_transform = source.dataset.transform * Affine.translation(window.col, window.row)
        outside = geometry_mask([geometry], (height, width), chip_transform)
        chip[:, outside] = 0.0
        valid &= ~outside
    return chip, bool(valid.any())


def confidences(scores: NDArray[np.float64]) -> NDArray[np.float64]:
    """Scores as probabilities: kept when each row already is one, else a softmax."""
    rows_sum = scores.sum(axis=1)
    if (scores >= 0).all() and (scores <= 1).all() and np.allclose(rows_sum, 1, atol=1e-3):
        return scores
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True), dtype=np.float64)


def label_chips(
    forward: Forward, chips: NDArray[np.float32], classes: list[ClassEntry]
) -> tuple[list[ClassEntry], NDArray[np.float64]]:
    """The winning class and its probability for each chip (a background index never wins)."""
    outputs = forward(chips)
    if len(outputs) != 1 or outputs[0].shape[:1] != (len(chips),) or outputs[0].ndim != 2:
        shapes = [tuple(o.shape) for o in outputs]
        raise ModelError(f"an ObjectClassifier returns one [N, K] output; got {shapes}")
    scores = np.asarray(outputs[0], dtype=np.float64)
    offset = scores.shape[1] - len(classes)
    if offset not in (0, 1):
        raise ModelError(f"the model outputs {scores.shape[1]} scores for {len(classes)} classes")
    probabilities = confidences(scores)[:, offset:]
    best = np.argmax(probabilities, axis=1)
    return [classes[i] for i in best], probabilities[np.arange(len(best)), best]


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
) -> TaskSummary:
    """Label every feature of `features` from its chip of `raster`; write them to `output`."""
    started = time.perf_counter()
    if features is None:
        raise UsageError("classify-objects needs --features (points, lines or polygons)")
    check_device(device)
    check_output(output, overwrite, tuple(DRIVERS))
    meta, geometries, field_data = read_features(features)
    with open_model(model, TASK) as opened:
        args = parse_arguments(arguments, opened.emd, OBJECT_ARGUMENTS)
        classes = opened.classes
        height, width = args.grid.tile_height, args.grid.tile_width
        blacken = opened.emd.BlackenAroundFeature == 1
        with open_source(raster, opened.emd, opened.configuration.normalised) as source:
            warnings = [*opened.warnings, *crs_warnings(source.dataset)]
            adapter = opened.load(device, trust_code)
            local = to_raster_crs(geometries, meta.get("crs"), source.dataset.crs)
            labels: list[str | None] = [None] * len(local)
            values = np.zeros(len(local), dtype=np.int32)
            confidence = np.full(len(local), np.nan)
            progress("classify", 0, len(local))
            for start in range(0, len(local), args.batch_size):
                stop = min(start + args.batch_size, len(local))
                pairs = [chip_for(source, g, height, width, blacken) for g in local[start:stop]]
                winners, probabilities = label_chips(
                    adapter.forward, np.stack([p[0] for p in pairs]), classes
                )
                for offset, ((_, seen), entry) in enumerate(zip(pairs, winners, strict=True)):
                    if seen:
                        labels[start + offset] = entry.Name
                        values[start + offset] = entry.Value
                        confidence[start + offset] = round(100 * probabilities[offset], 4)
                progress("classify", stop, len(local))
            size = source.height * source.width
    kept = {
        name: data
        for name, data in zip(meta["fields"], field_data, strict=True)
        if name not in ADDED_FIELDS
    }
    kept["ClassLabel"] = np.asarray(labels, dtype=object)
    kept["ClassValue"] = values
    kept["Confidence"] = confidence
    wkb = np.asarray(shapely.to_wkb(geometries), dtype=object)
    geometry_type = str(meta.get("geometry_type") or "Unknown")
    write_layer(output, wkb, geometry_type, kept, meta.get("crs"), overwrite)
    return TaskSummary(
        task=TASK,
        output=output,
        tiles=len(local),
        pixels=size,
        seconds=round(time.perf_counter() - started, 3),
        device=adapter.device,
        arguments=args.resolved() | {"chip": f"{height}x{width}"},
        counts={"features": len(local), "labelled": sum(label is not None for label in labels)},
        warnings=warnings,
    )
