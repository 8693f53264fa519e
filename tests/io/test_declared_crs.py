"""Labels whose coordinates cannot be in the CRS they declare (UTM metres in a GeoJSON, which
is WGS 84 unless it says otherwise) are bad input in one line, not a GEOS error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dlpk.cli import main
from tests.rasters import pixel_box


def utm_geojson(path: Path, boxes: list[tuple[float, float, float, float]]) -> Path:
    """A GeoJSON without a "crs" member (so WGS 84) holding the raster's UTM coordinates."""
    features = []
    for col, row, width, height in boxes:
        ring = [list(xy) for xy in pixel_box(col, row, width, height).exterior.coords]
        features.append(
            {
                "type": "Feature",
                "properties": {"Classvalue": 1},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def test_utm_coordinates_declared_as_wgs84(
    tmp_path: Path, rgb_raster: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = utm_geojson(tmp_path / "labels.geojson", [(10, 10, 30, 30), (100, 50, 20, 20)])
    argv = ["export-chips", "--raster", str(rgb_raster), "--labels", str(labels)]
    code = main(
        [*argv, "--format", "Classified_Tiles", "--tile-size", "64", "-o", str(tmp_path / "out")]
    )
    err = capsys.readouterr().err
    assert code == 3 and err.count("\n") == 1 and "Traceback" not in err
    assert "do not fit their declared CRS EPSG:4326" in err and "GEOS" not in err
    # they fall on the raster in its own CRS: the message names it
    assert "ogr2ogr -a_srs EPSG:32633" in err
    assert not (tmp_path / "out").exists()


def test_mask_polygons_are_checked_alike(
    tmp_path: Path, rgb_raster: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mask = utm_geojson(tmp_path / "mask.geojson", [(0, 0, 200, 200)])
    argv = ["export-chips", "--raster", str(rgb_raster), "--mask-polygons", str(mask)]
    argv += ["--format", "Export_Tiles", "--all-tiles", "--tile-size", "64"]
    assert main([*argv, "-o", str(tmp_path / "out")]) == 3
    assert "do not fit their declared CRS EPSG:4326" in capsys.readouterr().err


def test_far_coordinates_that_do_fit_are_not_this_error(
    tmp_path: Path, rgb_raster: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Degrees that are degrees but elsewhere on Earth: the features miss the raster."""
    far = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"Classvalue": 1},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[-70, -30], [-69, -30], [-69, -29], [-70, -30]]],
                },
            }
        ],
    }
    labels = tmp_path / "far.geojson"
    labels.write_text(json.dumps(far))
    argv = ["export-chips", "--raster", str(rgb_raster), "--labels", str(labels)]
    assert main([*argv, "--format", "Classified_Tiles", "-o", str(tmp_path / "out")]) == 3
    err = capsys.readouterr().err
    assert "declared CRS" not in err and "Traceback" not in err
