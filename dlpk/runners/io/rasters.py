"""Raster input through rasterio: checked once up front, then read only window by window."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from affine import Affine
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window as RioWindow

from dlpk.errors import BadInputError
from dlpk.remote import is_remote
from dlpk.runners.io.windows import Window

_COLOR_NAMES = {"red": "Red", "green": "Green", "blue": "Blue", "alpha": "Alpha", "gray": "Gray"}


@dataclass(frozen=True)
class RasterInfo:
    """What the export needs to know about the source raster, picklable for workers."""

    path: str
    width: int
    height: int
    count: int
    dtype: str
    crs_wkt: str | None
    transform: Affine
    nodata: float | None
    band_names: tuple[str, ...]

    @property
    def cell_area(self) -> float:
        return abs(self.transform.a * self.transform.e - self.transform.b * self.transform.d)


def open_raster_info(path: Path) -> RasterInfo:
    """Check the raster can be opened; raise BadInputError with a one-line reason if not."""
    if not is_remote(path) and not path.exists():
        raise BadInputError(f"raster not found: {path}")
    try:
        with rasterio.open(path) as src:
            return raster_info(src, path)
    except rasterio.errors.RasterioIOError as exc:
        raise BadInputError(f"cannot read raster {path}: {exc}") from None


def raster_info(src: Any, path: Path) -> RasterInfo:
    """The RasterInfo of an open dataset; a raster mixing band types is refused."""
    dtypes = set(src.dtypes)
    if len(dtypes) != 1:
        raise BadInputError(f"raster {path} mixes band data types {sorted(dtypes)}")
    names = []
    for i, interp in enumerate(src.colorinterp, start=1):
        desc = src.descriptions[i - 1]
        names.append(desc or _COLOR_NAMES.get(interp.name, f"Band_{i}"))
    return RasterInfo(
        path=str(path),
        width=src.width,
        height=src.height,
        count=src.count,
        dtype=src.dtypes[0],
        crs_wkt=src.crs.to_wkt() if src.crs else None,
        transform=src.transform,
        nodata=src.nodata,
        band_names=tuple(names),
    )


def read_chip(src: Any, window: Window, band_count: int) -> tuple[npt.NDArray[Any], int, int]:
    """Read `window`, zero-filling any part past the raster edge.

    Returns the (bands, rows, cols) array and the height and width of the part inside the raster
    (the padded remainder is never counted in statistics).
    """
    c0 = max(window.col, 0)
    r0 = max(window.row, 0)
    c1 = min(window.col + window.width, src.width)
    r1 = min(window.row + window.height, src.height)
    inner = RioWindow(c0, r0, c1 - c0, r1 - r0)
    if Window(r0, c0, r1 - r0, c1 - c0) == window:
        return src.read(window=inner), r1 - r0, c1 - c0
    out = np.zeros((band_count, window.height, window.width), dtype=src.dtypes[0])
    if c1 > c0 and r1 > r0:
        out[:, r0 - window.row : r1 - window.row, c0 - window.col : c1 - window.col] = src.read(
            window=inner
        )
    return out, r1 - r0, c1 - c0


def window_transform(transform: Affine, window: Window) -> Affine:
    return transform @ Affine.translation(window.col, window.row)


def open_on_grid(path: str, raster: RasterInfo) -> Any:
    """Another raster on the image's grid (warped with nearest neighbour if it differs), so a
    class raster keeps its values and a second image lines up pixel for pixel."""
    src = rasterio.open(path)
    same = (
        src.crs is not None
        and raster.crs_wkt is not None
        and src.crs == rasterio.crs.CRS.from_wkt(raster.crs_wkt)
        and src.transform == raster.transform
        and (src.width, src.height) == (raster.width, raster.height)
    )
    if same:
        return src
    return WarpedVRT(
        src,
        crs=raster.crs_wkt,
        transform=raster.transform,
        width=raster.width,
        height=raster.height,
        resampling=rasterio.enums.Resampling.nearest,
        nodata=src.nodata if src.nodata is not None else 0,
    )
