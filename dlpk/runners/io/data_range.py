"""DataRange: each band rescaled linearly from the raster's range to [low, high]
(docs/esri-formats.md#bands-and-normalisation), as ArcGIS does before a model or raster function
sees the pixels.
The raster's range is each band's exact min..max over its valid pixels (nodata and mask
excluded), not each tile's, so a pixel's value does not depend on the tiling. GDAL's
approximate statistics sample a large raster (its overviews or a subset of blocks) and miss
the extremes, which moves every rescaled value, so they are never used: statistics the raster
already carries are taken only when GDAL did not mark them STATISTICS_APPROXIMATE=YES (GDAL's
only mark of sampled statistics; STATISTICS_VALID_PERCENT is the share of valid pixels, not of
pixels read), else GDAL computes exact ones, reading the bands block by block so memory stays
one block cache. That runs on a second handle opened without GDAL's PAM, which would otherwise
write an .aux.xml beside the input (a read-only folder in a job), and the result is kept for
the process (one job), keyed by the file's identity, so no later read recomputes it.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.errors import NotGeoreferencedWarning

Rescale = Callable[[NDArray[Any]], NDArray[np.float32]]
Range = tuple[float, float]

#: Exact ranges computed in this process: (path, size, mtime_ns, 1-based band) -> (min, max).
_COMPUTED: dict[tuple[str, int, int, int], Range] = {}
_MAX_CACHED = 256


def stored_range(dataset: Any, band: int) -> Range | None:
    """The exact (min, max) the raster carries for 1-based `band`, or None when it carries
    none or only approximate ones."""
    tags = dataset.tags(band)
    if str(tags.get("STATISTICS_APPROXIMATE", "")).strip().upper() in ("YES", "TRUE", "1"):
        return None
    try:
        return float(tags["STATISTICS_MINIMUM"]), float(tags["STATISTICS_MAXIMUM"])
    except (KeyError, ValueError):
        return None


def _identity(name: str, band: int) -> tuple[str, int, int, int] | None:
    try:
        found = os.stat(name)
    except (OSError, ValueError):
        return None  # not a file (an in-memory or remote dataset): computed each time
    return os.path.realpath(name), found.st_size, found.st_mtime_ns, band


def _computed_ranges(name: str, bands: list[int]) -> list[Range]:
    """Exact (min, max) of 1-based `bands`, computed by GDAL over every block, PAM off."""
    with warnings.catch_warnings():  # no CRS: the task says so in its own words
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(name) as probe:
            stats = probe.stats(indexes=bands, approx=False)
    return [(float(s.min), float(s.max)) for s in stats]


def band_ranges(dataset: Any, bands: list[int]) -> list[Range]:
    """Each band's exact (min, max) over the raster's valid pixels; `bands` are 0-based."""
    indexes = [b + 1 for b in bands]
    ranges: dict[int, Range] = {}
    missing: list[int] = []
    for index in indexes:
        known = stored_range(dataset, index)
        key = _identity(dataset.name, index)
        if known is None and key is not None:
            known = _COMPUTED.get(key)
        if known is None:
            missing.append(index)
        else:
            ranges[index] = known
    if missing:
        for index, found in zip(missing, _computed_ranges(dataset.name, missing), strict=True):
            ranges[index] = found
            key = _identity(dataset.name, index)
            if key is not None:
                if len(_COMPUTED) >= _MAX_CACHED:
                    _COMPUTED.pop(next(iter(_COMPUTED)))
                _COMPUTED[key] = found
    return [ranges[index] for index in indexes]


def rescaler(dataset: Any, bands: list[int], data_range: Range | None) -> Rescale | None:
    """The rescaling for `data_range` ([low, high]) of the given bands, as float32; None
    without one. A band holding one value maps to `low`."""
    if data_range is None:
        return None
    low, high = float(data_range[0]), float(data_range[1])
    ranges = band_ranges(dataset, bands)
    lows = np.array([r[0] for r in ranges], dtype=np.float64).reshape(-1, 1, 1)
    spans = np.array([(r[1] - r[0]) or 1.0 for r in ranges], dtype=np.float64).reshape(-1, 1, 1)

    def rescale(pixels: NDArray[Any]) -> NDArray[np.float32]:
        scaled = (pixels.astype(np.float64) - lows) / spans * (high - low) + low
        return scaled.astype(np.float32)

    return rescale
