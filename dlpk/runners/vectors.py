"""Label features: read with pyogrio, reprojected with pyproj, kept in raster pixel space.

Pixel space (column, row of the source raster) makes every per-chip step a translation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyogrio
import shapely
from pyproj import CRS, Transformer

from dlpk.errors import BadInputError
from dlpk.runners.raster import RasterInfo

DEFAULT_CLASS_FIELDS = ("value", "classvalue")


@dataclass(frozen=True)
class Features:
    """Label geometries in pixel space with their integer class values."""

    geoms: npt.NDArray[Any]  # shapely geometries
    values: npt.NDArray[np.int64]
    class_field: str | None


def is_vector(path: Path) -> bool:
    try:
        pyogrio.read_info(path)
    except Exception:  # any OGR failure means "not a vector dataset"
        return False
    return True


def _pick_field(fields: list[str], requested: str | None, path: Path) -> str | None:
    by_lower = {name.lower(): name for name in fields}
    if requested is not None:
        found = by_lower.get(requested.lower())
        if found is None:
            raise BadInputError(
                f"class field {requested!r} not found in {path}",
                hint=f"fields: {', '.join(fields) or 'none'}",
            )
        return found
    for name in DEFAULT_CLASS_FIELDS:
        if name in by_lower:
            return by_lower[name]
    return None


def read_features(
    path: Path, raster: RasterInfo, class_field: str | None, buffer_radius: float = 0.0
) -> Features:
    """Read, reproject to the raster CRS and convert to pixel space; checks overlap."""
    if not path.exists():
        raise BadInputError(f"labels not found: {path}")
    try:
        info = pyogrio.read_info(path)
    except Exception as exc:
        raise BadInputError(f"cannot read labels {path}: {exc}") from None
    if not info.get("crs"):
        raise BadInputError(f"labels {path} have no coordinate reference system")
    if raster.crs_wkt is None:
        raise BadInputError(f"raster {raster.path} has no coordinate reference system")
    field = _pick_field([str(f) for f in info["fields"]], class_field, path)
    _meta, _fids, wkb, field_data = pyogrio.raw.read(path, columns=[field] if field else [])
    geoms = shapely.from_wkb(wkb)
    keep = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    if field is not None:
        raw = np.asarray(field_data[0])
        try:
            as_float = raw.astype(np.float64)
        except (TypeError, ValueError):
            raise BadInputError(f"class field {field!r} in {path} is not numeric") from None
        keep &= ~np.isnan(as_float)
        if not np.all(as_float[keep] == np.round(as_float[keep])):
            raise BadInputError(f"class field {field!r} in {path} holds non-integer values")
        values = np.where(keep, as_float, 0).astype(np.int64)
    else:
        values = np.ones(len(geoms), dtype=np.int64)
    geoms, values = geoms[keep], values[keep]

    src_crs, dst_crs = CRS.from_user_input(info["crs"]), CRS.from_wkt(raster.crs_wkt)
    if src_crs != dst_crs:
        transformer = Transformer.from_crs(src_crs, dst_crs, always_xy=True)

        def reproject(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            x, y = transformer.transform(coords[:, 0], coords[:, 1])
            return np.column_stack([x, y])

        geoms = shapely.transform(geoms, reproject)
    if buffer_radius > 0:
        geoms = shapely.buffer(geoms, buffer_radius)
    inv = ~raster.transform

    def to_pixels(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        x, y = coords[:, 0], coords[:, 1]
        return np.column_stack([inv.a * x + inv.b * y + inv.c, inv.d * x + inv.e * y + inv.f])

    geoms = shapely.transform(geoms, to_pixels)
    extent = shapely.box(0, 0, raster.width, raster.height)
    if len(geoms) == 0 or not shapely.intersects(geoms, extent).any():
        raise BadInputError(f"labels {path} do not overlap the raster {raster.path}")
    return Features(geoms=geoms, values=values, class_field=field)


def features_in_window(
    features: Features,
    tree: shapely.STRtree,
    col_off: int,
    row_off: int,
    width: int,
    height: int,
    min_overlap: float = 0.0,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[Any]]:
    """Indices of features in a window and their parts inside it, in window pixel coordinates.

    A polygon is dropped when less than `min_overlap` of its area lies inside the window.
    """
    box = shapely.box(col_off, row_off, col_off + width, row_off + height)
    idx = np.sort(tree.query(box, predicate="intersects"))
    if idx.size == 0:
        return idx, np.empty(0, dtype=object)
    whole = features.geoms[idx]
    parts = shapely.intersection(whole, box)
    keep = ~shapely.is_empty(parts)
    if min_overlap > 0:
        area = shapely.area(whole)
        ratio = np.where(area > 0, shapely.area(parts) / np.where(area > 0, area, 1), 1.0)
        keep &= ratio >= min_overlap
    idx, parts = idx[keep], parts[keep]
    local = shapely.transform(parts, lambda c: c - np.array([col_off, row_off], dtype=np.float64))
    return idx, local
