"""detect-objects end to end with a TorchScript square detector, plus NMS on its own."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlpk.cli import main
from dlpk.errors import ModelError, OutputExistsError
from dlpk.runners.io.layers import pixel_boxes_to_polygons, write_polygons
from dlpk.runners.io.windows import TileGrid, plan_tiles
from dlpk.runners.progress import no_progress as quiet
from dlpk.runners.tasks.inference.arguments import DETECTOR_ARGUMENTS, parse_arguments
from dlpk.runners.tasks.inference.detect_objects import detect_objects, tile_detections
from dlpk.runners.tasks.inference.nms import class_aware_nms, nms, overlaps
from dlpk.spec.emd import EsriModelDefinition
from tests.inference_models import (
    TRANSFORM,
    emd,
    make_detector,
    make_nested_detector,
    package,
    save_onnx_detector,
    write_raster,
)

torch = pytest.importorskip("torch")

TILE, PADDING, SIZE = 32, 8, 6  # cores of 16 px: seams at multiples of 16


@pytest.fixture
def detector(tmp_path: Path) -> Path:
    folder = tmp_path / "detector"
    folder.mkdir()
    torch.jit.script(make_detector()).save(str(folder / "model.pt"))
    document = emd("model.pt", "TorchScript", "ObjectDetector", ExtractBands=[0], ImageHeight=TILE)
    document["ImageWidth"] = TILE
    return package(folder, document)


def squares(shape: tuple[int, int], corners: list[tuple[int, int, float]]) -> np.ndarray:
    """A 1-band float raster with SIZE x SIZE squares of the given value at (row, col)."""
    data = np.zeros((1, *shape), dtype=np.float32)
    for row, col, value in corners:
        data[0, row : row + SIZE, col : col + SIZE] = value
    return data


def read_layer(path: Path) -> tuple[list[tuple[float, ...]], list[str], list[float], str | None]:
    meta, _, geometry, fields = pyogrio.raw.read(path)
    boxes = [tuple(shapely.from_wkb(g).bounds) for g in geometry]
    names = list(meta["fields"])
    return (
        boxes,
        list(fields[names.index("Class")]),
        list(fields[names.index("Confidence")]),
        meta["crs"],
    )


def to_map(col: float, row: float) -> tuple[float, float]:
    x, y = TRANSFORM @ (col, row)
    return float(x), float(y)


@pytest.mark.parametrize(
    ("exclude", "overlap", "count"),
    [
        ("True", "1.0", 4),  # the core rule alone (NMS off: no overlap exceeds 1)
        ("False", "0.1", 4),  # NMS alone
        ("True", "0.1", 4),  # both, the default
        ("False", "1.0", 12),  # neither: every tile that sees an object whole reports it
    ],
)
def test_objects_on_seams_are_reported_once(
    tmp_path: Path, detector: Path, exclude: str, overlap: str, count: int
) -> None:
    # Centres exactly on a vertical seam (col 16), on a horizontal one (row 32), on a corner
    # where four tiles meet (32, 32), and one well inside a core, of the second class.
    corners = [(4, 13, 1.0), (29, 3, 1.0), (29, 29, 1.0), (40, 40, 2.0)]
    raster = write_raster(tmp_path / "in.tif", squares((60, 60), corners))
    output = tmp_path / "out.gpkg"
    args = {"padding": str(PADDING), "exclude_pad_detections": exclude, "batch_size": "5"}
    args["nms_overlap"] = overlap
    summary = detect_objects(detector, raster, output, args, "cpu", quiet)
    boxes, classes, confidence, crs = read_layer(output)
    assert summary.counts["detections"] == count == len(boxes)
    if count != 4:
        return
    expected = []
    for row, col, _ in corners:
        x1, y2 = to_map(col, row + SIZE)
        x2, y1 = to_map(col + SIZE, row)
        expected.append((x1, y2, x2, y1))
    assert sorted(boxes) == sorted(expected)
    assert sorted(classes) == ["Forest", "Water", "Water", "Water"]
    assert confidence == pytest.approx([90.0] * 4)
    assert crs is not None and "32633" in crs
    # per class, by Value (Water is 1, Forest 5), as the done line shows them
    assert (summary.counts["class_1_detections"], summary.counts["class_5_detections"]) == (3, 1)


def test_a_class_found_nowhere_counts_zero(tmp_path: Path, detector: Path) -> None:
    raster = write_raster(tmp_path / "in.tif", squares((40, 40), [(10, 10, 2.0)]))
    summary = detect_objects(detector, raster, tmp_path / "out.gpkg", {}, "cpu", quiet)
    assert summary.counts["class_1_detections"] == 0
    assert summary.counts["class_5_detections"] == summary.counts["detections"] == 1


def test_detections_in_nodata_are_dropped(tmp_path: Path, detector: Path) -> None:
    data = squares((40, 40), [(4, 4, 1.0), (20, 20, 2.0)])
    # nodata=1.0 flags the class-1 square's pixels: only the class-2 square may be detected.
    raster = write_raster(tmp_path / "in.tif", data, nodata=1.0)
    output = tmp_path / "out.gpkg"
    detect_objects(detector, raster, output, {"padding": "8"}, "cpu", quiet)
    assert read_layer(output)[1] == ["Forest"]


def test_tile_detections_need_a_valid_centre_in_the_core() -> None:
    tile = plan_tiles(64, 64, TileGrid(TILE, TILE, PADDING))[5]  # core rows 16-32, cols 16-32
    boxes = np.array([[1.0, 1, 7, 7], [12, 12, 18, 18], [20, 20, 26, 26], [30, 30, 36, 36]])
    scores, labels = np.array([0.9, 0.9, 0.9, 0.9]), np.array([1.0, 1, 1, 1])
    valid = np.ones((TILE, TILE), dtype=bool)
    valid[23, 23] = False  # the third box's centre pixel
    args = parse_arguments({}, EsriModelDefinition(ImageHeight=TILE), DETECTOR_ARGUMENTS)
    kept, _, _ = tile_detections(tile, boxes, scores, labels, valid, 2, args)
    assert kept.tolist() == [[12 + 8, 12 + 8, 18 + 8, 18 + 8]]  # shifted to raster pixels


def test_shapefile_and_pixel_space_without_crs(
    tmp_path: Path, detector: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raster = write_raster(tmp_path / "in.tif", squares((30, 30), [(10, 12, 2.0)]), crs=None)
    output = tmp_path / "out.shp"
    argv = ["detect-objects", "--model", str(detector), "--raster", str(raster)]
    argv += ["-o", str(output), "--device", "cpu"]
    assert main(argv) == 0
    assert "no CRS" in capsys.readouterr().err
    boxes, classes, _, crs = read_layer(output)
    assert boxes == [(12.0, 10.0, 18.0, 16.0)] and classes == ["Forest"] and crs is None
    assert main(argv) == 2  # exists, no --overwrite
    assert main([*argv, "--overwrite"]) == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("out.")) == [
        "out.cpg",
        "out.dbf",
        "out.shp",
        "out.shx",
    ]


def test_nms_is_class_aware() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60]], float)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    labels = np.array([1, 1, 2, 1])
    assert class_aware_nms(boxes, scores, labels, 0.5).tolist() == [0, 2, 3]
    assert nms(boxes, scores, 0.5).tolist() == [0, 3]
    assert nms(boxes, scores, 0.9).tolist() == [0, 1, 3]


def test_overlap_metrics() -> None:
    inner = np.array([[2.0, 2.0, 4.0, 4.0]])
    outer = np.array([0.0, 0.0, 10.0, 10.0])
    assert overlaps(outer, inner, "iou")[0] == pytest.approx(0.04)
    assert overlaps(outer, inner, "ios")[0] == pytest.approx(1.0)


GROW = 9  # a 24 x 24 box around each 6 x 6 square: IoU 36 / 576 = 0.0625, ios 1


def nested_package(folder: Path) -> Path:
    folder.mkdir()
    torch.jit.script(make_nested_detector(GROW)).save(str(folder / "model.pt"))
    document = emd("model.pt", "TorchScript", "ObjectDetector", ExtractBands=[0], ImageHeight=TILE)
    document["ImageWidth"] = TILE
    return package(folder, document)


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        (None, [(17, 17, 23, 23, 90.0), (8, 8, 32, 32, 80.0)]),  # default: iou
        ("iou", [(17, 17, 23, 23, 90.0), (8, 8, 32, 32, 80.0)]),
        ("IOS", [(17, 17, 23, 23, 90.0)]),  # any case, as ArcGIS lower-cases arguments
    ],
)
def test_nms_metric_decides_whether_a_box_inside_a_larger_one_survives(
    tmp_path: Path, metric: str | None, expected: list[tuple[float, ...]]
) -> None:
    model = nested_package(tmp_path / "nested")
    raster = write_raster(tmp_path / "in.tif", squares((40, 40), [(17, 17, 1.0)]), crs=None)
    output = tmp_path / "out.gpkg"
    args = {"tile_size": "40", "padding": "0"}  # one tile: only the metric decides
    if metric is not None:
        args["nms_metric"] = metric
    summary = detect_objects(model, raster, output, args, "cpu", quiet)
    boxes, classes, confidence, _ = read_layer(output)
    # no CRS: map y runs along rows, so bounds are (col1, row1, col2, row2)
    found = sorted((*b, c) for b, c in zip(boxes, confidence, strict=True))
    assert found == sorted(expected) and set(classes) == {"Water"}
    assert summary.arguments["nms_metric"] == (metric or "iou").lower()
    assert summary.arguments["nms_overlap"] == "0.1"


def test_nms_metric_is_recorded_in_the_job_result(tmp_path: Path) -> None:
    jobdir = tmp_path / "job"
    (jobdir / "in").mkdir(parents=True)
    nested_package(jobdir / "model")  # the folder holds model.emd and model.pt
    write_raster(jobdir / "in" / "scene.tif", squares((40, 40), [(17, 17, 2.0)]))
    job = {
        "apiVersion": "dlpk/v1",
        "task": "detect_objects",
        "model": "model",
        "inputs": {"in_raster": "in/scene.tif"},
        "parameters": {
            "arguments": {"tile_size": "40", "padding": "0", "nms_metric": "ios"},
            "device": "cpu",
        },
    }
    (jobdir / "job.json").write_text(json.dumps(job))
    assert main(["run", str(jobdir)]) == 0
    result = json.loads((jobdir / "out" / "result.json").read_text())
    assert result["parameters"]["arguments"]["nms_metric"] == "ios"
    assert result["counts"]["detections"] == 1
    assert read_layer(jobdir / "out" / "detections.gpkg")[1] == ["Forest"]


def test_bad_nms_metric_is_a_one_line_usage_error(
    tmp_path: Path, detector: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raster = write_raster(tmp_path / "in.tif", squares((30, 30), [(10, 12, 2.0)]))
    output = tmp_path / "out.gpkg"
    argv = ["detect-objects", "--model", str(detector), "--raster", str(raster), "-o"]
    argv += [str(output), "--arg", "nms_metric=dice", "--device", "cpu"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0] == "dlpk: error: --arg nms_metric=dice: expected one of iou, ios"
    assert "Traceback" not in err and not output.exists()


@pytest.mark.parametrize("suffix", [".gdb", ".geojson", ".gpkg"])
def test_writers_by_extension(tmp_path: Path, suffix: str) -> None:
    boxes = np.array([[0.0, 0, 2, 3], [5, 5, 6, 6]])
    polygons = pixel_boxes_to_polygons(boxes, TRANSFORM)
    fields = {
        "Class": np.array(["Water", "Forest"], dtype=object),
        "ClassValue": np.array([1, 5], dtype=np.int32),
        "Confidence": np.array([90.0, 80.0]),
    }
    target = tmp_path / f"out{suffix}"
    write_polygons(target, polygons, fields, "EPSG:32633")
    meta, _, geometry, values = pyogrio.raw.read(target)
    assert list(meta["fields"]) == ["Class", "ClassValue", "Confidence"]
    assert list(values[0]) == ["Water", "Forest"] and list(values[1]) == [1, 5]
    first = shapely.from_wkb(geometry[0]).bounds
    assert first == (500000.0, 4000000.0 - 30.0, 500020.0, 4000000.0)
    with pytest.raises(OutputExistsError):
        write_polygons(target, polygons, fields, "EPSG:32633")
    write_polygons(target, polygons[:1], {k: v[:1] for k, v in fields.items()}, None, True)
    assert len(pyogrio.raw.read(target)[2]) == 1
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_onnx_detector_with_fixed_batch_and_size(tmp_path: Path) -> None:
    folder = tmp_path / "onnx"
    folder.mkdir()
    save_onnx_detector(make_detector(), folder / "model.onnx", TILE)
    document = emd("model.onnx", "ONNX", "ObjectDetector", ExtractBands=[0], ImageHeight=TILE)
    document["ImageWidth"] = TILE
    dlpk_path = package(folder, document)
    corners = [(4, 13, 1.0), (29, 29, 1.0), (40, 40, 2.0)]
    raster = write_raster(tmp_path / "in.tif", squares((60, 60), corners))
    output = tmp_path / "out.gpkg"
    # batch_size 3 against a graph fixed at batch 1: batches are cut to fit.
    args = {"padding": str(PADDING), "batch_size": "3"}
    summary = detect_objects(dlpk_path, raster, output, args, "cpu", quiet)
    assert summary.counts["detections"] == 3
    assert sorted(read_layer(output)[1]) == ["Forest", "Water", "Water"]
    with pytest.raises(ModelError, match="tiles of 32 rows, not 48"):
        detect_objects(dlpk_path, raster, output, {"tile_size": "48"}, "cpu", quiet, True)


@st.composite
def scenes(draw: st.DrawFn) -> tuple[int, int, list[tuple[int, int]], int, int]:
    height, width = draw(st.integers(12, 50)), draw(st.integers(12, 50))
    tile = draw(st.integers(12, 28))
    padding = draw(st.integers(3, (tile - 1) // 2))
    corners: list[tuple[int, int]] = []
    for _ in range(draw(st.integers(0, 4))):
        row = draw(st.integers(0, height - SIZE))
        col = draw(st.integers(0, width - SIZE))
        # keep a gap of one pixel between squares, so each stays one uniform object
        if all(abs(row - r) > SIZE or abs(col - c) > SIZE for r, c in corners):
            corners.append((row, col))
    return height, width, corners, tile, padding


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(scene=scenes(), exclude=st.sampled_from(["True", "False"]))
def test_every_object_is_reported_once_whatever_the_tiling(
    tmp_path: Path,
    detector: Path,
    scene: tuple[int, int, list[tuple[int, int]], int, int],
    exclude: str,
) -> None:
    height, width, corners, tile, padding = scene
    raster = write_raster(
        tmp_path / "in.tif", squares((height, width), [(r, c, 1.0) for r, c in corners])
    )
    output = tmp_path / "out.gpkg"
    args = {"tile_size": str(tile), "padding": str(padding), "exclude_pad_detections": exclude}
    detect_objects(detector, raster, output, args, "cpu", quiet, overwrite=True)
    boxes = read_layer(output)[0]
    expected = []
    for row, col in corners:
        x1, y2 = to_map(col, row + SIZE)
        x2, y1 = to_map(col + SIZE, row)
        expected.append((x1, y2, x2, y1))
    assert sorted(boxes) == sorted(expected)
