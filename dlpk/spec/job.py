"""The job contract: job.json in, out/result.json and out/progress.jsonl back.

A job is a directory; every path in job.json is relative to it, so the same job runs in a container
at /job or anywhere on disk. These models are the single source of the published JSON Schemas.
"""

from __future__ import annotations

import posixpath
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    model_validator,
)

from dlpk.spec.choices import (
    NETWORK_PREFIXES,
    BlackenMode,
    ChipFormat,
    CropMode,
    Device,
    MetadataFormat,
    NoFeatureTiles,
    ProcessingMode,
    ReferenceSystem,
)

API_VERSION = "dlpk/v1"


def _relative(path: str) -> str:
    """Paths must stay inside the job directory so a job runs unchanged wherever it is mounted."""
    if not path or path.startswith(("/", "\\")) or (len(path) > 1 and path[1] == ":"):
        raise ValueError(f"{path!r} must be a relative path inside the job directory")
    norm = posixpath.normpath(path.replace("\\", "/"))
    if norm == ".." or norm.startswith("../"):
        raise ValueError(f"{path!r} points outside the job directory")
    return norm


def _under_out(path: str) -> str:
    if path != "out" and not path.startswith("out/"):
        raise ValueError(f"{path!r}: outputs must be written under out/")
    return path


def _raster(path: str) -> str:
    return path if path.startswith(NETWORK_PREFIXES) else _relative(path)


RelPath = Annotated[str, AfterValidator(_relative)]
OutPath = Annotated[str, AfterValidator(_relative), AfterValidator(_under_out)]
#: A relative path, or a GDAL network path (`/vsicurl?url=...`, `/vsis3/bucket/key`, ...).
RasterPath = Annotated[str, AfterValidator(_raster)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


PART_FOLDER = "out/part"  # where a share writes its part files, in its own job directory


class JobPart(_Strict):
    """One step of a job run in shares by a cluster backend (docs/cluster.md): the plan's work
    units (batches of tiling windows, groups of chips) are cut into `count` consecutive ranges,
    each run as its own job; the assemble step then writes the job's outputs from their part
    files exactly as one run of the whole job writes them."""

    step: Literal["plan", "share", "assemble"] = Field(
        description="plan: check the job and count its work units (result counts "
        "plan_units), writing nothing but what the task prepares (an export's folder); "
        "share: run range `index` of `count`, writing part files to out/part/; assemble: "
        "make the job's outputs from the part files of the `count` shares"
    )
    count: int = Field(default=1, ge=1, description="How many ranges the plan is cut into")
    index: int = Field(default=0, ge=0, description="share: which range, from 0")
    shares: RelPath = Field(
        default="shares",
        description="assemble: the folder holding each share's job directory, named by its "
        "index (shares/0, shares/1, ...)",
    )

    @model_validator(mode="after")
    def _index_in_range(self) -> JobPart:
        if self.index >= self.count:
            raise ValueError(f"part index {self.index} is not below count {self.count}")
        return self


PART_DESCRIPTION = "Set by a cluster backend: run one step of the job in shares"


class ExportChipsInputs(_Strict):
    """Inputs of export_chips, named as ArcGIS's Export Training Data names them
    (docs/esri-formats.md#parameters)."""

    in_raster: RasterPath = Field(
        description="A raster, or a folder of images (every file in it GDAL reads as a raster; "
        "parameters.processing_mode says how they are combined), or a raster GDAL reads over "
        "the network (/vsicurl?url=..., /vsis3/...)"
    )
    in_class_data: RelPath | None = Field(
        default=None, description="Vector features (any OGR format) or a classified raster"
    )
    in_mask_polygons: RelPath | None = Field(
        default=None, description="Polygons; only chips lying completely inside them are written"
    )
    in_raster2: RelPath | None = Field(
        default=None,
        description="Second raster (change detection, image translation), written to images2/ "
        "(Classified_Tiles, Export_Tiles) or B/ (CycleGAN)",
    )
    in_instance_data: RelPath | None = Field(
        default=None,
        description="Panoptic_Segmentation: the instance features (any OGR format), written as "
        "instance masks to labels2/<class>/",
    )


class ExportChipsOutputs(_Strict):
    out_folder: OutPath = "out/chips"


MIN_ROTATION_ANGLE = 1.0  # degrees: at most 360 rotated copies of each chip


def _few_rotations(angle: float) -> float:
    """rotation_angle is 0 (no copies) or at least MIN_ROTATION_ANGLE (360 copies at most)."""
    if 0 < angle < MIN_ROTATION_ANGLE:
        raise ValueError(
            f"{angle:g} degrees would write {360 / angle:.0f} rotated copies of every chip; use "
            f"0 (none) or an angle of at least {MIN_ROTATION_ANGLE:g} degree (at most "
            f"{360 / MIN_ROTATION_ANGLE:.0f} copies)"
        )
    return angle


class ExportChipsParameters(_Strict):
    """Parameters of export_chips. ArcGIS names where ArcGIS has the parameter
    (docs/esri-formats.md#parameters)."""

    metadata_format: MetadataFormat = "PASCAL_VOC_rectangles"
    image_chip_format: ChipFormat = "TIFF"
    tile_size_x: int = Field(default=256, gt=0)
    tile_size_y: int | None = Field(default=None, gt=0, description="Defaults to tile_size_x")
    stride_x: int = Field(default=128, gt=0)
    stride_y: int | None = Field(default=None, gt=0, description="Defaults to stride_x")
    output_nofeature_tiles: NoFeatureTiles = "ONLY_TILES_WITH_FEATURES"
    class_value_field: str | None = Field(
        default=None, description="Defaults to a field named value or classvalue, else one class"
    )
    class_name_field: str | None = Field(
        default=None,
        description="Field of the class names (not an ArcGIS parameter); defaults to a field "
        "named classname (Esri's Training Samples Manager), else the class values",
    )
    instance_class_value_field: str | None = Field(
        default=None,
        description="Class field of in_instance_data; defaults as class_value_field does",
    )
    class_data_layer: str | None = Field(
        default=None, description="Layer of a multi-layer vector dataset (e.g. a GeoPackage)"
    )
    buffer_radius: float = Field(default=0.0, ge=0, description="In the raster CRS's linear unit")
    min_polygon_overlap_ratio: float = Field(default=0.0, ge=0, le=1)
    rotation_angle: Annotated[float, AfterValidator(_few_rotations)] = Field(
        default=0.0,
        ge=0,
        lt=360,
        # each chip is written once per multiple of the angle below 360: a tiny angle would
        # multiply the export without bound (0.001 degrees: 360000 copies of every chip)
        json_schema_extra={"anyOf": [{"const": 0}, {"minimum": MIN_ROTATION_ANGLE}]},
        description="Also write copies of each chip rotated by every multiple of this angle "
        "(degrees, counter-clockwise); 0 writes none, else at least 1 degree (at most 360 "
        "copies of each chip)",
    )
    reference_system: ReferenceSystem = Field(
        default="MAP_SPACE",
        description="MAP_SPACE: chips georeferenced in the raster's CRS; PIXEL_SPACE: in source "
        "pixel coordinates (x = column, y = -row), without a CRS",
    )
    blacken_around_feature: BlackenMode = Field(
        default="NO_BLACKEN",
        description="Labeled_Tiles, Imagenet: BLACKEN_AROUND_FEATURE sets the pixels outside "
        "the chip's feature to 0",
    )
    crop_mode: CropMode = Field(
        default="FIXED_SIZE",
        description="Labeled_Tiles, Imagenet: FIXED_SIZE chips of the tile size centred on each "
        "feature; BOUNDING_BOX chips cut to each feature's bounding box (sizes vary)",
    )
    processing_mode: ProcessingMode = Field(
        default="PROCESS_AS_MOSAICKED_IMAGE",
        description="When in_raster is a folder of images: one mosaic of them (they must share "
        "a CRS, a cell size and an aligned grid), or each image tiled on its own, chips "
        "numbered on across images (images of one band layout, any CRS)",
    )
    pad_edges: bool = Field(
        default=False,
        description="Pad partial edge tiles with 0 instead of shifting them inside the raster",
    )
    workers: int | None = Field(default=None, gt=0, description="Defaults to all cores")
    resume: bool = False
    overwrite: bool = False
    part: JobPart | None = Field(default=None, exclude=True, description=PART_DESCRIPTION)


class ExportChipsJob(_Strict):
    """job.json for the export_chips task."""

    apiVersion: Literal["dlpk/v1"] = "dlpk/v1"
    task: Literal["export_chips"]
    model: RelPath | None = Field(default=None, description="Folder holding the unpacked package")
    inputs: ExportChipsInputs
    parameters: ExportChipsParameters = Field(default_factory=lambda: ExportChipsParameters())
    outputs: ExportChipsOutputs = Field(default_factory=ExportChipsOutputs)


class InferenceParameters(_Strict):
    """Parameters shared by the inference tasks."""

    arguments: dict[str, str] = Field(
        default_factory=dict,
        description="Model arguments as in ArcGIS (padding, batch_size, threshold, ...)",
    )
    device: Device = "cpu"
    trust_code: bool = Field(
        default=False,
        description="Allow unpickling full PyTorch modules (implied inside a container)",
    )
    extent: list[float] | None = Field(
        default=None,
        min_length=4,
        max_length=4,
        description="Process only XMIN YMIN XMAX YMAX (raster CRS); for classify-objects, "
        "classify only the features meeting it",
    )
    part: JobPart | None = Field(default=None, exclude=True, description=PART_DESCRIPTION)


MOSAIC_INPUT = (
    "A raster, or a folder of images on one grid (read as one VRT mosaic of them, "
    "PROCESS_AS_MOSAICKED_IMAGE), or a raster GDAL reads over the network (/vsicurl?url=..., "
    "/vsis3/...)"
)


class RasterInputs(_Strict):
    in_raster: RasterPath = Field(description=MOSAIC_INPUT)
    in_aoi: RelPath | None = Field(
        default=None, description="Polygons limiting the processed area (any OGR format)"
    )


class FeatureInputs(_Strict):
    in_raster: RasterPath = Field(description=MOSAIC_INPUT)
    in_features: RelPath | None = Field(
        default=None,
        description="One output feature per input feature; without features each image of "
        "in_raster (a raster or a folder of images) is one object",
    )
    in_aoi: RelPath | None = Field(
        default=None,
        description="Polygons: only features meeting them are classified; the others are "
        "written with null labels",
    )


class ClassifyPixelsParameters(InferenceParameters):
    """Parameters of classify_pixels: those of every inference task and the processing mode."""

    processing_mode: ProcessingMode = Field(
        default="PROCESS_AS_MOSAICKED_IMAGE",
        description="When in_raster is a folder of images: one mosaic of them classified to "
        "out_classified_raster, or each image classified on its own grid to a GeoTIFF of its "
        "name in out_classified_folder",
    )
    resume: bool = Field(
        default=False,
        description="Finish an interrupted run of the same model, inputs and arguments from "
        "the tiles it had written (kept in .dlpk-checkpoint beside the output)",
    )


class ClassifyPixelsOutputs(_Strict):
    out_classified_raster: OutPath = "out/classified.tif"
    out_classified_folder: OutPath | None = Field(
        default=None,
        description="PROCESS_ITEMS_SEPARATELY: the folder of one classified GeoTIFF per image",
    )


class DetectObjectsOutputs(_Strict):
    out_detected_objects: OutPath = Field(
        default="out/detections.gpkg", description="Format follows the extension"
    )


class ClassifyObjectsOutputs(_Strict):
    out_classified_objects: OutPath = Field(
        default="out/classified.gpkg", description="Format follows the extension"
    )


class _InferenceJob(_Strict):
    apiVersion: Literal["dlpk/v1"] = "dlpk/v1"
    model: RelPath = Field(description="The .emd (or the folder holding it) of the unpacked model")
    parameters: InferenceParameters = Field(default_factory=lambda: InferenceParameters())


class ClassifyPixelsJob(_InferenceJob):
    """job.json for classify_pixels: a classified GeoTIFF of class Values."""

    task: Literal["classify_pixels"]
    inputs: RasterInputs
    parameters: ClassifyPixelsParameters = Field(default_factory=lambda: ClassifyPixelsParameters())
    outputs: ClassifyPixelsOutputs = Field(default_factory=ClassifyPixelsOutputs)


class DetectObjectsJob(_InferenceJob):
    """job.json for detect_objects: polygons with Class, ClassValue and Confidence."""

    task: Literal["detect_objects"]
    inputs: RasterInputs
    outputs: DetectObjectsOutputs = Field(default_factory=DetectObjectsOutputs)


class ClassifyObjectsParameters(InferenceParameters):
    """Parameters of classify_objects: those of every inference task and the features' layer."""

    features_layer: str | None = Field(
        default=None,
        description="The layer of in_features to classify (needed when it holds several, "
        "as a GeoPackage or File Geodatabase can)",
    )


class ClassifyObjectsJob(_InferenceJob):
    """job.json for classify_objects: the input features with ClassLabel and Confidence."""

    task: Literal["classify_objects"]
    inputs: FeatureInputs
    parameters: ClassifyObjectsParameters = Field(
        default_factory=lambda: ClassifyObjectsParameters()
    )
    outputs: ClassifyObjectsOutputs = Field(default_factory=ClassifyObjectsOutputs)


Job = Annotated[
    ExportChipsJob | ClassifyPixelsJob | DetectObjectsJob | ClassifyObjectsJob,
    Field(discriminator="task"),
]
JOB = TypeAdapter(Job)


class OutputFile(_Strict):
    path: str = Field(description="Relative to the job directory, with forward slashes")
    size: int = Field(ge=0)
    sha256: str = Field(pattern="^[0-9a-f]{64}$")


class ResultError(_Strict):
    type: str
    message: str


class NodeReport(_Strict):
    """What one node of a cluster ran."""

    node: str = Field(description="The node's id, as the cluster names it")
    address: str = Field(description="The node's IP address")
    shares: int = Field(ge=0, description="Shares that finished on it")
    counts: dict[str, int] = Field(
        default_factory=dict, description="Those shares' counts (tiles, chips, ...), summed"
    )
    peak_memory_mib: float | None = Field(
        default=None, ge=0, description="The largest peak resident memory of its workers"
    )


class ClusterReport(_Strict):
    """How a cluster backend ran the job: in how many shares, on which nodes, how many times a
    share was started again after its worker was lost."""

    engine: Literal["ray"] = "ray"
    address: str = Field(description="The cluster the driver joined; local: one it started")
    workers: int = Field(ge=1, description="Workers (one actor each) the shares ran on")
    shares: int = Field(ge=1)
    retries: int = Field(ge=0, description="Share runs started again after a lost worker")
    nodes: list[NodeReport] = Field(default_factory=list)
    timings: dict[str, float] = Field(
        default_factory=dict, description="Seconds: connect, plan, shares, assemble"
    )


class Result(_Strict):
    """out/result.json, written last and atomically; its presence means the job finished."""

    apiVersion: Literal["dlpk/v1"] = "dlpk/v1"
    task: str | None
    status: Literal["done", "failed"]
    exit_code: int
    error: ResultError | None = None
    outputs: list[OutputFile] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict)
    timings: dict[str, float] = Field(default_factory=dict, description="Seconds")
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="Parameters after defaults were resolved"
    )
    software: dict[str, str] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list, description="Not failures: e.g. no CRS")
    started: str = Field(description="ISO 8601, UTC")
    finished: str = Field(description="ISO 8601, UTC")
    cluster: ClusterReport | None = Field(
        default=None, description="Set by a cluster backend: shares, nodes, retries"
    )


class ProgressRecord(_Strict):
    """One line of out/progress.jsonl."""

    stage: str
    done: int = Field(ge=0)
    total: int | None = Field(default=None, ge=0)
    elapsed: float = Field(ge=0, description="Seconds since the job started")
