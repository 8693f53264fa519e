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
