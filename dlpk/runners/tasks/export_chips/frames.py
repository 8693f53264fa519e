"""Chip frames: which source pixels a chip shows, axis-aligned or rotated for augmentation.

A frame is an affine map from chip pixel coordinates to source pixel coordinates. An unrotated
chip's frame is a translation by its window offset; a rotated copy turns about the window centre.
Labels and pixels go through the same frame, so they always agree.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import shapely
from affine import Affine

from dlpk.runners.io.windows import Window


def rotation_angles(step: float) -> list[float]:
    """0 plus every multiple of `step` below 360 degrees (ArcGIS's rotation_angle)."""
    if step <= 0:
        return [0.0]
    count = math.ceil(360.0 / step - 1e-9)
    return [k * step for k in range(count)]


def chip_frame(window: Window, angle: float = 0.0) -> Affine:
    """Chip pixel -> source pixel. The chip shows the window's scene turned `angle` degrees
    counter-clockwise (as an image viewer turns a picture), about the window centre."""
    if angle == 0:
        return Affine.translation(window.col, window.row)
    cx = window.col + window.width / 2
    cy = window.row + window.height / 2
    # turning the picture one way means sampling the source along axes turned the other way;
    # with rows growing downwards that is Affine.rotation(+angle)
    return (
        Affine.translation(cx, cy)
        @ Affine.rotation(angle)
        @ Affine.translation(-window.width / 2, -window.height / 2)
    )


def is_translation(frame: Affine) -> bool:
    return (frame.a, frame.b, frame.d, frame.e) == (1, 0, 0, 1) and (
        float(frame.c).is_integer() and float(frame.f).is_integer()
    )


def footprint(frame: Affine, width: int, height: int) -> shapely.Polygon:
    """The chip's outline in source pixel coordinates."""
    corners = [frame @ (x, y) for x, y in ((0, 0), (width, 0), (width, height), (0, height))]
    return shapely.Polygon(corners)


def source_window(frame: Affine, width: int, height: int) -> Window:
    """The smallest whole-pixel window of the source that holds every pixel the chip samples."""
    if is_translation(frame):
        return Window(int(frame.f), int(frame.c), height, width)
    xmin, ymin, xmax, ymax = footprint(frame, width, height).bounds
    c0, r0 = math.floor(xmin), math.floor(ymin)
    return Window(r0, c0, math.ceil(ymax) - r0, math.ceil(xmax) - c0)


def sample(
    region: npt.NDArray[np.generic],
    region_window: Window,
    frame: Affine,
    width: int,
    height: int,
) -> tuple[npt.NDArray[np.generic], npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Nearest-neighbour chip from a (bands, rows, cols) region read at `region_window`.

    Also returns each chip pixel's source row and column, so the caller can tell which pixels
    fall outside the raster. A translation frame is a plain slice (no copy of indices needed).
    """
    if is_translation(frame):
        r0 = int(frame.f) - region_window.row
        c0 = int(frame.c) - region_window.col
        rows = np.arange(height)[:, None] + int(frame.f)
        cols = np.arange(width)[None, :] + int(frame.c)
        return region[:, r0 : r0 + height, c0 : c0 + width], rows, cols
    xs, ys = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    sx = frame.a * xs + frame.b * ys + frame.c
    sy = frame.d * xs + frame.e * ys + frame.f
    cols = np.floor(sx).astype(np.intp)
    rows = np.floor(sy).astype(np.intp)
    local_r = np.clip(rows - region_window.row, 0, region.shape[1] - 1)
    local_c = np.clip(cols - region_window.col, 0, region.shape[2] - 1)
    return region[:, local_r, local_c], rows, cols
