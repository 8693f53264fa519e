"""classify-pixels and detect-objects through a package's Python raster function.

dlpk plays ArcGIS: it plans blocks of ty x tx pixels (the cores, which partition the raster),
reads each with `padding` pixels more on every side from the same window plan and block cache
as the built-in tasks, and hands them to updatePixels or vectorize one at a time, reading the
next block while the function works on this one. A processing extent or AOI limits the blocks
and the output exactly as it does for the built-in tasks (area.py).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from dlpk.errors import ModelError
from dlpk.runners.io.area import planned_tiles
from dlpk.runners.io.classified import ClassifiedRasterWriter
from dlpk.runners.io.data_range import rescaler
from dlpk.runners.io.layers import write_layer
from dlpk.runners.io.raster_source import open_raster, read_block
from dlpk.runners.io.windows import Tile, TileGrid, Window, plan_tiles
from dlpk.runners.models.base import one_line
from dlpk.runners.models.opened import OpenedModel
from dlpk.runners.models.raster_function import (
    BlockConfiguration,
    RasterFunction,
    block_configuration,
    declared_arguments,
    fields_of,
    function_file,
    loaded_function,
    scalars_for,
)
from dlpk.runners.tasks.inference.classes import class_rows
from dlpk.runners.tasks.inference.common import TaskRequest, crs_warnings
from dlpk.runners.tasks.inference.engine import read_ahead
from dlpk.runners.tasks.report import TaskReport, inference_report

Block = tuple[NDArray[Any], NDArray[np.uint8]]
PIXEL_TYPES = {"uint8": "u1", "uint16": "u2", "int32": "i4"}
POLYGON = 4
#: Esri field types -> how the column is written; OID and geometry fields are not attributes.
FIELD_KINDS = {
    "esriFieldTypeString": "string",
    "esriFieldTypeGUID": "string",
    "esriFieldTypeGlobalID": "string",
    "esriFieldTypeDate": "string",
    "esriFieldTypeInteger": "integer",
    "esriFieldTypeSmallInteger": "integer",
    "esriFieldTypeBigInteger": "integer",
    "esriFieldTypeDouble": "double",
    "esriFieldTypeSingle": "double",
}
SKIPPED_FIELDS = ("esriFieldTypeOID", "esriFieldTypeGeometry")


def plan_blocks(height: int, width: int, config: BlockConfiguration) -> list[Tile]:
    """Cores of ty x tx partitioning the raster, each read with `padding` around it; without
    fixedTileSize the edge blocks are cut to the raster (plus padding)."""
    p = config.padding
    grid = TileGrid(config.ty + 2 * p, config.tx + 2 * p, p)
    tiles = plan_tiles(height, width, grid)
    if config.fixed:
        return tiles
    return [
        Tile(t.index, Window(t.core.row - p, t.core.col - p, t.core.height + 2 * p,
                             t.core.width + 2 * p), t.core)
        for t in tiles
    ]  # fmt: skip


def _blocks(
    function: RasterFunction, config: BlockConfiguration, block: Block, scale: Any
) -> dict[str, Any]:
    pixels, mask = block
    if scale is not None:
        pixels = scale(pixels) * (mask > 0)
    blocks: dict[str, Any] = {"raster_pixels": pixels}
    if config.input_mask:
        blocks["raster_mask"] = mask
    return blocks


def _spatial_reference(dataset: Any) -> int | str | None:
    if dataset.crs is None:
        return None
    epsg = dataset.crs.to_epsg()
    return int(epsg) if epsg is not None else str(dataset.crs.to_wkt())


def _props(dataset: Any, pixel_type: str, nodata: int) -> dict[str, Any]:
    bounds = dataset.bounds
    return {
        "extent": (bounds.left, bounds.bottom, bounds.right, bounds.top),
        "pixelType": pixel_type,
        "spatialReference": _spatial_reference(dataset),
        "cellSize": (abs(dataset.transform.a), abs(dataset.transform.e)),
        "width": int(dataset.width),
        "height": int(dataset.height),
        "noData": np.array([nodata]),
    }


def _output(result: Any, rows: int, cols: int, key: str, name: str) -> NDArray[Any]:
    if not isinstance(result, dict) or (key == "output_pixels" and key not in result):
        raise ModelError(f"{name}: updatePixels() must return the pixelBlocks with {key}")
    array = np.asarray(result[key])
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.shape != (rows, cols):
        raise ModelError(
            f"{name}: updatePixels() gave {key} of shape {tuple(np.shape(result[key]))} for a "
            f"block of {rows} x {cols}; the padding must be cropped off"
        )
    return array


def _class_values(values: NDArray[Any], dtype: str, name: str) -> NDArray[Any]:
    if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
        raise ModelError(f"{name}: updatePixels() gave non-finite output_pixels")
    limits = np.iinfo(np.dtype(dtype))
    if values.size and (values.min() < limits.min or values.max() > limits.max):
        raise ModelError(
            f"{name}: updatePixels() gave values {values.min()}..{values.max()}; the output "
            f"is {dtype}, chosen from the Classes Values"
        )
    return values.astype(dtype)


def function_summary(
    task: str,
    output: Path,
    tiles: int,
    dataset: Any,
    started: float,
    device: str,
    arguments: dict[str, str],
    counts: dict[str, int],
    warnings: list[str],
) -> TaskReport:
    """What a task run through a raster function reports (the device is the one asked for:
    dlpk cannot see which one the function used)."""
    return inference_report(
        tiles=tiles,
        pixels=int(dataset.height) * int(dataset.width),
        seconds=round(time.perf_counter() - started, 3),
        device="gpu" if device == "gpu" else "cpu",
        arguments=arguments,
        counts=counts,
        warnings=warnings,
    )


@contextlib.contextmanager
def function_and_raster(
    opened: OpenedModel, request: TaskRequest
) -> Iterator[tuple[RasterFunction, Any, list[str]]]:
    """The package's raster function loaded and initialised, the raster open, and the warnings
    the model and the raster give: what every task run through a function starts with."""
    path = function_file(opened.folder, opened.emd.InferenceFunction or "")
    with (
        loaded_function(path, opened.emd_path, request.device, request.trust_code) as function,
        open_raster(request.raster) as dataset,
    ):
        yield function, dataset, [*opened.warnings, *crs_warnings(dataset)]


def prepare_function(
    function: RasterFunction, opened: OpenedModel, dataset: Any, given: dict[str, str], device: str
) -> tuple[BlockConfiguration, dict[str, str]]:
    """The function's arguments and getConfiguration's answer, with what to report of both."""
    declared = declared_arguments(function)
    scalars = scalars_for(declared, given, opened.emd_path, device)
    raw = function.call("getConfiguration", **scalars)
    config = block_configuration(raw, opened.emd, int(dataset.count))
    arguments = {k: str(v) for k, v in scalars.items() if k in declared}
    return config, {**arguments, **config.resolved()}


def classify_with_function(
    opened: OpenedModel,
    request: TaskRequest,
) -> TaskReport:
    """classify-pixels through updatePixels; the output is the classified COG. With an
    `extent` and/or `aoi`, only blocks meeting that area go to the function and pixels whose
    centre lies outside it are nodata."""
    started = time.perf_counter()
    task = "classify-pixels"
    classes = opened.classes
    with function_and_raster(opened, request) as (function, dataset, warnings):
        config, arguments = prepare_function(
            function, opened, dataset, request.arguments, request.device
        )
        planned = plan_blocks(int(dataset.height), int(dataset.width), config)
        tiles, area = planned_tiles(dataset, planned, request.extent, request.aoi)
        scale = rescaler(dataset, config.bands, config.data_range)
        nodata_pixels = 0
        with ClassifiedRasterWriter(
            request.output, dataset, class_rows(classes), request.overwrite
        ) as writer:
            props = _props(dataset, PIXEL_TYPES[writer.dtype], writer.nodata)
            request.progress("infer", 0, len(tiles))
            reads = read_ahead(tiles, lambda t: read_block(dataset, config.bands, t.read))
            for done, (tile, block) in enumerate(reads, start=1):
                rows, cols = (
                    tile.read.height - 2 * config.padding,
                    tile.read.width - 2 * config.padding,
                )
                x, y = dataset.transform @ (tile.core.col, tile.core.row)
                blocks = _blocks(function, config, block, scale)
                result = function.call(
                    "updatePixels", (float(x), float(y)), (1, rows, cols), props, **blocks
                )
                values = _class_values(
                    _output(result, rows, cols, "output_pixels", function.name),
                    writer.dtype,
                    function.name,
                )
                p, height, width = config.padding, tile.core.height, tile.core.width
                valid = np.all(block[1][:, p : p + height, p : p + width] > 0, axis=0)
                if isinstance(result, dict) and result.get("output_mask") is not None:
                    mask = _output(result, rows, cols, "output_mask", function.name)
                    valid &= mask[:height, :width] > 0
                if area is not None:
                    valid &= area.mask(tile.core)
                nodata_pixels += int((~valid).sum())
                writer.write(tile.core, np.where(valid, values[:height, :width], writer.nodata))
                request.progress("infer", done, len(tiles))
    return function_summary(
        task, request.output, len(tiles), dataset, started, request.device, arguments,
        {"nodata_pixels": nodata_pixels}, warnings,
    )  # fmt: skip


def _polygon(geometry: Any, tile: Tile, name: str) -> shapely.Geometry:
    """Rings in the un-padded block's pixel space -> one (multi)polygon in raster pixel space,
    combined by the even-odd rule so holes and several parts come out right."""
    rings = geometry.get("rings") if isinstance(geometry, dict) else None
    if not isinstance(rings, list) or not rings:
        raise ModelError(f"{name}: vectorize() gave a feature without polygon rings")
    shape = shapely.Polygon()
    offset = np.array([tile.core.col, tile.core.row], dtype=np.float64)
    for ring in rings:
        try:
            points = np.asarray(ring, dtype=np.float64)[:, :2]
            part = shapely.make_valid(shapely.Polygon(points + offset))
        except (ValueError, TypeError, IndexError, shapely.errors.GEOSException) as exc:
            raise ModelError(f"{name}: vectorize() gave a bad ring ({one_line(exc)})") from exc
        shape = shapely.symmetric_difference(shape, part)
    parts = [g for g in shapely.get_parts(shape) if g.geom_type == "Polygon" and not g.is_empty]
    if len(parts) == 1:
        return parts[0]
    return shapely.MultiPolygon(parts) if parts else shapely.Polygon()


def _column(kind: str, values: list[Any], name: str) -> tuple[NDArray[Any], NDArray[np.bool_]]:
    """A column and its null mask; values that do not convert are the function's error."""
    missing = np.array([v is None for v in values], dtype=bool)
    try:
        if kind == "string":
            column = np.array(["" if v is None else str(v) for v in values], dtype=object)
        elif kind == "integer":
            column = np.array([0 if v is None else int(v) for v in values], dtype=np.int64)
        else:
            column = np.array([np.nan if v is None else float(v) for v in values])
    except (TypeError, ValueError) as exc:
        raise ModelError(f"field {name}: a value is not {kind} ({exc})") from exc
    return column, missing


def _to_map(polygons: list[shapely.Geometry], transform: Any) -> list[shapely.Geometry]:
    a, b, c, d, e, f = (float(v) for v in tuple(transform)[:6])

    def affine(points: NDArray[np.float64]) -> NDArray[np.float64]:
        cols, rows = points[:, 0], points[:, 1]
        return np.stack([a * cols + b * rows + c, d * cols + e * rows + f], axis=1)

    return [shapely.transform(p, affine) for p in polygons]


def output_features(result: Any, name: str) -> list[dict[str, Any]]:
    """The features of vectorize()'s output_vectors (JSON text or an already parsed dict)."""
    text = result.get("output_vectors") if isinstance(result, dict) else None
    if text is None:
        raise ModelError(f"{name}: vectorize() must return {{'output_vectors': JSON text}}")
    try:
        document = json.loads(text) if isinstance(text, str | bytes) else text
        features = document.get("features", [])
        if not isinstance(features, list) or not all(isinstance(f, dict) for f in features):
            raise TypeError("features must be a list of objects")
    except (ValueError, TypeError, AttributeError) as exc:
        raise ModelError(f"{name}: output_vectors is not a feature set ({exc})") from exc
    return features


def detect_with_function(
    opened: OpenedModel,
    request: TaskRequest,
) -> TaskReport:
    """detect-objects through vectorize; the output layer has the function's declared fields.
    With an `extent` and/or `aoi`, only blocks meeting that area go to the function and
    features whose centroid lies outside it are dropped."""
    started = time.perf_counter()
    with function_and_raster(opened, request) as (function, dataset, warnings):
        if function.has("getGeometryType"):
            kind = function.call("getGeometryType")
            if kind != POLYGON:
                raise ModelError(
                    f"{function.name}: getGeometryType() is {kind!r}; dlpk writes polygons (4)"
                )
        declared = fields_of(function)
        fields = {
            str(f["name"]): FIELD_KINDS.get(str(f.get("type")), "string")
            for f in declared
            if f.get("type") not in SKIPPED_FIELDS and str(f["name"]).lower() != "shape"
        }
        config, arguments = prepare_function(
            function, opened, dataset, request.arguments, request.device
        )
        planned = plan_blocks(int(dataset.height), int(dataset.width), config)
        tiles, area = planned_tiles(dataset, planned, request.extent, request.aoi)
        scale = rescaler(dataset, config.bands, config.data_range)
        polygons: list[shapely.Geometry] = []
        attributes: list[dict[str, Any]] = []
        outside = outside_area = 0
        request.progress("infer", 0, len(tiles))
        reads = read_ahead(tiles, lambda t: read_block(dataset, config.bands, t.read))
        for done, (tile, block) in enumerate(reads, start=1):
            result = function.call("vectorize", **_blocks(function, config, block, scale))
            for feature in output_features(result, function.name):
                polygon = _polygon(feature.get("geometry"), tile, function.name)
                if polygon.is_empty:
                    continue
                centre = shapely.centroid(polygon)
                core = tile.core
                if not (
                    core.col <= centre.x < core.col + core.width
                    and core.row <= centre.y < core.row + core.height
                ):
                    outside += 1  # the neighbouring block whose core holds it reports it
                    continue
                if (
                    area is not None
                    and not area.holds(np.array([centre.x]), np.array([centre.y]))[0]
                ):
                    outside_area += 1
                    continue
                polygons.append(polygon)
                found = feature.get("attributes") or {}
                attributes.append(found if isinstance(found, dict) else {})
            request.progress("infer", done, len(tiles))
        shapes = _to_map(polygons, dataset.transform)
        crs = dataset.crs.to_wkt() if dataset.crs else None
    columns: dict[str, NDArray[Any]] = {}
    nulls: dict[str, NDArray[np.bool_]] = {}
    for name, kind in fields.items():
        columns[name], nulls[name] = _column(kind, [a.get(name) for a in attributes], name)
    multi = any(s.geom_type != "Polygon" for s in shapes)
    if multi:
        shapes = [shapely.MultiPolygon([s]) if s.geom_type == "Polygon" else s for s in shapes]
    wkb = np.asarray(shapely.to_wkb(np.asarray(shapes, dtype=object)), dtype=object)
    request.progress("write", 0, 1)
    kind = "MultiPolygon" if multi else "Polygon"
    write_layer(request.output, wkb, kind, columns, crs, request.overwrite, nulls)
    request.progress("write", 1, 1)
    return function_summary(
        "detect-objects", request.output, len(tiles), dataset, started, request.device, arguments,
        {"detections": len(shapes), "outside_block": outside, "outside_area": outside_area},
        warnings,
    )  # fmt: skip
