"""A folder of images as the export's raster: one mosaic, or each image on its own."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasterio.warp import Resampling, calculate_default_transform, reproject

from dlpk.cli import main
from dlpk.errors import BadInputError
from dlpk.runners.io.labels import load_features, place_features
from dlpk.runners.io.rasters import open_raster_info
from dlpk.runners.io.sources import write_mosaic
from dlpk.runners.tasks.export_chips.export import STATE_FILE, export_chips
from dlpk.spec.job import ExportChipsParameters
from tests.rasters import (
    HEIGHT,
    RASTER_CRS,
    TRANSFORM,
    WIDTH,
    pixel_box,
    write_features,
    write_raster,
)


def params(**kw: Any) -> ExportChipsParameters:
    base: dict[str, Any] = {"tile_size_x": 64, "stride_x": 48, "workers": 1}
    return ExportChipsParameters(**(base | kw))


def scene() -> np.ndarray[Any, np.dtype[np.uint8]]:
    return np.random.default_rng(42).integers(0, 256, size=(3, HEIGHT, WIDTH), dtype=np.uint8)


def split_into_tiles(folder: Path, data: np.ndarray[Any, Any]) -> Path:
    """The scene cut into four overlapping, differently sized GeoTIFFs (plus files that are
    not images), as a folder of orthophoto tiles arrives."""
    folder.mkdir()
    cuts = [(0, 0, 200, 130), (180, 0, WIDTH, 130), (0, 120, 150, HEIGHT)]
    cuts.append((140, 110, WIDTH, HEIGHT))
    for n, (c0, r0, c1, r1) in enumerate(cuts):
        transform = TRANSFORM @ Affine.translation(c0, r0)
        write_raster(folder / f"tile_{n}.tif", data[:, r0:r1, c0:c1].copy(), transform)
    (folder / "tile_0.tfw").write_text("0.5\n0\n0\n-0.5\n500000.25\n4999999.75\n")
    (folder / "README.txt").write_text("delivery notes")
    (folder / "checksums.dat").write_bytes(b"\x00not an image")
    return folder


def chip_arrays(out: Path) -> list[np.ndarray[Any, Any]]:
    chips = []
    for chip in sorted((out / "images").glob("*.tif")):
        with rasterio.open(chip) as src:
            chips.append(src.read())
    return chips


def files_of(out: Path) -> dict[str, bytes]:
    """Every file of an export but its resume state, by relative path."""
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != STATE_FILE
    }


def test_mosaic_of_tiles_exports_exactly_what_the_whole_scene_exports(
    tmp_path: Path, labels_gpkg: Path
) -> None:
    whole = write_raster(tmp_path / "whole.tif", scene())
    folder = split_into_tiles(tmp_path / "tiles", scene())
    fmt = {"metadata_format": "Classified_Tiles"}
    expected = export_chips(whole, labels_gpkg, tmp_path / "a", params(**fmt))
    report = export_chips(folder, labels_gpkg, tmp_path / "b", params(**fmt))
    assert report.counts["chips"] == expected.counts["chips"] > 4
    assert report.counts["rasters"] == 4 and report.counts["files_not_rasters"] == 1
    assert "rasters_with_chips" not in report.counts  # the mosaic is one raster
    assert report.warnings == [
        f"1 file(s) in {folder} are not rasters GDAL reads and were skipped: checksums.dat"
    ]
    # every file byte for byte (chips, world files, labels, root files); only the resume state
    # names other inputs
    expected_files = files_of(tmp_path / "a")
    assert len(expected_files) > 10
    assert files_of(tmp_path / "b") == expected_files
    with rasterio.open(sorted((tmp_path / "b" / "images").glob("*.tif"))[0]) as chip:
        assert chip.crs == RASTER_CRS  # chips of a mosaic are georeferenced like the scene's


def test_nodata_of_a_later_image_lets_the_earlier_one_show(
    tmp_path: Path, labels_gpkg: Path
) -> None:
    """Two images overlapping by 50 columns; the later one is nodata there, so the mosaic
    takes those pixels from the earlier one and equals the whole scene again. Images that
    cover nothing earlier are plain copies; nodata is honoured only where it matters."""
    data = scene()
    whole = write_raster(tmp_path / "whole.tif", data)
    folder = tmp_path / "tiles"
    folder.mkdir()
    write_raster(folder / "a.tif", data[:, :, :200].copy())
    later = data[:, :, 150:].copy()
    later[:, :, :50] = 0
    write_raster(folder / "b.tif", later, TRANSFORM @ Affine.translation(150, 0), nodata=0)
    fmt = params(metadata_format="Classified_Tiles")
    export_chips(whole, labels_gpkg, tmp_path / "a", fmt)
    export_chips(folder, labels_gpkg, tmp_path / "b", fmt)
    assert files_of(tmp_path / "b") == files_of(tmp_path / "a")


def reprojected(path: Path, source: Path, crs: str) -> Path:
    """`source` warped into another CRS: an image of a neighbouring UTM zone, say."""
    with rasterio.open(source) as src:
        transform, width, height = calculate_default_transform(
            src.crs, crs, src.width, src.height, *src.bounds
        )
        data = np.zeros((src.count, height, width), dtype=np.uint8)
        reproject(
            src.read(), data, src_transform=src.transform, src_crs=src.crs,
            dst_transform=transform, dst_crs=crs, resampling=Resampling.nearest,
        )  # fmt: skip
    return write_raster(path, data, transform, crs)


def test_items_separately_number_chips_on_across_images(tmp_path: Path, labels_gpkg: Path) -> None:
    folder = tmp_path / "items"
    folder.mkdir()
    first = write_raster(folder / "a.tif", scene())
    second = reprojected(folder / "b.tif", first, "EPSG:3857")
    away = TRANSFORM @ Affine.translation(5000, 5000)  # far from every building
    write_raster(folder / "c.tif", scene(), away)
    write_raster(folder / "d.tif", scene()[:, :40, :40].copy())  # smaller than a tile
    fmt = {"metadata_format": "PASCAL_VOC_rectangles"}
    alone = [
        export_chips(r, labels_gpkg, tmp_path / r.stem, params(**fmt)) for r in [first, second]
    ]
    separately = params(processing_mode="PROCESS_ITEMS_SEPARATELY", **fmt)
    report = export_chips(folder, labels_gpkg, tmp_path / "all", separately)
    sizes = [part.counts["chips"] for part in alone]
    assert report.counts["chips"] == sum(sizes) and min(sizes) > 0
    assert report.counts["rasters"] == 4 and report.counts["rasters_with_chips"] == 2
    assert report.warnings == [f"1 raster(s) in {folder} are smaller than a tile: d.tif"]
    assert report.counts["features"] == sum(part.counts["features"] for part in alone)
    # chips and world files: a's, then b's under the numbers after a's, byte for byte
    renumbered = {
        f"images/{number + offset:09d}{Path(name).suffix}": data
        for part, offset in (("a", 0), ("b", sizes[0]))
        for name, data in files_of(tmp_path / part).items()
        if name.startswith("images/")
        for number in [int(Path(name).stem)]
    }
    images = {k: v for k, v in files_of(tmp_path / "all").items() if k.startswith("images/")}
    assert len(images) > 4 and images == renumbered
    # labels of b's chips are b's labels under the numbers after a's
    number = sizes[0]
    ours = (tmp_path / "all" / "labels" / f"{number:09d}.xml").read_text()
    theirs = (tmp_path / "b" / "labels" / "000000000.xml").read_text()
    assert ours == theirs.replace("000000000", f"{number:09d}")
    with rasterio.open(tmp_path / "all" / "images" / f"{number:09d}.tif") as chip:
        assert chip.crs == "EPSG:3857"  # each item's chips keep its own georeferencing
    lines = (tmp_path / "all" / "map.txt").read_text().splitlines()
    assert len(lines) == sum(sizes) and lines[-1].startswith(f"images\\{sum(sizes) - 1:09d}")
    stats = json.loads((tmp_path / "all" / "esri_accumulated_stats.json").read_text())
    assert stats["NumTiles"] == sum(sizes)
    parts = [json.loads((tmp_path / p / "esri_accumulated_stats.json").read_text()) for p in "ab"]
    per_class = [p["FeatureStats"]["NumFeaturesPerClass"] for p in parts]
    total = [a + b for a, b in zip(*per_class, strict=True)]
    assert stats["FeatureStats"]["NumFeaturesPerClass"] == total


def test_resume_of_a_folder_export_finishes_it_exactly(tmp_path: Path, labels_gpkg: Path) -> None:
    """Chips of several images lost (as when a run is killed): --resume makes those again
    and the export, statistics included, equals an uninterrupted one byte for byte."""
    folder = split_into_tiles(tmp_path / "tiles", scene())
    mode = params(processing_mode="PROCESS_ITEMS_SEPARATELY", metadata_format="Classified_Tiles")
    first = export_chips(folder, labels_gpkg, tmp_path / "o", mode)
    complete = files_of(tmp_path / "o")
    chips = sorted((tmp_path / "o" / "images").glob("*.tif"))
    lost = [chips[1], chips[len(chips) // 2], chips[-1]]  # in the first, a middle, the last image
    for chip in lost:
        chip.unlink()
    for name in ("map.txt", "esri_accumulated_stats.json"):
        (tmp_path / "o" / name).unlink()
    again = export_chips(
        folder, labels_gpkg, tmp_path / "o", mode.model_copy(update={"resume": True})
    )
    assert again.counts["chips_written"] == len(lost)
    assert again.counts["chips_reused"] == first.counts["chips"] - len(lost)
    assert files_of(tmp_path / "o") == complete
    (folder / "tile_3.tif").unlink()
    with pytest.raises(BadInputError, match="parameters differ \\(raster\\)"):
        export_chips(folder, labels_gpkg, tmp_path / "o", mode.model_copy(update={"resume": True}))


def test_mosaic_needs_one_grid(tmp_path: Path, rgb_raster: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_raster(folder / "a.tif", scene())
    reprojected(folder / "b.tif", folder / "a.tif", "EPSG:3857")
    every = {"metadata_format": "Export_Tiles", "output_nofeature_tiles": "ALL_TILES"}
    with pytest.raises(BadInputError, match=r"another CRS.*PROCESS_ITEMS_SEPARATELY"):
        export_chips(folder, None, tmp_path / "o", params(**every))
    (folder / "b.tif").unlink()
    write_raster(folder / "b.tif", scene(), TRANSFORM @ Affine.translation(0.5, 0))
    with pytest.raises(BadInputError, match=r"not aligned.*0\.500 pixels off"):
        export_chips(folder, None, tmp_path / "o", params(**every))
    (folder / "b.tif").unlink()
    write_raster(folder / "b.tif", scene(), TRANSFORM @ Affine.scale(2))
    with pytest.raises(BadInputError, match=r"cells of 1\.0 x 1\.0"):
        export_chips(folder, None, tmp_path / "o", params(**every))
    (folder / "b.tif").unlink()
    write_raster(folder / "b.tif", scene(), crs=None)
    with pytest.raises(BadInputError, match=r"b\.tif has no CRS"):
        export_chips(folder, None, tmp_path / "o", params(**every))
    separately = params(processing_mode="PROCESS_ITEMS_SEPARATELY", **every)
    report = export_chips(folder, None, tmp_path / "o", separately)
    assert report.counts["rasters_with_chips"] == 2


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["export-chips", "--workers", "1", "--tile-size", "64", *argv])
    return code, capsys.readouterr().err


def test_folder_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    code, err = run_cli(capsys, "--raster", str(empty), "--format", "Export_Tiles", "-o", "x")
    assert code == 3 and err.strip() == (
        f"dlpk: error: folder {empty} holds no raster GDAL can read (pass a raster file, "
        "or a folder of images (GeoTIFF, JPEG 2000, ...))"
    )
    layouts = tmp_path / "layouts"
    layouts.mkdir()
    write_raster(layouts / "rgb.tif", scene())
    write_raster(layouts / "gray.tif", scene()[:1].copy())
    code, err = run_cli(
        capsys, "--raster", str(layouts), "--format", "Export_Tiles", "--all-tiles",
        "--processing-mode", "PROCESS_ITEMS_SEPARATELY", "-o", str(tmp_path / "o"),
    )  # fmt: skip
    assert code == 3 and "Traceback" not in err
    assert err.startswith("dlpk: error: raster rgb.tif has 3 uint8 bands, gray.tif has 1 uint8")
    code, err = run_cli(
        capsys, "--raster", str(layouts), "--raster2", str(layouts / "rgb.tif"),
        "--format", "Export_Tiles", "--all-tiles", "-o", str(tmp_path / "o"),
    )  # fmt: skip
    assert code == 3 and "a second raster pairs with one raster" in err
    assert not (tmp_path / "o").exists()


def test_folder_through_the_job_contract(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    labels_gpkg: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The CLI references the folder (here given as ".") through the job's read-only input
    mount, and the runner subprocess lists and mosaics it there."""
    folder = split_into_tiles(tmp_path / "tiles", scene())
    monkeypatch.chdir(folder)
    code, err = run_cli(
        capsys, "--raster", ".", "--labels", str(labels_gpkg), "--format", "Classified_Tiles",
        "-o", str(tmp_path / "cli"),
    )  # fmt: skip
    assert code == 0, err
    assert "dlpk: warning: 1 file(s) in " in err and "skipped: checksums.dat" in err
    fmt = params(stride_x=128, metadata_format="Classified_Tiles")  # the CLI's default stride
    export_chips(tmp_path / "tiles", labels_gpkg, tmp_path / "direct", fmt)
    cli, direct = chip_arrays(tmp_path / "cli"), chip_arrays(tmp_path / "direct")
    assert len(cli) == len(direct) > 0
    for got, want in zip(cli, direct, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("mode", ["PROCESS_ITEMS_SEPARATELY", "PROCESS_AS_MOSAICKED_IMAGE"])
def test_two_workers_make_the_same_folder_export(
    tmp_path: Path, labels_gpkg: Path, mode: str
) -> None:
    """One pool serves every image: tasks carry their image, workers swap datasets."""
    folder = split_into_tiles(tmp_path / "tiles", scene())
    one = params(processing_mode=mode, metadata_format="RCNN_Masks", stride_x=32)
    two = one.model_copy(update={"workers": 2})
    first = export_chips(folder, labels_gpkg, tmp_path / "one", one)
    export_chips(folder, labels_gpkg, tmp_path / "two", two)
    assert first.counts["chips"] > 20
    assert files_of(tmp_path / "two") == files_of(tmp_path / "one")


def test_each_image_gets_the_features_near_it(tmp_path: Path) -> None:
    """Labels are read once; an image takes, in file order, the features within `near`
    pixels of it (found in the labels' own CRS, here WGS 84), not every feature."""
    info = open_raster_info(write_raster(tmp_path / "r.tif", scene()))
    boxes = [
        (10, 10),  # inside
        (-60, 10),  # 60 px to the left
        (2000, 10),  # far to the right
        (WIDTH + 100, HEIGHT + 100),  # beyond the bottom-right corner, diagonally
        (150, -300),  # far above
    ]
    geoms = [pixel_box(col, row, 5, 5) for col, row in boxes]
    loaded = load_features(write_features(tmp_path / "l.gpkg", geoms, [1, 2, 3, 4, 5]), info, None)
    assert loaded.values.tolist() == [1, 2, 3, 4, 5] and loaded.crs == "EPSG:4326"
    near = place_features(loaded, info, near=128, require_overlap=False)
    assert near.values.tolist() == [1, 2, 4]
    np.testing.assert_allclose(shapely.bounds(near.geoms[1]), [-60, 10, -55, 15], atol=1e-6)
    assert place_features(loaded, info, near=64, require_overlap=False).values.tolist() == [1, 2]
    assert place_features(loaded, info).values.tolist() == [1, 2, 3, 4, 5]
    # a buffer radius (metres, the raster CRS's unit) widens the search by as much
    buffered = place_features(loaded, info, buffer_radius=60, near=64, require_overlap=False)
    assert buffered.values.tolist() == [1, 2, 4]


@st.composite
def tilings(draw: st.DrawFn) -> tuple[int, int, list[tuple[int, int, int, int]]]:
    """A raster size and rectangles covering it: cut lines on each axis, each piece grown by a
    random overlap into its neighbours (as delivered tiles overlap)."""
    height, width = draw(st.integers(1, 40)), draw(st.integers(1, 40))

    def pieces(size: int) -> list[tuple[int, int]]:
        cuts = sorted(draw(st.sets(st.integers(1, size - 1), max_size=3))) if size > 1 else []
        edges = [0, *cuts, size]
        return [
            (max(0, a - draw(st.integers(0, 3))), min(size, b + draw(st.integers(0, 3))))
            for a, b in pairwise(edges)
        ]

    rects = [(c0, r0, c1, r1) for r0, r1 in pieces(height) for c0, c1 in pieces(width)]
    return height, width, rects


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tiling=tilings())
def test_a_mosaic_reads_back_as_the_raster_it_was_cut_from(
    tmp_path_factory: pytest.TempPathFactory,
    tiling: tuple[int, int, list[tuple[int, int, int, int]]],
) -> None:
    height, width, rects = tiling
    folder = tmp_path_factory.mktemp("tiling")
    data = np.random.default_rng(height * 41 + width).integers(
        1, 255, size=(2, height, width), dtype=np.uint8
    )
    infos = []
    for n, (c0, r0, c1, r1) in enumerate(rects):
        tile = write_raster(
            folder / f"{n:02d}.tif",
            data[:, r0:r1, c0:c1].copy(),
            TRANSFORM @ Affine.translation(c0, r0),
        )
        infos.append(open_raster_info(tile))
    vrt = write_mosaic(infos, folder / "mosaic.vrt")
    with rasterio.open(vrt) as mosaic:
        assert (mosaic.width, mosaic.height) == (width, height)
        assert mosaic.transform.almost_equals(TRANSFORM)
        np.testing.assert_array_equal(mosaic.read(), data)
        assert (mosaic.read_masks() == 255).all()  # covered everywhere: nothing masked
