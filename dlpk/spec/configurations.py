"""The built-in model configurations: what a model file must accept and return to run.

A .emd selects one by `Framework` + `ModelConfiguration`. The contract is the same for every
framework, so a model exported from PyTorch to ONNX keeps its configuration name and only the
`Framework` changes. Everything here is plain data: the runner's adapters and the documentation
(`dlpk configurations`) read the same text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final

#: Shared by every configuration.
INPUT_CONTRACT: Final = (
    "one input, float32, NCHW: N tiles of C = len(ExtractBands) bands, ImageHeight x ImageWidth "
    "rows x columns (or tile_size when SupportsVariableTileSize). With DataRange [low, high] "
    "in the .emd, each band is first rescaled linearly from the raster's exact min..max "
    "statistics over its valid pixels (those it carries unless marked approximate, else "
    "computed from every pixel once per job) to [low, high], as ArcGIS does before the "
    "model's code runs. Values are then normalised as arcgis.learn does "
    "(docs/esri-formats.md#bands-and-normalisation): with NormalizationStats, (x - "
    "band_min) / (band_max - band_min) then (x' - scaled_mean) / scaled_std, indexed by "
    "ExtractBands; else ImageNet mean/std on the 0-255 scale for 3 bands of 8-bit pixels (not "
    "rescaled by DataRange); else the values as float32. Pixels outside "
    "the raster and nodata pixels are 0 after normalisation, as a convolution's own zero "
    "padding would see them."
)


@dataclass(frozen=True)
class Configuration:
    """One runnable Framework + ModelConfiguration pair and its input/output contract."""

    framework: str
    name: str
    model_type: str
    task: str
    model_file: str
    inputs: str
    outputs: str
    normalised: bool = True  # False: the model takes raw pixel values

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


PIXEL_OUTPUTS: Final = (
    "one output, float32 [N, K, H, W] (H, W as the input): a score per output channel; the "
    "argmax is the predicted channel. K == len(Classes): channel i is Classes[i].Value. "
    "K == len(Classes) + 1: channel 0 is background (Value 0) and channel i is "
    "([0] + [c.Value for c in Classes])[i] (docs/esri-formats.md#classes); with "
    "predict_background=False "
    "channel 0 never wins. Channels named by ignore_mapped_class never win."
)
DETECTOR_OUTPUTS: Final = (
    "three outputs, in this order: boxes float32 [N, M, 4] as x1, y1, x2, y2 in the input "
    "tile's pixel-edge coordinates (origin at the top-left corner of the tile's first pixel, x "
    "right, y down, x2/y2 exclusive: a box covering pixel columns 3..5 has x1=3, x2=6); scores "
    "float32 [N, M] in 0..1; labels int64 (or any integer or float type) [N, M], 1-based index "
    "into Classes (label k is Classes[k-1]), 0 or less = no object. M may be any size; rows "
    "with label <= 0 or score below the threshold are ignored, so a model pads to a fixed M "
    "with zeros."
)
CLASSIFIER_OUTPUTS: Final = (
    "one output, float32 [N, K]: a score per class for each chip. K == len(Classes): index i "
    "is Classes[i]; K == len(Classes) + 1: index 0 is background and index i is Classes[i-1]. "
    "Confidence is the softmax of the scores when they do not already sum to 1."
)

_FILES: Final = {"ONNX": "a .onnx file (onnxruntime)", "TorchScript": "a .pt TorchScript archive"}
_KINDS: Final = (
    ("PixelClassifier", "ImageClassification", "classify-pixels", PIXEL_OUTPUTS),
    ("ObjectDetector", "ObjectDetection", "detect-objects", DETECTOR_OUTPUTS),
    ("ObjectClassifier", "ObjectClassification", "classify-objects", CLASSIFIER_OUTPUTS),
)

KERAS_INPUTS: Final = (
    "as the shared input contract, but NHWC (channels last), as Keras models take it: the "
    "runner transposes the normalised float32 batch to [N, H, W, C]."
)
KERAS_PIXEL_OUTPUTS: Final = (
    "one output, float32 [N, H, W, K] (channels last; the runner transposes it to [N, K, H, W]), "
    "then as the PixelClassifier contract."
)
TF_RAW_INPUTS: Final = (
    "one input, uint8, NHWC: N tiles of ImageHeight x ImageWidth x len(ExtractBands) raw pixel "
    "values (no normalisation, but rescaled to DataRange when the .emd has one; clipped to "
    "0..255), zero past the raster and at nodata. A "
    "SavedModel (ModelFile names its folder or its saved_model.pb; the serving_default "
    "signature is called) or a frozen GraphDef .pb (tensors looked up by name)."
)
OBJECT_DETECTION_API_OUTPUTS: Final = (
    "input tensor `image_tensor`; outputs `detection_boxes` float [N, M, 4] as ymin, xmin, ymax, "
    "xmax in 0..1 of the tile, `detection_scores` [N, M] in 0..1, `detection_classes` [N, M] "
    "1-based (class k is Classes[k-1]), `num_detections` [N] (rows past it are ignored). The "
    "runner scales the boxes to tile pixels and goes on as the ObjectDetector contract, except "
    "that Confidence is the score as the model returns it (0-1), as Esri's ObjectDetector.py "
    "writes it for this configuration (0-100 for the others); `score_threshold`, Esri's name, "
    "is accepted for `threshold`."
)
DEEPLAB_OUTPUTS: Final = (
    "input tensor `ImageTensor`; output `SemanticPredictions` int [N, H, W] of class Values, "
    "written as predicted, as Esri's DeepLab.py writes them: 2 is the class whose Value is 2, "
    "wherever it stands in Classes; 0 is background when no class has Value 0. A prediction "
    "that is neither a Value in Classes nor 0 is a model error. predict_background=False does "
    "not apply (a prediction has no runner-up)."
)


def _built_in() -> dict[tuple[str, str], Configuration]:
    found = {
        (framework, name): Configuration(
            framework, name, model_type, task, model_file, INPUT_CONTRACT, outputs
        )
        for framework, model_file in _FILES.items()
        for name, model_type, task, outputs in _KINDS
    }
    keras_file = "a .keras or .h5 Keras model (Lambda layers only with --trust-code)"
    for name, model_type, task, outputs in (
        ("PixelClassifier", "ImageClassification", "classify-pixels", KERAS_PIXEL_OUTPUTS),
        ("ObjectClassifier", "ObjectClassification", "classify-objects", CLASSIFIER_OUTPUTS),
    ):
        found[("Keras", name)] = Configuration(
            "Keras", name, model_type, task, keras_file, KERAS_INPUTS, outputs
        )
    tf_file = "a TensorFlow SavedModel or frozen graph (.pb)"
    for name, model_type, task, outputs in (
        ("ObjectDetectionAPI", "ObjectDetection", "detect-objects", OBJECT_DETECTION_API_OUTPUTS),
        ("DeepLab", "ImageClassification", "classify-pixels", DEEPLAB_OUTPUTS),
    ):
        found[("TensorFlow", name)] = Configuration(
            "TensorFlow", name, model_type, task, tf_file, TF_RAW_INPUTS, outputs, False
        )
    return found


CONFIGURATIONS: Final[dict[tuple[str, str], Configuration]] = _built_in()

#: pip extra that provides each framework.
FRAMEWORK_EXTRAS: Final[dict[str, str]] = {
    "ONNX": "onnx",
    "TorchScript": "torch",
    "TensorFlow": "tensorflow",
    "Keras": "tensorflow",
}

#: The name under which packages with an InferenceFunction .py are listed.
RASTER_FUNCTION: Final = "InferenceFunction"
FUNCTION_INPUTS: Final = (
    "the package's InferenceFunction .py (its class named like the file) is imported and driven "
    "as ArcGIS drives it (docs/esri-formats.md#methods): initialize(model=<.emd path>, "
    "device=<-1 cpu, 0 gpu>), "
    "getParameterInfo() (each parameter that is not a raster, model or device becomes an --arg, "
    "its `value` the default; values arrive as strings), getConfiguration(**scalars). From the "
    "configuration: extractBands (0-based; default all bands), padding (default 0), tx and ty "
    "(default the .emd's ImageWidth/ImageHeight less 2 x padding, else 256), fixedTileSize (1: "
    "every block is tx x ty, edge blocks filled past the raster; 0: edge blocks are cut to the "
    "raster), inputMask (deliver raster_mask, uint8 bands x rows x cols, 1 = valid), dataRange "
    "(each band rescaled linearly from the raster's exact min..max statistics to [low, high], as "
    "float32), batch_size (reported; blocks go one at a time, as ArcGIS calls the function). "
    "Blocks: raster_pixels, bands x (ty + 2 x padding) x (tx + 2 x padding), the raster's own "
    "pixel type, zero past the raster edge. Python code from a package runs only in a "
    "container (--backend docker) or with --trust-code; `[Functions]...` paths name functions "
    "installed with ArcGIS Pro and do not run."
)
FUNCTION_PIXEL_OUTPUTS: Final = (
    "updatePixels(tlc, shape, props, **pixelBlocks) per block: tlc = map (x, y) of the un-padded "
    "block's top-left corner; shape = (1, rows, cols) of the un-padded block; props = extent, "
    "pixelType (the output's numpy code: u1, u2 or i4, chosen from the Classes Values), "
    "spatialReference (EPSG code, else WKT), cellSize, width, height, noData. Returns "
    "pixelBlocks with output_pixels of `shape` (or rows x cols) holding class Values, and "
    "optionally output_mask (0 = nodata). Written to the classified COG; pixels past the "
    "raster, with input mask 0 or output mask 0 are nodata."
)
FUNCTION_DETECTOR_OUTPUTS: Final = (
    "vectorize(**pixelBlocks) per block returns {'output_vectors': JSON text of "
    "{'features': [{'attributes': {...}, 'geometry': {'rings': [[[x, y], ...], ...]}}]}}, "
    "rings in pixel coordinates of the un-padded block (x = column, y = row, origin at its "
    "top-left corner). Rings combine by the even-odd rule (holes, several parts). getFields() "
    "(JSON text {'fields': [{'name', 'type'}]}) decides the output fields: string, integer and "
    "double types are written, OID and geometry fields are not; attributes not declared are "
    "dropped. getGeometryType() must be polygon (4) when defined. A feature is kept by the "
    "block whose un-padded part holds its centroid, so an object seen by two overlapping "
    "blocks is written once; rings are mapped to the raster's CRS."
)

FUNCTION_OBJECT_OUTPUTS: Final = (
    "vectorize(**pixelBlocks) with rasters_pixels: a tuple of chips, one per feature, each "
    "bands x rows x cols in the raster's own type (rasters_mask alike with inputMask; pixels "
    "past the raster are 0 and masked), batch_size chips a call (default 1). A chip is (ty + 2 "
    "x padding) x (tx + 2 x padding) centred on the feature, or with CropSizeFixed 0 (from "
    "getConfiguration, else the .emd) the feature's bounding box in whole pixels, each side "
    "capped at that size; a call holds chips of one size only. BlackenAroundFeature 1 zeroes "
    "and masks pixels outside a polygon. Features whose chip holds no valid pixel are not sent. "
    "Returns {'output_vectors': JSON text of {'features': [...]}} with one feature per chip, "
    "in order, whose attributes Label (class name; ';'-joined names for a multi-label model) "
    "and Confidence (a number, or ';'-joined text) become ClassLabel and Confidence; "
    "ClassValue is the Value of the class named Label, if one is. The geometry returned is "
    "ignored: the output keeps each input feature's."
)

#: Python raster function packages, by the task that runs them.
FUNCTION_CONFIGURATIONS: Final[dict[str, Configuration]] = {
    task: Configuration(
        "(any)",
        RASTER_FUNCTION,
        model_type,
        task,
        "a Python raster function .py in the package, named by InferenceFunction",
        FUNCTION_INPUTS,
        outputs,
    )
    for task, model_type, outputs in (
        ("classify-pixels", "ImageClassification", FUNCTION_PIXEL_OUTPUTS),
        ("detect-objects", "ObjectDetection", FUNCTION_DETECTOR_OUTPUTS),
        ("classify-objects", "ObjectClassification", FUNCTION_OBJECT_OUTPUTS),
    )
}
