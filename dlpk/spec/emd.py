"""Pydantic models of the Esri Model Definition (.emd): the single source of its JSON Schema.

Key names are case-sensitive and exactly as Esri writes them (docs/esri-formats.md#keys-and-paths).
Every key a model does not name is kept verbatim (`extra="allow"`): arcgis.learn writes dozens and
reads them back.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    WithJsonSchema,
)

from dlpk.spec.names import ImageSpace, ModelTypeName, WellKnownBandName

Number = StrictInt | StrictFloat
PositiveInt = Annotated[StrictInt, Field(gt=0)]
NonNegativeInt = Annotated[StrictInt, Field(ge=0)]
ColorComponent = Annotated[StrictInt, Field(ge=0, le=255)]
NoColor = Literal[-1]
RGBColor = tuple[ColorComponent, ColorComponent, ColorComponent] | tuple[NoColor, NoColor, NoColor]


class _Open(BaseModel):
    """An object that keeps keys it does not know, verbatim and in order."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class ModelConfigurationObject(_Open):
    """Object form of ModelConfiguration: `Name` is the module; other keys are framework-specific
    (Keras MaskRCNN names `Architecture` and `Config` module paths)."""

    Name: StrictStr
    Architecture: StrictStr | None = None
    Config: StrictStr | None = None


def _integer_as_text(value: Any) -> Any:
    """ArcGIS reads an integer class Name (Esri's Living Atlas road extractor has one) as its
    text; lint warns (DL206) and its fix writes the string."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


ClassName = Annotated[
    StrictStr,
    BeforeValidator(_integer_as_text),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string"}, {"type": "integer"}],
            "description": "Class name written to outputs (an integer is read as its text).",
        }
    ),
]


class ClassEntry(BaseModel):
    """One entry of `Classes`. Position is semantic: outputs map to classes by index
    (docs/esri-formats.md#classes)."""

    model_config = ConfigDict(extra="forbid")

    Value: StrictInt = Field(description="Pixel value / class id written to outputs.")
    Name: ClassName
    Color: RGBColor | None = Field(
        default=None,
        description="RGB 0-255; [-1, -1, -1] means no colour (the export template's marker).",
    )


class SpatialReference(_Open):
    wkid: StrictInt | None = None
    latestWkid: StrictInt | None = None


class CellSize(_Open):
    x: Number
    y: Number
    spatialReference: SpatialReference | None = None


StatList = list[Number | None] | None


class NormalizationStatsObject(_Open):
    """Per-band statistics over all bands of the export; indexed by ExtractBands
    (docs/esri-formats.md#bands-and-normalisation)."""

    band_min_values: StatList = None
    band_max_values: StatList = None
    band_mean_values: StatList = None
    band_std_values: StatList = None
    scaled_min_values: StatList = None
    scaled_max_values: StatList = None
    scaled_mean_values: StatList = None
    scaled_std_values: StatList = None


class EsriModelDefinition(_Open):
    """The .emd document. Every key of docs/esri-formats.md with its type; anything else kept."""

    Framework: StrictStr | None = Field(
        default=None,
        description="With ModelConfiguration, selects the inference module.",
        examples=["TensorFlow", "Keras", "PyTorch", "arcgis.learn.models._inferencing"],
    )
    ModelConfiguration: StrictStr | ModelConfigurationObject | None = Field(
        default=None, description="Module name, or an object with Name and extra keys."
    )
    ModelType: ModelTypeName | None = Field(default=None, description="Task family.")
    ModelFile: StrictStr | None = Field(
        default=None, description="Weights path, relative to the .emd folder."
    )
    ModelFiles: list[StrictStr] | None = Field(
        default=None, description='Extra model files when ModelFile is "."'
    )
    InferenceFunction: StrictStr | None = Field(
        default=None,
        description="Python raster function .py, relative, or `[Functions]...` inside ArcGIS.",
    )
    ModelName: StrictStr | None = None
    Description: StrictStr | None = None
    Version: StrictStr | None = Field(default=None, examples=["2024.05"])
    ImageHeight: PositiveInt | None = Field(default=None, description="Model input rows.")
    ImageWidth: PositiveInt | None = Field(default=None, description="Model input columns.")
    ExtractBands: list[NonNegativeInt] | list[WellKnownBandName] | Literal["N/A"] | None = Field(
        default=None, description="0-based band indexes or well-known band names to feed."
    )
    DataRange: tuple[Number, Number] | None = Field(
        default=None, description="[min, max] the input is rescaled to."
    )
    BatchSize: PositiveInt | None = None
    ModelPadding: NonNegativeInt | None = Field(
        default=None, description="Pixels per side the model itself crops from its output."
    )
    Padding: NonNegativeInt | None = None
    Threshold: Annotated[Number, Field(ge=0, le=1)] | None = None
    PerProcessGPUMemoryFraction: Annotated[Number, Field(gt=0, le=1)] | None = None
    ImageSpaceUsed: ImageSpace | None = None
    SupportsVariableTileSize: StrictBool | None = None
    ModelFormat: StrictStr | None = None
    MinCellSize: CellSize | None = None
    MaxCellSize: CellSize | None = None
    IsMultispectral: StrictBool | None = None
    IsImageNetNormalization: StrictBool | None = None
    DoNormalize: StrictBool | None = None
    Bands: list[StrictStr | StrictInt] | None = None
    ImageryType: StrictStr | None = None
    NormalizationStats: NormalizationStatsObject | None = None
    Preprocessing: Literal["SentinelService", "LandsatService"] | None = None
    Classes: list[ClassEntry] | None = Field(
        default=None, description="Ordered classes; never reorder."
    )
    ignore_mapped_class: list[StrictInt] | None = None
    ArcGISLearnVersion: StrictStr | None = None
    ModelParameters: dict[str, Any] | None = None
    LearningRate: StrictStr | Number | None = None
    backend: StrictStr | None = None
    resize_to: StrictInt | list[StrictInt] | None = None
    MetaDataMode: StrictStr | None = None
    CropSizeFixed: Literal[0, 1] | None = None
    BlackenAroundFeature: Literal[0, 1] | None = None

    @property
    def configuration_name(self) -> str | None:
        """ModelConfiguration as a module name, whichever form it was written in."""
        if isinstance(self.ModelConfiguration, ModelConfigurationObject):
            return self.ModelConfiguration.Name
        return self.ModelConfiguration
