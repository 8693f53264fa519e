"""TensorFlow DeepLab: the prediction is written as the class Value, as Esri's DeepLab.py does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

from dlpk.errors import ModelError, UsageError
from dlpk.runners.progress import no_progress as quiet
from dlpk.runners.tasks.inference.classify_pixels import classify_pixels
from tests.inference_models import package, write_raster
from tests.tensorflow_models import deeplab_frozen_graph, deeplab_prediction

pytest.importorskip("tensorflow")

#: Esri's land-cover example (raster-deep-learning, tensorflow_deeplab_landclassification.emd):
#: six classes, Values 0..5, ModelFile with a Windows backslash.
LAND_COVER = [
    {"Value": 0, "Name": "Evergreen Forest", "Color": [0, 51, 0]},
    {"Value": 1, "Name": "Grassland/Herbaceous", "Color": [241, 185, 137]},
    {"Value": 2, "Name": "Bare Land", "Color": [236, 236, 0]},
    {"Value": 3, "Name": "Open Water", "Color": [0, 0, 117]},
    {"Value": 4, "Name": "Scrub/Shrub", "Color": [102, 102, 0]},
    {"Value": 5, "Name": "Impervious Surface", "Color": [236, 236, 236]},
]
SIX = (42, 84, 126, 168, 210)  # predictions 0..5 from band 1


def deeplab_document(classes: list[dict[str, Any]], model_file: str) -> dict[str, Any]:
    return {
        "Framework": "TensorFlow",
        "ModelConfiguration": "DeepLab",
        "ModelFile": model_file,
        "ModelType": "ImageClassification",
        "ExtractBands": [0, 1, 2],
        "ImageWidth": 32,
        "ImageHeight": 32,
        "BatchSize": 1,
        "Classes": classes,
    }


def run(
    tmp_path: Path,
    classes: list[dict[str, Any]],
    limits: tuple[int, ...],
    arguments: dict[str, str] | None = None,
    model_file: str = "frozen_inference_graph.pb",
) -> tuple[np.ndarray, np.ndarray]:
    folder = tmp_path / "deeplab"
    folder.mkdir()
    deeplab_frozen_graph(folder / "frozen_inference_graph.pb", limits)
    model = package(folder, deeplab_document(classes, model_file))
    data = np.random.default_rng(7).integers(0, 256, (3, 40, 50), dtype=np.uint8)
    raster = write_raster(tmp_path / "in.tif", data)
    output = tmp_path / "out.tif"
    classify_pixels(model, raster, output, arguments or {}, "cpu", quiet)
    with rasterio.open(output) as result:
        return result.read(1), deeplab_prediction(data[0], limits)


def test_esri_land_cover_example_writes_each_prediction_as_its_value(tmp_path: Path) -> None:
    written, predicted = run(tmp_path, LAND_COVER, SIX, model_file=".\\frozen_inference_graph.pb")
    assert set(np.unique(predicted)) == {0, 1, 2, 3, 4, 5}  # every class occurs
    np.testing.assert_array_equal(written, predicted)  # 2 is Bare Land (2), not 1


def test_the_value_not_the_place_in_classes_decides(tmp_path: Path) -> None:
    shuffled = [LAND_COVER[i] for i in (2, 0, 1)]  # Values 2, 0, 1
    written, predicted = run(tmp_path, shuffled, (63, 127))
    np.testing.assert_array_equal(written, predicted)


def test_background_zero_is_written_when_no_class_has_value_zero(tmp_path: Path) -> None:
    classes = [{"Value": 1, "Name": "Water", "Color": [0, 0, 255]}, LAND_COVER[2]]
    written, predicted = run(tmp_path, classes, (63, 127))
    assert (predicted == 0).any()
    np.testing.assert_array_equal(written, predicted)  # 0 as predicted, not the first class


def test_a_prediction_that_is_no_class_value_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="SemanticPredictions holds 2, which is no class Value"):
        run(tmp_path, LAND_COVER[:2], (63, 127))
    assert not (tmp_path / "out.tif").exists()


def test_predict_background_false_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="predict_background=False"):
        run(tmp_path, LAND_COVER[:3], (63, 127), {"predict_background": "False"})
