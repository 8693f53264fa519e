"""The tool dialogs of the page, one per ArcGIS task, as ArcGIS's raster analysis dialogs show
them: each field's REST parameter name, label, type, default and choices. The page draws its
forms from this (`GET /page/tools`), and the model's own arguments from the model item, so the
vocabularies come from dlpk's spec rather than a second copy in the script.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

from dlpk.spec.choices import (
    BlackenMode,
    ChipFormat,
    CropMode,
    MetadataFormat,
    NoFeatureTiles,
    ProcessingMode,
    ReferenceSystem,
)

#: The devices ArcGIS's processorType names.
PROCESSORS = ["CPU", "GPU"]


@dataclass(frozen=True)
class Field:
    """One input of a dialog. `dataType` is `raster` or `features` (a path under one of the
    server's roots), `model` (a model item), or ArcGIS's string, long, double, boolean."""

    name: str
    display_name: str
    data_type: str
    required: bool = False
    default: Any = None
    choices: list[str] | None = None
    description: str = ""

    def as_json(self) -> dict[str, Any]:
        """The model item's spelling of an argument, which the page reads alike."""
        return {
            "name": self.name,
            "displayName": self.display_name,
            "dataType": self.data_type,
            "required": self.required,
            "defaultValue": self.default,
            "choices": self.choices,
            "description": self.description,
        }


@dataclass(frozen=True)
class Tool:
    task: str
    display_name: str
    takes_model: bool
    fields: list[Field]

    def as_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "displayName": self.display_name,
            "takesModel": self.takes_model,
            "fields": [field.as_json() for field in self.fields],
        }


def _choices(vocabulary: Any) -> list[str]:
    return [str(value) for value in get_args(vocabulary)]


def _raster() -> Field:
    return Field("inputRaster", "Input raster", "raster", True, None, None, "a path on the server")


def _model(task: str) -> Field:
    return Field("model", "Model definition", "model", True, None, None, f"a model that can {task}")


def _output(default: str) -> Field:
    return Field("outputName", "Output name", "string", False, default)


PROCESSING = Field(
    "processingMode",
    "Processing mode",
    "string",
    False,
    "PROCESS_AS_MOSAICKED_IMAGE",
    _choices(ProcessingMode),
)
PROCESSOR = Field("processorType", "Processor type", "string", False, "CPU", PROCESSORS)

TOOLS = [
    Tool(
        "ClassifyPixelsUsingDeepLearning",
        "Classify Pixels Using Deep Learning",
        True,
        [
            _raster(),
            _model("classify pixels"),
            _output("classified"),
            PROCESSING,
            PROCESSOR,
        ],
    ),
    Tool(
        "DetectObjectsUsingDeepLearning",
        "Detect Objects Using Deep Learning",
        True,
        [
            _raster(),
            _model("detect objects"),
            _output("detections"),
            Field(
                "maxOverlapRatio",
                "Max overlap ratio",
                "double",
                False,
                0.1,
                None,
                "boxes of a class overlapping more than this are merged (non maximum suppression)",
            ),
            PROCESSOR,
        ],
    ),
    Tool(
        "ClassifyObjectsUsingDeepLearning",
        "Classify Objects Using Deep Learning",
        True,
        [
            _raster(),
            Field(
                "inputFeatures",
                "Input features",
                "features",
                True,
                None,
                None,
                "a path on the server",
            ),
            Field("featuresLayer", "Features layer", "string", False, None, None, "of several"),
            _model("classify objects"),
            _output("classified_objects"),
            PROCESSOR,
        ],
    ),
    Tool(
        "ExportTrainingDataforDeepLearning",
        "Export Training Data For Deep Learning",
        False,
        [
            _raster(),
            Field("inputClassData", "Input feature class or classified raster", "features"),
            _output("chips"),
            Field("chipFormat", "Image format", "string", False, "TIFF", _choices(ChipFormat)),
            Field("tileSizeX", "Tile size X", "long", False, 256),
            Field("tileSizeY", "Tile size Y", "long", False, 256),
            Field("strideX", "Stride X", "long", False, 128),
            Field("strideY", "Stride Y", "long", False, 128),
            Field(
                "metadataFormat",
                "Metadata format",
                "string",
                False,
                "Classified_Tiles",
                _choices(MetadataFormat),
            ),
            Field(
                "outputNoFeatureTiles",
                "Output no feature tiles",
                "string",
                False,
                "ONLY_TILES_WITH_FEATURES",
                _choices(NoFeatureTiles),
            ),
            Field("classValueField", "Class value field", "string"),
            Field("bufferRadius", "Buffer radius", "double", False, 0),
            Field("inputMaskPolygons", "Input mask polygons", "features"),
            Field("rotationAngle", "Rotation angle", "double", False, 0),
            Field(
                "referenceSystem",
                "Reference system",
                "string",
                False,
                "MAP_SPACE",
                _choices(ReferenceSystem),
            ),
            PROCESSING,
            Field(
                "blackenAroundFeature",
                "Blacken around feature",
                "string",
                False,
                "NO_BLACKEN",
                _choices(BlackenMode),
            ),
            Field("cropMode", "Crop mode", "string", False, "FIXED_SIZE", _choices(CropMode)),
        ],
    ),
]


def tools_json() -> dict[str, Any]:
    return {"tools": [tool.as_json() for tool in TOOLS]}
