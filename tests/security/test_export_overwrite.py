"""--overwrite of an export replaces a previous dlpk export only: a folder of the user's that
merely looks like one (it has images/ and labels/) is refused, untouched; links in an export
folder are removed, never followed."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from dlpk.cli import main
from tests.rasters import write_raster

ARGS = ["--format", "Export_Tiles", "--all-tiles", "--tile-size", "32", "--stride", "32"]


@pytest.fixture
def raster(tmp_path: Path) -> Path:
    return write_raster(tmp_path / "r.tif", np.ones((3, 64, 64), dtype=np.uint8))


def _export(raster: Path, out: Path, *extra: str) -> int:
    return main(["export-chips", "--raster", str(raster), *ARGS, "--workers", "1",
                 "-o", str(out), *extra])  # fmt: skip


def test_overwrite_refuses_a_folder_that_is_not_a_dlpk_export(
    tmp_path: Path, raster: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pictures = tmp_path / "Pictures"
    (pictures / "images").mkdir(parents=True)
    (pictures / "images" / "holiday.jpg").write_bytes(b"irreplaceable")
    (pictures / "map.txt").write_text("my map")
    capsys.readouterr()
    assert _export(raster, pictures, "--overwrite") == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("dlpk: error: output folder") and "is not a dlpk export" in err
    assert len(err.splitlines()) == 1
    assert (pictures / "images" / "holiday.jpg").read_bytes() == b"irreplaceable"
    assert (pictures / "map.txt").read_text() == "my map"


def test_overwrite_replaces_a_previous_export_and_keeps_the_users_other_files(
    tmp_path: Path, raster: Path
) -> None:
    out = tmp_path / "chips"
    assert _export(raster, out) == 0
    (out / "notes.txt").write_text("mine")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("not part of the export")
    assert not (out / "labels").exists()  # Export_Tiles writes no labels: the link stands in
    os.symlink(elsewhere, out / "labels")
    assert _export(raster, out, "--overwrite") == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert (elsewhere / "keep.txt").read_text() == "not part of the export"
    assert len(list((out / "images").glob("*.tif"))) == 4
