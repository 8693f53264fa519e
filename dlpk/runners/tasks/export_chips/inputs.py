"""The export's inputs, as the user named them and as read for each raster, and the checks that
refuse unusable ones before any output is touched.

Every check raises BadInputError with a one-line reason, so a bad call fails up front instead
of leaving a half-written export folder behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely

from dlpk.errors import BadInputError
from dlpk.remote import is_remote, shown
from dlpk.runners.io.labels import Features
from dlpk.runners.io.rasters import RasterInfo, open_raster_info
from dlpk.runners.io.sources import RasterSet
from dlpk.runners.tasks.export_chips.formats import FormatTraits
from dlpk.runners.tasks.export_chips.plan_item import PlanItem
from dlpk.spec.job import ExportChipsParameters

# the formats that take in_raster2 (docs/esri-formats.md#parameters)
RASTER2_FORMATS = ("Classified_Tiles", "Export_Tiles", "CycleGAN")


def identity(path: Path) -> dict[str, Any]:
    """What identifies an input across runs and backends (a container sees other paths); a
    raster read over the network, its address."""
    if is_remote(path):
        return {"name": shown(path)}
    stat = path.stat()
    return {"name": path.name, "size": stat.st_size, "mtime": int(stat.st_mtime)}


def optional_identity(path: Path | None) -> dict[str, Any] | None:
    """The identity of an optional input; None when it was not given."""
    return identity(path) if path else None


@dataclass(frozen=True)
class Inputs:
    """The export's inputs as the user named them."""

    raster: Path
    sources: RasterSet
    labels: Path | None
    raster2: Path | None
    mask_polygons: Path | None
    instance_data: Path | None

    def signature(self) -> dict[str, Any]:
        """What identifies the inputs across runs and backends (a resume must match)."""
        raster: Any = identity(self.raster)
        if self.sources.folder:
            items = [identity(path) for path in self.sources.paths]
            raster = {"name": self.raster.name, "items": items}
        return {
            "raster": raster,
            "labels": optional_identity(self.labels),
            "raster2": optional_identity(self.raster2),
            "mask_polygons": optional_identity(self.mask_polygons),
            "instance_data": optional_identity(self.instance_data),
        }


@dataclass
class Item:
    """One raster of the export with what was read for it: features and masks in its pixel
    space, and its chips, numbered after those of the items before it."""

    info: RasterInfo
    features: Features | None = None
    instances: Features | None = None
    mask: shapely.Geometry | None = None
    plan: list[PlanItem] = field(default_factory=list)


def check_chip_format(info: RasterInfo, chip_format: str) -> None:
    """PNG and JPEG chips cannot hold what the raster has: say so instead of losing data."""
    if chip_format in ("PNG", "JPEG"):
        if info.count > 3:
            raise BadInputError(
                f"{chip_format} chips hold at most 3 bands; the raster has {info.count}",
                hint="use --chip-format TIFF",
            )
        if info.dtype != "uint8":
            raise BadInputError(
                f"{chip_format} chips need 8-bit data; the raster is {info.dtype}",
                hint="use --chip-format TIFF",
            )


def second_raster(path: Path, info: RasterInfo, params: ExportChipsParameters) -> RasterInfo:
    """in_raster2: only for formats that pair two images; chips of it obey the same rules."""
    if params.metadata_format not in RASTER2_FORMATS:
        raise BadInputError(
            f"a second raster is used only with {' or '.join(RASTER2_FORMATS)}, "
            f"not {params.metadata_format}"
        )
    info2 = open_raster_info(path)
    check_chip_format(info2, params.image_chip_format)
    if info2.crs_wkt is None and (info2.width, info2.height) != (info.width, info.height):
        raise BadInputError(
            f"second raster {path} has no CRS and a different size from the first raster"
        )
    return info2


def check_feature_tile_options(params: ExportChipsParameters, traits: FormatTraits) -> None:
    """blacken_around_feature and crop_mode shape the one-feature chips of Labeled_Tiles and
    Imagenet (docs/esri-formats.md#parameters); elsewhere they would be silently ignored, so say
    so."""
    asked = [
        f"{name} {value}"
        for name, value, default in (
            ("blacken_around_feature", params.blacken_around_feature, "NO_BLACKEN"),
            ("crop_mode", params.crop_mode, "FIXED_SIZE"),
        )
        if value != default
    ]
    if asked and not traits.per_feature_tiles:
        raise BadInputError(
            f"{' and '.join(asked)} apply to Labeled_Tiles and Imagenet only, not {traits.name}",
            hint="use --format Labeled_Tiles or Imagenet, or drop the option",
        )


def instance_data_refused(format_name: str) -> BadInputError:
    """Instance features (in_instance_data) belong to Panoptic_Segmentation alone."""
    return BadInputError(
        f"instance data is used only with Panoptic_Segmentation, not {format_name}",
        hint="drop --instance-data",
    )


def fitting_items(
    items: list[Item], params: ExportChipsParameters, tile_y: int
) -> tuple[list[Item], list[str]]:
    """Without padding a tile must fit in the raster: the items it fits in, and the names of a
    folder's smaller images, which give no chip (a warning, unless no item fits at all)."""
    if params.pad_edges:
        return items, []
    fitting = [i for i in items if params.tile_size_x <= i.info.width and tile_y <= i.info.height]
    if not fitting:
        smallest = min((i.info for i in items), key=lambda i: i.width * i.height)
        raise BadInputError(
            f"tile {params.tile_size_x}x{tile_y} is larger than the raster"
            + ("s" if len(items) > 1 else "")
            + f" ({smallest.width}x{smallest.height})"
        )
    small = [Path(i.info.path).name for i in items if all(i is not f for f in fitting)]
    return fitting, small
