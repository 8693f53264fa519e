"""DataRange: each band rescaled linearly from the raster's range to [low, high] (reference
§1.2, §3.2), as ArcGIS does before a model or raster function sees the pixels.

The raster's range is each band's min..max statistics over its valid pixels (GDAL's, which
sample a large raster), not each tile's, so a pixel's value does not depend on the tiling.
They are computed on a second handle opened without GDAL's PAM, which would otherwise write
an .aux.xml beside the input (a read-only folder in a job).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.errors import NotGeoreferencedWarning

Rescale = Callable[[NDArray[Any]], NDArray[np.float32]]


def band_ranges(dataset: Any, bands: list[int]) -> list[tuple[float, float]]:
    """Each band's (min, max) over the raster's valid pixels; `bands` are 0-based."""
    with warnings.catch_warnings():  # no CRS: the task says so in its own words
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(dataset.name) as probe:
            stats = probe.stats(indexes=[b + 1 for b in bands], approx=True)
    return [(float(s.min), float(s.max)) for s in stats]


def rescaler(
    dataset: Any, bands: list[int], data_range: tuple[float, float] | None
) -> Rescale | None:
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
