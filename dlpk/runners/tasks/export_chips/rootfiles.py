"""The four root files of an export folder (docs/esri-formats.md#root-files), built from merged
statistics.

Key names are exactly Esri's: arcgis.learn indexes these dicts with them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from dlpk.runners.io.rasters import RasterInfo
from dlpk.runners.tasks.export_chips.encode import Colormap
from dlpk.runners.tasks.export_chips.formats import FORMATS
from dlpk.runners.tasks.export_chips.stats import BandMoments, ClassSummary, Running

# Distinct colours for class entries (Classes[].Color), repeated when there are more classes.
_PALETTE = [
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 212),
]


@dataclass(frozen=True)
class ExportSummary:
    raster: RasterInfo
    metadata_format: str
    tile_x: int
    tile_y: int
    classes: dict[int, str]
    bands: BandMoments
    summary: ClassSummary
    num_tiles: int
    raster2: RasterInfo | None = None
    bands2: BandMoments | None = None
    reference_system: str = "MAP_SPACE"
    variable_size: bool = False  # Labeled_Tiles cropped to each feature's bounding box
    blacken: bool = False
    instance_classes: dict[int, str] = field(default_factory=dict)  # Panoptic_Segmentation


def map_txt(lines: list[str]) -> str:
    """One line per chip; backslash paths, two spaces between columns, a trailing space."""
    return "".join(line + "\n" for line in lines)


def _stddev(bands: BandMoments) -> list[float]:
    return [math.sqrt(m2 / n) if n else 0.0 for m2, n in zip(bands.m2, bands.count, strict=True)]


def _finite(value: float) -> float:
    return float(value) if math.isfinite(value) else 0.0


def band_stats_state(bands: BandMoments) -> list[dict[str, float | int]]:
    """BandStatsState: M1 = mean, M2 = sum of squared deviations, Num = pixel count."""
    return [
        {
            "Min": _finite(bands.min[b]),
            "Max": _finite(bands.max[b]),
            "M1": float(bands.mean[b]),
            "M2": float(bands.m2[b]),
            "Num": int(bands.count[b]),
        }
        for b in range(bands.count.size)
    ]


def classes_list(classes: dict[int, str]) -> list[dict[str, Any]]:
    return [{"ClassValue": v, "ClassName": n} for v, n in classes.items()]


def accumulated_stats(s: ExportSummary) -> dict[str, Any]:
    traits = FORMATS[s.metadata_format]
    values = list(s.classes)
    summ = s.summary
    doc: dict[str, Any] = {
        "Version": 1,
        "NumBands": s.raster.count,
        "TileSizeX": s.tile_x,
        "TileSizeY": s.tile_y,
        "NumClasses": len(values),
        "NumTiles": s.num_tiles,
        "OutputFeatures": traits.output_features,
        "MetaDataMode": s.metadata_format,
        "Classes": classes_list(s.classes),
        "BandStatsState": band_stats_state(s.bands),
    }
    per_class = [summ.per_class.get(v, Running()).as_esri() for v in values]
    if traits.labels == "none":
        pass
    elif traits.output_features:
        doc["FeatureStats"] = {
            "NumClasses": len(values),
            "NumImagesTotal": summ.images_total,
            "NumFeaturesTotal": int(sum(summ.amount_per_class.values())),
            "NumImagesPerClass": [summ.images_per_class.get(v, 0) for v in values],
            "NumFeaturesPerClass": [int(summ.amount_per_class.get(v, 0)) for v in values],
            "NumFeaturesPerImage": summ.per_image.as_esri(),
            "FeatureAreaPerClass": per_class,
        }
    else:
        doc["ClassPixelStats"] = {
            "NumClasses": len(values),
            "NumImagesTotal": summ.images_total,
            "NumImagesPerClass": [summ.images_per_class.get(v, 0) for v in values],
            "NumPixelsPerClass": [int(summ.amount_per_class.get(v, 0)) for v in values],
            "NumClassesPerImage": summ.per_image.as_esri(),
            "PixelsPerClass": per_class,
        }
    return doc


def all_tiles_stats(raster: RasterInfo, bands: BandMoments) -> list[dict[str, Any]]:
    """Per band statistics over every exported chip (StdDev = sqrt(M2 / Num))."""
    std = _stddev(bands)
    return [
        {
            "BandName": raster.band_names[b],
            "Min": _finite(bands.min[b]),
            "Max": _finite(bands.max[b]),
            "Mean": float(bands.mean[b]),
            "StdDev": std[b],
        }
        for b in range(raster.count)
    ]


def class_colours(classes: dict[int, str]) -> dict[int, tuple[int, int, int]]:
    """Each class's colour: the palette's, in class order (the .emd's Classes and the label
    chips' colour table agree)."""
    return {v: _PALETTE[i % len(_PALETTE)] for i, v in enumerate(classes)}


def label_colormap(classes: dict[int, str], dtype: str) -> Colormap | None:
    """The colour table of 8-bit class label chips: black NoData/background 0, the classes'
    colours. None for wider labels (a 16-bit table has 65536 entries, in every chip)."""
    if dtype != "uint8" or not classes:
        return None
    return {0: (0, 0, 0, 255), **{v: (*c, 255) for v, c in class_colours(classes).items()}}


def emd_classes(classes: dict[int, str]) -> list[dict[str, Any]]:
    colours = class_colours(classes)
    return [{"Value": v, "Name": n, "Color": list(colours[v])} for v, n in classes.items()]


def model_definition(s: ExportSummary) -> dict[str, Any]:
    """The export's esri_model_definition.emd: a data manifest, not a usable model definition."""
    doc: dict[str, Any] = {
        "MetaDataMode": s.metadata_format,
        "ImageHeight": s.tile_y,
        "ImageWidth": s.tile_x,
        "ExtractBands": list(range(s.raster.count)),
        "ImageSpaceUsed": s.reference_system,
        "IsMultidimensional": False,
        "InputRastersProps": {
            "RasterCount": 1 if s.raster2 is None else 2,
            "SensorName": "",
            "BandNames": list(s.raster.band_names),
        },
        "AllTilesStats": all_tiles_stats(s.raster, s.bands),
        "Classes": emd_classes(s.classes),
    }
    if s.raster2 is not None and s.bands2 is not None:
        doc["AllTilesStats2"] = all_tiles_stats(s.raster2, s.bands2)
    if s.metadata_format == "Panoptic_Segmentation":
        doc["Panoptic_Segmentation_Instance_Classes"] = emd_classes(s.instance_classes)
    if s.metadata_format in ("Labeled_Tiles", "MultiLabeled_Tiles", "Imagenet"):
        doc["CropTileMode"] = "Variable_Size" if s.variable_size else "Fixed_Size"
        doc["BlackenAroundFeature"] = s.blacken
    return doc


def _fmt(x: float) -> str:
    return f"{x:.2f}"


def stats_txt(s: ExportSummary) -> str:
    """The fixed-width human-readable summary (docs/esri-formats.md#root-files)."""
    summ = s.summary
    traits = FORMATS[s.metadata_format]
    lines = [f"images = {s.num_tiles} *{s.raster.count}*{s.tile_y}*{s.tile_x}"]
    if traits.labels == "none":
        return "\n".join(lines) + "\n"
    unit = "features" if traits.output_features else "pixels"
    total = int(sum(summ.amount_per_class.values()))
    per = summ.per_image.as_esri()
    noun = "features" if traits.output_features else "classes"
    lines += [
        f"{unit} = {total}",
        f"{noun} per image = [min = {per['Min']:g}, mean = {_fmt(per['Mean'])}, "
        f"max = {per['Max']:g}]",
        f"classes = {len(s.classes)}",
    ]
    header = ["cls name", "cls value", "images", unit, "min size", "mean size", "max size"]
    rows = []
    for value, name in s.classes.items():
        size = (summ.sizes if traits.output_features else summ.per_class).get(value, Running())
        st = size.as_esri()
        rows.append(
            [
                name,
                str(value),
                str(summ.images_per_class.get(value, 0)),
                str(int(summ.amount_per_class.get(value, 0))),
                _fmt(st["Min"]),
                _fmt(st["Mean"]),
                _fmt(st["Max"]),
            ]
        )
    widths = [max(len(r[i]) for r in [header, *rows]) + 2 for i in range(len(header))]
    for row in [header, *rows]:
        lines.append("".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines) + "\n"


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2) + "\n"
