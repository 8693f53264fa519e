"""Reading model-ready tiles from a raster: band selection, DataRange, normalisation, nodata,
edge fill.

Only the part of a tile that lies inside the raster is read (a windowed read), so memory stays
one batch of tiles whatever the raster size; GDAL's block cache makes the overlapping halos of
neighbouring tiles cheap. The rest of the tile is filled after normalisation: `zero` (default)
gives the model exactly what its own zero padding would see, so the tiled result equals a single
pass; `reflect` mirrors the raster into the missing part instead.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.windows import Window as RioWindow

from dlpk.errors import BadInputError, InputNotFoundError
from dlpk.remote import is_remote
from dlpk.runners.io.data_range import Rescale, rescaler
from dlpk.runners.io.windows import Window
from dlpk.spec.emd import EsriModelDefinition

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_BANDS = (0, 1, 2)
MIN_CACHE_BYTES = 64 * 1024**2
MAX_CACHE_BYTES = 512 * 1024**2


def resolve_bands(
    extract: Sequence[int | str] | str | None, count: int, names: list[str]
) -> list[int]:
    """0-based raster band indexes for ExtractBands (indexes or well-known names,
    docs/esri-formats.md#bands-and-normalisation)."""
    if extract is None or extract == "N/A":
        wanted: list[int | str] = list(DEFAULT_BANDS[: max(1, min(3, count))])
    else:
        wanted = list(extract)
    lowered = [name.lower() for name in names]
    resolved = []
    for band in wanted:
        if isinstance(band, str):
            if band.lower() not in lowered:
                known = ", ".join(n for n in names if n) or "none"
                raise BadInputError(
                    f"the model needs band {band!r}; the raster's bands are named: {known}"
                )
            resolved.append(lowered.index(band.lower()))
        elif band >= count:
            raise BadInputError(
                f"the model needs band index {band} (ExtractBands {list(wanted)}); "
                f"the raster has {count} band(s)"
            )
        else:
            resolved.append(band)
    return resolved


def _band_names(dataset: Any) -> list[str]:
    """Each band's description, else its colour interpretation (red, green, ...)."""
    names = []
    for description, interp in zip(dataset.descriptions, dataset.colorinterp, strict=True):
        names.append(description or interp.name.capitalize())
    return names


@dataclass(frozen=True)
class Normaliser:
    """Per-band affine steps applied in float32, in ArcGIS's order
    (docs/esri-formats.md#bands-and-normalisation)."""

    subtract: NDArray[np.float32]  # first (x - subtract) / divide
    divide: NDArray[np.float32]
    mean: NDArray[np.float32]  # then (x' - mean) / std
    std: NDArray[np.float32]

    def __call__(self, pixels: NDArray[np.float32]) -> NDArray[np.float32]:
        shape = (-1, 1, 1)
        out = (pixels - self.subtract.reshape(shape)) / self.divide.reshape(shape)
        return ((out - self.mean.reshape(shape)) / self.std.reshape(shape)).astype(np.float32)


def _f32(values: list[float]) -> NDArray[np.float32]:
    return np.asarray(values, dtype=np.float32)


def _pick(values: list[float | int | None] | None, bands: list[int], what: str) -> list[float]:
    if values is None:
        raise BadInputError(f"NormalizationStats has no {what}")
    try:
        picked = [values[b] for b in bands]
    except IndexError:
        raise BadInputError(
            f"NormalizationStats {what} covers {len(values)} bands; ExtractBands needs {bands}"
        ) from None
    if any(v is None for v in picked):
        raise BadInputError(f"NormalizationStats {what} is null for a band the model uses")
    return [float(v) for v in picked if v is not None]


def normaliser_for(emd: EsriModelDefinition, bands: list[int], dtype: str) -> Normaliser:
    """NormalizationStats if present, else ImageNet for 8-bit 3-band input, else raw values."""
    n = len(bands)
    zeros, ones = _f32([0.0] * n), _f32([1.0] * n)
    stats = emd.NormalizationStats
    if stats is not None and stats.band_min_values is not None:
        low = _pick(stats.band_min_values, bands, "band_min_values")
        high = _pick(stats.band_max_values, bands, "band_max_values")
        span = _f32([h - lo if h != lo else 1.0 for lo, h in zip(low, high, strict=True)])
        mean, std = zeros, ones
        if stats.scaled_mean_values is not None and stats.scaled_std_values is not None:
            mean = _f32(_pick(stats.scaled_mean_values, bands, "scaled_mean_values"))
            std = _f32(_pick(stats.scaled_std_values, bands, "scaled_std_values"))
        return Normaliser(_f32(low), span, mean, std)
    if stats is not None and stats.band_mean_values is not None:
        mean = _f32(_pick(stats.band_mean_values, bands, "band_mean_values"))
        std = _f32(_pick(stats.band_std_values, bands, "band_std_values"))
        return Normaliser(zeros, ones, mean, std)
    if n == 3 and dtype == "uint8" and emd.IsImageNetNormalization is not False:
        mean = _f32([255 * m for m in IMAGENET_MEAN])
        return Normaliser(zeros, ones, mean, _f32([255 * s for s in IMAGENET_STD]))
    return Normaliser(zeros, ones, zeros, ones)


def input_type_warnings(emd: EsriModelDefinition, bands: list[int], dtype: str) -> list[str]:
    """A model for 8-bit RGB normalised with ImageNet statistics (3 bands; no DataRange, no
    NormalizationStats, IsImageNetNormalization not false) given pixels of another type gets
    them unnormalised: say so, and how to give the model what it expects. `dtype` is what the
    normaliser sees (float32 after a DataRange rescale)."""
    stats = emd.NormalizationStats
    has_stats = stats is not None and (
        stats.band_min_values is not None or stats.band_mean_values is not None
    )
    expects_8_bit = len(bands) == 3 and not has_stats and emd.IsImageNetNormalization is not False
    if not expects_8_bit or emd.DataRange is not None or dtype == "uint8":
        return []
    return [
        f"the raster's pixels are {dtype}, but the model takes 3 bands of 8-bit pixels "
        "normalised with ImageNet statistics (its .emd has neither DataRange nor "
        "NormalizationStats): they reach it unnormalised; add NormalizationStats to the .emd "
        "(band_min_values and band_max_values of the raster's range, ImageNet's "
        "scaled_mean_values and scaled_std_values) or the DataRange the model was trained "
        'with, or convert the raster to 8 bits ("IsImageNetNormalization": false if the model '
        "takes raw values)"
    ]


@dataclass
class RasterSource:
    """An open raster delivering normalised tiles and their validity masks; `warnings` say
    what of the raster the model may not expect."""

    dataset: Any
    bands: list[int]
    normalise: Normaliser
    rescale: Rescale | None = None  # DataRange, applied before `normalise`
    warnings: list[str] = field(default_factory=list)

    @property
    def height(self) -> int:
        return int(self.dataset.height)

    @property
    def width(self) -> int:
        return int(self.dataset.width)

    def read_tile(
        self, window: Window, fill: str = "zero"
    ) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
        """The tile's model input [C, H, W] and where it holds real pixels [H, W]."""
        channels = len(self.bands)
        tile = np.zeros((channels, window.height, window.width), dtype=np.float32)
        valid = np.zeros((window.height, window.width), dtype=bool)
        inside = window.intersection(Window(0, 0, self.height, self.width))
        if inside is None:
            return tile, valid
        indexes = [b + 1 for b in self.bands]
        rio = RioWindow(inside.col, inside.row, inside.width, inside.height)
        raw = self.dataset.read(indexes, window=rio)
        scaled = self.rescale(raw) if self.rescale is not None else raw.astype(np.float32)
        pixels = self.normalise(scaled)
        masks = self.dataset.read_masks(indexes, window=rio)
        good = np.all(masks > 0, axis=0)
        pixels[:, ~good] = 0.0
        top, left = inside.row - window.row, inside.col - window.col
        if fill == "reflect":
            bottom = window.height - top - inside.height
            right = window.width - left - inside.width
            tile = np.pad(pixels, ((0, 0), (top, bottom), (left, right)), mode="reflect")
        else:
            tile[:, top : top + inside.height, left : left + inside.width] = pixels
        valid[top : top + inside.height, left : left + inside.width] = good
        return tile, valid


def cache_bytes(dataset: Any) -> int:
    """A block cache that holds three rows of blocks across the raster (a tile row and its
    halos, decoded once), but no more: a fixed size, so memory does not grow with the raster's
    height, and at least MIN_CACHE_BYTES, which small rasters fill as well as large ones."""
    block_rows = max(int(dataset.block_shapes[0][0]), 256)
    itemsize = max(np.dtype(d).itemsize for d in dataset.dtypes)
    row_band = 3 * block_rows * dataset.width * dataset.count * itemsize
    return int(min(max(MIN_CACHE_BYTES, row_band), MAX_CACHE_BYTES))


def _open(path: Path) -> Any:
    try:
        with warnings.catch_warnings():  # no CRS: the task says so in its own words
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            return rasterio.open(path)
    except RasterioIOError as exc:
        raise BadInputError(f"{path} is not a readable raster ({exc})") from exc


@contextlib.contextmanager
def open_raster(path: Path) -> Iterator[Any]:
    """Open `path` with a block cache sized so halos are decoded once (see `cache_bytes`)."""
    if not is_remote(path) and not path.exists():
        raise InputNotFoundError(f"{path}: no such file")
    with _open(path) as probe:
        size = cache_bytes(probe)
    with rasterio.Env(GDAL_CACHEMAX=size), _open(path) as dataset:
        yield dataset


@contextlib.contextmanager
def open_source(
    path: Path, emd: EsriModelDefinition, normalised: bool = True
) -> Iterator[RasterSource]:
    """The raster at `path` delivering the .emd's bands, rescaled to DataRange when the .emd
    has one, then normalised unless the model takes raw pixel values (TensorFlow's predefined
    configurations). ArcGIS rescales before the model's own code runs, so normalisation then
    sees float32 values: the ImageNet default for 8-bit RGB no longer applies."""
    with open_raster(path) as dataset:
        bands = resolve_bands(emd.ExtractBands, dataset.count, _band_names(dataset))
        rescale = rescaler(dataset, bands, emd.DataRange)
        dtype = "float32" if rescale is not None else str(dataset.dtypes[bands[0]])
        zeros, ones = np.zeros(len(bands), np.float32), np.ones(len(bands), np.float32)
        normalise = (
            normaliser_for(emd, bands, dtype)
            if normalised
            else Normaliser(zeros, ones, zeros, ones)
        )
        warned = input_type_warnings(emd, bands, dtype) if normalised else []
        yield RasterSource(dataset, bands, normalise, rescale, warned)


def read_block(
    dataset: Any, bands: list[int], window: Window
) -> tuple[NDArray[np.generic], NDArray[np.uint8]]:
    """Raw pixels [bands, H, W] in the raster's own type, and their mask (1 valid, 0 not);
    the part of `window` outside the raster is 0 and masked."""
    dtype = np.dtype(dataset.dtypes[bands[0]])
    pixels = np.zeros((len(bands), window.height, window.width), dtype=dtype)
    mask = np.zeros(pixels.shape, dtype=np.uint8)
    inside = window.intersection(Window(0, 0, int(dataset.height), int(dataset.width)))
    if inside is None:
        return pixels, mask
    indexes = [b + 1 for b in bands]
    rio = RioWindow(inside.col, inside.row, inside.width, inside.height)
    top, left = inside.row - window.row, inside.col - window.col
    rows, cols = slice(top, top + inside.height), slice(left, left + inside.width)
    pixels[:, rows, cols] = dataset.read(indexes, window=rio)
    mask[:, rows, cols] = dataset.read_masks(indexes, window=rio) > 0
    return pixels, mask
