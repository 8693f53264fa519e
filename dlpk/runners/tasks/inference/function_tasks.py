"""classify-pixels and detect-objects through a package's Python raster function.

dlpk plays ArcGIS: it plans blocks of ty x tx pixels (the cores, which partition the raster),
reads each with `padding` pixels more on every side from the same window plan and block cache
as the built-in tasks, and hands them to updatePixels (function_pixels.py) or vectorize (here)
one at a time, reading the next block while the function works on this one; detections then
go through the tool's own NMS, as ArcGIS's Detect Objects runs it (function_nms.py). A processing
extent or AOI limits the blocks and the output exactly as it does for the built-in tasks
(area.py).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from dlpk.errors import ModelError
from dlpk.runners.io.area import planned_tiles
from dlpk.runners.io.data_range import rescaler
from dlpk.runners.io.layers import write_layer
from dlpk.runners.io.raster_source import read_block
from dlpk.runners.io.windows import Tile
from dlpk.runners.models.base import one_line
from dlpk.runners.models.opened import OpenedModel
from dlpk.runners.models.raster_function import fields_of
from dlpk.runners.tasks.inference.common import TaskRequest
from dlpk.runners.tasks.inference.engine import read_ahead
from dlpk.runners.tasks.inference.function_host import (
    function_and_raster,
    function_summary,
    output_features,
    pixel_blocks,
    plan_blocks,
    prepare_function,
)
from dlpk.runners.tasks.inference.function_nms import split_arguments, suppress
from dlpk.runners.tasks.inference.function_pixels import classify_with_function
from dlpk.runners.tasks.report import TaskReport

__all__ = ["classify_with_function", "detect_with_function", "plan_blocks"]

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
        nms, given = split_arguments(request.arguments)
        prepared = prepare_function(function, opened, dataset, given, request.device)
        config = prepared.config
        planned = plan_blocks(int(dataset.height), int(dataset.width), config)
        tiles, area = planned_tiles(dataset, planned, request.extent, request.aoi)
        scale = rescaler(dataset, config.bands, config.data_range)
        polygons: list[shapely.Geometry] = []
        attributes: list[dict[str, Any]] = []
        outside = outside_area = 0
        request.progress("infer", 0, len(tiles))
        reads = read_ahead(tiles, lambda t: read_block(dataset, config.bands, t.read))
        for done, (tile, block) in enumerate(reads, start=1):
            blocks = pixel_blocks(prepared.raster, config, block, scale)
            result = function.call("vectorize", **blocks)
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
        kept = suppress(polygons, attributes, nms)
        suppressed = len(polygons) - len(kept)
        polygons, attributes = [polygons[i] for i in kept], [attributes[i] for i in kept]
        shapes = _to_map(polygons, dataset.transform)
        crs = dataset.crs.to_wkt() if dataset.crs else None
        warnings = [*warnings, *function.warnings_said()]
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
    counts = {
        "detections": len(shapes),
        "outside_block": outside,
        "outside_area": outside_area,
        "suppressed": suppressed,
    }
    return function_summary(
        request.output, len(tiles), dataset, started, request.device,
        prepared.arguments | nms.resolved(), counts, warnings,
    )  # fmt: skip
