"""Python raster function packages run with dlpk in ArcGIS's part (docs/esri-formats.md#methods)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyogrio
import pytest
import rasterio
import shapely

from dlpk.cli import main
from dlpk.errors import ModelError, UsageError
from dlpk.runners.io.windows import Tile, Window
from dlpk.runners.models.raster_function import BlockConfiguration
from dlpk.runners.progress import no_progress as quiet
from dlpk.runners.tasks.inference.classify_pixels import classify_pixels
from dlpk.runners.tasks.inference.detect_objects import detect_objects
from dlpk.runners.tasks.inference.function_tasks import _polygon, plan_blocks
from tests.inference_models import TRANSFORM, map_box, write_raster
from tests.raster_functions import (
    BLOBS_PRF,
    THRESHOLD_PRF,
    function_package,
    threshold_expected,
)
from tests.rasters import write_features

NODATA = 65535


@pytest.fixture
def threshold(tmp_path: Path) -> Path:
    return function_package(
        tmp_path / "Threshold", "Threshold", THRESHOLD_PRF, "ImageClassification"
    )


@pytest.fixture
def blobs(tmp_path: Path) -> Path:
    return function_package(tmp_path / "Blobs", "Blobs", BLOBS_PRF, "ObjectDetection")


@pytest.fixture
def scene(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """3 bands of uint16, 37 x 50 px (blocks of 11 x 13 do not divide it), a nodata corner."""
    data = np.random.default_rng(3).integers(0, 200, (3, 37, 50), dtype=np.uint16)
    data[:, 30:, 40:] = NODATA
    return write_raster(tmp_path / "scene.tif", data, nodata=NODATA), data


def test_classify_pixels_equals_one_pass_across_block_seams(
    tmp_path: Path, threshold: Path, scene: tuple[Path, np.ndarray]
) -> None:
    raster, data = scene
    output = tmp_path / "classes.tif"
    summary = classify_pixels(
        threshold, raster, output, {"threshold": "150"}, "cpu", quiet, trust_code=True
    )
    valid = data[1] != NODATA
    expected = threshold_expected(data[1], valid, 150)
    with rasterio.open(output) as result:
        got = result.read(1)
        assert result.crs is not None and result.transform == TRANSFORM
        nodata = result.nodata
    assert np.array_equal(got[valid], expected[valid])  # includes every block seam
    assert np.all(got[~valid] == nodata)
    assert set(np.unique(got[valid])) == {1, 5}
    assert summary.counts["tiles"] == 4 * 4  # ceil(37 / 11) x ceil(50 / 13)
    assert summary.arguments["threshold"] == "150" and summary.arguments["padding"] == "2"
    assert summary.arguments["extractBands"] == "1" and summary.arguments["tx"] == "13"


def test_default_comes_from_the_parameter_value(
    tmp_path: Path, threshold: Path, scene: tuple[Path, np.ndarray]
) -> None:
    raster, data = scene
    output = tmp_path / "classes.tif"
    classify_pixels(threshold, raster, output, {}, "cpu", quiet, trust_code=True)
    valid = data[1] != NODATA
    with rasterio.open(output) as result:
        got = result.read(1)
    assert np.array_equal(got[valid], threshold_expected(data[1], valid, 100)[valid])


def test_refused_without_trust_code(
    tmp_path: Path,
    threshold: Path,
    scene: tuple[Path, np.ndarray],
    capsys: pytest.CaptureFixture[str],
) -> None:
    output = tmp_path / "classes.tif"
    argv = ["classify-pixels", "--model", str(threshold), "--raster", str(scene[0])]
    assert main([*argv, "-o", str(output)]) == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--trust-code" in err[0] and "--backend docker" in err[0]
    assert not output.exists() and list(tmp_path.glob(".classes*")) == []
    assert main([*argv, "-o", str(output), "--trust-code"]) == 0
    assert output.exists()


def test_unknown_argument_lists_the_functions_own(
    tmp_path: Path, threshold: Path, scene: tuple[Path, np.ndarray]
) -> None:
    with pytest.raises(UsageError) as caught:
        classify_pixels(
            threshold, scene[0], tmp_path / "o.tif", {"thresh": "1"}, "cpu", quiet, trust_code=True
        )
    assert "thresh" in str(caught.value) and "threshold, padding" in str(caught.value)
    assert not (tmp_path / "o.tif").exists()


def test_arcgis_installed_function_is_refused(
    tmp_path: Path, scene: tuple[Path, np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "system"
    model = function_package(folder, "Threshold", THRESHOLD_PRF, "ImageClassification")
    emd_path = folder / "model.emd"
    text = emd_path.read_text().replace(
        '"Threshold.py"', '"[Functions]System\\\\DeepLearning\\\\ImageClassifier.py"'
    )
    emd_path.write_text(text)
    argv = ["classify-pixels", "--model", str(emd_path), "--raster", str(scene[0])]
    assert main([*argv, "-o", str(tmp_path / "o.tif"), "--trust-code"]) == 4
    err = capsys.readouterr().err
    assert "installed with ArcGIS Pro" in err and "Traceback" not in err
    assert model.exists()


def test_function_errors_are_one_line_model_errors(
    tmp_path: Path, scene: tuple[Path, np.ndarray]
) -> None:
    broken = THRESHOLD_PRF.replace(
        'pixelBlocks["output_pixels"] = classes[p : p + self.ty, p : p + self.tx]',
        'pixelBlocks["output_pixels"] = classes',
    )
    model = function_package(tmp_path / "Threshold", "Threshold", broken, "ImageClassification")
    with pytest.raises(ModelError, match="padding must be cropped off"):
        classify_pixels(model, scene[0], tmp_path / "o.tif", {}, "cpu", quiet, trust_code=True)
    named = function_package(tmp_path / "Other", "Other", THRESHOLD_PRF, "ImageClassification")
    with pytest.raises(ModelError, match="defines no class Other"):
        classify_pixels(named, scene[0], tmp_path / "o.tif", {}, "cpu", quiet, trust_code=True)
    assert not (tmp_path / "o.tif").exists()


def test_wrong_task_for_the_model_type(
    tmp_path: Path, threshold: Path, scene: tuple[Path, np.ndarray]
) -> None:
    with pytest.raises(ModelError, match="dlpk classify-pixels"):
        detect_objects(threshold, scene[0], tmp_path / "o.gpkg", {}, "cpu", quiet, trust_code=True)


def blob_raster(tmp_path: Path) -> Path:
    """Squares of 6 px with distinct values; some centred on block seams (multiples of 16)."""
    data = np.zeros((1, 48, 48), dtype=np.uint8)
    corners = {1: (13, 2), 2: (2, 13), 3: (13, 13), 4: (29, 29), 5: (22, 36), 6: (40, 5)}
    for value, (row, col) in corners.items():
        data[0, row : row + 6, col : col + 6] = value
    return write_raster(tmp_path / "blobs.tif", data)


def test_detect_objects_reports_seam_objects_once_in_map_coordinates(
    tmp_path: Path, blobs: Path
) -> None:
    output = tmp_path / "blobs.gpkg"
    summary = detect_objects(
        blobs, blob_raster(tmp_path), output, {"score": "0.5"}, "cpu", quiet, trust_code=True
    )
    meta, _, geometry, columns = pyogrio.raw.read(output)
    names = list(meta["fields"])
    assert names == ["Class", "Value", "Confidence", "Note"]  # declared, OID/Shape not
    fields = dict(zip(names, columns, strict=True))
    found = {
        int(v): shapely.from_wkb(g).bounds for v, g in zip(fields["Value"], geometry, strict=True)
    }
    corners = {1: (13, 2), 2: (2, 13), 3: (13, 13), 4: (29, 29), 5: (22, 36), 6: (40, 5)}
    expected = {}
    for value, (row, col) in corners.items():
        x1, y1 = TRANSFORM @ (col, row + 6)
        x2, y2 = TRANSFORM @ (col + 6, row)
        expected[value] = (x1, y1, x2, y2)
    assert len(geometry) == summary.counts["detections"] == 6
    assert found == expected
    assert set(fields["Class"]) == {"blob"} and set(fields["Confidence"]) == {0.5}
    assert list(fields["Note"]) == [None] * 6  # declared, never given: null
    assert summary.counts["outside_block"] > 0  # seam squares were seen by several blocks
    assert "32633" in meta["crs"]


def test_even_odd_rings_make_holes() -> None:
    tile = Tile(0, Window(-2, -2, 14, 14), Window(10, 20, 10, 10))
    outer = [[0, 0], [8, 0], [8, 8], [0, 8], [0, 0]]
    hole = [[2, 2], [4, 2], [4, 4], [2, 4], [2, 2]]
    polygon = _polygon({"rings": [outer, hole]}, tile, "f.py")
    assert polygon.area == 64 - 4
    assert polygon.bounds == (20, 10, 28, 18)  # shifted by the block's core origin


def test_blocks_without_fixed_size_are_cut_at_the_raster_edge() -> None:
    config = BlockConfiguration(bands=[0], padding=3, tx=10, ty=10, fixed=False, input_mask=False)
    last = plan_blocks(25, 25, config)[-1]
    assert last.core == Window(20, 20, 5, 5) and last.read == Window(17, 17, 11, 11)
    fixed = BlockConfiguration(bands=[0], padding=3, tx=10, ty=10, fixed=True, input_mask=False)
    assert plan_blocks(25, 25, fixed)[-1].read == Window(17, 17, 16, 16)


def aoi_layer(path: Path, boxes: list[tuple[int, int, int, int]]) -> Path:
    """Polygons given as pixel boxes (row1, col1, row2, col2), written in EPSG:4326; densified
    so they stay rectangles on the raster's grid after reprojection."""
    polygons = [shapely.segmentize(map_box(*b), 5.0) for b in boxes]
    path = write_features(path, polygons, None, crs="EPSG:4326")
    assert "4326" in str(pyogrio.read_info(path)["crs"])
    return path


def test_classify_pixels_only_inside_an_aoi_in_another_crs(
    tmp_path: Path, threshold: Path, scene: tuple[Path, np.ndarray]
) -> None:
    raster, data = scene
    aoi = aoi_layer(tmp_path / "aoi.gpkg", [(4, 3, 14, 15), (25, 30, 35, 45)])
    output = tmp_path / "classes.tif"
    summary = classify_pixels(
        threshold, raster, output, {"threshold": "150"}, "cpu", quiet, trust_code=True, aoi=aoi
    )
    valid = data[1] != NODATA
    expected = threshold_expected(data[1], valid, 150)
    inside = np.zeros(valid.shape, dtype=bool)
    inside[4:14, 3:15] = inside[25:35, 30:45] = True
    with rasterio.open(output) as result:
        got, nodata = result.read(1), result.nodata
    assert np.array_equal(got[inside & valid], expected[inside & valid])
    assert np.all(got[~inside | ~valid] == nodata)
    assert summary.counts["tiles"] < 4 * 4  # blocks outside the AOI never went to the function
    # --extent (raster CRS) through the command line, intersected with the AOI
    left = [str(v) for v in map_box(0, 0, 37, 10).bounds]
    both = tmp_path / "both.tif"
    argv = ["classify-pixels", "--model", str(threshold), "--raster", str(raster), "-o", str(both)]
    argv += ["--arg", "threshold=150", "--trust-code", "--aoi", str(aoi), "--extent", *left]
    assert main(argv) == 0
    inside[:, 10:] = False
    with rasterio.open(both) as result:
        crossed = result.read(1)
    assert np.array_equal(crossed[inside & valid], expected[inside & valid])
    assert np.all(crossed[~inside | ~valid] == nodata)


def test_detect_objects_only_centred_inside_the_area(tmp_path: Path, blobs: Path) -> None:
    raster = blob_raster(tmp_path)  # square centres (row, col): 1 (16, 5), 2 (5, 16),
    # 3 (16, 16), 4 (32, 32), 5 (25, 39), 6 (43, 8); blocks of 16 x 16
    aoi = aoi_layer(tmp_path / "aoi.gpkg", [(0, 0, 48, 36)])  # cuts the third block column
    output = tmp_path / "found.gpkg"
    summary = detect_objects(blobs, raster, output, {}, "cpu", quiet, trust_code=True, aoi=aoi)
    meta, _, _, columns = pyogrio.raw.read(output)
    values = dict(zip(meta["fields"], columns, strict=True))["Value"]
    assert sorted(int(v) for v in values) == [1, 2, 3, 4, 6]
    assert summary.counts["outside_area"] == 1  # square 5: its block ran, its centre is out
    top = [str(v) for v in map_box(0, 0, 20, 48).bounds]
    part = tmp_path / "part.gpkg"
    argv = ["detect-objects", "--model", str(blobs), "--raster", str(raster), "-o", str(part)]
    assert main([*argv, "--trust-code", "--extent", *top]) == 0
    meta, _, _, columns = pyogrio.raw.read(part)
    values = dict(zip(meta["fields"], columns, strict=True))["Value"]
    assert sorted(int(v) for v in values) == [1, 2, 3]
