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
    "rows x columns (or tile_size when SupportsVariableTileSize). Values are normalised as "
    "ArcGIS does (reference §1.7): with NormalizationStats, (x - band_min) / (band_max - "
    "band_min) then (x' - scaled_mean) / scaled_std, indexed by ExtractBands; else ImageNet "
    "mean/std on the 0-255 scale for 3 bands; else the raw values as float32. Pixels outside "
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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


PIXEL_OUTPUTS: Final = (
    "one output, float32 [N, K, H, W] (H, W as the input): a score per output channel; the "
    "argmax is the predicted channel. K == len(Classes): channel i is Classes[i].Value. "
    "K == len(Classes) + 1: channel 0 is background (Value 0) and channel i is "
    "([0] + [c.Value for c in Classes])[i] (reference §1.6); with predict_background=False "
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

CONFIGURATIONS: Final[dict[tuple[str, str], Configuration]] = {
    (framework, name): Configuration(
        framework, name, model_type, task, model_file, INPUT_CONTRACT, outputs
    )
    for framework, model_file in _FILES.items()
    for name, model_type, task, outputs in _KINDS
}

#: pip extra that provides each framework.
FRAMEWORK_EXTRAS: Final[dict[str, str]] = {"ONNX": "onnx", "TorchScript": "torch"}
