"""The closed sets of .emd values as Literal types, without pydantic: the models (spec/emd.py)
and the linter's vocabulary (spec/vocab.py) share them, and linting needs no model built."""

from __future__ import annotations

from typing import Literal

ModelTypeName = Literal[
    "ImageClassification",
    "ObjectDetection",
    "InstanceDetection",
    "ObjectClassification",
    "PanopticSegmenter",
    "CycleGAN",
    "Pix2Pix",
    "Pix2PixHD",
    "SuperResolution",
    "ImageCaptioner",
    "ObjectTracking",
    "PointCloudClassification",
    "PointCloudDetection",
    "TimeSeriesModel",
    "FullyConnectedNetwork",
    "Transformer",
    "llm",
]
ImageSpace = Literal["MAP_SPACE", "PIXEL_SPACE", "IMAGE_SPACE"]
WellKnownBandName = Literal[
    "Red",
    "Green",
    "Blue",
    "Infrared",
    "CoastalBlue",
    "Yellow",
    "RedEdge",
    "ShortWaveInfrared",
    "NearInfrared",
    "NearInfrared_1",
    "NearInfrared_2",
    "MidInfrared",
    "MidInfrared_1",
    "MidInfrared_2",
    "Thermal",
    "Thermal_1",
    "Thermal_2",
    "Panchromatic",
    "PseudoRed",
    "PseudoGreen",
    "PseudoBlue",
]
