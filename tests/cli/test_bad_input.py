"""Expected failures: one clear line on stderr, exit code 3, no traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dlpk.cli import main
from tests.rasters import pixel_box, write_features, write_raster


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()  # drop anything fixtures printed
    code = main(["export-chips", "--workers", "1", *argv])
    err = capsys.readouterr().err
    return code, err


def base(raster: Path, labels: Path, out: Path) -> list[str]:
    return ["--raster", str(raster), "--labels", str(labels), "--tile-size", "64", "-o", str(out)]


def assert_one_line(code: int, err: str, needle: str) -> None:
    assert code == 3, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dlpk: error: ")
    assert needle in lines[0]


def test_missing_raster(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, labels_gpkg: Path
) -> None:
    code, err = run_cli(capsys, *base(tmp_path / "nope.tif", labels_gpkg, tmp_path / "o"))
    assert_one_line(code, err, "raster not found")
    assert not (tmp_path / "o").exists()


def test_unreadable_raster(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, labels_gpkg: Path
) -> None:
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"not a raster")
    code, err = run_cli(capsys, *base(bad, labels_gpkg, tmp_path / "o"))
    assert_one_line(code, err, "cannot read raster")


def test_labels_without_crs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rgb_raster: Path
) -> None:
    shp = write_features(
        tmp_path / "nocrs.shp", [pixel_box(10, 10, 20, 20)], [1], crs=None, driver="ESRI Shapefile"
    )
    code, err = run_cli(capsys, *base(rgb_raster, shp, tmp_path / "o"))
    assert_one_line(code, err, "have no coordinate reference system")


def test_labels_not_overlapping(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rgb_raster: Path
) -> None:
    far = write_features(tmp_path / "far.gpkg", [pixel_box(5000, 5000, 20, 20)], [1])
    code, err = run_cli(capsys, *base(rgb_raster, far, tmp_path / "o"))
    assert_one_line(code, err, "do not overlap the raster")


def test_missing_class_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rgb_raster: Path, labels_gpkg: Path
) -> None:
    argv = [*base(rgb_raster, labels_gpkg, tmp_path / "o"), "--class-field", "kind"]
    code, err = run_cli(capsys, *argv)
    assert_one_line(code, err, "class field 'kind' not found")
    assert "Classvalue" in err  # the fields that do exist are listed


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_png_jpeg_need_three_8bit_bands(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, labels_gpkg: Path, fmt: str
) -> None:
    four = write_raster(tmp_path / "four.tif", np.zeros((4, 240, 320), np.uint8))
    code, err = run_cli(capsys, *base(four, labels_gpkg, tmp_path / "o"), "--chip-format", fmt)
    assert_one_line(code, err, "at most 3 bands")
    deep = write_raster(tmp_path / "deep.tif", np.zeros((3, 240, 320), np.uint16))
    code, err = run_cli(capsys, *base(deep, labels_gpkg, tmp_path / "o"), "--chip-format", fmt)
    assert_one_line(code, err, "need 8-bit data")


def test_tile_larger_than_raster(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rgb_raster: Path, labels_gpkg: Path
) -> None:
    argv = [*base(rgb_raster, labels_gpkg, tmp_path / "o"), "--tile-size", "512"]
    code, err = run_cli(capsys, *argv)
    assert_one_line(code, err, "larger than the raster")


def test_existing_output_is_not_overwritten(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rgb_raster: Path, labels_gpkg: Path
) -> None:
    out = tmp_path / "o"
    out.mkdir()
    precious = out / "thesis.docx"
    precious.write_text("do not lose me")
    code, err = run_cli(capsys, *base(rgb_raster, labels_gpkg, out))
    assert_one_line(code, err, "exists and is not empty")
    code, err = run_cli(capsys, *base(rgb_raster, labels_gpkg, out), "--resume")
    assert_one_line(code, err, "not an unfinished dlpk export")
    assert precious.read_text() == "do not lose me"
    assert sorted(p.name for p in out.iterdir()) == ["thesis.docx"]
    # --overwrite replaces a previous dlpk export only, not a folder of the user's
    code, err = run_cli(capsys, *base(rgb_raster, labels_gpkg, out), "--overwrite")
    assert_one_line(code, err, "is not a dlpk export")
    assert sorted(p.name for p in out.iterdir()) == ["thesis.docx"]
