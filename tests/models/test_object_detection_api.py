"""TensorFlow ObjectDetectionAPI as ArcGIS runs it: Esri's `score_threshold` argument, and
Confidence written as the model's 0-1 score (Esri's ObjectDetector.py writes it unscaled)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pytest

from dlpk.errors import UsageError
from dlpk.runners.progress import no_progress as quiet
from dlpk.runners.tasks.inference.arguments import DETECTOR_ARGUMENTS, parse_arguments
from dlpk.runners.tasks.inference.detect_objects import confidence_scale, detect_objects
from dlpk.spec.configurations import CONFIGURATIONS
from dlpk.spec.emd import EsriModelDefinition
from tests.inference_models import CLASSES, package, write_raster
from tests.tensorflow_models import BRIGHT, object_detection_saved_model

DOCUMENT: dict[str, Any] = {
    "Framework": "TensorFlow",
    "ModelConfiguration": "ObjectDetectionAPI",
    "ModelType": "ObjectDetection",
    "ModelFile": ".\\saved_model\\saved_model.pb",  # as Esri's coconut-tree example writes it
    "ImageHeight": 32,
    "ImageWidth": 32,
    "ExtractBands": [0, 1, 2],
    "Classes": CLASSES,
}


def test_score_threshold_is_threshold() -> None:
    emd = EsriModelDefinition.model_validate(DOCUMENT)
    assert parse_arguments({"score_threshold": "0.7"}, emd, DETECTOR_ARGUMENTS).threshold == 0.7
    both = {"score_threshold": "0.7", "threshold": "0.70"}
    assert parse_arguments(both, emd, DETECTOR_ARGUMENTS).threshold == 0.7
    assert parse_arguments({}, emd, DETECTOR_ARGUMENTS).threshold == 0.5
    disagree = re.escape("threshold=0.4 and --arg score_threshold=0.7 disagree")
    with pytest.raises(UsageError, match=disagree):
        parse_arguments({"score_threshold": "0.7", "threshold": "0.4"}, emd, DETECTOR_ARGUMENTS)
    with pytest.raises(UsageError, match=re.escape("score_threshold=2: must be between 0.0")):
        parse_arguments({"score_threshold": "2"}, emd, DETECTOR_ARGUMENTS)


def test_confidence_scale_by_configuration() -> None:
    assert confidence_scale(CONFIGURATIONS[("TensorFlow", "ObjectDetectionAPI")]) == 1.0
    for framework in ("ONNX", "TorchScript"):  # dlpk's own detectors keep arcgis.learn's 0-100
        assert confidence_scale(CONFIGURATIONS[(framework, "ObjectDetector")]) == 100.0


@pytest.mark.parametrize(("score_threshold", "found"), [("0.8", [0.9]), ("0.95", [])])
def test_score_threshold_and_confidence_end_to_end(
    tmp_path: Path, score_threshold: str, found: list[float]
) -> None:
    pytest.importorskip("tensorflow")
    folder = tmp_path / "odapi"
    object_detection_saved_model(folder / "saved_model")
    data = np.full((3, 40, 40), 50, dtype=np.uint8)
    data[0, 10:16, 12:18] = BRIGHT
    raster = write_raster(tmp_path / "in.tif", data)
    output = tmp_path / "out.gpkg"
    arguments = {"score_threshold": score_threshold, "padding": "8"}
    summary = detect_objects(package(folder, DOCUMENT), raster, output, arguments, "cpu", quiet)
    meta, _, _, fields = pyogrio.raw.read(output)
    table = dict(zip(meta["fields"], fields, strict=True))
    assert [round(float(c), 6) for c in table["Confidence"]] == found
    assert summary.arguments["threshold"] == score_threshold
