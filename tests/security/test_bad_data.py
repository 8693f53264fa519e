"""Corrupt data fails with one line and exit 3, never an internal error: a truncated GeoTIFF
read mid-job, by export and inference alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlpk.cli import main
from tests.conftest import REPO


@pytest.fixture
def truncated(tmp_path: Path) -> Path:
    whole = (REPO / "examples" / "scene.tif").read_bytes()
    path = tmp_path / "cut.tif"
    path.write_bytes(whole[: len(whole) * 2 // 3])  # the header holds; later tiles are gone
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ["classify-pixels", "--model", str(REPO / "examples" / "landcover.dlpk"), "-o", "o.tif"],
        ["export-chips", "--format", "Export_Tiles", "--all-tiles", "--tile-size", "64",
         "--stride", "64", "-o", "chips"],
    ],
)  # fmt: skip
def test_a_truncated_raster_is_one_line_exit_3(
    argv: list[str], truncated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main([*argv, "--raster", str(truncated)]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("dlpk: error: I/O failure: ")
    assert "cut.tif" in err[0] and "dlpk-job-" not in err[0]
    assert not (tmp_path / "o.tif").exists()


def test_a_tile_too_large_for_memory_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json
    import zipfile

    emd = json.loads((REPO / "examples" / "landcover" / "landcover.emd").read_text())
    emd["ImageHeight"] = emd["ImageWidth"] = 2**40
    package = tmp_path / "huge.dlpk"
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("landcover.emd", json.dumps(emd))
        archive.write(REPO / "examples" / "landcover" / "landcover.onnx", "landcover.onnx")
    capsys.readouterr()
    argv = [
        "classify-pixels",
        "--model",
        str(package),
        "--raster",
        str(REPO / "examples" / "scene.tif"),
    ]
    assert main([*argv, "-o", str(tmp_path / "o.tif")]) in (2, 3)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "beyond 16384 px a side" in err[0]


def test_a_self_intersecting_label_polygon_is_repaired(tmp_path: Path) -> None:
    import numpy as np
    import shapely

    import dlpk
    from tests.rasters import pixel_box, write_features, write_raster

    raster = write_raster(tmp_path / "r.tif", np.ones((3, 64, 64), dtype=np.uint8))
    corners = pixel_box(10, 10, 40, 40).exterior.coords
    (a, b, c, d) = list(corners)[:4]
    bow_tie = shapely.Polygon([a, c, b, d])  # edges cross at the centre
    assert not shapely.is_valid(bow_tie)
    labels = write_features(tmp_path / "bow.gpkg", [bow_tie], [1])
    result = dlpk.export_training_data(raster, tmp_path / "chips", labels=labels, tile_size=64)
    assert result.counts["labelled_pixels"] > 0


@pytest.mark.parametrize("command", ["classify-pixels", "export-chips"])
def test_an_output_under_a_file_is_one_line_exit_2(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("mine")
    scene = str(REPO / "examples" / "scene.tif")
    argv = {
        "classify-pixels": ["--model", str(REPO / "examples" / "landcover.dlpk")],
        "export-chips": ["--format", "Export_Tiles", "--all-tiles", "--tile-size", "64",
                         "--stride", "64"],
    }[command]  # fmt: skip
    capsys.readouterr()
    out = blocker / ("x.tif" if command == "classify-pixels" else "chips")
    assert main([command, *argv, "--raster", scene, "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("dlpk: error: ") and "afile" in err[0]
    assert blocker.read_text() == "mine"
