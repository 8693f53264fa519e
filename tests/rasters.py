"""Tiny seeded rasters (real CRS and transforms) and label files in another CRS, for tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyogrio
import rasterio
import shapely
from affine import Affine
from pyproj import Transformer
from rasterio.transform import from_origin

RASTER_CRS = "EPSG:32633"
TRANSFORM = from_origin(500_000.0, 5_000_000.0, 0.5, 0.5)
WIDTH, HEIGHT = 320, 240


def write_raster(
    path: Path,
    data: npt.NDArray[np.generic],
    transform: Affine | None = TRANSFORM,
    crs: str | None = RASTER_CRS,
    nodata: float | None = None,
    descriptions: Sequence[str] | None = None,
    tiled: bool = True,
) -> Path:
    """The one test GeoTIFF writer: `data` [bands, rows, cols] with an explicit profile (64 px
    blocks unless `tiled` is False; no geotransform at all when `transform` is None)."""
    count, height, width = data.shape
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": count,
        "dtype": data.dtype.name,
        "crs": crs,
        "nodata": nodata,
    }
    if transform is not None:
        profile["transform"] = transform
    if tiled:
        profile.update(tiled=True, blockxsize=64, blockysize=64)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        for index, text in enumerate(descriptions or []):
            dst.set_band_description(index + 1, text)
    return path


def pixel_box(col: float, row: float, width: float, height: float) -> shapely.Polygon:
    """A box given in raster pixels, returned in raster map coordinates."""
    x0, y0 = TRANSFORM @ (col, row)
    x1, y1 = TRANSFORM @ (col + width, row + height)
    return shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def write_features(
    path: Path,
    geoms_map: Sequence[shapely.Geometry],
    values: Sequence[int] | None,
    field: str = "Classvalue",
    crs: str | None = "EPSG:4326",
    driver: str = "GPKG",
    geometry_type: str = "Polygon",
) -> Path:
    """Write features given in the raster CRS, reprojected to `crs` (None: no CRS at all)."""
    geoms = np.array(geoms_map, dtype=object)
    if crs is not None:
        tr = Transformer.from_crs(RASTER_CRS, crs, always_xy=True)
        geoms = shapely.transform(
            geoms, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))
        )
    fields = [np.asarray(values, dtype=np.int32)] if values is not None else []
    names = [field] if values is not None else []
    pyogrio.raw.write(
        path,
        np.array(shapely.to_wkb(geoms), dtype=object),
        fields,
        names,
        driver=driver,
        crs=crs,
        geometry_type=geometry_type,
    )
    return path


def read_map_geoms(path: Path) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.int64]]:
    """Read label features back and reproject them to the raster CRS (the test's own path)."""
    meta, _, wkb, fields = pyogrio.raw.read(path)
    geoms = shapely.from_wkb(wkb)
    tr = Transformer.from_crs(meta["crs"], RASTER_CRS, always_xy=True)
    geoms = shapely.transform(geoms, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    values = np.asarray(fields[0], dtype=np.int64) if fields else np.ones(len(geoms), np.int64)
    return geoms, values
