"""Which image runs which package: tags derive from the package version, framework and variant."""

from __future__ import annotations

import os
from typing import Final, Literal

from dlpk.spec.vocab import ARCGIS_LEARN_FRAMEWORK
from dlpk.version import __version__

ImageFramework = Literal["pytorch", "tensorflow", "onnx", "arcgis-learn"]
Variant = Literal["cpu", "gpu"]
IMAGE_FRAMEWORKS: Final[tuple[ImageFramework, ...]] = (
    "pytorch",
    "tensorflow",
    "onnx",
    "arcgis-learn",
)
VARIANTS: Final[tuple[Variant, ...]] = ("cpu", "gpu")
BASE_IMAGE_TAG: Final = "dlpk-base:bookworm"
DEFAULT_BASE_IMAGE: Final = "python:3.11-slim"
DEFAULT_IMAGE_ENV: Final = "DLPK_DEFAULT_IMAGE"

#: .emd Framework -> the image able to run it; arcgis.learn's (also chosen for a package
#: carrying ArcGISLearnVersion: packaging.unpack.runner_framework) needs arcgis.learn itself.
_BY_EMD_FRAMEWORK: Final[dict[str, ImageFramework]] = {
    "PyTorch": "pytorch",
    "TorchScript": "pytorch",
    ARCGIS_LEARN_FRAMEWORK: "arcgis-learn",
    "TensorFlow": "tensorflow",
    "Keras": "tensorflow",
    "ONNX": "onnx",
}
#: Image used for jobs with no model (chip export) or with a package naming no Framework.
DEFAULT_FRAMEWORK: Final[ImageFramework] = "onnx"
#: What each image can import, to refuse a package the chosen image cannot run.
IMAGE_PROVIDES: Final[dict[ImageFramework, frozenset[str]]] = {
    "pytorch": frozenset({"PyTorch", "TorchScript"}),
    "tensorflow": frozenset({"TensorFlow", "Keras"}),
    "onnx": frozenset({"ONNX"}),
    "arcgis-learn": frozenset({ARCGIS_LEARN_FRAMEWORK, "PyTorch", "TorchScript"}),
}


def image_tag(framework: ImageFramework, variant: Variant = "cpu") -> str:
    return f"dlpk-runner-{framework}:{__version__}-{variant}"


def framework_for(emd_framework: str | None) -> ImageFramework:
    if emd_framework is None:
        return DEFAULT_FRAMEWORK
    return _BY_EMD_FRAMEWORK.get(emd_framework, DEFAULT_FRAMEWORK)


def default_image(emd_framework: str | None, variant: Variant) -> str:
    """The image for a package: by its Framework; packages naming none (a Python raster
    function alone) and jobs without a model use $DLPK_DEFAULT_IMAGE when set."""
    configured = os.environ.get(DEFAULT_IMAGE_ENV)
    if configured and emd_framework not in _BY_EMD_FRAMEWORK:
        return configured
    return image_tag(framework_for(emd_framework), variant)


def build_command(framework: ImageFramework, variant: Variant = "cpu") -> str:
    """The exact command that builds a missing image (shown in errors)."""
    gpu = " --gpu" if variant == "gpu" else ""
    return f"dlpk images build --framework {framework}{gpu}"
