"""Features for classify-objects' checks: boxes on valid pixels, one on nodata, one across the
raster's edge, in the test raster's CRS."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dlpk.conformance.synthetic import Geometry, TestRaster

#: What each test feature is, by its index in the layer.
ON_NODATA, ACROSS_EDGE = "on_nodata", "across_edge"


def feature_boxes(raster: TestRaster, geometry: Geometry) -> list[tuple[str, tuple[int, ...]]]:
    """(role, (row, col, height, width)) of each test feature, in pixels."""
    side = max(4, min(geometry.tile_height, geometry.tile_width) // 3)
    boxes: list[tuple[str, tuple[int, ...]]] = []
    box = raster.nodata_box
    for row in (side, raster.height // 2):
        for col in (side, raster.width // 3, 2 * raster.width // 3):
            window = (row, col, side, side)
            if not _meets(window, (box.row, box.col, box.height, box.width)):
                boxes.append(("valid", window))
    inner = max(2, min(box.height, box.width) // 2)
    boxes.append(
        (
            ON_NODATA,
            (box.row + (box.height - inner) // 2, box.col + (box.width - inner) // 2, inner, inner),
        )
    )
    boxes.append((ACROSS_EDGE, (raster.height // 2, raster.width - side // 2, side, side)))
    return boxes


def _meets(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def write_test_features(path: Path, raster: TestRaster, geometry: Geometry) -> Path:
    import pyogrio
    import shapely

    polygons = []
    roles = []
    for role, (row, col, height, width) in feature_boxes(raster, geometry):
        x1, y1 = raster.transform @ (col, row)
        x2, y2 = raster.transform @ (col + width, row + height)
        polygons.append(shapely.box(min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)))
        roles.append(role)
    crs = raster.crs.to_wkt() if hasattr(raster.crs, "to_wkt") else raster.crs
    pyogrio.raw.write(
        path,
        np.array(shapely.to_wkb(np.array(polygons, dtype=object)), dtype=object),
        [np.array(roles, dtype=object)],
        ["role"],
        driver="GeoJSON",
        crs=str(crs) if crs is not None else None,
        geometry_type="Polygon",
    )
    return path
