"""The window plan of an export: which chips, in which order, numbered once.

Windows come from the tiling (or, for Labeled_Tiles, one per feature); each is followed by its
rotated copies; mask polygons and the only-tiles-with-features rule then drop some.
"""

from __future__ import annotations

import math

import numpy as np
import shapely

from dlpk.runners.io.labels import Features
from dlpk.runners.io.rasters import RasterInfo, open_on_grid, read_chip
from dlpk.runners.io.tiles import plan_windows
from dlpk.runners.io.windows import Window
from dlpk.runners.progress import Progress
from dlpk.runners.tasks.export_chips.chip_labels import found_in
from dlpk.runners.tasks.export_chips.formats import FormatTraits
from dlpk.runners.tasks.export_chips.frames import footprint, rotation_angles, sample
from dlpk.runners.tasks.export_chips.plan_item import PlanItem
from dlpk.runners.tasks.export_chips.schedule import group_items, group_region, strip_width
from dlpk.spec.job import ExportChipsParameters


def make_plan(
    info: RasterInfo,
    params: ExportChipsParameters,
    traits: FormatTraits,
    features: Features | None,
    label_raster: str | None,
    mask: shapely.Geometry | None,
    progress: Progress,
) -> list[PlanItem]:
    """Windows in row-major order, each followed by its rotated copies; numbered once kept."""
    tile_y, stride_y = params.tile_size_y or params.tile_size_x, params.stride_y or params.stride_x
    if traits.per_feature_tiles:
        assert features is not None
        if params.crop_mode == "BOUNDING_BOX":
            candidates = _feature_boxes(info, features)
        else:
            candidates = _feature_centred(info, params.tile_size_x, tile_y, features)
    else:
        windows = plan_windows(
            info.width,
            info.height,
            params.tile_size_x,
            tile_y,
            params.stride_x,
            stride_y,
            pad=params.pad_edges,
        )
        candidates = [PlanItem(0, w) for w in windows]
    angles = rotation_angles(params.rotation_angle)
    if len(angles) > 1:
        candidates = [PlanItem(0, c.window, c.focus, a) for c in candidates for a in angles]
    if mask is not None:
        candidates = [c for c in candidates if _inside(mask, c)]
    keep_all = (
        traits.per_feature_tiles
        or params.output_nofeature_tiles == "ALL_TILES"
        or (features is None and label_raster is None)
    )
    if not keep_all:
        if features is not None:
            candidates = _with_features(candidates, features, params, progress)
        else:
            assert label_raster is not None
            candidates = _with_class_pixels(candidates, info, label_raster, progress)
    return [PlanItem(i, c.window, c.focus, c.angle) for i, c in enumerate(candidates)]


def _inside(mask: shapely.Geometry, item: PlanItem) -> bool:
    """ArcGIS's mask polygons: a chip is kept only when it lies completely inside them."""
    return bool(shapely.covers(mask, footprint(item.frame, item.window.width, item.window.height)))


def _with_features(
    items: list[PlanItem], features: Features, params: ExportChipsParameters, progress: Progress
) -> list[PlanItem]:
    """Items whose chip holds a feature. Without an overlap ratio one bulk tree query answers
    for every chip; with one, each candidate's parts are measured."""
    tree = shapely.STRtree(features.geoms)
    outlines = [footprint(i.frame, i.window.width, i.window.height) for i in items]
    hits = tree.query(outlines, predicate="intersects")[0]
    touched = np.zeros(len(items), dtype=bool)
    touched[hits] = True
    if params.min_polygon_overlap_ratio == 0:
        progress("plan", len(items), len(items))
        return [item for item, hit in zip(items, touched, strict=True) if hit]
    kept: list[PlanItem] = []
    for n, item in enumerate(items):
        if touched[n]:
            idx, _ = found_in(features, tree, item, params.min_polygon_overlap_ratio)
            if idx.size:
                kept.append(item)
        progress("plan", n + 1, len(items))
    return kept


def _with_class_pixels(
    items: list[PlanItem], info: RasterInfo, label_raster: str, progress: Progress
) -> list[PlanItem]:
    """Items whose chip holds a class pixel; each group's region is read once."""
    kept: list[PlanItem] = []
    max_width = strip_width(items[0].window.width, items[0].window.height, 1, "float64")
    src = open_on_grid(label_raster, info)
    done = 0
    try:
        for group in group_items(items, max_width):
            region = group_region(group)
            data = read_chip(src, region, 1)[0]
            if src.nodata is not None:
                data = np.where(data == src.nodata, 0, data)
            for item in group:
                w = item.window
                chip, rows, cols = sample(data, region, item.frame, w.width, w.height)
                inside = (rows >= 0) & (rows < info.height) & (cols >= 0) & (cols < info.width)
                if (chip[0] != 0)[np.broadcast_to(inside, chip.shape[1:])].any():
                    kept.append(item)
            done += len(group)
            progress("plan", done, len(items))
    finally:
        src.close()
    return kept


def _feature_centred(
    info: RasterInfo, tile_x: int, tile_y: int, features: Features
) -> list[PlanItem]:
    """Labeled_Tiles: one chip centred on each feature that touches the raster."""
    items: list[PlanItem] = []
    extent = shapely.box(0, 0, info.width, info.height)
    bounds = shapely.bounds(features.geoms)
    touching = shapely.intersects(features.geoms, extent)
    for i in np.flatnonzero(touching).tolist():
        cx = (bounds[i, 0] + bounds[i, 2]) / 2
        cy = (bounds[i, 1] + bounds[i, 3]) / 2
        window = Window(round(cy - tile_y / 2), round(cx - tile_x / 2), tile_y, tile_x)
        window = _clamp(window, info)
        items.append(PlanItem(len(items), window, focus=i))
    return items


def _feature_boxes(info: RasterInfo, features: Features) -> list[PlanItem]:
    """Labeled_Tiles with crop_mode BOUNDING_BOX: one chip per feature touching the raster,
    its window the whole pixels the feature's bounding box covers within the raster (at least
    one pixel, for points). Reprojection leaves edges a hair off whole pixels: that is not
    taken for another pixel's worth."""
    items: list[PlanItem] = []
    eps = 1e-6
    extent = shapely.box(0, 0, info.width, info.height)
    bounds = shapely.bounds(features.geoms)
    touching = shapely.intersects(features.geoms, extent)
    for i in np.flatnonzero(touching).tolist():
        xmin, ymin, xmax, ymax = bounds[i].tolist()
        c0 = min(max(math.floor(xmin + eps), 0), info.width - 1)
        r0 = min(max(math.floor(ymin + eps), 0), info.height - 1)
        c1 = max(min(math.ceil(xmax - eps), info.width), c0 + 1)
        r1 = max(min(math.ceil(ymax - eps), info.height), r0 + 1)
        items.append(PlanItem(len(items), Window(r0, c0, r1 - r0, c1 - c0), focus=i))
    return items


def _clamp(w: Window, info: RasterInfo) -> Window:
    """Shift a window inside the raster where it fits (chips then hold no padding)."""
    col = min(max(w.col, 0), max(info.width - w.width, 0))
    row = min(max(w.row, 0), max(info.height - w.height, 0))
    return Window(row, col, w.height, w.width)
