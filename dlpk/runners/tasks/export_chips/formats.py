"""What each metadata format writes (docs/esri-formats.md#folder-layout): folders, label kind,
statistics kind."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FormatTraits:
    name: str
    # "none", "raster" (one class raster per chip), "masks" (per class), "text", "folder"
    # (no label file: the image lies in images/<class name>/), "panoptic" (a class raster in
    # labels/ and instance masks per instance class in labels2/)
    labels: str
    label_ext: str | None  # for text labels; rasters use the chip format's lossless extension
    output_features: bool  # OutputFeatures in esri_accumulated_stats.json
    needs_class_data: bool
    per_feature_tiles: bool = False  # one chip per feature (Labeled_Tiles, Imagenet)


FORMATS: dict[str, FormatTraits] = {
    "Classified_Tiles": FormatTraits("Classified_Tiles", "raster", None, False, True),
    "PASCAL_VOC_rectangles": FormatTraits("PASCAL_VOC_rectangles", "text", "xml", True, True),
    "KITTI_rectangles": FormatTraits("KITTI_rectangles", "text", "txt", True, True),
    "RCNN_Masks": FormatTraits("RCNN_Masks", "masks", None, True, True),
    "Labeled_Tiles": FormatTraits("Labeled_Tiles", "text", "xml", True, True, True),
    "MultiLabeled_Tiles": FormatTraits("MultiLabeled_Tiles", "text", "xml", True, True),
    "Export_Tiles": FormatTraits("Export_Tiles", "none", None, False, False),
    "Panoptic_Segmentation": FormatTraits("Panoptic_Segmentation", "panoptic", None, False, True),
    "Imagenet": FormatTraits("Imagenet", "folder", None, True, True, True),
    # two unpaired Export_Tiles exports, A/ and B/ (see tasks.export_chips)
    "CycleGAN": FormatTraits("CycleGAN", "none", None, False, False),
}

IMAGE_EXT = {"TIFF": "tif", "PNG": "png", "JPEG": "jpg"}
WORLD_EXT = {"TIFF": "tfw", "PNG": "pgw", "JPEG": "jgw"}
DRIVER = {"TIFF": "GTiff", "PNG": "PNG", "JPEG": "JPEG"}
# Label rasters must be lossless: JPEG chips get PNG labels.
LABEL_FORMAT = {"TIFF": "TIFF", "PNG": "PNG", "JPEG": "PNG"}


def chip_stem(index: int) -> str:
    """Chip names are a 9-digit zero-padded running index
    (docs/esri-formats.md#folder-layout)."""
    return f"{index:09d}"
