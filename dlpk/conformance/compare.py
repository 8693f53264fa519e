"""Comparing two classified rasters of the same ground: where they differ, how far from a tile
seam, and a small picture of it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dlpk.conformance.outputs import Classified

#: At most this many differing pixels are listed in a report's evidence.
LISTED = 10


@dataclass(frozen=True)
class Difference:
    """Pixels where two class rasters disagree, inside the compared area."""

    compared: int
    rows: NDArray[np.int64]
    cols: NDArray[np.int64]
    ours: NDArray[np.int64]
    theirs: NDArray[np.int64]

    @property
    def count(self) -> int:
        return len(self.rows)

    def fraction(self) -> float:
        return self.count / self.compared if self.compared else 0.0

    def listed(self) -> list[dict[str, int]]:
        """The first differing pixels: row, col, and the two Values."""
        return [
            {"row": int(r), "col": int(c), "tiled": int(a), "reference": int(b)}
            for r, c, a, b in zip(
                self.rows[:LISTED],
                self.cols[:LISTED],
                self.ours[:LISTED],
                self.theirs[:LISTED],
                strict=True,
            )
        ]

    def bounds(self) -> dict[str, int] | None:
        if not self.count:
            return None
        return {
            "row_min": int(self.rows.min()),
            "row_max": int(self.rows.max()),
            "col_min": int(self.cols.min()),
            "col_max": int(self.cols.max()),
        }


def differences(
    ours: NDArray[np.int64], theirs: NDArray[np.int64], area: NDArray[np.bool_]
) -> Difference:
    """Where `ours` and `theirs` (same shape) differ inside `area`."""
    differ = (ours != theirs) & area
    rows, cols = np.nonzero(differ)
    return Difference(int(area.sum()), rows, cols, ours[rows, cols], theirs[rows, cols])


def interior(shape: tuple[int, int], margin: int) -> NDArray[np.bool_]:
    """Pixels at least `margin` from every border of a raster of `shape`."""
    area = np.zeros(shape, dtype=bool)
    height, width = shape
    if 2 * margin < height and 2 * margin < width:
        area[margin : height - margin, margin : width - margin] = True
    return area


def seam_distance(
    rows: NDArray[np.int64], cols: NDArray[np.int64], seams: tuple[list[int], list[int]]
) -> NDArray[np.int64]:
    """Each pixel's distance to the nearest seam (a row or column where two cores meet; a
    pixel just below or right of seam s is at distance 0, just above or left at 0 too)."""
    far = np.full(len(rows), 1 << 30, dtype=np.int64)
    for axis, seam_list in ((rows, seams[0]), (cols, seams[1])):
        for seam in seam_list:
            gap = np.where(axis >= seam, axis - seam, seam - 1 - axis)
            far = np.minimum(far, gap)
    return far


def seam_picture(
    path: Path,
    tiled: Classified,
    reference: Classified,
    difference: Difference,
    colours: dict[int, tuple[int, int, int]],
    size: int = 64,
) -> Path:
    """A PNG of the worst place: tiled classes | reference classes | differing pixels in red,
    `size` px a side each, centred on the first differing pixel, scaled up 4 times."""
    import rasterio

    from dlpk.atomic import atomic_path

    height, width = tiled.values.shape
    row = int(np.clip(difference.rows[0] - size // 2, 0, max(0, height - size)))
    col = int(np.clip(difference.cols[0] - size // 2, 0, max(0, width - size)))
    window = (slice(row, row + size), slice(col, col + size))
    panels = [
        _paint(tiled.values[window], tiled.valid[window], colours),
        _paint(reference.values[window], reference.valid[window], colours),
    ]
    shown: tuple[int, ...] = tiled.values[window].shape
    mask = np.zeros(shown, dtype=bool)
    inside = (
        (difference.rows >= row)
        & (difference.rows < row + size)
        & (difference.cols >= col)
        & (difference.cols < col + size)
    )
    mask[difference.rows[inside] - row, difference.cols[inside] - col] = True
    marked = np.full((3, shown[0], shown[1]), 235, dtype=np.uint8)
    marked[:, mask] = np.array([220, 0, 0], dtype=np.uint8)[:, None]
    panels.append(marked)
    gap = np.full((3, shown[0], 2), 255, dtype=np.uint8)
    image = np.concatenate([panels[0], gap, panels[1], gap, panels[2]], axis=2)
    image = image.repeat(4, axis=1).repeat(4, axis=2)
    profile: dict[str, Any] = {
        "driver": "PNG",
        "width": image.shape[2],
        "height": image.shape[1],
        "count": 3,
        "dtype": "uint8",
    }
    with atomic_path(path, overwrite=True) as temporary:
        with rasterio.open(temporary, "w", **profile) as dst:
            dst.write(image)
        for extra in temporary.parent.glob(f"{temporary.name}.aux.xml"):
            extra.unlink()
    return path


def _paint(
    values: NDArray[np.int64], valid: NDArray[np.bool_], colours: dict[int, tuple[int, int, int]]
) -> NDArray[np.uint8]:
    rgb = np.zeros((3, *values.shape), dtype=np.uint8)
    for value in np.unique(values[valid]):
        colour = colours.get(int(value), (128, 128, 128))
        rgb[:, (values == value) & valid] = np.array(colour, dtype=np.uint8)[:, None]
    return rgb
