"""classify-objects through a package's Python raster function
(docs/esri-formats.md#classify-objects-through-a-raster-function)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import pytest
import shapely

from dlpk.cli import main
from dlpk.errors import ModelError
from dlpk.runners.progress import no_progress as quiet
from dlpk.runners.tasks.inference.classify_objects import classify_objects
from tests.inference_models import map_box, map_point, write_raster
from tests.raster_functions import MEANS_PRF, function_package, means_expected
from tests.rasters import write_features

#: Chips of 32 x 32 (the packages' ImageHeight x ImageWidth) as (row, col, height, width).
FEATURES = [
    (shapely.Point(map_point(30, 10)), (14, -6, 32, 32)),  # reaches past the left edge
    (map_box(20, 60, 30, 70), (9, 49, 32, 32)),  # centred on row 25, col 65
    (shapely.Point(map_point(-500, -500)), None),  # off the raster: no label
    (shapely.Point(map_point(5.5, 40.2)), (-11, 24, 32, 32)),
    (shapely.Point(map_point(50, 75)), (34, 59, 32, 32)),
]


def scene(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """uint8, 3 bands, 60 x 80; band 0 brighter on the left half, noisy everywhere."""
    data = np.random.default_rng(7).integers(0, 120, (3, 60, 80), dtype=np.uint8)
    data[0, :, :40] += 130
    return write_raster(tmp_path / "scene.tif", data), data


def layer(tmp_path: Path, geometries: list[Any]) -> Path:
    """The features in EPSG:4326 (the raster is in EPSG:32633), with an id field."""
    path = tmp_path / "features.gpkg"
    ids = list(range(len(geometries)))
    return write_features(path, geometries, ids, "id", "EPSG:4326", geometry_type="Unknown")


def table(path: Path) -> dict[str, list[Any]]:
    meta, _, _, fields = pyogrio.raw.read(path)
    return {name: list(values) for name, values in zip(meta["fields"], fields, strict=True)}


def means(tmp_path: Path, name: str = "Means", **extra: Any) -> Path:
    return function_package(tmp_path / name, name, MEANS_PRF, "ObjectClassification", **extra)


def test_labels_are_what_the_function_computes(tmp_path: Path) -> None:
    raster, data = scene(tmp_path)
    features = layer(tmp_path, [f for f, _ in FEATURES])
    output = tmp_path / "labelled.gpkg"
    argv = ["classify-objects", "--model", str(means(tmp_path)), "--raster", str(raster)]
    argv += ["--features", str(features), "-o", str(output), "--arg", "level=120"]
    assert main([*argv, "--trust-code"]) == 0
    got = table(output)
    assert got["id"] == [0, 1, 2, 3, 4]
    for number, (_, window) in enumerate(FEATURES):
        if window is None:
            assert got["ClassLabel"][number] is None
            assert np.isnan(got["Confidence"][number]) and np.isnan(got["ClassValue"][number])
            continue
        label, confidence = means_expected(data[0], window, 120)
        assert got["ClassLabel"][number] == label
        assert got["Confidence"][number] == pytest.approx(confidence)
        assert got["ClassValue"][number] == {"Water": 1, "Forest": 5}[label]
    assert {"Water", "Forest"} <= set(got["ClassLabel"])  # both outcomes are exercised
    # every input geometry is written back as it was, in its own CRS
    _, _, written, _ = pyogrio.raw.read(output)
    _, _, given, _ = pyogrio.raw.read(features)
    assert [shapely.from_wkb(g) for g in written] == [shapely.from_wkb(g) for g in given]
    assert "4326" in str(pyogrio.read_info(output)["crs"])


def test_only_features_meeting_an_aoi_in_another_crs(tmp_path: Path) -> None:
    raster, data = scene(tmp_path)
    features = layer(tmp_path, [f for f, _ in FEATURES])
    boxes = [map_box(0, 0, 60, 35), map_box(40, 70, 60, 80)]  # hold features 0 and 4
    aoi = write_features(tmp_path / "aoi.gpkg", [shapely.segmentize(b, 5.0) for b in boxes], None)
    assert "4326" in str(pyogrio.read_info(aoi)["crs"])
    output = tmp_path / "labelled.gpkg"
    argv = ["classify-objects", "--model", str(means(tmp_path)), "--raster", str(raster)]
    argv += ["--features", str(features), "-o", str(output), "--aoi", str(aoi)]
    assert main([*argv, "--trust-code"]) == 0
    got = table(output)
    assert got["id"] == [0, 1, 2, 3, 4]  # every feature is kept
    for number, (_, window) in enumerate(FEATURES):
        if number in (0, 4):
            assert window is not None
            label, confidence = means_expected(data[0], window, 128)
            assert got["ClassLabel"][number] == label
            assert got["Confidence"][number] == pytest.approx(confidence)
        else:
            assert got["ClassLabel"][number] is None and np.isnan(got["Confidence"][number])


def test_refused_without_trust_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raster, _ = scene(tmp_path)
    features = layer(tmp_path, [FEATURES[0][0]])
    output = tmp_path / "labelled.gpkg"
    argv = ["classify-objects", "--model", str(means(tmp_path)), "--raster", str(raster)]
    assert main([*argv, "--features", str(features), "-o", str(output)]) == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--trust-code" in err[0] and "--backend docker" in err[0]
    assert not output.exists() and list(tmp_path.glob(".labelled*")) == []


def test_multi_label_confidence_is_text(tmp_path: Path) -> None:
    raster, data = scene(tmp_path)
    features = layer(tmp_path, [f for f, _ in FEATURES])
    output = tmp_path / "labelled.geojson"
    model = means(tmp_path, MetaDataMode="MultiLabeled_Tiles")
    summary = classify_objects(
        model, raster, output, {}, "cpu", quiet, trust_code=True, features=features
    )
    got = table(output)
    for number, (_, window) in enumerate(FEATURES):
        if window is None:
            assert got["ClassLabel"][number] is None and got["Confidence"][number] is None
            continue
        row, col, height, width = window
        mean = float(data[0, max(row, 0) : row + height, max(col, 0) : col + width].mean())
        scores = [round(mean / 255, 4), round(1 - round(mean / 255, 4), 4)]
        names = ";".join(n for n, s in zip(("Water", "Forest"), scores, strict=True) if s >= 0.25)
        assert got["ClassLabel"][number] == names
        assert got["Confidence"][number] == f"{scores[0]};{scores[1]}"
    assert "Water;Forest" in got["ClassLabel"]
    own = {k: v for k, v in summary.counts.items() if k not in ("tiles", "pixels")}
    assert own == {"features": 5, "outside_area": 0, "labelled": 4}
    assert summary.counts["tiles"] == 4


@pytest.mark.parametrize("said_by", ["emd", "getConfiguration"])
def test_bounding_box_chips_go_one_size_a_call(tmp_path: Path, said_by: str) -> None:
    raster, data = scene(tmp_path)
    shapes = [
        (map_box(20, 60, 30, 70), (20, 60, 10, 10)),
        (map_box(2, 3, 9.5, 12), (2, 3, 8, 9)),
        (map_box(40, 5, 50, 15), (40, 5, 10, 10)),
        (map_box(30, 20, 34, 60), (30, 24, 4, 32)),  # 40 wide: capped at 32, centred
    ]
    features = layer(tmp_path, [f for f, _ in shapes])
    output = tmp_path / "labelled.gpkg"
    if said_by == "emd":
        model = means(tmp_path, CropSizeFixed=0)
    else:  # the function's answer rules, whatever the .emd says
        source = MEANS_PRF.replace('int(self.emd.get("CropSizeFixed", 1))', "0")
        model = function_package(
            tmp_path / "Means", "Means", source, "ObjectClassification", CropSizeFixed=1
        )
    summary = classify_objects(
        model,
        raster,
        output,
        {"batch_size": "4"},
        "cpu",
        quiet,
        trust_code=True,
        features=features,
    )
    got = table(output)
    for number, (_, window) in enumerate(shapes):
        label, confidence = means_expected(data[0], window, 128)
        assert got["ClassLabel"][number] == label
        assert got["Confidence"][number] == pytest.approx(confidence)
    assert summary.arguments["CropSizeFixed"] == "0" and summary.counts["tiles"] == 4


def test_one_feature_per_chip_or_a_model_error(tmp_path: Path) -> None:
    raster, _ = scene(tmp_path)
    features = layer(tmp_path, [f for f, _ in FEATURES])
    short = MEANS_PRF.replace('{"features": features}', '{"features": features[1:]}')
    model = function_package(tmp_path / "Means", "Means", short, "ObjectClassification")
    output = tmp_path / "labelled.gpkg"
    with pytest.raises(ModelError, match="gave 1 features for 2 chips"):
        classify_objects(
            model, raster, output, {}, "cpu", quiet, trust_code=True, features=features
        )
    assert not output.exists()
