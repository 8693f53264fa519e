"""The processing area: an extent and/or AOI polygons limiting where a model runs.

Large scenes are often needed only around a site; skipping tiles outside it saves the model's
time. Pixels are inside when their centre is (as ArcGIS's processing extent and mask do), so
outputs keep the input grid with nodata elsewhere. For classify-objects a feature is inside
when its geometry meets the area.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pyogrio.raw
import shapely
from affine import Affine
from numpy.typing import NDArray
from pyproj import CRS, Transformer
from rasterio.features import geometry_mask

from dlpk.errors import BadInputError, UsageError
from dlpk.runners.io.windows import Tile, Window


@dataclass(frozen=True)
class Area:
    """Polygons in the raster's CRS, with the raster's geotransform."""

    geometry: shapely.Geometry
    transform: Affine

    def mask(self, window: Window) -> NDArray[np.bool_]:
        """True where a pixel centre of `window` lies inside the area."""
        shifted = self.transform @ Affine.translation(window.col, window.row)
        return np.asarray(
            geometry_mask([self.geometry], (window.height, window.width), shifted, invert=True),
            dtype=bool,
        )

    def select(self, tiles: list[Tile]) -> list[Tile]:
        """The tiles whose core holds at least one pixel inside the area."""
        return [tile for tile in tiles if self.mask(tile.core).any()]

    def holds(self, cols: NDArray[np.float64], rows: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Which points, given in raster pixel coordinates, lie inside the area."""
        t = self.transform
        x, y = t.a * cols + t.b * rows + t.c, t.d * cols + t.e * rows + t.f
        return np.asarray(shapely.contains_xy(self.geometry, x, y), dtype=bool)


def _aoi_polygons(path: Path, crs_wkt: str | None) -> shapely.Geometry:
    if not path.exists():
        raise BadInputError(f"AOI not found: {path}")
    try:
        meta, _fids, wkb, _fields = pyogrio.raw.read(path, columns=[])
    except Exception as exc:  # any OGR failure: the file is not a readable layer
        raise BadInputError(f"cannot read AOI {path}: {exc}") from None
    if not meta.get("crs"):
        raise BadInputError(f"AOI {path} has no coordinate reference system")
    if crs_wkt is None:
        raise BadInputError("the raster has no coordinate reference system; --aoi needs one")
    geoms = shapely.from_wkb(wkb)
    kinds = shapely.get_type_id(geoms)
    polygons = geoms[(kinds == 3) | (kinds == 6)]  # Polygon, MultiPolygon
    if len(polygons) == 0:
        raise BadInputError(f"AOI {path} holds no polygons")
    source, target = CRS.from_user_input(meta["crs"]), CRS.from_wkt(crs_wkt)
    if source != target:
        transformer = Transformer.from_crs(source, target, always_xy=True)

        def reproject(coords: NDArray[np.float64]) -> NDArray[np.float64]:
            x, y = transformer.transform(coords[:, 0], coords[:, 1])
            return np.column_stack([x, y])

        polygons = shapely.transform(polygons, reproject)
    return shapely.union_all(shapely.make_valid(polygons))


def processing_area(dataset: Any, extent: list[float] | None, aoi: Path | None) -> Area | None:
    """The area to process in `dataset` (a rasterio dataset), or None for the whole raster."""
    if extent is None and aoi is None:
        return None
    parts: list[shapely.Geometry] = []
    if extent is not None:
        if len(extent) != 4 or not (extent[0] < extent[2] and extent[1] < extent[3]):
            raise UsageError(
                f"extent {extent}: expected XMIN YMIN XMAX YMAX with XMIN < XMAX, YMIN < YMAX"
            )
        parts.append(shapely.box(*extent))
    if aoi is not None:
        parts.append(_aoi_polygons(aoi, dataset.crs.to_wkt() if dataset.crs else None))
    geometry = shapely.intersection_all(parts) if len(parts) > 1 else parts[0]
    return Area(geometry, dataset.transform)


def no_overlap() -> BadInputError:
    """The error for an extent or AOI that covers no pixel centre of the raster."""
    return BadInputError(
        "the extent/AOI covers no pixel of the raster",
        "give it in the raster's CRS (--extent) or check the AOI's location",
    )


def features_in_area(
    dataset: Any, geometries: NDArray[np.object_], extent: list[float] | None, aoi: Path | None
) -> NDArray[np.intp]:
    """The numbers of the features (shapely geometries in the raster's CRS) meeting the
    processing area, all of them without one; an area missing the raster is refused as it is
    for the tiles."""
    area = processing_area(dataset, extent, aoi)
    if area is None:
        return np.arange(len(geometries))
    height, width = int(dataset.height), int(dataset.width)
    corners = [(0, 0), (width, 0), (width, height), (0, height)]
    footprint = shapely.Polygon([area.transform @ corner for corner in corners])
    if not shapely.intersects(area.geometry, footprint):
        raise no_overlap()
    return np.flatnonzero(shapely.intersects(geometries, area.geometry))


def planned_tiles(
    dataset: Any, tiles: list[Tile], extent: list[float] | None, aoi: Path | None
) -> tuple[list[Tile], Area | None]:
    """The tiles meeting the processing area (all of them without one), and that area."""
    area = processing_area(dataset, extent, aoi)
    if area is None:
        return tiles, None
    selected = area.select(tiles)
    if not selected:
        raise no_overlap()
    return selected, area
