"""Where each feature's chip lies in the raster, as ArcGIS cuts it for Classify Objects.

docs/esri-formats.md#getconfiguration (CropSizeFixed, BlackenAroundFeature). CropSizeFixed = 1, or
absent: a chip of ImageHeight x ImageWidth centred on the centre of the feature's bounding box.
CropSizeFixed = 0 (what arcgis.learn writes for Labeled_Tiles exported with crop_mode BOUNDING_BOX):
the smallest rectangle of whole pixels holding the bounding box, no padding, each side at most
ImageHeight or ImageWidth (a longer side is cut centred, as the fixed chip is). A model that takes
one input size gets such a chip resized to ImageHeight x ImageWidth, as its training chips were.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from affine import Affine
from numpy.typing import NDArray
from rasterio.features import geometry_mask

from dlpk.runners.io.windows import Window

#: Bounds within this many pixels of a pixel edge are on it (reprojection leaves 1e-9 noise).
EDGE_TOLERANCE = 1e-6
POLYGON_TYPES = (3, 6)  # Polygon, MultiPolygon


@dataclass(frozen=True)
class ChipShape:
    """How a model's chips are cut: its input size, CropSizeFixed and BlackenAroundFeature."""

    height: int
    width: int
    fixed: bool = True
    blacken: bool = False


def pixel_bounds(geometry: Any, transform: Affine) -> tuple[float, float, float, float]:
    """The geometry's bounding box in raster pixel coordinates: top, left, bottom, right."""
    x1, y1, x2, y2 = shapely.bounds(geometry)
    inverse = ~transform
    cols, rows = zip(*(inverse @ (x, y) for x in (x1, x2) for y in (y1, y2)), strict=True)
    return min(rows), min(cols), max(rows), max(cols)


def _span(low: float, high: float, cap: int, fixed: bool) -> tuple[int, int]:
    """First pixel and pixel count along one axis."""
    if not fixed:
        first = math.floor(low + EDGE_TOLERANCE)
        last = max(math.ceil(high - EDGE_TOLERANCE), first + 1)
        if last - first <= cap:
            return first, last - first
    return math.floor((low + high) / 2 - cap / 2 + EDGE_TOLERANCE), cap


def chip_window(
    geometry: Any, transform: Affine, height: int, width: int, fixed: bool = True
) -> Window:
    """The feature's chip: `height` x `width` centred on it when `fixed`, else its bounding box
    in whole pixels with each side capped at `height` / `width`."""
    top, left, bottom, right = pixel_bounds(geometry, transform)
    row, rows = _span(top, bottom, height, fixed)
    col, cols = _span(left, right, width, fixed)
    return Window(row, col, rows, cols)


def outside_feature(geometry: Any, window: Window, transform: Affine) -> NDArray[np.bool_] | None:
    """Pixels of `window` outside a polygon feature (BlackenAroundFeature); None for points and
    lines, which have no inside."""
    if shapely.get_type_id(geometry) not in POLYGON_TYPES:
        return None
    shifted = transform @ Affine.translation(window.col, window.row)
    return np.asarray(geometry_mask([geometry], (window.height, window.width), shifted), dtype=bool)


def _axis(size: int, target: int) -> tuple[NDArray[np.int64], NDArray[np.int64], Any]:
    """Source pixels and weights for one axis: pixel centres aligned, edges clamped."""
    source = np.maximum((np.arange(target) + 0.5) * (size / target) - 0.5, 0.0)
    low = np.minimum(np.floor(source).astype(np.int64), size - 1)
    high = np.minimum(low + 1, size - 1)
    return low, high, (source - low).astype(np.float32)


def resize(chip: NDArray[np.float32], height: int, width: int) -> NDArray[np.float32]:
    """A [C, H, W] chip resampled bilinearly to [C, height, width], as PyTorch's
    `interpolate(mode="bilinear", align_corners=False)` does (the usual resize of PyTorch
    training pipelines), so the model sees chips like those it learnt from."""
    if chip.shape[1:] == (height, width):
        return chip
    top, bottom, down = _axis(chip.shape[1], height)
    rows = chip[:, top, :] * (1 - down)[:, None] + chip[:, bottom, :] * down[:, None]
    left, right, across = _axis(chip.shape[2], width)
    return np.asarray(rows[:, :, left] * (1 - across) + rows[:, :, right] * across, np.float32)
