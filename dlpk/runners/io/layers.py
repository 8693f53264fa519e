"""Polygon layers through pyogrio, format by extension, published atomically.

The layer is written into a fresh hidden folder beside the target and moved into place when
complete; a Shapefile's side files move before its .shp, a File Geodatabase folder is swapped
whole. A half-written layer never carries the final name.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pyogrio.raw
import shapely
from numpy.typing import NDArray

from dlpk.errors import OutputExistsError
from dlpk.runners.io.outputs import DRIVERS

REPRODUCIBLE_DATE = "2000-01-01T00:00:00.000Z"


def pixel_boxes_to_polygons(boxes: NDArray[np.float64], transform: Any) -> NDArray[np.object_]:
    """Polygons in map coordinates from [M, 4] x1, y1, x2, y2 boxes in raster pixel-edge space."""
    x1, y1, x2, y2 = (boxes[:, i] for i in range(4))
    cols = np.stack([x1, x2, x2, x1, x1], axis=1)
    rows = np.stack([y1, y1, y2, y2, y1], axis=1)
    a, b, c, d, e, f = (float(v) for v in tuple(transform)[:6])
    coords = np.stack([a * cols + b * rows + c, d * cols + e * rows + f], axis=2)
    return np.asarray(shapely.polygons(coords), dtype=object)


def _publish(written: Path, target: Path, overwrite: bool) -> None:
    if target.suffix.lower() == ".shp":
        parts = sorted(written.parent.glob(f"{written.stem}.*"), key=lambda p: p.suffix == ".shp")
        for stale in target.parent.glob(f"{target.stem}.*"):
            if overwrite and stale.suffix.lower() in (".shx", ".dbf", ".prj", ".cpg", ".qix"):
                stale.unlink()
        for part in parts:
            os.replace(part, target.with_suffix(part.suffix))
        return
    if written.is_dir():
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            os.replace(target, old)
            os.replace(written, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(written, target)
        return
    os.replace(written, target)


def write_polygons(
    target: Path,
    polygons: NDArray[np.object_],
    fields: dict[str, NDArray[Any]],
    crs_wkt: str | None,
    overwrite: bool = False,
) -> None:
    """Write one polygon layer named after the file, with `fields` as attribute columns."""
    wkb = np.asarray(shapely.to_wkb(polygons), dtype=object)
    write_layer(target, wkb, "Polygon", fields, crs_wkt, overwrite)


def write_layer(
    target: Path,
    wkb: NDArray[np.object_],
    geometry_type: str,
    fields: dict[str, NDArray[Any]],
    crs_wkt: str | None,
    overwrite: bool = False,
    nulls: dict[str, NDArray[np.bool_]] | None = None,
) -> None:
    """Write one layer of WKB geometries named after the file, `fields` as attribute columns
    (`nulls`: where a column's value is null)."""
    if target.exists() and not overwrite:
        raise OutputExistsError(f"{target} already exists", "pass --overwrite to replace it")
    driver = DRIVERS[target.suffix.lower()]
    target.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    # A fixed modification date (GeoPackage records one): the same job gives the same bytes.
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": REPRODUCIBLE_DATE})
    try:
        written = folder / target.name
        with warnings.catch_warnings():
            # a layer in pixel space has no CRS on purpose; the task already warned about it
            warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)
            pyogrio.raw.write(
                str(written),
                geometry=wkb,
                field_data=list(fields.values()),
                fields=list(fields),
                field_mask=[(nulls or {}).get(name) for name in fields] if nulls else None,
                layer=target.stem,
                driver=driver,
                geometry_type=geometry_type,
                crs=crs_wkt,
            )
        _publish(written, target, overwrite)
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})
        shutil.rmtree(folder, ignore_errors=True)
