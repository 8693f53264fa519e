"""Keras and TensorFlow packages end to end: models built at test time, packed as .dlpk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pytest
import rasterio
import shapely

from dlpk.cli import main
from dlpk.errors import FrameworkMissingError, ModelError
from dlpk.runners.io.raster_source import normaliser_for
from dlpk.runners.models.base import import_framework
from dlpk.runners.progress import no_progress as quiet
from dlpk.runners.tasks.inference.classify_objects import classify_objects
from dlpk.runners.tasks.inference.classify_pixels import classify_pixels
from dlpk.spec.emd import EsriModelDefinition
from tests.inference_models import CLASSES, TRANSFORM, package, seeded_rgb, write_raster
from tests.tensorflow_models import (
    BRIGHT,
    keras_chip_classifier,
    keras_segmenter,
    keras_with_lambda,
    object_detection_saved_model,
)

tf = pytest.importorskip("tensorflow")


def document(model_file: str, framework: str, configuration: str, model_type: str) -> Any:
    return {
        "Framework": framework,
        "ModelConfiguration": configuration,
        "ModelType": model_type,
        "ModelFile": model_file,
        "ImageHeight": 32,
        "ImageWidth": 32,
        "ExtractBands": [0, 1, 2],
        "Classes": CLASSES,
    }


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_keras_segmenter_equals_one_pass(tmp_path: Path, suffix: str) -> None:
    folder = tmp_path / "segmenter"
    folder.mkdir()
    model = keras_segmenter()
    model.save(folder / f"model{suffix}")
    emd = document(f"model{suffix}", "Keras", "PixelClassifier", "ImageClassification")
    dlpk = package(folder, emd)
    data = seeded_rgb(45, 70, seed=4)
    raster = write_raster(tmp_path / "in.tif", data)
    output = tmp_path / "out.tif"
    summary = classify_pixels(dlpk, raster, output, {"padding": "4"}, "cpu", quiet)
    normalise = normaliser_for(EsriModelDefinition.model_validate(emd), [0, 1, 2], "uint8")
    framed = np.pad(normalise(data.astype(np.float32)), ((0, 0), (4, 4), (4, 4)))
    # one pass over the raster framed by the padding's edge fill, as the tiles see it
    scores = np.asarray(model(framed.transpose(1, 2, 0)[np.newaxis]))[0, 4:-4, 4:-4]
    expected = np.array([1, 5])[np.argmax(scores, axis=-1)]
    with rasterio.open(output) as result:
        assert np.array_equal(result.read(1), expected)
    assert summary.counts["tiles"] > 4  # several tiles, so seams are covered


def test_keras_lambda_needs_trust(tmp_path: Path) -> None:
    folder = tmp_path / "lambda"
    folder.mkdir()
    keras_with_lambda().save(folder / "model.h5")
    emd = document("model.h5", "Keras", "PixelClassifier", "ImageClassification")
    dlpk = package(folder, emd)
    raster = write_raster(tmp_path / "in.tif", seeded_rgb(20, 20))
    with pytest.raises(ModelError, match="Lambda"):
        classify_pixels(dlpk, raster, tmp_path / "out.tif", {}, "cpu", quiet)
    assert not (tmp_path / "out.tif").exists()
    classify_pixels(dlpk, raster, tmp_path / "out.tif", {}, "cpu", quiet, trust_code=True)
    assert (tmp_path / "out.tif").exists()


def test_keras_object_classifier(tmp_path: Path) -> None:
    folder = tmp_path / "chips"
    folder.mkdir()
    keras_chip_classifier().save(folder / "model.keras")
    emd = document("model.keras", "Keras", "ObjectClassifier", "ObjectClassification")
    emd.update(ImageHeight=16, ImageWidth=16)
    data = np.full((3, 60, 80), 10, dtype=np.uint8)
    data[:, :, :40] = 250
    raster = write_raster(tmp_path / "halves.tif", data)
    points = [shapely.Point(TRANSFORM @ (10, 30)), shapely.Point(TRANSFORM @ (70, 30))]
    features = tmp_path / "f.gpkg"
    pyogrio.raw.write(
        str(features),
        geometry=np.asarray(shapely.to_wkb(points), dtype=object),
        field_data=[np.asarray(["bright", "dark"], dtype=object)],
        fields=["name"],
        driver="GPKG",
        geometry_type="Point",
        crs="EPSG:32633",
    )
    output = tmp_path / "out.gpkg"
    classify_objects(package(folder, emd), raster, output, {}, "cpu", quiet, features=features)
    meta, _, _, fields = pyogrio.raw.read(output)
    table = dict(zip(meta["fields"], fields, strict=True))
    assert list(table["ClassLabel"]) == ["Water", "Forest"]


def bright_square(tmp_path: Path, row: int, col: int) -> Path:
    data = np.full((3, 60, 60), 50, dtype=np.uint8)
    data[0, row : row + 6, col : col + 6] = BRIGHT
    return write_raster(tmp_path / "square.tif", data)


def test_object_detection_api_saved_model_on_a_seam(tmp_path: Path) -> None:
    folder = tmp_path / "odapi"
    object_detection_saved_model(folder / "saved_model")
    emd = document(
        "saved_model/saved_model.pb", "TensorFlow", "ObjectDetectionAPI", "ObjectDetection"
    )
    dlpk = package(folder, emd)
    raster = bright_square(tmp_path, 13, 29)  # across the seams at row 16 and column 32
    output = tmp_path / "out.gpkg"
    argv = ["detect-objects", "--model", str(dlpk), "--raster", str(raster), "-o", str(output)]
    assert main([*argv, "--arg", "padding=8"]) == 0
    meta, _, geometry, fields = pyogrio.raw.read(output)
    table = dict(zip(meta["fields"], fields, strict=True))
    x1, y1 = TRANSFORM @ (29, 13 + 6)
    x2, y2 = TRANSFORM @ (29 + 6, 13)
    assert [shapely.from_wkb(g).bounds for g in geometry] == [(x1, y1, x2, y2)]
    # the score as the model returns it (0-1), as Esri's ObjectDetector.py writes it
    assert list(table["Class"]) == ["Water"] and list(table["Confidence"]) == [0.9]


def test_missing_tensorflow_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    real = importlib.import_module

    def refuse(name: str, package: str | None = None) -> Any:
        if name == "tensorflow":
            raise ImportError("No module named 'tensorflow'")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", refuse)
    with pytest.raises(FrameworkMissingError) as caught:
        import_framework("tensorflow", "Keras")
    assert "pip install 'dlpk[tensorflow]'" in str(caught.value)
