"""Chips, start to finish: read their source once, derive labels, write files, measure them.

Runs in worker processes. Each worker opens the rasters once per image (`Writers`) and handles
groups of plan items that lie side by side in one band of rows: the group's source region is read
and decoded once and every chip is sliced (or, when rotated, sampled) from it. A chip's labels
and sidecars are written first, then its image, atomically (atomic.write_new_file_atomic): an
image on disk means a finished chip, and a chip without one (a killed run) is made again in
full on --resume.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
import shapely
from affine import Affine
from rasterio.features import rasterize

from dlpk.atomic import sha256_file, write_new_file_atomic
from dlpk.runners.io.labels import Features, features_in_frame
from dlpk.runners.io.rasters import RasterInfo, open_on_grid, read_chip
from dlpk.runners.tasks.export_chips.annotations import Box, kitti, pascal_voc
from dlpk.runners.tasks.export_chips.encode import (
    GeoTiffEncoder,
    aux_xml,
    encode_raster,
    world_file,
)
from dlpk.runners.tasks.export_chips.formats import (
    FORMATS,
    IMAGE_EXT,
    LABEL_FORMAT,
    WORLD_EXT,
    chip_stem,
)
from dlpk.runners.tasks.export_chips.frames import sample
from dlpk.runners.tasks.export_chips.plan_item import PlanItem
from dlpk.runners.tasks.export_chips.schedule import group_region
from dlpk.runners.tasks.export_chips.stats import BandMoments

# Source pixel y grows downwards; PIXEL_SPACE chips keep x = column and y = -row.
PIXEL_SPACE = Affine(1.0, 0.0, 0.0, 0.0, -1.0, 0.0)


@dataclass(frozen=True)
class ChipConfig:
    """Everything a worker needs, sent once per worker."""

    raster: RasterInfo
    out_dir: str
    metadata_format: str
    chip_format: str
    class_names: dict[int, str]
    label_dtype: str
    features: Features | None = None
    label_raster: str | None = None
    raster2: RasterInfo | None = None
    min_overlap: float = 0.0
    resume: bool = False
    pixel_space: bool = False
    blacken: bool = False  # Labeled_Tiles, Imagenet: pixels outside the chip's feature become 0
    # Panoptic_Segmentation: instance features, their classes and the instance masks' dtype
    instances: Features | None = None
    instance_class_names: dict[int, str] = field(default_factory=dict)
    instance_dtype: str = "uint8"
    gdal_threads: int = 1


@dataclass
class ChipResult:
    index: int
    written: bool
    files: list[tuple[str, int, str]]  # path relative to the export folder, size, sha256
    map_line: str
    class_pixels: dict[int, int] = field(default_factory=dict)
    features: list[tuple[int, float, float]] = field(default_factory=list)


@dataclass
class GroupResult:
    """The chips of one group, in plan order, with their band moments already merged."""

    chips: list[ChipResult]
    bands: BandMoments
    bands2: BandMoments | None = None


# Decoded-block cache per process: fixed, so peak memory does not grow with the raster; it holds
# a few strips (schedule.STRIP_BYTES each), enough for overlapping strides to decode each block
# once, and is well above the size where reads slow down.
GDAL_CACHE_BYTES = 32 * 1024 * 1024


class ChipWriter:
    """Holds the open datasets of one worker process."""

    def __init__(self, config: ChipConfig, tiff: GeoTiffEncoder | None = None) -> None:
        self.config = config
        self.traits = FORMATS[config.metadata_format]
        self.out = Path(config.out_dir)
        # One environment for the worker's life: opening a chip file then skips setting one up.
        self.env = rasterio.Env(
            GDAL_CACHEMAX=GDAL_CACHE_BYTES, GDAL_NUM_THREADS=str(config.gdal_threads)
        )
        self.env.__enter__()
        self.src = rasterio.open(config.raster.path)
        self.src2: Any = None
        if config.raster2 is not None:
            self.src2 = open_on_grid(config.raster2.path, config.raster)
        self.labels: Any = None
        if config.label_raster is not None:
            self.labels = open_on_grid(config.label_raster, config.raster)
        self.tree = shapely.STRtree(config.features.geoms) if config.features else None
        self.instance_tree = (
            shapely.STRtree(config.instances.geoms) if config.instances is not None else None
        )
        self.made: set[Path] = set()
        self.tiff = tiff or GeoTiffEncoder()

    def encode(
        self,
        array: npt.NDArray[Any],
        fmt: str,
        transform: Affine,
        crs_wkt: str | None,
        nodata: float | None = None,
    ) -> bytes:
        if fmt == "TIFF":
            return self.tiff.encode(array, transform, crs_wkt, nodata)
        return encode_raster(array, fmt, transform, crs_wkt, nodata)

    def close(self) -> None:
        for ds in (self.labels, self.src2, self.src):
            if ds is not None:
                ds.close()
        self.env.__exit__(None, None, None)

    def _lazy(
        self,
        array: npt.NDArray[Any],
        fmt: str,
        transform: Affine,
        crs_wkt: str | None,
        nodata: float | None = None,
    ) -> Any:
        """Defer encoding until we know the chip must be written (not on --resume)."""
        return lambda: self.encode(array, fmt, transform, crs_wkt, nodata)

    # -- labels ---------------------------------------------------------------------------------
    def _features(self, item: PlanItem) -> tuple[npt.NDArray[np.intp], npt.NDArray[Any]]:
        assert self.config.features is not None and self.tree is not None
        return features_in_frame(
            self.config.features,
            self.tree,
            item.frame,
            item.window.width,
            item.window.height,
            self.config.min_overlap,
        )

    def label_from_features(self, item: PlanItem) -> npt.NDArray[Any]:
        """Class raster of the chip from the features, 0 = NoData/background."""
        assert self.config.features is not None
        shape = (item.window.height, item.window.width)
        idx, parts = self._features(item)
        if idx.size == 0:
            return np.zeros(shape, dtype=self.config.label_dtype)
        values = self.config.features.values[idx]
        label: npt.NDArray[Any] = rasterize(
            zip(parts, values.tolist(), strict=True),
            out_shape=shape,
            fill=0,
            dtype=self.config.label_dtype,
        )
        return label

    def instance_masks(
        self,
        item: PlanItem,
        features: Features,
        found: tuple[npt.NDArray[np.intp], npt.NDArray[Any]],
        class_names: dict[int, str],
        dtype: str,
    ) -> list[tuple[str, npt.NDArray[Any]]]:
        """(class name, mask) for every class: the chip's features of that class burnt with
        ids 1..n, 0 elsewhere (RCNN_Masks labels, Panoptic_Segmentation labels2)."""
        idx, parts = found
        shape = (item.window.height, item.window.width)
        values = features.values[idx]
        masks = []
        for value, name in class_names.items():
            mine = parts[values == value]
            mask = np.zeros(shape, dtype=dtype)
            if mine.size:
                mask = rasterize(
                    zip(mine, range(1, mine.size + 1), strict=True),
                    out_shape=shape,
                    fill=0,
                    dtype=dtype,
                )
            masks.append((name, mask))
        return masks

    def feature_mask(self, item: PlanItem) -> npt.NDArray[np.bool_]:
        """The pixels of a per-feature chip that its feature covers (pixel centres inside)."""
        idx, parts = self._features(item)
        mine = parts[idx == item.focus]
        shape = (item.window.height, item.window.width)
        if mine.size == 0:
            return np.zeros(shape, dtype=bool)
        burned: npt.NDArray[np.uint8] = rasterize(
            [(part, 1) for part in mine], out_shape=shape, fill=0, dtype="uint8"
        )
        return burned.astype(bool)

    def boxes(
        self, item: PlanItem, found: tuple[npt.NDArray[np.intp], npt.NDArray[Any]] | None = None
    ) -> tuple[list[Box], list[tuple[int, float, float]]]:
        """Boxes (chip pixels, clipped to the tile) and (class, area in map units², size)."""
        assert self.config.features is not None
        idx, parts = found if found is not None else self._features(item)
        if item.focus >= 0:
            keep = idx == item.focus
            idx, parts = idx[keep], parts[keep]
        boxes: list[Box] = []
        stats: list[tuple[int, float, float]] = []
        cell = self.config.raster.cell_area
        for i, part in zip(idx.tolist(), parts, strict=True):
            value = int(self.config.features.values[i])
            xmin, ymin, xmax, ymax = shapely.bounds(part).tolist()
            boxes.append((self.config.class_names[value], xmin, ymin, xmax, ymax))
            stats.append((value, float(shapely.area(part)) * cell, max(xmax - xmin, ymax - ymin)))
        return boxes, stats

    # -- a group of chips -----------------------------------------------------------------------
    def run_group(self, items: list[PlanItem]) -> GroupResult:
        """Read the group's source region once (image, second image, label raster) and cut it."""
        info = self.config.raster
        region = group_region(items)
        image = read_chip(self.src, region, info.count)[0]
        image2 = labels = None
        if self.src2 is not None:
            image2 = read_chip(self.src2, region, self.src2.count)[0]
        if self.labels is not None:
            labels = read_chip(self.labels, region, 1)[0]
        result = GroupResult([], BandMoments.empty(info.count))
        if image2 is not None:
            result.bands2 = BandMoments.empty(image2.shape[0])
        for item in items:
            frame, w, h = item.frame, item.window.width, item.window.height
            data, rows, cols = sample(image, region, frame, w, h)
            inside = None
            if not item.window.inside(info.width, info.height) or item.angle:
                inside = (rows >= 0) & (rows < info.height) & (cols >= 0) & (cols < info.width)
                inside = np.broadcast_to(inside, (h, w))
                if not inside.all():
                    data = np.where(inside, data, np.zeros((), data.dtype))
            valid = _valid(data, inside, info.nodata)
            if self.config.blacken and item.focus >= 0:
                keep = self.feature_mask(item)
                data = np.where(keep, data, np.zeros((), data.dtype))
                valid = keep if valid is None else valid & keep  # fill is not image content
            result.bands.merge(BandMoments.of(data, valid))
            data2 = None
            if image2 is not None and result.bands2 is not None:
                data2 = sample(image2, region, frame, w, h)[0]
                if inside is not None:
                    data2 = np.where(inside, data2, np.zeros((), data2.dtype))
                result.bands2.merge(BandMoments.of(data2, _valid(data2, inside, self.src2.nodata)))
            label = None
            if labels is not None:
                label = sample(labels, region, frame, w, h)[0][0]
                if self.labels.nodata is not None:
                    label = np.where(label == self.labels.nodata, 0, label)
                if inside is not None:
                    label = np.where(inside, label, 0)
                label = np.asarray(label, dtype=self.config.label_dtype)
            result.chips.append(self.run(item, data, valid, data2, label))
        return result

    # -- one chip -------------------------------------------------------------------------------
    def run(
        self,
        item: PlanItem,
        data: npt.NDArray[Any],
        valid: npt.NDArray[np.bool_] | None,
        data2: npt.NDArray[Any] | None = None,
        label: npt.NDArray[Any] | None = None,
    ) -> ChipResult:
        cfg = self.config
        info = cfg.raster
        window = item.window
        stem = chip_stem(item.index)
        image_name = f"{stem}.{IMAGE_EXT[cfg.chip_format]}"
        result = ChipResult(item.index, False, [], "")
        base = PIXEL_SPACE if cfg.pixel_space else info.transform
        transform = base @ item.frame
        crs = None if cfg.pixel_space else info.crs_wkt

        pending: list[tuple[str, Any]] = []  # label/sidecar files, then the image
        label_fmt = LABEL_FORMAT[cfg.chip_format]
        label_ext = IMAGE_EXT[label_fmt]
        map_cols = [f"images\\{image_name}"]
        kind = self.traits.labels
        if kind in ("raster", "panoptic"):
            if label is None:
                label = self.label_from_features(item)
            masked = label if valid is None else label[valid]
            counts = np.bincount(masked.ravel().astype(np.int64))
            result.class_pixels = {v: int(counts[v]) for v in cfg.class_names if v < counts.size}
            rel = f"labels/{stem}.{label_ext}"
            pending.append((rel, self._lazy(label[np.newaxis], label_fmt, transform, crs)))
            pending += _sidecars(rel, label_fmt, transform, crs)
            map_cols.append(f"labels\\{stem}.{label_ext}")
            if kind == "panoptic" and cfg.instances is not None:
                assert self.instance_tree is not None
                found = features_in_frame(
                    cfg.instances,
                    self.instance_tree,
                    item.frame,
                    window.width,
                    window.height,
                    cfg.min_overlap,
                )
                masks = self.instance_masks(
                    item, cfg.instances, found, cfg.instance_class_names, cfg.instance_dtype
                )
                for name, mask in masks:
                    rel = f"labels2/{name}/{stem}.{label_ext}"
                    pending.append((rel, self._lazy(mask[np.newaxis], label_fmt, transform, crs)))
                    pending += _sidecars(rel, label_fmt, transform, crs)
        elif kind == "masks":
            found = self._features(item)
            _, result.features = self.boxes(item, found)
            assert cfg.features is not None
            first = None
            masks = self.instance_masks(item, cfg.features, found, cfg.class_names, cfg.label_dtype)
            for name, mask in masks:
                rel = f"labels/{name}/{stem}.{label_ext}"
                first = first or rel
                pending.append((rel, self._lazy(mask[np.newaxis], label_fmt, transform, crs)))
                pending += _sidecars(rel, label_fmt, transform, crs)
            if first is not None:
                map_cols.append(first.replace("/", "\\"))
        elif kind == "folder":
            _, result.features = self.boxes(item)
            assert cfg.features is not None
            class_dir = cfg.class_names[int(cfg.features.values[item.focus])]
            image_name = f"{class_dir}/{image_name}"
            map_cols = [f"images\\{class_dir}\\{stem}.{IMAGE_EXT[cfg.chip_format]}"]
        elif kind == "text":
            boxes, result.features = self.boxes(item)
            rel = f"labels/{stem}.{self.traits.label_ext}"
            depth = info.count
            if cfg.metadata_format == "KITTI_rectangles":
                text = kitti(boxes)
            elif cfg.metadata_format == "MultiLabeled_Tiles":
                names = sorted({b[0] for b in boxes}, key=_class_order(cfg))
                whole: list[Box] = [(",".join(names), 0.0, 0.0, window.width, window.height)]
                text = pascal_voc(
                    image_name, window.width, window.height, depth, whole if names else []
                )
            else:
                text = pascal_voc(image_name, window.width, window.height, depth, boxes)
            pending.append((rel, text.encode("utf-8")))
            map_cols.append(rel.replace("/", "\\"))
        if data2 is not None:
            rel2 = f"images2/{image_name}"
            pending += _sidecars(rel2, cfg.chip_format, transform, crs)
            nodata2 = None if self.src2 is None else self.src2.nodata
            pending.append((rel2, self._lazy(data2, cfg.chip_format, transform, crs, nodata2)))
            if kind == "none":
                map_cols.append(f"images2\\{image_name}")
        if len(map_cols) == 1 and kind != "folder":
            # No label column (Export_Tiles from one raster): readers of map.txt take the first
            # line with two columns, so the chip names itself as its own target.
            map_cols.append(map_cols[0])
        result.map_line = "  ".join(map_cols) + " "

        image_rel = f"images/{image_name}"
        pending += _sidecars(image_rel, cfg.chip_format, transform, crs)
        pending.append((image_rel, None))  # the image goes last: its presence marks completion
        paths = [rel for rel, _ in pending]
        if cfg.resume and all((self.out / rel).exists() for rel in paths):
            result.files = [_describe(self.out / rel, rel) for rel in paths]
            return result
        for rel, payload in pending:
            image = payload is None
            if image:
                payload = self.encode(data, cfg.chip_format, transform, crs, info.nodata)
            elif callable(payload):
                payload = payload()
            target = self.out / rel
            if target.parent not in self.made:
                target.parent.mkdir(parents=True, exist_ok=True)
                self.made.add(target.parent)
            if image:
                write_new_file_atomic(target, payload)
            else:
                target.write_bytes(payload)
            result.files.append((rel, len(payload), hashlib.sha256(payload).hexdigest()))
        result.written = True
        return result


def _valid(
    data: npt.NDArray[Any], inside: npt.NDArray[np.bool_] | None, nodata: float | None
) -> npt.NDArray[np.bool_] | None:
    """Pixels that count in statistics: inside the raster and not NoData in every band."""
    if nodata is None:
        return inside
    valid: npt.NDArray[np.bool_] = ~np.all(data == nodata, axis=0)
    return valid if inside is None else valid & inside


def _class_order(cfg: ChipConfig) -> Any:
    order = {name: i for i, name in enumerate(cfg.class_names.values())}
    return lambda name: order.get(name, len(order))


def _sidecars(rel: str, fmt: str, transform: Affine, crs_wkt: str | None) -> list[tuple[str, Any]]:
    base = rel.rsplit(".", 1)[0]
    out: list[tuple[str, Any]] = [(f"{base}.{WORLD_EXT[fmt]}", world_file(transform).encode())]
    if fmt != "TIFF" and crs_wkt:
        out.append((f"{rel}.aux.xml", aux_xml(crs_wkt).encode()))
    return out


def _describe(path: Path, rel: str) -> tuple[str, int, str]:
    return rel, path.stat().st_size, sha256_file(path)


# -- process-pool plumbing ----------------------------------------------------------------------
class Writers:
    """The writer of the raster a task is for: a folder's images are chipped one after the
    other, so one writer (one set of open datasets) is kept, and swapped when the image
    changes."""

    def __init__(self, configs: list[ChipConfig]) -> None:
        self.configs = configs
        self.current: tuple[int, ChipWriter] | None = None
        # images of one product make chips of one shape and CRS: their GeoTIFF templates serve
        # every image
        self.tiff = GeoTiffEncoder()

    def run(self, task: Task) -> list[GroupResult]:
        source, groups = task
        if self.current is None or self.current[0] != source:
            self.close()
            self.current = (source, ChipWriter(self.configs[source], self.tiff))
        writer = self.current[1]
        return [writer.run_group(group) for group in groups]

    def close(self) -> None:
        if self.current is not None:
            self.current[1].close()
            self.current = None


# A task: the number of the raster (its ChipConfig) and a run of its groups.
Task = tuple[int, list[list[PlanItem]]]

_WRITERS: Writers | None = None


def init_worker(configs: list[ChipConfig]) -> None:
    global _WRITERS
    _WRITERS = Writers(configs)


def run_task(task: Task) -> list[GroupResult]:
    assert _WRITERS is not None, "init_worker was not called"
    return _WRITERS.run(task)
