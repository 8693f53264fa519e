"""The closed vocabularies of the job contract (ArcGIS's parameter values), without pydantic, so
the command line can offer them as choices without building the job models."""

from __future__ import annotations

from typing import Literal

MetadataFormat = Literal[
    "Classified_Tiles",
    "PASCAL_VOC_rectangles",
    "KITTI_rectangles",
    "RCNN_Masks",
    "Labeled_Tiles",
    "MultiLabeled_Tiles",
    "Export_Tiles",
    "Imagenet",
    "CycleGAN",
    "Panoptic_Segmentation",
]
ChipFormat = Literal["TIFF", "PNG", "JPEG"]
NoFeatureTiles = Literal["ALL_TILES", "ONLY_TILES_WITH_FEATURES"]
ReferenceSystem = Literal["MAP_SPACE", "PIXEL_SPACE"]
BlackenMode = Literal["NO_BLACKEN", "BLACKEN_AROUND_FEATURE"]
CropMode = Literal["FIXED_SIZE", "BOUNDING_BOX"]
ProcessingMode = Literal["PROCESS_AS_MOSAICKED_IMAGE", "PROCESS_ITEMS_SEPARATELY"]
Device = Literal["cpu", "gpu", "auto"]

#: GDAL's network file systems: an input raster named by one is read where it lives, by GDAL
#: (dlpk/remote.py), so it is the one path of a job that is not inside the job directory.
NETWORK_PREFIXES = (
    "/vsicurl/",
    "/vsicurl?",
    "/vsis3/",
    "/vsigs/",
    "/vsiaz/",
    "/vsiadls/",
    "/vsioss/",
    "/vsiswift/",
    "/vsihdfs/",
    "/vsiwebhdfs/",
)
