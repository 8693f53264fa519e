"""Web Mercator PNG tiles of a raster: imagery as stretched RGB, classes in their colours,
transparent outside the raster, at nodata and (classes) at values that are no class.

Each tile is warped by GDAL (a WarpedVRT onto the tile's own 256 x 256 grid, with an alpha band
that marks what the source covers and is neither nodata nor masked, or the source's own alpha
band warped), from the overview nearest the tile's
resolution so a zoomed-out tile does not read the full-resolution raster. Imagery is resampled
bilinearly; classes by nearest neighbour, never mixing two Values. Encoded tiles are kept in a
bounded cache: a job's rasters do not change once written, and a rewritten file has a new key.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import rasterio.warp
from numpy.typing import NDArray
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile
from rasterio.vrt import WarpedVRT

from dlpk.serve.page.datasets import DatasetCache, LruCache
from dlpk.serve.page.grid import TILE_SIZE, Bounds, tile_bounds, tile_transform
from dlpk.serve.page.raster_layers import MERCATOR, RasterInfo

#: Encoded tiles kept; at a few kB each this is tens of MB at most.
TILE_CACHE_SIZE = 4096


def encode_png(rgba: NDArray[np.uint8]) -> bytes:
    """A 4-band uint8 array [4, rows, cols] as PNG bytes (GDAL's PNG driver)."""
    _, rows, cols = rgba.shape
    with warnings.catch_warnings(), MemoryFile() as memory:
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a tile needs none
        with memory.open(driver="PNG", width=cols, height=rows, count=4, dtype="uint8") as png:
            png.write(rgba)
        return bytes(memory.read())


EMPTY_TILE = encode_png(np.zeros((4, TILE_SIZE, TILE_SIZE), np.uint8))


def _overlaps(a: Bounds, b: Bounds) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def overview_level(info: RasterInfo, tile: Bounds) -> int | None:
    """The index of the coarsest overview still at least as fine as the tile's pixels (None:
    the full-resolution raster)."""
    if not info.overviews:
        return None
    west, _, east, _ = rasterio.warp.transform_bounds(MERCATOR, info.crs, *tile)
    decimation = abs(east - west) / TILE_SIZE / info.resolution
    usable = [i for i, factor in enumerate(info.overviews) if factor <= decimation]
    return usable[-1] if usable else None


def style_imagery(info: RasterInfo, data: NDArray[Any], alpha: NDArray[Any]) -> NDArray[np.uint8]:
    """Stretched bands as RGBA (one band repeated as grey)."""
    rgba = np.zeros((4, *alpha.shape), np.uint8)
    for index, (band, (low, high)) in enumerate(zip(data, info.stretch, strict=True)):
        scaled = (band.astype(np.float64) - low) * (255.0 / (high - low))
        rgba[index] = np.clip(np.nan_to_num(scaled), 0, 255).astype(np.uint8)
    if len(info.bands) == 1:
        rgba[1] = rgba[2] = rgba[0]
    rgba[3] = np.where(alpha > 0, 255, 0)
    return rgba


def style_classes(info: RasterInfo, values: NDArray[Any], alpha: NDArray[Any]) -> NDArray[np.uint8]:
    """Class Values in their colours; any other value transparent."""
    known = np.array(sorted(info.colours), dtype=np.int64)
    palette = np.array([info.colours[int(v)] for v in known], dtype=np.uint8).reshape(-1, 4)
    flat = values.astype(np.int64).ravel()
    rgba = np.zeros((flat.size, 4), np.uint8)
    if known.size:
        where = np.clip(np.searchsorted(known, flat), 0, known.size - 1)
        hit = (known[where] == flat) & (alpha.ravel() > 0)
        rgba[hit] = palette[where[hit]]
    return np.ascontiguousarray(rgba.T.reshape(4, *values.shape))


def render_tile(datasets: DatasetCache, info: RasterInfo, z: int, x: int, y: int) -> bytes:
    """The PNG of tile z/x/y of the raster `info` describes."""
    bounds = tile_bounds(z, x, y)
    if not _overlaps(bounds, info.mercator):
        return EMPTY_TILE
    level = overview_level(info, bounds)
    classes = info.kind == "classes"
    with (
        datasets.dataset(info.key, level) as dataset,
        WarpedVRT(
            dataset,
            crs=MERCATOR,
            transform=tile_transform(z, x, y),
            width=TILE_SIZE,
            height=TILE_SIZE,
            resampling=Resampling.nearest if classes else Resampling.bilinear,
            add_alpha=info.alpha is None,  # GDAL warps a source's own alpha band as alpha
        ) as warped,
    ):
        bands = [1] if classes else list(info.bands)
        data = warped.read(bands)
        alpha = warped.read(info.alpha or warped.count)
    if not alpha.any():
        return EMPTY_TILE
    rgba = style_classes(info, data[0], alpha) if classes else style_imagery(info, data, alpha)
    return encode_png(rgba)


class TileRenderer:
    """Tiles by (file, z, x, y), rendered once and kept."""

    def __init__(self, datasets: DatasetCache, capacity: int = TILE_CACHE_SIZE) -> None:
        self.datasets = datasets
        self._tiles: LruCache[bytes] = LruCache(capacity)

    def tile(self, info: RasterInfo, z: int, x: int, y: int) -> bytes:
        key = (info.key, z, x, y)
        found = self._tiles.get(key)
        if found is None:
            found = self._tiles.put(key, render_tile(self.datasets, info, z, x, y))
        return found
