"""ArcGIS's parameter names on dlpk's command line: one table, read by the parsers, the
did-you-mean of unknown options and docs/arcgis-names.md, so the three cannot drift.

Names are those of the tool signatures in ArcGIS Pro's help (Export Training Data For Deep
Learning, Classify Pixels / Detect Objects / Classify Objects Using Deep Learning), written
`--kebab-case`; dlpk/cli/names_doc.py renders the table for the docs.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

EXPORT = ("export-chips",)
PIXELS = ("classify-pixels",)
DETECT = ("detect-objects",)
OBJECTS = ("classify-objects",)
INFERENCE = (*PIXELS, *DETECT, *OBJECTS)

#: The ArcGIS tool each command stands for.
TOOLS = {
    "export-chips": "Export Training Data For Deep Learning",
    "classify-pixels": "Classify Pixels Using Deep Learning",
    "detect-objects": "Detect Objects Using Deep Learning",
    "classify-objects": "Classify Objects Using Deep Learning",
}


@dataclass(frozen=True)
class Name:
    """One ArcGIS parameter: the option it is on these commands, and how dlpk spells the same.

    `values` follow the ArcGIS option in the example (ArcGIS's own vocabulary); `dlpk` is dlpk's
    form of the same example, its first word dlpk's option. Without `dlpk` the parameter has no
    equivalent, and `note` says what dlpk does instead.
    """

    arcgis: str
    commands: tuple[str, ...]
    values: tuple[str, ...] = ()
    dlpk: tuple[str, ...] = ()
    note: str = ""

    @property
    def option(self) -> str:
        return "--" + self.arcgis.replace("_", "-")

    @property
    def mapped(self) -> bool:
        return bool(self.dlpk)


def _same(
    arcgis: str, commands: tuple[str, ...], option: str, *values: str, note: str = ""
) -> Name:
    """A parameter whose values dlpk takes as ArcGIS writes them."""
    return Name(arcgis, commands, values, (option, *values), note)


NAMES: tuple[Name, ...] = (
    # Export Training Data For Deep Learning
    _same("in_raster", EXPORT, "--raster", "examples/scene.tif"),
    _same("out_folder", EXPORT, "--out", "chips"),
    _same("in_class_data", EXPORT, "--labels", "examples/buildings.geojson"),
    _same("image_chip_format", EXPORT, "--chip-format", "PNG", note="MRF is not written"),
    _same("tile_size_x", EXPORT, "--tile-size", "128"),
    _same("tile_size_y", EXPORT, "--tile-size-y", "96"),
    _same("stride_x", EXPORT, "--stride", "64"),
    _same("stride_y", EXPORT, "--stride-y", "48"),
    Name(
        "output_nofeature_tiles",
        EXPORT,
        ("ALL_TILES",),
        ("--all-tiles",),
        "ONLY_TILES_WITH_FEATURES is the default, no --all-tiles",
    ),
    _same("metadata_format", EXPORT, "--format", "Classified_Tiles"),
    Name(
        "start_index",
        EXPORT,
        note="deprecated in ArcGIS; chips are numbered from 000000000 (--resume finishes an "
        "interrupted export instead of appending to it)",
    ),
    _same("class_value_field", EXPORT, "--class-field", "classvalue"),
    _same("buffer_radius", EXPORT, "--buffer-radius", "2.5"),
    _same("in_mask_polygons", EXPORT, "--mask-polygons", "examples/buildings.geojson"),
    _same("rotation_angle", EXPORT, "--rotation-angle", "90"),
    _same("reference_system", EXPORT, "--reference-system", "PIXEL_SPACE"),
    _same("processing_mode", EXPORT, "--processing-mode", "PROCESS_ITEMS_SEPARATELY"),
    Name(
        "blacken_around_feature",
        EXPORT,
        ("BLACKEN_AROUND_FEATURE",),
        ("--blacken-around-feature",),
        "NO_BLACKEN is the default, no flag",
    ),
    _same("crop_mode", EXPORT, "--crop-mode", "BOUNDING_BOX"),
    _same("in_raster2", EXPORT, "--raster2", "after.tif"),
    _same("in_instance_data", EXPORT, "--instance-data", "instances.gpkg"),
    _same("instance_class_value_field", EXPORT, "--instance-class-field", "kind"),
    _same("min_polygon_overlap_ratio", EXPORT, "--min-overlap", "0.25"),
    # The three inference tools
    _same("in_raster", INFERENCE, "--raster", "examples/scene.tif"),
    _same("in_model_definition", INFERENCE, "--model", "examples/landcover.dlpk"),
    _same("out_classified_raster", PIXELS, "--output", "classes.tif"),
    _same(
        "out_classified_folder",
        PIXELS,
        "--output",
        "classes",
        note="with --processing-mode PROCESS_ITEMS_SEPARATELY",
    ),
    _same("out_detected_objects", DETECT, "--output", "objects.gpkg"),
    _same("out_feature_class", OBJECTS, "--output", "objects.gpkg"),
    Name(
        "arguments",
        INFERENCE,
        ("padding 32;batch_size 4",),
        ("--arg", "padding=32", "--arg", "batch_size=4"),
        "ArcGIS's value table: `name value` pairs separated by `;`; mixed with --arg, the "
        "later wins",
    ),
    Name(
        "model_arguments",
        INFERENCE,
        ("padding 32;batch_size 4",),
        ("--arg", "padding=32", "--arg", "batch_size=4"),
        "Classify Objects' and arcgis.learn's name for `arguments`",
    ),
    _same("processing_mode", PIXELS, "--processing-mode", "PROCESS_ITEMS_SEPARATELY"),
    _same("in_features", OBJECTS, "--features", "examples/buildings.geojson"),
    Name(
        "processing_mode",
        (*DETECT, *OBJECTS),
        note="a folder of images is read as one mosaic (by classify-objects without "
        "--features: each image is one object)",
    ),
    Name(
        "run_nms",
        DETECT,
        note="detections are always merged across tiles by class-aware NMS; after a package's "
        "raster function, --arg run_nms=false turns it off",
    ),
    Name(
        "max_overlap_ratio",
        DETECT,
        note="the NMS overlap is the model argument nms_overlap: --arg nms_overlap=0.3; after a "
        "raster function, --arg max_overlap_ratio=0.3",
    ),
    Name(
        "confidence_score_field",
        DETECT,
        note="the field is always Confidence; after a raster function, "
        "--arg confidence_score_field=NAME names the function's",
    ),
    Name(
        "class_value_field",
        DETECT,
        note="the fields are always Class (name) and ClassValue; after a raster function, "
        "--arg class_value_field=NAME names the function's",
    ),
    Name("class_label_field", OBJECTS, note="the field is always ClassLabel"),
    Name("caption_field", OBJECTS, note="image captioning models are not run"),
    Name(
        "use_pixelspace",
        (*PIXELS, *DETECT),
        note="outputs are in the raster's CRS (in pixel space only for a raster without one)",
    ),
    Name(
        "in_objects_of_interest",
        DETECT,
        note="every class is detected; select classes from the output's Class field",
    ),
    Name(
        "out_featureclass",
        PIXELS,
        note="input feature classes with image attachments are not read",
    ),
    Name("overwrite_attachments", PIXELS, note="input image attachments are not read"),
)


def names_for(command: str) -> list[Name]:
    return [name for name in NAMES if command in name.commands]


def option_strings(command: str, *spellings: str) -> tuple[str, ...]:
    """dlpk's option strings for one option, followed by the ArcGIS names that are its aliases
    on `command` (those whose values need no translation)."""
    aliases = [
        name.option
        for name in names_for(command)
        if name.mapped
        and name.dlpk[0] in spellings
        and name.dlpk[1:] == name.values
        and name.option not in spellings
    ]
    return (*spellings, *dict.fromkeys(aliases))


def unmapped(command: str, option: str) -> Name | None:
    """The ArcGIS parameter `option` spells on `command`, when dlpk has no equivalent."""
    for name in names_for(command):
        if not name.mapped and name.option == option:
            return name
    return None


class KeywordFlag(argparse.Action):
    """A dlpk flag that also takes ArcGIS's keyword for it, e.g. `--blacken-around-feature
    [BLACKEN_AROUND_FEATURE|NO_BLACKEN]`: `keywords` maps each keyword to the flag's value."""

    def __init__(
        self, option_strings: Sequence[str], dest: str, keywords: dict[str, bool], **kwargs: Any
    ) -> None:
        self.keywords = keywords
        kwargs.setdefault("default", False)
        super().__init__(option_strings, dest, choices=tuple(keywords), **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, self.keywords[str(values)])
