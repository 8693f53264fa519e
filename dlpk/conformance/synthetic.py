"""Test rasters built from what the .emd declares: its bands, pixel type, value range and tile.

The raster is a few tile cores on each side, not a whole number of them (partial edge tiles),
with a nodata rectangle lying across a tile seam. Pixels are smooth seeded fields plus noise,
so a classifier's classes vary over it. A user's sample raster gives the pixels instead: its
top-left window of the same size, with the same nodata rectangle burnt in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.transform import from_origin
from rasterio.windows import Window as RioWindow

from dlpk.errors import UsageError
from dlpk.runners.io.windows import Window
from dlpk.spec.emd import EsriModelDefinition

CRS = "EPSG:32633"
TRANSFORM = from_origin(500_000.0, 4_000_000.0, 1.0, 1.0)
SEED = 20261201


@dataclass(frozen=True)
class Geometry:
    """The tile plan the checks reason about: tile, padding per side, and the core it leaves."""

    tile_height: int
    tile_width: int
    padding: int

    @property
    def core_height(self) -> int:
        return self.tile_height - 2 * self.padding

    @property
    def core_width(self) -> int:
        return self.tile_width - 2 * self.padding

    def seams(self, height: int, width: int) -> tuple[list[int], list[int]]:
        """Rows and columns where one tile's core meets the next (inside the raster)."""
        rows = list(range(self.core_height, height, self.core_height))
        cols = list(range(self.core_width, width, self.core_width))
        return rows, cols


@dataclass(frozen=True)
class TestRaster:
    """A raster the checks run on, and where its nodata rectangle is."""

    path: Path
    height: int
    width: int
    nodata_box: Window
    nodata: float
    dtype: str
    bands: int
    transform: Any
    crs: Any


def raster_size(geometry: Geometry, cores: tuple[float, float] = (2.5, 3.3)) -> tuple[int, int]:
    """A few cores a side and never a whole number of them, so the edge tiles are partial."""
    height = int(cores[0] * geometry.core_height) + 3
    width = int(cores[1] * geometry.core_width) + 5
    return max(height, geometry.tile_height + 3), max(width, geometry.tile_width + 5)


def chip_box(geometry: Geometry) -> Window:
    """For object classifiers: a nodata square twice a chip a side, so a chip centred in it
    holds no valid pixel."""
    return Window(
        geometry.tile_height // 2,
        geometry.tile_width,
        2 * geometry.tile_height,
        2 * geometry.tile_width,
    )


def nodata_box(geometry: Geometry, height: int, width: int) -> Window:
    """Half a core square, lying across the first horizontal seam and a vertical one."""
    core_h, core_w = geometry.core_height, geometry.core_width
    rows = max(2, core_h // 2)
    cols = max(2, core_w // 2)
    row = min(max(0, core_h - rows // 2), max(0, height - rows))
    col = min(max(0, int(1.7 * core_w)), max(0, width - cols))
    return Window(row, col, min(rows, height), min(cols, width))


def band_layout(emd: EsriModelDefinition) -> tuple[int, list[str]]:
    """How many bands the raster needs for ExtractBands, and their names (for named bands)."""
    extract = emd.ExtractBands
    if extract is None or extract == "N/A":
        return 3, []
    if all(isinstance(b, str) for b in extract):
        return len(extract), [str(b) for b in extract]
    return max(int(b) for b in extract) + 1, []


def pixel_type(emd: EsriModelDefinition, raw: bool) -> tuple[str, list[tuple[float, float]]]:
    """The pixel type and each band's value range the model expects: NormalizationStats'
    band ranges, a 12-bit range for a DataRange model (rescaled to it by the runner), else 8-bit
    pixels (ImageNet normalisation for three bands; raw values for TensorFlow's configurations)."""
    count, _ = band_layout(emd)
    stats = emd.NormalizationStats
    if not raw and stats is not None and stats.band_min_values and stats.band_max_values:
        low = [float(v or 0) for v in stats.band_min_values]
        high = [float(v or 0) for v in stats.band_max_values]
        ranges = [(low[i % len(low)], high[i % len(high)]) for i in range(count)]
        whole = all(float(v).is_integer() for pair in ranges for v in pair)
        top = max(h for _, h in ranges)
        lowest = min(lo for lo, _ in ranges)
        if whole and lowest >= 0 and top < 255:
            return "uint8", ranges
        if whole and lowest >= 0 and top < 65535:
            return "uint16", ranges
        return "float32", ranges
    if not raw and emd.DataRange is not None:
        return "uint16", [(0.0, 4095.0)] * count
    return "uint8", [(0.0, 254.0)] * count


def nodata_value(dtype: str) -> float:
    """A value no synthetic pixel takes: the type's largest, or -9999 for floats."""
    if dtype == "float32":
        return -9999.0
    return float(np.iinfo(np.dtype(dtype)).max)


def fields(height: int, width: int, bands: int, seed: int = SEED) -> NDArray[np.float64]:
    """Smooth seeded fields in 0..1 [bands, rows, cols]: a few waves each, plus noise."""
    rng = np.random.default_rng(seed)
    rows = np.arange(height, dtype=np.float64)[:, None]
    cols = np.arange(width, dtype=np.float64)[None, :]
    out = np.empty((bands, height, width))
    for band in range(bands):
        total = np.zeros((height, width))
        for _ in range(4):
            fy, fx = rng.uniform(1 / 96, 1 / 12, 2) * rng.choice([-1, 1], 2)
            total += np.sin(2 * np.pi * (fy * rows + fx * cols) + rng.uniform(0, 2 * np.pi))
        total += rng.normal(0, 0.6, (height, width))
        low, high = total.min(), total.max()
        out[band] = (total - low) / (high - low if high > low else 1.0)
    return out


def write_synthetic(
    path: Path,
    emd: EsriModelDefinition,
    geometry: Geometry,
    raw: bool,
    size: tuple[int, int],
    box: Window | None = None,
) -> TestRaster:
    """The .emd's synthetic raster at `path` (its nodata rectangle `box`, by default half a
    core lying across seams)."""
    height, width = size
    count, names = band_layout(emd)
    dtype, ranges = pixel_type(emd, raw)
    unit = fields(height, width, count)
    data = np.empty((count, height, width), dtype=dtype)
    for band, (low, high) in enumerate(ranges):
        values = low + unit[band] * (high - low)
        data[band] = np.round(values) if dtype != "float32" else values
    box = box or nodata_box(geometry, height, width)
    nodata = nodata_value(dtype)
    data[:, box.row : box.row + box.height, box.col : box.col + box.width] = nodata
    _write(path, data, nodata, TRANSFORM, CRS, names)
    return TestRaster(path, height, width, box, nodata, dtype, count, TRANSFORM, CRS)


def from_sample(
    path: Path,
    sample: Path,
    geometry: Geometry,
    size: tuple[int, int],
    box: Window | None = None,
) -> TestRaster:
    """The top-left window of `sample` (at most `size`), with the nodata rectangle burnt in:
    the user's own pixels, bands, type, CRS and nodata value."""
    try:
        dataset = rasterio.open(sample)
    except rasterio.errors.RasterioIOError as exc:
        raise UsageError(f"--raster {sample} is not a readable raster ({exc})") from None
    with dataset:
        height, width = min(size[0], dataset.height), min(size[1], dataset.width)
        if height < geometry.tile_height or width < geometry.tile_width:
            raise UsageError(
                f"--raster {sample} is {dataset.height}x{dataset.width} px; the checks need "
                f"at least one tile ({geometry.tile_height}x{geometry.tile_width})",
                "pass a larger sample, or none to use a synthetic raster",
            )
        window = RioWindow(0, 0, width, height)
        data = dataset.read(window=window)
        dtype = str(data.dtype)
        nodata = dataset.nodata if dataset.nodata is not None else nodata_value(_kind(dtype))
        names = [d or "" for d in dataset.descriptions]
        transform, crs = dataset.window_transform(window), dataset.crs
    if dtype not in ("uint8", "uint16", "int16", "uint32", "int32", "float32", "float64"):
        data, dtype = data.astype(np.float32), "float32"
    box = box or nodata_box(geometry, height, width)
    data[:, box.row : box.row + box.height, box.col : box.col + box.width] = nodata
    _write(path, data, float(nodata), transform, crs, names if any(names) else [])
    return TestRaster(path, height, width, box, float(nodata), dtype, data.shape[0], transform, crs)


def _kind(dtype: str) -> str:
    return "float32" if np.dtype(dtype).kind == "f" else dtype


def shifted(source: TestRaster, path: Path, rows: int, cols: int) -> TestRaster:
    """`source` moved `rows` up and `cols` left (negative: down and right, the new pixels
    nodata): its content meets another tile plan. The grid follows, so map coordinates keep
    naming the same ground."""
    with rasterio.open(source.path) as dataset:
        window = RioWindow(cols, rows, source.width - cols, source.height - rows)
        data = dataset.read(window=window, boundless=True, fill_value=source.nodata)
        transform = dataset.window_transform(window)
        names = [d or "" for d in dataset.descriptions]
    box = source.nodata_box
    moved = Window(box.row - rows, box.col - cols, box.height, box.width)
    _write(path, data, source.nodata, transform, source.crs, names if any(names) else [])
    return TestRaster(
        path,
        data.shape[1],
        data.shape[2],
        moved,
        source.nodata,
        source.dtype,
        source.bands,
        transform,
        source.crs,
    )


def _write(
    path: Path, data: NDArray[Any], nodata: float, transform: Any, crs: Any, names: list[str]
) -> None:
    count, height, width = data.shape
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": count,
        "dtype": str(data.dtype),
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        for index, name in enumerate(names):
            if name:
                dst.set_band_description(index + 1, name)
