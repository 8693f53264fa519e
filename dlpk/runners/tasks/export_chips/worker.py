"""Chips, start to finish: read their source once, derive labels, write files, measure them.

Runs in worker processes. Each worker opens the rasters once per image (chips.pool) and handles
groups of plan items that lie side by side in one band of rows: the group's source region is read
and decoded once and every chip is sliced (or, when rotated, sampled) from it. Labels drawn from
features come from chips.chip_labels; a chip's files are written by chips.chip_files, its image
last, so that a chip without one (a killed run) is made again in full on --resume.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from affine import Affine

from dlpk.runners.io.labels import Features
from dlpk.runners.io.rasters import RasterInfo, open_on_grid, read_chip
from dlpk.runners.io.windows import Window
from dlpk.runners.tasks.export_chips.annotations import Box, kitti, pascal_voc
from dlpk.runners.tasks.export_chips.chip_files import ChipFiles, FileRecord
from dlpk.runners.tasks.export_chips.chip_labels import FeatureLabels
from dlpk.runners.tasks.export_chips.encode import Colormap, GeoTiffEncoder, encode_raster
from dlpk.runners.tasks.export_chips.formats import FORMATS, IMAGE_EXT, LABEL_FORMAT, chip_stem
from dlpk.runners.tasks.export_chips.frames import sample
from dlpk.runners.tasks.export_chips.plan_item import PlanItem
from dlpk.runners.tasks.export_chips.rootfiles import label_colormap
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
    files: list[FileRecord]
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
        self.features = _feature_labels(
            config.features, config.class_names, config.label_dtype, config
        )
        self.instances = _feature_labels(
            config.instances, config.instance_class_names, config.instance_dtype, config
        )
        self.made: set[Path] = set()
        self.tiff = tiff or GeoTiffEncoder()
        self.label_colours = label_colormap(config.class_names, config.label_dtype)

    def encode(
        self,
        array: npt.NDArray[Any],
        fmt: str,
        transform: Affine,
        crs_wkt: str | None,
        nodata: float | None = None,
        colormap: Colormap | None = None,
    ) -> bytes:
        if fmt == "TIFF":
            return self.tiff.encode(array, transform, crs_wkt, nodata, colormap)
        return encode_raster(array, fmt, transform, crs_wkt, nodata, colormap)

    def close(self) -> None:
        for ds in (self.labels, self.src2, self.src):
            if ds is not None:
                ds.close()
        self.env.__exit__(None, None, None)

    @property
    def _features(self) -> FeatureLabels:
        """The class features, for the formats whose labels come from them."""
        assert self.features is not None
        return self.features

    # -- a group of chips -----------------------------------------------------------------------
    def run_group(self, items: list[PlanItem]) -> GroupResult:
        """Read the group's source region once (image, second image, label raster) and cut it."""
        region = self._read_region(items)
        result = GroupResult([], BandMoments.empty(self.config.raster.count))
        if region.image2 is not None:
            result.bands2 = BandMoments.empty(region.image2.shape[0])
        for item in items:
            data, inside = self._pixels(item, region)
            valid = _valid(data, inside, self.config.raster.nodata)
            if self.config.blacken and item.focus >= 0:
                keep = self._features.focus_mask(item)
                data = np.where(keep, data, np.zeros((), data.dtype))
                valid = keep if valid is None else valid & keep  # fill is not image content
            result.bands.merge(BandMoments.of(data, valid))
            data2 = None
            if region.image2 is not None and result.bands2 is not None:
                data2 = self._second_pixels(item, region, inside)
                result.bands2.merge(BandMoments.of(data2, _valid(data2, inside, self.src2.nodata)))
            label = self._label_pixels(item, region, inside)
            result.chips.append(self.run(item, data, valid, data2, label))
        return result

    def _read_region(self, items: list[PlanItem]) -> _Region:
        """The group's source region, decoded once for all its chips."""
        window = group_region(items)
        image = read_chip(self.src, window, self.config.raster.count)[0]
        image2 = labels = None
        if self.src2 is not None:
            image2 = read_chip(self.src2, window, self.src2.count)[0]
        if self.labels is not None:
            labels = read_chip(self.labels, window, 1)[0]
        return _Region(window, image, image2, labels)

    def _pixels(
        self, item: PlanItem, region: _Region
    ) -> tuple[npt.NDArray[Any], npt.NDArray[np.bool_] | None]:
        """The chip's pixels, zero past the raster's edge, and which lie inside it (None when
        the chip lies wholly inside, unrotated)."""
        info = self.config.raster
        data, rows, cols = region.cut(region.image, item)
        inside = None
        if not item.window.inside(info.width, info.height) or item.angle:
            inside = (rows >= 0) & (rows < info.height) & (cols >= 0) & (cols < info.width)
            inside = np.broadcast_to(inside, (item.window.height, item.window.width))
            if not inside.all():
                data = np.where(inside, data, np.zeros((), data.dtype))
        return data, inside

    def _second_pixels(
        self, item: PlanItem, region: _Region, inside: npt.NDArray[np.bool_] | None
    ) -> npt.NDArray[Any]:
        """The second image's pixels of the chip, zero where the first image has none."""
        assert region.image2 is not None
        data2 = region.cut(region.image2, item)[0]
        if inside is not None:
            data2 = np.where(inside, data2, np.zeros((), data2.dtype))
        return data2

    def _label_pixels(
        self, item: PlanItem, region: _Region, inside: npt.NDArray[np.bool_] | None
    ) -> npt.NDArray[Any] | None:
        """The label raster's classes in the chip (NoData and outside the raster are 0); None
        without a label raster."""
        if region.labels is None:
            return None
        label = region.cut(region.labels, item)[0][0]
        if self.labels.nodata is not None:
            label = np.where(label == self.labels.nodata, 0, label)
        if inside is not None:
            label = np.where(inside, label, 0)
        return np.asarray(label, dtype=self.config.label_dtype)

    # -- one chip -------------------------------------------------------------------------------
    def run(
        self,
        item: PlanItem,
        data: npt.NDArray[Any],
        valid: npt.NDArray[np.bool_] | None,
        data2: npt.NDArray[Any] | None = None,
        label: npt.NDArray[Any] | None = None,
    ) -> ChipResult:
        """Make one chip: its labels as the format has them, its second image, its map.txt line
        and its image, written last (on --resume a finished chip is only described)."""
        cfg = self.config
        stem = chip_stem(item.index)
        image_name = f"{stem}.{IMAGE_EXT[cfg.chip_format]}"
        result = ChipResult(item.index, False, [], "")
        base = PIXEL_SPACE if cfg.pixel_space else cfg.raster.transform
        files = ChipFiles(
            base @ item.frame, None if cfg.pixel_space else cfg.raster.crs_wkt, self.encode
        )
        map_cols = [f"images\\{image_name}"]
        kind = self.traits.labels
        if kind in ("raster", "panoptic"):
            map_cols += self._class_raster(item, stem, label, valid, files, result)
        elif kind == "masks":
            map_cols += self._mask_labels(item, stem, files, result)
        elif kind == "folder":
            _, result.features = self._features.boxes(item)
            class_dir = self._features.focus_class(item)
            image_name = f"{class_dir}/{image_name}"
            map_cols = [f"images\\{class_dir}\\{stem}.{IMAGE_EXT[cfg.chip_format]}"]
        elif kind == "text":
            map_cols += self._annotation(item, stem, image_name, files, result)
        if data2 is not None:
            nodata2 = None if self.src2 is None else self.src2.nodata
            files.image(f"images2/{image_name}", data2, cfg.chip_format, nodata2)
            if kind == "none":
                map_cols.append(f"images2\\{image_name}")
        result.map_line = _map_line(map_cols, kind)
        files.image(f"images/{image_name}", data, cfg.chip_format, cfg.raster.nodata, final=True)
        result.written, result.files = files.write(self.out, cfg.resume, self.made)
        return result

    def _class_raster(
        self,
        item: PlanItem,
        stem: str,
        label: npt.NDArray[Any] | None,
        valid: npt.NDArray[np.bool_] | None,
        files: ChipFiles,
        result: ChipResult,
    ) -> list[str]:
        """Classified_Tiles and Panoptic_Segmentation: a class raster (read from the label raster
        by the caller, else drawn from the features) and its class pixel counts; Panoptic's
        instance masks go to labels2/<class>/. The map.txt column."""
        cfg = self.config
        label_fmt = LABEL_FORMAT[cfg.chip_format]
        label_ext = IMAGE_EXT[label_fmt]
        if label is None:
            label = self._features.class_raster(item)
        masked = label if valid is None else label[valid]
        counts = np.bincount(masked.ravel().astype(np.int64))
        result.class_pixels = {v: int(counts[v]) for v in cfg.class_names if v < counts.size}
        files.label(f"labels/{stem}.{label_ext}", label, label_fmt, self.label_colours)
        if self.traits.labels == "panoptic" and self.instances is not None:
            for name, mask in self.instances.masks(item, self.instances.found(item)):
                files.label(f"labels2/{name}/{stem}.{label_ext}", mask, label_fmt)
        return [f"labels\\{stem}.{label_ext}"]

    def _mask_labels(
        self, item: PlanItem, stem: str, files: ChipFiles, result: ChipResult
    ) -> list[str]:
        """RCNN_Masks: one instance mask per class under labels/<class>/, and the features'
        statistics. The map.txt column names the first class's mask."""
        label_fmt = LABEL_FORMAT[self.config.chip_format]
        found = self._features.found(item)
        _, result.features = self._features.boxes(item, found)
        first = None
        for name, mask in self._features.masks(item, found):
            rel = f"labels/{name}/{stem}.{IMAGE_EXT[label_fmt]}"
            first = first or rel
            files.label(rel, mask, label_fmt)
        return [] if first is None else [first.replace("/", "\\")]

    def _annotation(
        self, item: PlanItem, stem: str, image_name: str, files: ChipFiles, result: ChipResult
    ) -> list[str]:
        """The text formats: a KITTI or PASCAL VOC file of the chip's boxes (for
        MultiLabeled_Tiles one box, the whole chip, naming every class in it). Its map.txt
        column."""
        cfg = self.config
        window = item.window
        boxes, result.features = self._features.boxes(item)
        rel = f"labels/{stem}.{self.traits.label_ext}"
        depth = cfg.raster.count
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
        files.text(rel, text.encode("utf-8"))
        return [rel.replace("/", "\\")]


@dataclass(frozen=True)
class _Region:
    """A group's source region as read: the image, and the second image and label raster
    where the export has them, all on the region's window."""

    window: Window
    image: npt.NDArray[Any]
    image2: npt.NDArray[Any] | None
    labels: npt.NDArray[Any] | None

    def cut(
        self, array: npt.NDArray[Any], item: PlanItem
    ) -> tuple[npt.NDArray[Any], npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """`item`'s chip of one of the region's arrays, with its source rows and columns."""
        return sample(array, self.window, item.frame, item.window.width, item.window.height)


def _feature_labels(
    features: Features | None, class_names: dict[int, str], dtype: str, config: ChipConfig
) -> FeatureLabels | None:
    """Labels drawn from `features`, where the export has them."""
    if features is None:
        return None
    return FeatureLabels(features, class_names, dtype, config.min_overlap, config.raster.cell_area)


def _valid(
    data: npt.NDArray[Any], inside: npt.NDArray[np.bool_] | None, nodata: float | None
) -> npt.NDArray[np.bool_] | None:
    """Pixels that count in statistics: inside the raster and not NoData in every band."""
    if nodata is None:
        return inside
    valid: npt.NDArray[np.bool_] = ~np.all(data == nodata, axis=0)
    return valid if inside is None else valid & inside


def _map_line(cols: list[str], kind: str) -> str:
    """The chip's map.txt line: backslash paths, two spaces apart, and a trailing space."""
    if len(cols) == 1 and kind != "folder":
        # No label column (Export_Tiles from one raster): readers of map.txt take the first
        # line with two columns, so the chip names itself as its own target.
        cols = [*cols, cols[0]]
    return "  ".join(cols) + " "


def _class_order(cfg: ChipConfig) -> Any:
    """MultiLabeled_Tiles lists a chip's classes (their values, as annotations name them) in
    the order of Classes."""
    order = {str(value): i for i, value in enumerate(cfg.class_names)}
    return lambda name: order.get(name, len(order))
