"""--resume finishes an interrupted export without redoing finished chips; stats stay exact."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dlpk.errors import BadInputError
from dlpk.runners.tasks.export_chips.export import export_chips
from dlpk.spec.job import ExportChipsParameters


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_resume_reuses_finished_chips_and_matches_a_fresh_run(
    tmp_path: Path, rgb_raster: Path, labels_gpkg: Path
) -> None:
    p = ExportChipsParameters(
        metadata_format="Classified_Tiles", tile_size_x=64, stride_x=48, workers=2
    )
    fresh = tmp_path / "fresh"
    full = export_chips(rgb_raster, labels_gpkg, fresh, p)
    out = tmp_path / "resumed"
    export_chips(rgb_raster, labels_gpkg, out, p)
    # simulate a kill: some chips missing, one with its label but no image, a partial file,
    # and no root files yet
    for name in ("000000001.tif", "000000003.tif"):
        (out / "images" / name).unlink()
    (out / "labels" / "000000004.tif").unlink()
    (out / "images" / f".000000005.tif.{os.getpid()}.part").write_bytes(b"half a chip")
    for root in (
        "map.txt",
        "stats.txt",
        "esri_accumulated_stats.json",
        "esri_model_definition.emd",
    ):
        (out / root).unlink()
    stamp = (out / "images" / "000000000.tif").stat().st_mtime_ns
    resumed = export_chips(rgb_raster, labels_gpkg, out, p.model_copy(update={"resume": True}))
    assert resumed.counts["chips_written"] == 3
    assert resumed.counts["chips_reused"] == full.counts["chips"] - 3
    assert (out / "images" / "000000000.tif").stat().st_mtime_ns == stamp
    assert snapshot(out) == snapshot(fresh)
    assert sorted(resumed.files) == sorted(full.files)


def test_resume_refuses_other_parameters(
    tmp_path: Path, rgb_raster: Path, labels_gpkg: Path
) -> None:
    p = ExportChipsParameters(tile_size_x=64, stride_x=64, workers=1)
    export_chips(rgb_raster, labels_gpkg, tmp_path / "o", p)
    other = p.model_copy(update={"stride_x": 32, "resume": True})
    with pytest.raises(BadInputError, match="parameters differ \\(stride_x, stride_y\\)"):
        export_chips(rgb_raster, labels_gpkg, tmp_path / "o", other)
