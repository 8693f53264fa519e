"""The export's class data, read once before planning: features or a classified raster, the
instance features of Panoptic_Segmentation and the mask polygons, placed on every raster.

What is found here fixes the classes, and the dtypes of the label chips, for the whole export,
so every worker writes labels of one kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio

from dlpk.errors import BadInputError
from dlpk.runners.io.labels import (
    Features,
    LoadedFeatures,
    is_vector,
    load_features,
    load_mask,
    overlaps,
    place_features,
    place_mask,
)
from dlpk.runners.io.rasters import RasterInfo, open_on_grid
from dlpk.runners.tasks.export_chips.class_names import FOLDERS, check_class_names
from dlpk.runners.tasks.export_chips.formats import LABEL_FORMAT, FormatTraits
from dlpk.runners.tasks.export_chips.inputs import Inputs, Item, instance_data_refused
from dlpk.spec.job import ExportChipsParameters


@dataclass(frozen=True)
class Labelling:
    """The class data of the export as every chip needs it."""

    classes: dict[int, str]
    label_dtype: str
    label_raster: str | None = None
    instance_classes: dict[int, str] = field(default_factory=dict)
    instance_dtype: str = "uint8"
    warnings: list[str] = field(default_factory=list)


def read_labelling(
    inputs: Inputs,
    items: list[Item],
    info: RasterInfo,
    params: ExportChipsParameters,
    traits: FormatTraits,
    several: bool,
) -> Labelling:
    """Read the class data, instance features and mask polygons onto `items`; `info` is the
    first raster, whose grid features are loaded on, and `several` whether the export has more
    than one raster (then a mask need not meet every one)."""
    label_raster, values, loaded = _class_data(inputs.labels, items, info, params, traits)
    if traits.labels == "none":
        label_raster, values, loaded = None, [], None
        for item in items:
            item.features = None
    warnings = list(loaded.warnings) if loaded is not None else []
    classes = _classes(values, traits, loaded, warnings, folders=traits.labels in FOLDERS)
    instances = _read_instances(inputs.instance_data, items, info, params, traits)
    instance_classes = {}
    if instances is not None:
        warnings += instances.warnings
        instance_values = sorted({int(v) for v in instances.values})
        instance_classes = _classes(instance_values, traits, instances, warnings, folders=True)
    most_instances = max(len(i.instances.values) if i.instances else 0 for i in items)
    if inputs.mask_polygons is not None:
        loaded_mask = load_mask(inputs.mask_polygons, info)
        for item in items:
            item.mask = place_mask(loaded_mask, item.info, require_overlap=not several)
    return Labelling(
        classes=classes,
        label_dtype=_label_dtype(items, values, traits, params.image_chip_format),
        label_raster=label_raster,
        instance_classes=instance_classes,
        instance_dtype=_dtype_for(most_instances),
        warnings=list(dict.fromkeys(warnings)),
    )


def _dtype_for(largest: int) -> str:
    """The smallest label dtype that holds values up to `largest` (a label chip is an
    unsigned image; past 32 bits no raster format arcgis.learn reads holds it)."""
    for dtype, limit in (("uint8", 2**8), ("uint16", 2**16), ("uint32", 2**32)):
        if largest < limit:
            return dtype
    raise BadInputError(
        f"class or feature value {largest} does not fit a label chip (at most {2**32 - 1})",
        "renumber the classes",
    )


def _label_dtype(
    items: list[Item], values: list[int], traits: FormatTraits, chip_format: str
) -> str:
    """RCNN_Masks labels hold feature ids, the others class values; the type holds the largest
    (values are never clipped), in a label format that can store it."""
    if traits.labels == "masks":
        largest = max(len(item.features.values) if item.features else 0 for item in items)
    else:  # class values are 1 and up (checked with the class data)
        largest = max(values) if values else 0
    dtype = _dtype_for(largest)
    if dtype == "uint32" and LABEL_FORMAT[chip_format] == "PNG":
        raise BadInputError(
            f"class value {largest} needs 32-bit labels, which PNG cannot store",
            "use --chip-format TIFF",
        )
    return dtype


def _class_data(
    labels: Path | None,
    items: list[Item],
    info: RasterInfo,
    params: ExportChipsParameters,
    traits: FormatTraits,
) -> tuple[str | None, list[int], LoadedFeatures | None]:
    """The classified raster (None for features), the class values found and the features as
    read (None for a raster); features are placed on the items."""
    if labels is None:
        if traits.needs_class_data:
            raise BadInputError(f"{traits.name} needs class data (--labels)")
        return None, [], None
    if not labels.exists():
        raise BadInputError(f"labels not found: {labels}")
    if is_vector(labels):
        loaded = load_features(
            labels,
            info,
            params.class_value_field,
            params.class_data_layer,
            params.class_name_field,
        )
        for item, placed in zip(items, _place(loaded, items, params), strict=True):
            item.features = placed
        return None, sorted({int(v) for v in loaded.values}), loaded
    if traits.labels not in ("raster", "panoptic", "none"):
        raise BadInputError(
            f"{traits.name} needs vector features; {labels} is not a vector dataset"
        )
    try:
        with rasterio.open(labels):
            pass
    except rasterio.errors.RasterioIOError:
        raise BadInputError(f"cannot read labels {labels} as features or raster") from None
    label_raster = str(labels)
    found = {v for item in items for v in _raster_class_values(label_raster, item.info)}
    if not found:
        raise BadInputError(f"classified raster {labels} has no class pixels over the raster")
    return label_raster, sorted(found), None


def _read_instances(
    path: Path | None,
    items: list[Item],
    info: RasterInfo,
    params: ExportChipsParameters,
    traits: FormatTraits,
) -> LoadedFeatures | None:
    """Panoptic_Segmentation's instance features as read, placed on the items."""
    loaded = _instances(path, info, params, traits)
    if loaded is None:
        return None
    for item, placed in zip(items, _place(loaded, items, params), strict=True):
        item.instances = placed
    return loaded


def _instances(
    path: Path | None, info: RasterInfo, params: ExportChipsParameters, traits: FormatTraits
) -> LoadedFeatures | None:
    """Panoptic_Segmentation's instance features (in_instance_data); no other format uses them."""
    if traits.labels != "panoptic":
        if path is not None:
            raise instance_data_refused(traits.name)
        return None
    if path is None:
        raise BadInputError(
            "Panoptic_Segmentation needs instance features",
            hint="pass --instance-data; its masks go to labels2/<class>/",
        )
    if not is_vector(path):
        raise BadInputError(f"instance data {path} is not a vector dataset")
    return load_features(
        path, info, params.instance_class_value_field, option="--instance-class-field"
    )


def _place(
    loaded: LoadedFeatures, items: list[Item], params: ExportChipsParameters
) -> list[Features]:
    """The features on each raster of the export. One raster takes them all, and they must
    meet it; each image of a folder takes those near it (within two tiles: enough for chips
    padded past its edges or rotated), and only all of them missing is an error."""
    if len(items) == 1:
        return [place_features(loaded, items[0].info, params.buffer_radius)]
    near = 2 * max(params.tile_size_x, params.tile_size_y or params.tile_size_x)
    placed = [
        place_features(loaded, item.info, params.buffer_radius, require_overlap=False, near=near)
        for item in items
    ]
    if not any(overlaps(f.geoms, item.info) for f, item in zip(placed, items, strict=True)):
        raise BadInputError(f"features of {loaded.path} do not overlap any raster of the folder")
    return placed


def _classes(
    values: list[int],
    traits: FormatTraits,
    loaded: LoadedFeatures | None,
    warnings: list[str],
    folders: bool,
) -> dict[int, str]:
    """Class names by value: the features' names (class_names), else the value; the label
    formats keep 0 for NoData, so a class must be 1 or more. Names that also name folders
    (`folders`) must be usable as folder names and distinct."""
    if traits.labels in ("raster", "masks", "panoptic") and any(v < 1 for v in values):
        raise BadInputError(
            f"class values must be 1 or more for {traits.name} (0 is NoData/background); "
            f"found {min(values)}"
        )
    given = loaded.names if loaded is not None else {}
    classes = {v: given.get(v, str(v)) for v in sorted(values)}
    check_class_names(classes, traits.name, folders, warnings)
    return classes


def _raster_class_values(path: str, info: RasterInfo) -> set[int]:
    """Distinct non-zero class values of a classified raster over `info`'s grid, read block by
    block (none when it holds no class pixel there)."""
    found: set[int] = set()
    with rasterio.open(path) as raw:
        if raw.count != 1 or not np.issubdtype(np.dtype(raw.dtypes[0]), np.integer):
            raise BadInputError(f"classified raster {path} must have one integer band")
    src = open_on_grid(path, info)
    try:
        for _, window in src.block_windows(1):
            data = src.read(1, window=window)
            if src.nodata is not None:
                data = data[data != src.nodata]
            found.update(int(v) for v in np.unique(data) if v != 0)
    finally:
        src.close()
    return found
