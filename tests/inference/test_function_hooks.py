"""The raster-function hooks beyond the pixels (docs/esri-formats.md#methods, Esri's Reference.py):
selectRasters, updateKeyMetadata and isLicensed, the pixel blocks named by the function's
raster parameter, and raster_mask only with inputMask."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

from dlpk.errors import ModelError
from dlpk.runners.progress import no_progress as quiet
from dlpk.runners.tasks.inference.classify_pixels import classify_pixels
from dlpk.runners.tasks.inference.detect_objects import detect_objects
from dlpk.version import __version__
from tests.inference.test_raster_functions import blob_raster
from tests.inference_models import write_raster
from tests.raster_functions import (
    BLOBS_PRF,
    DECLARED_PRF,
    KEY_METADATA_METHOD,
    LICENSE_METHOD,
    SELECT_METHOD,
    declared_expected,
    function_package,
    with_methods,
)

NODATA = 65535
LEFT, TOP = 500000.0, 4000000.0
F4 = {"pixelType": "f4", "bandCount": 2}


@pytest.fixture
def scene(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """3 bands of uint16, 37 x 50 px, a nodata corner (rows 30.., cols 40..), a dataset tag
    and band names, band 2 with a wavelength."""
    data = np.random.default_rng(9).integers(0, 200, (3, 37, 50), dtype=np.uint16)
    data[:, 30:, 40:] = NODATA
    names = ["Red", "Green", "Blue"]
    path = write_raster(tmp_path / "scene.tif", data, nodata=NODATA, descriptions=names)
    with rasterio.open(path, "r+") as dataset:
        dataset.update_tags(SENSOR="Test")
        dataset.update_tags(2, wavelengthmin="500")
    return path, data


def declared(tmp_path: Path, source: str = DECLARED_PRF, name: str = "Declared") -> Path:
    return function_package(tmp_path / name, name, source, "ImageClassification")


def run(model: Path, raster: Path, output: Path, **arguments: Any) -> Any:
    given = {k: v if isinstance(v, str) else json.dumps(v) for k, v in arguments.items()}
    return classify_pixels(model, raster, output, given, "cpu", quiet, trust_code=True)


def test_select_rasters_decides_which_blocks_are_read(
    tmp_path: Path, scene: tuple[Path, np.ndarray]
) -> None:
    raster, data = scene
    model = declared(tmp_path, with_methods(DECLARED_PRF, SELECT_METHOD))
    output, record = tmp_path / "out.tif", tmp_path / "seen.json"
    run(model, raster, output, declare=F4, record=str(record))
    with rasterio.open(output) as result:
        got = result.read()
    expected = declared_expected(data[0], 2, "float32")
    # blocks of 16 columns: the first two were read, the others not (the function wrote 7)
    assert np.array_equal(got[:, :, :32], expected[:, :, :32])
    assert np.all(got[:, :, 32:] == 7)  # the input's nodata corner too: it was never read
    seen = json.loads(record.read_text())
    assert len(seen["selectRasters"]) == 16
    first = seen["selectRasters"][0]
    assert first["tlc"] == [LEFT, TOP] and first["shape"] == [2, 12, 16]
    assert first["props"]["pixelType"] == "f4" and first["props"]["width"] == 50
    keys = {tuple(call["tlc"]): call["keys"] for call in seen["updatePixels"]}
    assert keys[(LEFT + 160.0, TOP)] == ["raster_mask", "raster_pixels"]
    assert keys[(LEFT + 320.0, TOP)] == []
    # each block's selectRasters comes before its updatePixels
    order = [m for m in seen["order"] if m in ("selectRasters", "updatePixels")]
    assert order[:3] == ["selectRasters", "selectRasters", "updatePixels"]


def test_select_rasters_naming_another_raster_is_refused(
    tmp_path: Path, scene: tuple[Path, np.ndarray]
) -> None:
    method = SELECT_METHOD.replace("return (RASTER,) if", 'return ("dem",) if')
    model = declared(tmp_path, with_methods(DECLARED_PRF, method))
    with pytest.raises(ModelError, match=r"^Declared.py: selectRasters\(\) named dem"):
        run(model, scene[0], tmp_path / "out.tif", declare=F4)
    assert not (tmp_path / "out.tif").exists()


def test_blocks_are_named_by_the_raster_parameter(
    tmp_path: Path, scene: tuple[Path, np.ndarray]
) -> None:
    model = declared(tmp_path, DECLARED_PRF.replace('RASTER = "raster"', 'RASTER = "image"'))
    record = tmp_path / "seen.json"
    run(model, scene[0], tmp_path / "out.tif", declare=F4, record=str(record))
    seen = json.loads(record.read_text())
    kwargs = seen["updateRasterInfo"][0]["kwargs"]
    assert "image_info" in kwargs and "raster_info" not in kwargs
    assert seen["updatePixels"][0]["keys"] == ["image_mask", "image_pixels"]


def test_raster_mask_only_with_input_mask(tmp_path: Path, scene: tuple[Path, np.ndarray]) -> None:
    raster, data = scene
    record, output = tmp_path / "seen.json", tmp_path / "out.tif"
    config = {"inputMask": False}
    run(declared(tmp_path), raster, output, declare=F4, config=config, record=str(record))
    assert json.loads(record.read_text())["updatePixels"][0]["keys"] == ["raster_pixels"]
    with rasterio.open(output) as result:  # the input's nodata is nodata all the same
        assert np.all(result.read()[:, data[0] == NODATA] == NODATA)


def test_key_metadata_edits_are_the_outputs_metadata(
    tmp_path: Path, scene: tuple[Path, np.ndarray]
) -> None:
    model = declared(tmp_path, with_methods(DECLARED_PRF, KEY_METADATA_METHOD))
    output, record = tmp_path / "out.tif", tmp_path / "seen.json"
    config = {"invalidateProperties": 2 | 4, "keyMetadata": ["sensor", "CloudCover"]}
    run(model, scene[0], output, declare=F4, config=config, record=str(record))
    with rasterio.open(output) as result:
        assert result.tags()["datatype"] == "Processed"
        assert "SENSOR" not in result.tags()  # the input's, not the function's
        assert result.tags(1)["bandname"] == "Scaled"
        assert result.tags(2)["bandname"] == "Doubled" and "wavelengthmin" not in result.tags(2)
    seen = json.loads(record.read_text())
    calls = {call["bandIndex"]: call for call in seen["keyMetadata"]}
    assert sorted(calls) == [-1, 0, 1] and all(c["names"] == [] for c in calls.values())
    assert calls[-1]["given"]["SENSOR"] == "Test"
    assert calls[0]["given"] == {"bandname": "Red"}
    assert calls[1]["given"] == {"bandname": "Green", "wavelengthmin": "500"}
    kwargs = seen["updateRasterInfo"][0]["kwargs"]
    assert kwargs["raster_keyMetadata"] == {"sensor": "Test", "CloudCover": None}


def test_invalidated_key_properties_are_not_handed_over(
    tmp_path: Path, scene: tuple[Path, np.ndarray]
) -> None:
    """invalidateProperties 8 (the Declared function's default 2 | 4 | 8)."""
    model = declared(tmp_path, with_methods(DECLARED_PRF, KEY_METADATA_METHOD))
    output, record = tmp_path / "out.tif", tmp_path / "seen.json"
    run(model, scene[0], output, declare=F4, record=str(record))
    seen = json.loads(record.read_text())
    assert [call["given"] for call in seen["keyMetadata"]] == [{}, {}, {}]
    with rasterio.open(output) as result:
        assert result.tags(2)["bandname"] == "Doubled"


def test_key_metadata_moves_class_values_to_the_declared_raster(
    tmp_path: Path, scene: tuple[Path, np.ndarray]
) -> None:
    """The classified raster holds no key metadata: the declared i4 raster is written."""
    model = declared(tmp_path, with_methods(DECLARED_PRF, KEY_METADATA_METHOD))
    output = tmp_path / "out.tif"
    declare = {"pixelType": "i4", "bandCount": 1}
    run(model, scene[0], output, declare=declare, compute="classes")
    with rasterio.open(output) as result:
        assert result.dtypes == ("int32",) and result.nodata == NODATA  # inherited
        assert result.tags()["datatype"] == "Processed"
        assert set(np.unique(result.read(1))) == {1, 5, NODATA}


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ("False", ""),
        ("{'okToRun': False, 'message': 'needs  ArcGIS\\n10.3', 'extension': 'Image'}",
         ": needs ArcGIS 10.3"),
    ],
)  # fmt: skip
def test_is_licensed_false_stops_the_job(
    tmp_path: Path,
    scene: tuple[Path, np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    said: str,
) -> None:
    record = tmp_path / "licence.json"
    monkeypatch.setenv("DLPK_TEST_LICENSE_RECORD", str(record))
    model = declared(tmp_path, with_methods(DECLARED_PRF, LICENSE_METHOD.replace("ANSWER", answer)))
    with pytest.raises(ModelError) as caught:
        run(model, scene[0], tmp_path / "out.tif", declare=F4)
    text = str(caught.value)
    assert text.startswith(
        f"Declared.py: isLicensed() says it may not run here (dlpk {__version__}){said} ("
    )
    assert "\n" not in text and not (tmp_path / "out.tif").exists()
    seen = json.loads(record.read_text())
    assert seen["initialized"] is False  # asked soon after construction, before initialize
    info = seen["productInfo"]
    assert info["productName"] == "dlpk" and info["version"] == __version__
    assert isinstance(info["major"], int) and isinstance(info["minor"], float)
    assert set(info) == {"productName", "version", "path", "major", "minor", "build"} | {
        "spNumber",
        "spBuild",
    }


@pytest.mark.parametrize("answer", ["{'okToRun': True}", "None", "{'message': 'fine'}"])
def test_is_licensed_otherwise_lets_it_run(
    tmp_path: Path, scene: tuple[Path, np.ndarray], answer: str
) -> None:
    model = declared(tmp_path, with_methods(DECLARED_PRF, LICENSE_METHOD.replace("ANSWER", answer)))
    run(model, scene[0], tmp_path / "out.tif", declare=F4)
    assert (tmp_path / "out.tif").exists()


def test_is_licensed_stops_detect_objects_too(tmp_path: Path) -> None:
    source = with_methods(BLOBS_PRF, LICENSE_METHOD.replace("ANSWER", "False"))
    model = function_package(tmp_path / "Blobs", "Blobs", source, "ObjectDetection")
    output = tmp_path / "found.gpkg"
    with pytest.raises(ModelError, match=r"^Blobs.py: isLicensed\(\) says it may not run"):
        detect_objects(model, blob_raster(tmp_path), output, {}, "cpu", quiet, trust_code=True)
    assert not output.exists()
