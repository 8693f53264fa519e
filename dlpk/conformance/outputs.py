"""Reading back what a task wrote: the classified raster, and the features of a layer in the
test raster's pixel space."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from numpy.typing import NDArray


@dataclass(frozen=True)
class Classified:
    """A classified raster: its class Values, nodata value and grid."""

    values: NDArray[np.int64]
    nodata: float | None
    dtype: str
    count: int
    transform: Any
    crs: Any

    @property
    def valid(self) -> NDArray[np.bool_]:
        if self.nodata is None:
            return np.ones(self.values.shape, dtype=bool)
        return np.asarray(self.values != self.nodata, dtype=bool)


def read_classified(path: Path) -> Classified:
    with rasterio.open(path) as dataset:
        values = dataset.read(1).astype(np.int64)
        return Classified(
            values,
            dataset.nodata,
            str(dataset.dtypes[0]),
            dataset.count,
            dataset.transform,
            dataset.crs,
        )


@dataclass(frozen=True)
class Features:
    """A layer's features: pixel-space bounding boxes (x1, y1, x2, y2) on a raster's grid, and
    its attribute columns."""

    boxes: NDArray[np.float64]
    geometry_types: list[str]
    columns: dict[str, NDArray[Any]]

    def __len__(self) -> int:
        return len(self.boxes)

    def column(self, name: str) -> NDArray[Any] | None:
        return self.columns.get(name)


def read_features(path: Path, transform: Any) -> Features:
    """The layer at `path` with its geometries' bounds in the pixel space of `transform`."""
    import pyogrio
    import shapely

    _, _, wkb, values = pyogrio.raw.read(path)
    meta = pyogrio.read_info(path)
    names = [str(n) for n in meta["fields"]]
    geoms = shapely.from_wkb(wkb) if len(wkb) else np.array([], dtype=object)
    inverse = ~transform
    boxes = np.zeros((len(geoms), 4))
    for number, geom in enumerate(geoms):
        if geom is None or shapely.is_empty(geom):
            boxes[number] = np.nan
            continue
        x1, y1, x2, y2 = shapely.bounds(geom)
        cols, rows = zip(*(inverse @ (x, y) for x, y in ((x1, y1), (x2, y2))), strict=True)
        boxes[number] = (min(cols), min(rows), max(cols), max(rows))
    types = [str(shapely.get_type_id(g)) if g is not None else "" for g in geoms]
    kinds = {"3": "Polygon", "6": "MultiPolygon"}
    columns = {name: np.asarray(column) for name, column in zip(names, values, strict=True)}
    return Features(boxes, [kinds.get(t, t) for t in types], columns)


def iou(box: NDArray[np.float64], boxes: NDArray[np.float64]) -> NDArray[np.float64]:
    """Intersection over union of one box with each of `boxes` (x1, y1, x2, y2)."""
    if len(boxes) == 0:
        return np.zeros(0)
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def unmatched(
    ours: NDArray[np.float64],
    our_classes: NDArray[Any],
    theirs: NDArray[np.float64],
    their_classes: NDArray[Any],
    overlap: float = 0.5,
) -> tuple[list[int], list[int]]:
    """Greedy one-to-one matching of two sets of boxes by class and IoU >= `overlap`: the
    indexes left unmatched on each side."""
    taken = np.zeros(len(theirs), dtype=bool)
    lonely: list[int] = []
    for number, box in enumerate(ours):
        scores = iou(box, theirs)
        scores[taken | (their_classes != our_classes[number])] = 0
        best = int(np.argmax(scores)) if len(scores) else -1
        if best >= 0 and scores[best] >= overlap:
            taken[best] = True
        else:
            lonely.append(number)
    return lonely, [int(i) for i in np.flatnonzero(~taken)]
