"""A chip's labels drawn from vector features: class rasters, instance masks, boxes and the
footprint of a per-feature chip's own feature.

Everything is drawn in the chip's frame (chips.frames), through which its pixels are sampled
too, so labels and pixels agree for rotated chips as well. The search tree over the features
is built once per worker and serves every chip it makes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from rasterio.features import rasterize

from dlpk.runners.io.labels import Features, features_in_frame
from dlpk.runners.tasks.export_chips.annotations import Box
from dlpk.runners.tasks.export_chips.plan_item import PlanItem

# Indices of the features in a chip and their parts inside it, in chip pixel coordinates.
Found = tuple[npt.NDArray[np.intp], npt.NDArray[Any]]


def found_in(
    features: Features, tree: shapely.STRtree, item: PlanItem, min_overlap: float
) -> Found:
    """The features in `item`'s chip that cover at least `min_overlap` of their area in it."""
    return features_in_frame(
        features, tree, item.frame, item.window.width, item.window.height, min_overlap
    )


class FeatureLabels:
    """One set of features of a raster (class data or instance data) with its search tree, and
    the class names and label dtype their chips are drawn with."""

    def __init__(
        self,
        features: Features,
        class_names: dict[int, str],
        dtype: str,
        min_overlap: float,
        cell_area: float,
    ) -> None:
        self.features = features
        self.tree = shapely.STRtree(features.geoms)
        self.class_names = class_names
        self.dtype = dtype
        self.min_overlap = min_overlap
        self.cell_area = cell_area

    def found(self, item: PlanItem) -> Found:
        """The features in the chip and their parts inside it."""
        return found_in(self.features, self.tree, item, self.min_overlap)

    def class_raster(self, item: PlanItem) -> npt.NDArray[Any]:
        """Class raster of the chip from the features, 0 = NoData/background."""
        shape = (item.window.height, item.window.width)
        idx, parts = self.found(item)
        if idx.size == 0:
            return np.zeros(shape, dtype=self.dtype)
        values = self.features.values[idx]
        label: npt.NDArray[Any] = rasterize(
            zip(parts, values.tolist(), strict=True),
            out_shape=shape,
            fill=0,
            dtype=self.dtype,
        )
        return label

    def masks(self, item: PlanItem, found: Found) -> list[tuple[str, npt.NDArray[Any]]]:
        """(class name, mask) for every class: the chip's features of that class burnt with
        ids 1..n, 0 elsewhere (RCNN_Masks labels, Panoptic_Segmentation labels2)."""
        idx, parts = found
        shape = (item.window.height, item.window.width)
        values = self.features.values[idx]
        masks = []
        for value, name in self.class_names.items():
            mine = parts[values == value]
            mask = np.zeros(shape, dtype=self.dtype)
            if mine.size:
                mask = rasterize(
                    zip(mine, range(1, mine.size + 1), strict=True),
                    out_shape=shape,
                    fill=0,
                    dtype=self.dtype,
                )
            masks.append((name, mask))
        return masks

    def focus_mask(self, item: PlanItem) -> npt.NDArray[np.bool_]:
        """The pixels of a per-feature chip that its feature covers (pixel centres inside)."""
        idx, parts = self.found(item)
        mine = parts[idx == item.focus]
        shape = (item.window.height, item.window.width)
        if mine.size == 0:
            return np.zeros(shape, dtype=bool)
        burned: npt.NDArray[np.uint8] = rasterize(
            [(part, 1) for part in mine], out_shape=shape, fill=0, dtype="uint8"
        )
        return burned.astype(bool)

    def boxes(
        self, item: PlanItem, found: Found | None = None
    ) -> tuple[list[Box], list[tuple[int, float, float]]]:
        """Boxes (chip pixels, clipped to the tile) and (class, area in map units², size)."""
        idx, parts = found if found is not None else self.found(item)
        if item.focus >= 0:
            keep = idx == item.focus
            idx, parts = idx[keep], parts[keep]
        boxes: list[Box] = []
        stats: list[tuple[int, float, float]] = []
        for i, part in zip(idx.tolist(), parts, strict=True):
            value = int(self.features.values[i])
            xmin, ymin, xmax, ymax = shapely.bounds(part).tolist()
            # the class value, as ArcGIS writes annotations; Classes in the root files name it
            boxes.append((str(value), xmin, ymin, xmax, ymax))
            stats.append(
                (value, float(shapely.area(part)) * self.cell_area, max(xmax - xmin, ymax - ymin))
            )
        return boxes, stats

    def focus_class(self, item: PlanItem) -> str:
        """The class name of a per-feature chip's feature (its Imagenet folder)."""
        return self.class_names[int(self.features.values[item.focus])]
