"""What the map needs to know of a raster before drawing it: imagery or classes, which bands,
the stretch, the class colours and legend, where it lies (lon/lat and Web Mercator) and the
zooms worth asking for. Worked out once per file and kept (`describe_raster`).

A single-band integer raster with a colour map or an attribute table is drawn as classes (the
classified raster a job writes); any other is imagery: its red, green and blue bands (by colour
interpretation, else the first three; one band is drawn grey), each stretched from its 2nd to
its 98th percentile as ArcGIS's default percent-clip stretch does, from a decimated read.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import rasterio.warp
from numpy.typing import NDArray
from rasterio.enums import ColorInterp

from dlpk.serve.page.datasets import DatasetCache, FileKey, LruCache, file_key
from dlpk.serve.page.grid import Bounds, zoom_range
from dlpk.serve.page.legend import LegendEntry, legend_of, read_band_notes

MERCATOR = "EPSG:3857"
LONLAT = "EPSG:4326"
#: Web Mercator's latitude limit: a raster reaching past it is drawn up to it.
MAX_LATITUDE = 85.05112878
#: The long side of the decimated read that the stretch is computed from.
STATISTICS_SIZE = 1024
STRETCH_PERCENTILES = (2.0, 98.0)

Kind = Literal["imagery", "classes"]
Rgba = tuple[int, int, int, int]


class LayerUnavailable(Exception):
    """This raster cannot be drawn on the map; the message says why."""


@dataclass(frozen=True)
class RasterInfo:
    key: FileKey
    kind: Kind
    bands: tuple[int, ...]
    #: the source's own alpha band (1-based), whose warp marks what is drawn; else None
    alpha: int | None
    stretch: tuple[tuple[float, float], ...]
    legend: tuple[LegendEntry, ...]
    #: class Value -> RGBA for the classes drawn (classes only)
    colours: dict[int, Rgba]
    lonlat: Bounds
    mercator: Bounds
    #: overview decimation factors, finest first
    overviews: tuple[int, ...]
    crs: str  # the source's, as WKT
    resolution: float  # source pixel size in its own CRS units
    minzoom: int
    maxzoom: int

    def legend_json(self) -> list[dict[str, object]] | None:
        if self.kind != "classes":
            return None
        return [entry.as_json() for entry in self.legend]


class RasterCatalog:
    """Descriptions of rasters by file, computed on first use (a bounded number kept)."""

    def __init__(self, datasets: DatasetCache, capacity: int = 64) -> None:
        self.datasets = datasets
        self._known: LruCache[RasterInfo] = LruCache(capacity)

    def describe(self, path: Path) -> RasterInfo:
        if not path.is_file():
            raise LayerUnavailable(f"{path.name} is not a single raster file")
        key = file_key(path)
        known = self._known.get(key)
        if known is not None:
            return known
        try:
            with self.datasets.dataset(key) as dataset:
                info = describe_raster(key, dataset)
        except OSError as error:  # rasterio's RasterioIOError is an OSError
            raise LayerUnavailable(f"{path.name} cannot be read as a raster ({error})") from error
        return self._known.put(key, info)


def describe_raster(key: FileKey, dataset: Any) -> RasterInfo:
    if dataset.crs is None:
        raise LayerUnavailable(f"{Path(key.path).name} has no coordinate reference system")
    colormap = _colormap(dataset)
    notes = read_band_notes(Path(key.path))
    integer = np.issubdtype(np.dtype(dataset.dtypes[0]), np.integer)
    is_classes = dataset.count == 1 and integer and (colormap or notes.table or notes.categories)
    legend = legend_of(notes, colormap) if is_classes else []
    bands = () if is_classes else _display_bands(dataset)
    lonlat, mercator = _bounds(dataset)
    resolution = min(abs(dataset.res[0]), abs(dataset.res[1]))
    merc_resolution = min(
        (mercator[2] - mercator[0]) / dataset.width, (mercator[3] - mercator[1]) / dataset.height
    )
    minzoom, maxzoom = zoom_range(mercator, merc_resolution)
    return RasterInfo(
        key=key,
        kind="classes" if is_classes else "imagery",
        bands=bands,
        alpha=_alpha_band(dataset),
        stretch=() if is_classes else _stretch(dataset, bands),
        legend=tuple(legend),
        colours={e.value: (*e.color, 255) for e in legend if e.color is not None},
        lonlat=lonlat,
        mercator=mercator,
        overviews=tuple(sorted(dataset.overviews(1))),
        crs=dataset.crs.to_wkt(),
        resolution=resolution,
        minzoom=minzoom,
        maxzoom=maxzoom,
    )


def _colormap(dataset: Any) -> dict[int, Rgba] | None:
    try:
        return {int(k): tuple(v) for k, v in dataset.colormap(1).items()}
    except ValueError:  # rasterio: "NULL color table"
        return None


def _alpha_band(dataset: Any) -> int | None:
    interp = list(dataset.colorinterp)
    return interp.index(ColorInterp.alpha) + 1 if ColorInterp.alpha in interp else None


def _display_bands(dataset: Any) -> tuple[int, ...]:
    """Red, green, blue by colour interpretation, else the first three; one band as grey."""
    interp = list(dataset.colorinterp)
    wanted = [ColorInterp.red, ColorInterp.green, ColorInterp.blue]
    if all(colour in interp for colour in wanted):
        return tuple(interp.index(colour) + 1 for colour in wanted)
    data = [i + 1 for i, colour in enumerate(interp) if colour != ColorInterp.alpha]
    return tuple(data[:3]) if len(data) >= 3 else (data[0],) if data else (1,)


def _bounds(dataset: Any) -> tuple[Bounds, Bounds]:
    """The raster's lon/lat and Web Mercator bounds (latitudes clipped to Mercator's)."""
    west, south, east, north = rasterio.warp.transform_bounds(
        dataset.crs, LONLAT, *dataset.bounds, densify_pts=21
    )
    south, north = max(south, -MAX_LATITUDE), min(north, MAX_LATITUDE)
    if south >= north:
        raise LayerUnavailable("the raster lies outside Web Mercator's latitudes")
    lonlat = (west, south, east, north)
    mercator = rasterio.warp.transform_bounds(LONLAT, MERCATOR, *lonlat, densify_pts=21)
    return lonlat, tuple(mercator)


def _stretch(dataset: Any, bands: tuple[int, ...]) -> tuple[tuple[float, float], ...]:
    """Each band's 2nd and 98th percentile of its valid pixels, from a decimated read."""
    scale = max(1.0, max(dataset.width, dataset.height) / STATISTICS_SIZE)
    shape = (
        len(bands),
        max(1, round(dataset.height / scale)),
        max(1, round(dataset.width / scale)),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        data = dataset.read(list(bands), out_shape=shape, masked=True)
    limits = []
    for band in data:
        values: NDArray[Any] = np.asarray(band.compressed(), dtype=np.float64)
        values = values[np.isfinite(values)]
        if values.size == 0:
            limits.append((0.0, 1.0))
            continue
        low, high = (float(v) for v in np.percentile(values, STRETCH_PERCENTILES))
        limits.append((low, high) if high > low else (low - 1.0, high + 1.0))  # flat: mid-grey
    return tuple(limits)
