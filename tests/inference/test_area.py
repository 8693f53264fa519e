"""Processing extent and AOI for classify-pixels, detect-objects and classify-objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pytest
import rasterio
import shapely

from dlpk.cli import main
from dlpk.runners.progress import no_progress as quiet
from dlpk.runners.tasks.inference.classify_objects import classify_objects
from dlpk.runners.tasks.inference.classify_pixels import classify_pixels
from dlpk.runners.tasks.inference.detect_objects import detect_objects
from tests.inference_models import (
    TRANSFORM,
    conv_stack,
    emd,
    make_detector,
    package,
    save_torchscript,
    seeded_rgb,
    write_raster,
)
from tests.rasters import write_features

torch = pytest.importorskip("torch")


def box(col: int, row: int, width: int, height: int) -> shapely.Polygon:
    """Pixel edges as a map-space box, densified so it survives reprojection as a rectangle."""
    x0, y0 = TRANSFORM @ (col, row)
    x1, y1 = TRANSFORM @ (col + width, row + height)
    square = shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    return shapely.segmentize(square, 5.0)


def extent_of(col: int, row: int, width: int, height: int) -> list[str]:
    return [str(v) for v in box(col, row, width, height).bounds]


@pytest.fixture
def pixels_model(tmp_path: Path) -> Path:
    folder = tmp_path / "pixels"
    folder.mkdir()
    save_torchscript(conv_stack(3, 3, seed=3), folder / "model.pt")
    return package(folder, emd("model.pt", "TorchScript", "PixelClassifier"))


@pytest.fixture
def detector(tmp_path: Path) -> Path:
    folder = tmp_path / "detector"
    folder.mkdir()
    torch.jit.script(make_detector()).save(str(folder / "model.pt"))
    return package(folder, emd("model.pt", "TorchScript", "ObjectDetector", ExtractBands=[0]))


def read_classes(path: Path) -> np.ndarray:
    with rasterio.open(path) as dataset:
        assert dataset.transform == TRANSFORM and dataset.shape == (45, 70)
        return np.asarray(dataset.read(1))


def cli(task: str, model: Path, raster: Path, output: Path, *extra: str) -> int:
    argv = [task, "--model", str(model), "--raster", str(raster), "-o", str(output)]
    return main([*argv, "--arg", "padding=8", "--device", "cpu", *extra])


def test_extent_limits_tiles_and_pixels(tmp_path: Path, pixels_model: Path) -> None:
    raster = write_raster(tmp_path / "in.tif", seeded_rgb(45, 70, seed=1))
    full = classify_pixels(
        pixels_model, raster, tmp_path / "full.tif", {"padding": "8"}, "cpu", quiet
    )
    extent = [float(v) for v in extent_of(10, 5, 20, 15)]
    part = classify_pixels(
        pixels_model, raster, tmp_path / "part.tif", {"padding": "8"}, "cpu", quiet, extent=extent
    )
    everything, limited = read_classes(tmp_path / "full.tif"), read_classes(tmp_path / "part.tif")
    inside = np.zeros_like(everything, dtype=bool)
    inside[5:20, 10:30] = True
    np.testing.assert_array_equal(limited[inside], everything[inside])
    assert (limited[~inside] == 255).all()
    assert part.counts["tiles"] < full.counts["tiles"]


def test_aoi_in_another_crs_through_the_cli(tmp_path: Path, pixels_model: Path) -> None:
    raster = write_raster(tmp_path / "in.tif", seeded_rgb(45, 70, seed=2))
    aoi = write_features(tmp_path / "aoi.gpkg", [box(3, 4, 12, 10), box(40, 30, 25, 12)], None)
    assert "4326" in str(pyogrio.read_info(aoi)["crs"])
    assert cli("classify-pixels", pixels_model, raster, tmp_path / "full.tif") == 0
    assert (
        cli("classify-pixels", pixels_model, raster, tmp_path / "aoi.tif", "--aoi", str(aoi)) == 0
    )
    everything, limited = read_classes(tmp_path / "full.tif"), read_classes(tmp_path / "aoi.tif")
    inside = np.zeros_like(everything, dtype=bool)
    inside[4:14, 3:15] = True
    inside[30:42, 40:65] = True
    np.testing.assert_array_equal(limited[inside], everything[inside])
    assert (limited[~inside] == 255).all()
    # --extent and --aoi together: their intersection
    both = tmp_path / "both.tif"
    window = extent_of(0, 0, 10, 45)
    assert (
        cli("classify-pixels", pixels_model, raster, both, "--aoi", str(aoi), "--extent", *window)
        == 0
    )
    crossed = read_classes(both)
    inside[:, 10:] = False
    np.testing.assert_array_equal(crossed[inside], everything[inside])
    assert (crossed[~inside] == 255).all()


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--extent", "10", "0", "5", "1"], 2, "XMIN < XMAX"),
        (["--extent", "0", "0", "10", "10"], 3, "covers no pixel"),
        (["--aoi", "missing.gpkg"], 3, "AOI not found"),
        (["--aoi", "points.geojson"], 3, "holds no polygons"),
    ],
)
def test_area_errors(
    tmp_path: Path,
    pixels_model: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    extra: list[str],
    code: int,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    points = np.array(shapely.to_wkb([shapely.Point(500050.0, 3999950.0)]), dtype=object)
    pyogrio.raw.write(
        tmp_path / "points.geojson",
        points,
        [],
        [],
        driver="GeoJSON",
        crs="EPSG:32633",
        geometry_type="Point",
    )
    raster = write_raster(tmp_path / "in.tif", seeded_rgb(20, 20))
    assert cli("classify-pixels", pixels_model, raster, tmp_path / "out.tif", *extra) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out.tif").exists()


def detections(path: Path) -> list[tuple[float, float]]:
    """Each detection's centre in raster pixels (col, row)."""
    _, _, geometry, _ = pyogrio.raw.read(path)
    inverse = ~TRANSFORM
    centres = [inverse @ shapely.from_wkb(g).centroid.coords[0] for g in geometry]
    return sorted((round(c, 6), round(r, 6)) for c, r in centres)


def test_detections_centred_outside_are_dropped(tmp_path: Path, detector: Path) -> None:
    data = np.zeros((1, 60, 60), dtype=np.float32)
    for row, col in [(4, 13), (29, 3), (29, 29), (40, 40)]:
        data[0, row : row + 6, col : col + 6] = 1.0
    raster = write_raster(tmp_path / "in.tif", data)
    args = {"padding": "8"}
    every = tmp_path / "every.gpkg"
    detect_objects(detector, raster, every, args, "cpu", quiet)
    assert detections(every) == [(6.0, 32.0), (16.0, 7.0), (32.0, 32.0), (43.0, 43.0)]
    extent = [float(v) for v in extent_of(0, 0, 24, 60)]
    part = tmp_path / "part.gpkg"
    detect_objects(detector, raster, part, args, "cpu", quiet, extent=extent)
    assert detections(part) == [(6.0, 32.0), (16.0, 7.0)]
    # An AOI in EPSG:4326 whose edge (col 33) cuts the third object: its centre is inside.
    aoi = write_features(tmp_path / "aoi.gpkg", [box(0, 0, 33, 60)], None)
    output = tmp_path / "found.gpkg"
    assert cli("detect-objects", detector, raster, output, "--aoi", str(aoi)) == 0
    assert detections(output) == [(6.0, 32.0), (16.0, 7.0), (32.0, 32.0)]


def test_classify_objects_only_features_meeting_the_area(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.inference.test_classify_objects import classifier, halves, pixel_box, write_layer

    model, raster = classifier(tmp_path), halves(tmp_path)  # 60 x 80, bright left half
    geometries = [
        shapely.Point(TRANSFORM @ (10, 30)),  # in the first AOI polygon
        pixel_box(20, 60, 30, 70),  # in the second
        shapely.Point(TRANSFORM @ (45, 30)),  # in neither
        pixel_box(40, 25, 50, 35),  # crosses the first polygon's edge: classified
        shapely.Point(TRANSFORM @ (70, 50)),  # in neither
    ]
    names = ["a", "b", "c", "d", "e"]
    features = write_layer(tmp_path / "f.gpkg", geometries, names, "EPSG:32633")
    aoi = write_features(tmp_path / "aoi.gpkg", [box(0, 0, 30, 60), box(55, 15, 20, 20)], None)
    assert "4326" in str(pyogrio.read_info(aoi)["crs"])
    argv = ["classify-objects", "--model", str(model), "--raster", str(raster)]
    argv += ["--features", str(features)]
    assert main([*argv, "-o", str(tmp_path / "all.gpkg")]) == 0
    assert main([*argv, "-o", str(tmp_path / "limited.gpkg"), "--aoi", str(aoi)]) == 0
    everything, limited = labelled(tmp_path / "all.gpkg"), labelled(tmp_path / "limited.gpkg")
    assert limited["name"] == names  # every feature is kept
    assert None not in everything["ClassLabel"]
    for field in ("ClassLabel", "ClassValue", "Confidence"):
        for number in (0, 1, 3):
            assert limited[field][number] == everything[field][number]
        for number in (2, 4):
            missing = limited[field][number]
            assert missing is None or np.isnan(missing)  # null
    # --extent in the raster's CRS: columns 0..40 hold features 0 and 3
    extent = [float(v) for v in extent_of(0, 0, 40, 60)]
    output = tmp_path / "extent.gpkg"
    summary = classify_objects(
        model, raster, output, {}, "cpu", quiet, features=features, extent=extent
    )
    labels = labelled(output)["ClassLabel"]
    assert labels == [everything["ClassLabel"][0], None, None, everything["ClassLabel"][3], None]
    own = {k: v for k, v in summary.counts.items() if k not in ("tiles", "pixels")}
    assert own == {"features": 5, "outside_area": 3, "labelled": 2}
    # an area missing the raster is refused, as for the other tasks
    far = ["--extent", "0", "0", "10", "10"]
    assert main([*argv, "-o", str(tmp_path / "none.gpkg"), *far]) == 3
    err = capsys.readouterr().err
    assert "covers no pixel" in err and "Traceback" not in err


def labelled(path: Path) -> dict[str, list[Any]]:
    meta, _, _, fields = pyogrio.raw.read(path)
    return {name: list(values) for name, values in zip(meta["fields"], fields, strict=True)}


def test_job_schema_carries_the_area() -> None:
    from dlpk.spec.job import ClassifyObjectsJob, ClassifyPixelsJob

    for job in (ClassifyPixelsJob, ClassifyObjectsJob):
        schema: dict[str, Any] = job.model_json_schema()
        text = str(schema)
        assert "in_aoi" in text and "extent" in text
