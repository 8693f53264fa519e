"""One chip, start to finish: read its window, derive its labels, write its files, measure it.

Runs in worker processes. Each worker opens the rasters once (`init_worker`) and then handles
plan items; every file is written under a temporary name and renamed, the image last, so an image
on disk means a finished chip.
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
from rasterio.features import rasterize
from rasterio.vrt import WarpedVRT

from dlpk.atomic import sha256_file, write_bytes_atomic
from dlpk.runners.chips.annotations import Box, kitti, pascal_voc
from dlpk.runners.chips.encode import aux_xml, encode_raster, world_file
from dlpk.runners.chips.formats import (
    FORMATS,
    IMAGE_EXT,
    LABEL_FORMAT,
    WORLD_EXT,
    chip_stem,
)
from dlpk.runners.chips.stats import BandMoments
from dlpk.runners.raster import RasterInfo, read_chip, window_transform
from dlpk.runners.tiling import ChipWindow
from dlpk.runners.vectors import Features, features_in_window


@dataclass(frozen=True)
class PlanItem:
    """A chip to write: its running index, its window and, for per-feature tiles, its feature."""

    index: int
    window: ChipWindow
    focus: int = -1


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
    min_overlap: float = 0.0
    resume: bool = False


@dataclass
class ChipResult:
    index: int
    written: bool
    files: list[tuple[str, int, str]]  # path relative to the export folder, size, sha256
    map_line: str
    bands: BandMoments
    class_pixels: dict[int, int] = field(default_factory=dict)
    features: list[tuple[int, float, float]] = field(default_factory=list)


class ChipWriter:
    """Holds the open datasets of one worker process."""

    def __init__(self, config: ChipConfig) -> None:
        self.config = config
        self.traits = FORMATS[config.metadata_format]
        self.out = Path(config.out_dir)
        self.src = rasterio.open(config.raster.path)
        self.labels: Any = None
        if config.label_raster is not None:
            self.labels = open_label_raster(config.label_raster, config.raster)
        self.tree = shapely.STRtree(config.features.geoms) if config.features else None

    def close(self) -> None:
        if self.labels is not None:
            self.labels.close()
        self.src.close()

    # -- labels ---------------------------------------------------------------------------------
    def label_chip(self, window: ChipWindow) -> npt.NDArray[Any]:
        """Class raster for the window, 0 = NoData/background."""
        dtype = self.config.label_dtype
        if self.labels is not None:
            data, _, _ = read_chip(self.labels, window, 1)
            nodata = self.labels.nodata
            out = data[0]
            if nodata is not None:
                out = np.where(out == nodata, 0, out)
            return np.asarray(out, dtype=dtype)
        assert self.config.features is not None and self.tree is not None
        idx, parts = self._features(window)
        if idx.size == 0:
            return np.zeros((window.height, window.width), dtype=dtype)
        values = self.config.features.values[idx]
        label: npt.NDArray[Any] = rasterize(
            zip(parts, values.tolist(), strict=True),
            out_shape=(window.height, window.width),
            fill=0,
            dtype=dtype,
        )
        return label

    def _features(self, window: ChipWindow) -> tuple[npt.NDArray[np.intp], npt.NDArray[Any]]:
        assert self.config.features is not None and self.tree is not None
        return features_in_window(
            self.config.features,
            self.tree,
            window.col_off,
            window.row_off,
            window.width,
            window.height,
            self.config.min_overlap,
        )

    def boxes(
        self, item: PlanItem, found: tuple[npt.NDArray[np.intp], npt.NDArray[Any]] | None = None
    ) -> tuple[list[Box], list[tuple[int, float, float]]]:
        """Boxes (window pixels, clipped to the tile) and (class, area in map units², size)."""
        assert self.config.features is not None
        idx, parts = found if found is not None else self._features(item.window)
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

    # -- one chip -------------------------------------------------------------------------------
    def run(self, item: PlanItem) -> ChipResult:
        cfg = self.config
        info = cfg.raster
        window = item.window
        stem = chip_stem(item.index)
        image_name = f"{stem}.{IMAGE_EXT[cfg.chip_format]}"
        data, valid_h, valid_w = read_chip(self.src, window, info.count)
        valid = np.zeros(data.shape[1:], dtype=bool)
        valid[:valid_h, :valid_w] = True
        if info.nodata is not None:
            valid &= ~np.all(data == info.nodata, axis=0)
        result = ChipResult(item.index, False, [], "", BandMoments.of(data, valid))
        transform = window_transform(info.transform, window)

        pending: list[tuple[str, bytes | None]] = []  # label/sidecar files, then the image
        label_fmt = LABEL_FORMAT[cfg.chip_format]
        label_ext = IMAGE_EXT[label_fmt]
        map_cols = [f"images\\{image_name}"]
        kind = self.traits.labels
        if kind == "raster":
            label = self.label_chip(window)
            counts = np.bincount(label[valid].ravel().astype(np.int64))
            result.class_pixels = {v: int(counts[v]) for v in cfg.class_names if v < counts.size}
            rel = f"labels/{stem}.{label_ext}"
            pending.append((rel, _lazy(label[np.newaxis], label_fmt, transform, info)))
            pending += _sidecars(rel, label_fmt, transform, info)
            map_cols.append(f"labels\\{stem}.{label_ext}")
        elif kind == "masks":
            idx, parts = self._features(window)
            _, result.features = self.boxes(item, (idx, parts))
            assert cfg.features is not None
            first = None
            for value, name in cfg.class_names.items():
                mine = [
                    p
                    for p, i in zip(parts, idx.tolist(), strict=True)
                    if cfg.features.values[i] == value
                ]
                mask = np.zeros((window.height, window.width), dtype=cfg.label_dtype)
                if mine:
                    mask = rasterize(
                        zip(mine, range(1, len(mine) + 1), strict=True),
                        out_shape=mask.shape,
                        fill=0,
                        dtype=cfg.label_dtype,
                    )
                rel = f"labels/{name}/{stem}.{label_ext}"
                first = first or rel
                pending.append((rel, _lazy(mask[np.newaxis], label_fmt, transform, info)))
                pending += _sidecars(rel, label_fmt, transform, info)
            if first is not None:
                map_cols.append(first.replace("/", "\\"))
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
        result.map_line = "  ".join(map_cols) + " "

        image_rel = f"images/{image_name}"
        pending += _sidecars(image_rel, cfg.chip_format, transform, info)
        pending.append((image_rel, None))  # the image goes last: its presence marks completion
        paths = [rel for rel, _ in pending]
        if cfg.resume and all((self.out / rel).exists() for rel in paths):
            result.files = [_describe(self.out / rel, rel) for rel in paths]
            return result
        for rel, payload in pending:
            if payload is None:
                payload = encode_raster(data, cfg.chip_format, transform, info.crs_wkt, info.nodata)
            elif callable(payload):
                payload = payload()
            target = self.out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(target, payload)
            result.files.append((rel, len(payload), hashlib.sha256(payload).hexdigest()))
        result.written = True
        return result


def _class_order(cfg: ChipConfig) -> Any:
    order = {name: i for i, name in enumerate(cfg.class_names.values())}
    return lambda name: order.get(name, len(order))


def _lazy(array: npt.NDArray[Any], fmt: str, transform: Any, info: RasterInfo) -> Any:
    """Defer encoding until we know the chip must be written (not on --resume)."""
    return lambda: encode_raster(array, fmt, transform, info.crs_wkt)


def _sidecars(rel: str, fmt: str, transform: Any, info: RasterInfo) -> list[tuple[str, Any]]:
    base = rel.rsplit(".", 1)[0]
    out: list[tuple[str, Any]] = [(f"{base}.{WORLD_EXT[fmt]}", world_file(transform).encode())]
    if fmt != "TIFF" and info.crs_wkt:
        out.append((f"{rel}.aux.xml", aux_xml(info.crs_wkt).encode()))
    return out


def _describe(path: Path, rel: str) -> tuple[str, int, str]:
    return rel, path.stat().st_size, sha256_file(path)


def open_label_raster(path: str, raster: RasterInfo) -> Any:
    """The classified raster on the image's grid (warped with nearest neighbour if it differs)."""
    src = rasterio.open(path)
    same = (
        src.crs is not None
        and raster.crs_wkt is not None
        and src.crs == rasterio.crs.CRS.from_wkt(raster.crs_wkt)
        and src.transform == raster.transform
        and (src.width, src.height) == (raster.width, raster.height)
    )
    if same:
        return src
    return WarpedVRT(
        src,
        crs=raster.crs_wkt,
        transform=raster.transform,
        width=raster.width,
        height=raster.height,
        resampling=rasterio.enums.Resampling.nearest,
        nodata=src.nodata if src.nodata is not None else 0,
    )


# -- process-pool plumbing ----------------------------------------------------------------------
_WRITER: ChipWriter | None = None


def init_worker(config: ChipConfig) -> None:
    global _WRITER
    _WRITER = ChipWriter(config)


def run_items(items: list[PlanItem]) -> list[ChipResult]:
    assert _WRITER is not None, "init_worker was not called"
    return [_WRITER.run(item) for item in items]
