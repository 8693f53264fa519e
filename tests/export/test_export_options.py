"""ArcGIS's less common Export Training Data parameters: mask polygons, rotation, pixel space,
a second raster and a layer of a multi-layer GeoPackage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
from rasterio.windows import Window

from dlpk.cli import main
from dlpk.runners.tasks.export_chips.export import export_chips
from dlpk.spec.job import ExportChipsParameters
from tests.rasters import HEIGHT, TRANSFORM, WIDTH, pixel_box, write_features, write_raster


def params(**kw: Any) -> ExportChipsParameters:
    base: dict[str, Any] = {"tile_size_x": 64, "stride_x": 32, "workers": 1}
    base.update(kw)
    return ExportChipsParameters(**base)


def chip_origin(chip: Path) -> tuple[int, int]:
    """(col, row) of a map-space chip's top-left pixel in the source raster."""
    with rasterio.open(chip) as c:
        col, row = ~TRANSFORM @ (c.transform.c, c.transform.f)
    return round(col), round(row)


def images(out: Path, folder: str = "images") -> list[Path]:
    return sorted((out / folder).glob("*.tif"))


# -- mask polygons --------------------------------------------------------------------------------
def test_mask_polygons_keep_only_chips_completely_inside(tmp_path: Path, rgb_raster: Path) -> None:
    # an L-shaped mask: chips straddling its edge or its notch must be dropped
    mask_px = shapely.union(shapely.box(0, 0, 200, 100), shapely.box(0, 0, 100, 200))
    mask_map = shapely.union(pixel_box(0, 0, 200, 100), pixel_box(0, 0, 100, 200))
    mask = write_features(tmp_path / "mask.gpkg", [mask_map], None)
    out = tmp_path / "masked"
    export_chips(
        rgb_raster,
        None,
        out,
        params(metadata_format="Export_Tiles", output_nofeature_tiles="ALL_TILES"),
        mask_polygons=mask,
    )
    got = {chip_origin(p) for p in images(out)}
    expected = {
        (c, r)
        for r in (0, 32, 64, 96, 128, 160, 176)
        for c in (0, 32, 64, 96, 128, 160, 192, 224, 256)
        if mask_px.buffer(1e-6).contains(shapely.box(c, r, c + 64, r + 64))
    }
    assert got == expected and len(got) == 16
    stats = json.loads((out / "esri_accumulated_stats.json").read_text())
    assert stats["NumTiles"] == len(expected)


def test_mask_outside_the_raster_is_a_bad_input(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rgb_raster: Path
) -> None:
    mask = write_features(tmp_path / "far.gpkg", [pixel_box(5000, 5000, 10, 10)], None)
    argv = ["export-chips", "--raster", str(rgb_raster), "--format", "Export_Tiles"]
    argv += ["--all-tiles", "--tile-size", "64", "--mask-polygons", str(mask)]
    code = main([*argv, "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 3 and "Traceback" not in err and "do not overlap" in err


# -- rotation -------------------------------------------------------------------------------------
@pytest.fixture
def roofs(tmp_path: Path) -> tuple[Path, Path]:
    """A raster whose roofs (value 200) are exactly the label polygons, on a dark background."""
    rng = np.random.default_rng(3)
    data = rng.integers(0, 100, size=(1, HEIGHT, WIDTH), dtype=np.uint8)
    boxes = [(40, 30, 50, 20), (150, 100, 30, 60), (250, 40, 40, 40), (60, 150, 70, 30)]
    for col, row, w, h in boxes:
        data[:, row : row + h, col : col + w] = 200
    raster = write_raster(tmp_path / "roofs.tif", data)
    labels = write_features(
        tmp_path / "roofs.gpkg", [pixel_box(*b) for b in boxes], [1] * len(boxes)
    )
    return raster, labels


def test_rotated_copies_turn_pixels_and_labels_together(
    tmp_path: Path, roofs: tuple[Path, Path]
) -> None:
    raster, labels = roofs
    out = tmp_path / "rot"
    p = params(metadata_format="Classified_Tiles", rotation_angle=90, stride_x=64)
    report = export_chips(raster, labels, out, p)
    unrotated = export_chips(
        raster, labels, tmp_path / "plain", params(metadata_format="Classified_Tiles", stride_x=64)
    )
    assert report.counts["chips"] == 4 * unrotated.counts["chips"]
    with rasterio.open(raster) as src:
        source = src.read(1)
    for n, chip in enumerate(images(out)):
        with rasterio.open(chip) as c, rasterio.open(out / "labels" / chip.name) as lab:
            pixels, label = c.read(1), lab.read(1)
            north_up = c.transform.a > 0 and c.transform.b == 0 and c.transform.d == 0
            assert north_up == (n % 4 == 0)  # rotated copies say so in their georeferencing
        # roofs and labels coincide pixel for pixel at every angle
        assert np.array_equal(label == 1, pixels == 200), chip.name
        base_chip = images(out)[n - n % 4]
        col, row = chip_origin(base_chip)
        window = source[row : row + 64, col : col + 64]
        # a copy at k * 90 degrees is the window turned k times counter-clockwise
        assert np.array_equal(pixels, np.rot90(window, k=n % 4)), chip.name


def test_oblique_rotation_keeps_labels_on_the_roofs(
    tmp_path: Path, roofs: tuple[Path, Path]
) -> None:
    raster, labels = roofs
    out = tmp_path / "rot45"
    export_chips(raster, labels, out, params(metadata_format="Classified_Tiles", rotation_angle=45))
    checked = 0
    for chip in images(out)[1::8]:  # the 45 degree copies
        with rasterio.open(chip) as c, rasterio.open(out / "labels" / chip.name) as lab:
            roof, label = c.read(1) == 200, lab.read(1) == 1
        # nearest-neighbour sampling and polygon rasterisation may differ on the roof edges only
        assert (roof != label).sum() <= 0.1 * max(roof.sum(), 1) + 64
        assert (roof & label).sum() >= 0.8 * roof.sum()
        checked += 1
    assert checked > 0


# -- reference system -----------------------------------------------------------------------------
def test_pixel_space_chips_carry_pixel_coordinates(tmp_path: Path, rgb_raster: Path) -> None:
    out = tmp_path / "pix"
    p = params(
        metadata_format="Export_Tiles",
        output_nofeature_tiles="ALL_TILES",
        reference_system="PIXEL_SPACE",
        stride_x=64,
    )
    export_chips(rgb_raster, None, out, p)
    emd = json.loads((out / "esri_model_definition.emd").read_text())
    assert emd["ImageSpaceUsed"] == "PIXEL_SPACE"
    with rasterio.open(rgb_raster) as src:
        for chip in images(out):
            with rasterio.open(chip) as c:
                assert c.crs is None
                t = c.transform
                assert (t.a, t.b, t.d, t.e) == (1, 0, 0, -1)
                col, row = round(t.c), round(-t.f)
                window = Window(col, row, 64, 64)
                assert np.array_equal(c.read(), src.read(window=window))
    mapped = tmp_path / "map"
    export_chips(rgb_raster, None, mapped, p.model_copy(update={"reference_system": "MAP_SPACE"}))
    assert json.loads((mapped / "esri_model_definition.emd").read_text())["ImageSpaceUsed"] == (
        "MAP_SPACE"
    )
    with rasterio.open(images(mapped)[0]) as c:
        assert c.crs is not None


# -- second raster --------------------------------------------------------------------------------
@pytest.fixture
def after_raster(tmp_path: Path) -> Path:
    rng = np.random.default_rng(11)
    data = rng.integers(0, 256, size=(3, HEIGHT, WIDTH), dtype=np.uint8)
    return write_raster(tmp_path / "after.tif", data)


def test_change_detection_writes_images2_with_its_statistics(
    tmp_path: Path, rgb_raster: Path, after_raster: Path, labels_gpkg: Path
) -> None:
    out = tmp_path / "change"
    export_chips(
        rgb_raster,
        labels_gpkg,
        out,
        params(metadata_format="Classified_Tiles"),
        raster2=after_raster,
    )
    first, second = images(out), images(out, "images2")
    assert [p.name for p in first] == [p.name for p in second] and first
    seen = []
    with rasterio.open(after_raster) as src:
        for chip in second:
            col, row = chip_origin(chip)
            with rasterio.open(chip) as c:
                window = src.read(window=Window(col, row, 64, 64))
                assert np.array_equal(c.read(), window)
                seen.append(window.reshape(3, -1))
    emd = json.loads((out / "esri_model_definition.emd").read_text())
    assert emd["InputRastersProps"]["RasterCount"] == 2
    allpix = np.concatenate(seen, axis=1).astype(np.float64)
    for band, stats in enumerate(emd["AllTilesStats2"]):
        assert stats["Mean"] == pytest.approx(allpix[band].mean())
        assert stats["StdDev"] == pytest.approx(allpix[band].std())
        assert stats["Max"] == allpix[band].max()
    lines = (out / "map.txt").read_text().splitlines()
    assert lines[0].split() == ["images\\000000000.tif", "labels\\000000000.tif"]


def test_export_tiles_pairs_images_and_images2_in_map_txt(
    tmp_path: Path, rgb_raster: Path, after_raster: Path
) -> None:
    out = tmp_path / "pairs"
    p = params(metadata_format="Export_Tiles", output_nofeature_tiles="ALL_TILES")
    export_chips(rgb_raster, None, out, p, raster2=after_raster)
    for line in (out / "map.txt").read_text().splitlines():
        image, image2 = line.split()
        assert image2 == image.replace("images\\", "images2\\")
        assert (out / image2.replace("\\", "/")).is_file()


def test_second_raster_is_refused_for_other_formats(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    rgb_raster: Path,
    after_raster: Path,
    labels_gpkg: Path,
) -> None:
    argv = ["export-chips", "--raster", str(rgb_raster), "--labels", str(labels_gpkg)]
    argv += ["--format", "PASCAL_VOC_rectangles", "--raster2", str(after_raster)]
    code = main([*argv, "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 3 and "Traceback" not in err and "second raster" in err
    assert not (tmp_path / "o").exists()


# -- layers ---------------------------------------------------------------------------------------
@pytest.fixture
def two_layers(tmp_path: Path) -> Path:
    path = write_features(
        tmp_path / "city.gpkg", [pixel_box(10, 10, 40, 40), pixel_box(100, 100, 30, 30)], [1, 1]
    )
    roads = write_features(tmp_path / "roads.gpkg", [pixel_box(200, 20, 60, 8)], [7])
    meta, _, wkb, fields = pyogrio.raw.read(roads)
    pyogrio.raw.write(
        path,
        wkb,
        fields,
        ["Classvalue"],
        layer="roads",
        driver="GPKG",
        crs=meta["crs"],
        geometry_type="Polygon",
        append=True,
    )
    return path


def test_labels_layer_picks_one_layer(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rgb_raster: Path, two_layers: Path
) -> None:
    argv = ["export-chips", "--workers", "1", "--raster", str(rgb_raster)]
    argv += ["--labels", str(two_layers), "--tile-size", "64", "--format", "PASCAL_VOC_rectangles"]
    code = main([*argv, "-o", str(tmp_path / "none")])
    err = capsys.readouterr().err
    assert code == 3 and "--labels-layer" in err and "roads" in err and "Traceback" not in err

    code = main([*argv, "--labels-layer", "roads", "-o", str(tmp_path / "roads")])
    assert code == 0, capsys.readouterr().err
    stats = json.loads((tmp_path / "roads" / "esri_accumulated_stats.json").read_text())
    assert stats["Classes"] == [{"ClassValue": 7, "ClassName": "7"}]

    code = main([*argv, "--labels-layer", "nope", "-o", str(tmp_path / "nope")])
    err = capsys.readouterr().err
    assert code == 3 and "layer 'nope' not found" in err


# -- Labeled_Tiles: crop mode and blackening ------------------------------------------------------
def test_bounding_box_chips_blackened_around_their_feature(
    tmp_path: Path, rgb_raster: Path, labels_gpkg: Path, buildings: Any
) -> None:
    """Each chip is its feature's bounding box (whole pixels, clipped to the raster); the pixels
    whose centre lies outside the feature are 0 and do not count in the band statistics."""
    from rasterio.features import geometry_mask

    out = tmp_path / "boxes"
    export_chips(
        rgb_raster,
        labels_gpkg,
        out,
        params(
            metadata_format="Labeled_Tiles",
            crop_mode="BOUNDING_BOX",
            blacken_around_feature="BLACKEN_AROUND_FEATURE",
        ),
    )
    geoms, _ = buildings
    chips = images(out)
    assert len(chips) == len(geoms)
    kept: list[np.ndarray] = []
    sizes = set()
    with rasterio.open(rgb_raster) as src:
        for chip, geom in zip(chips, geoms, strict=True):
            xmin, ymin, xmax, ymax = shapely.bounds(geom).tolist()
            col0, row0 = ~TRANSFORM @ (xmin, ymax)
            col1, row1 = ~TRANSFORM @ (xmax, ymin)
            c0, r0 = max(int(np.floor(col0)), 0), max(int(np.floor(row0)), 0)
            c1, r1 = min(int(np.ceil(col1)), WIDTH), min(int(np.ceil(row1)), HEIGHT)
            assert chip_origin(chip) == (c0, r0)
            window = Window(c0, r0, c1 - c0, r1 - r0)
            inside = ~geometry_mask(
                [geom], (r1 - r0, c1 - c0), src.window_transform(window), all_touched=False
            )
            expected = np.where(inside, src.read(window=window), 0)
            with rasterio.open(chip) as c:
                got = c.read()
                sizes.add((c.width, c.height))
            np.testing.assert_array_equal(got, expected)
            kept.append(expected[:, inside])
    assert len(sizes) > 1  # sizes follow the features
    emd = json.loads((out / "esri_model_definition.emd").read_text())
    assert emd["CropTileMode"] == "Variable_Size" and emd["BlackenAroundFeature"] is True
    pixels = np.concatenate(kept, axis=1).astype(np.float64)
    means = [band["Mean"] for band in emd["AllTilesStats"]]
    np.testing.assert_allclose(means, pixels.mean(axis=1), rtol=1e-9)
    assert [band["Min"] for band in emd["AllTilesStats"]] == pixels.min(axis=1).tolist()


def test_fixed_size_chips_blackened_keep_the_tile_size(
    tmp_path: Path, rgb_raster: Path, labels_gpkg: Path
) -> None:
    out = tmp_path / "fixed"
    export_chips(
        rgb_raster,
        labels_gpkg,
        out,
        params(metadata_format="Labeled_Tiles", blacken_around_feature="BLACKEN_AROUND_FEATURE"),
    )
    with rasterio.open(images(out)[0]) as c:
        data = c.read()
    assert data.shape == (3, 64, 64)
    assert 0 < (data.max(axis=0) == 0).sum() < 64 * 64  # some pixels blackened, not all


@pytest.mark.parametrize("option", [["--crop-mode", "BOUNDING_BOX"], ["--blacken-around-feature"]])
def test_labeled_tiles_options_are_refused_for_other_formats(
    tmp_path: Path, rgb_raster: Path, labels_gpkg: Path, option: list[str], capsys: Any
) -> None:
    out = tmp_path / "x"
    code = main(
        [
            "export-chips",
            "--raster",
            str(rgb_raster),
            "--labels",
            str(labels_gpkg),
            "--format",
            "PASCAL_VOC_rectangles",
            "--tile-size",
            "64",
            "--stride",
            "64",
            *option,
            "-o",
            str(out),
        ]
    )
    assert code == 3
    err = capsys.readouterr().err
    assert "apply to Labeled_Tiles and Imagenet only" in err and "Traceback" not in err
    assert not out.exists()


# -- CycleGAN: two unpaired exports -------------------------------------------------------------
def test_cycle_gan_writes_each_raster_in_its_own_half(tmp_path: Path, rgb_raster: Path) -> None:
    """A/ holds the raster's chips, B/ the second raster's: a raster of another size and CRS,
    since the pairs are not aligned."""
    rng = np.random.default_rng(11)
    other = rng.integers(0, 255, (3, 150, 200), dtype=np.uint8)
    transform = rasterio.transform.from_origin(10.0, 50.0, 0.001, 0.001)
    second = write_raster(tmp_path / "other.tif", other, transform=transform, crs="EPSG:4326")
    out = tmp_path / "cg"
    report = export_chips(
        rgb_raster, None, out, params(metadata_format="CycleGAN", stride_x=64), raster2=second
    )
    for half, source in (("A", rgb_raster), ("B", second)):
        chips = images(out / half)
        with rasterio.open(source) as src:
            n = ((src.width - 64) // 64 + 1 + (src.width % 64 > 0)) * (
                (src.height - 64) // 64 + 1 + (src.height % 64 > 0)
            )
            assert len(chips) == n == report.counts[f"chips_{half}"]
            for chip in chips:
                with rasterio.open(chip) as c:
                    col, row = ~src.transform @ (c.transform.c, c.transform.f)
                    window = Window(round(col), round(row), 64, 64)
                    np.testing.assert_array_equal(c.read(), src.read(window=window))
                    assert c.crs == src.crs
        for name in ("esri_model_definition.emd", "esri_accumulated_stats.json"):
            doc = json.loads((out / half / name).read_text())
            assert doc["MetaDataMode"] == "CycleGAN"
    assert report.counts["chips"] == report.counts["chips_A"] + report.counts["chips_B"]
    assert {p.name for p in out.iterdir()} == {"A", "B", ".dlpk-export.json"}


def test_cycle_gan_resume_redoes_only_missing_chips(tmp_path: Path, rgb_raster: Path) -> None:
    out = tmp_path / "cg"
    export_chips(rgb_raster, None, out, params(metadata_format="CycleGAN"), raster2=rgb_raster)
    lost = images(out / "B")[3]
    lost.unlink()
    report = export_chips(
        rgb_raster, None, out, params(metadata_format="CycleGAN", resume=True), raster2=rgb_raster
    )
    assert lost.exists()
    assert report.counts["chips_written"] == 1 and report.counts["chips_written_B"] == 1


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--labels", "LABELS"], "CycleGAN takes no class data"),
        ([], "CycleGAN needs a second raster"),
    ],
)
def test_cycle_gan_bad_input(
    tmp_path: Path,
    rgb_raster: Path,
    labels_gpkg: Path,
    extra: list[str],
    message: str,
    capsys: Any,
) -> None:
    extra = [str(labels_gpkg) if e == "LABELS" else e for e in extra]
    if message.endswith("no class data"):
        extra += ["--raster2", str(rgb_raster)]
    out = tmp_path / "x"
    args = ["--raster", str(rgb_raster), "--format", "CycleGAN", *extra, "--tile-size", "64"]
    code = main(["export-chips", *args, "--stride", "64", "-o", str(out)])
    assert code == 3
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


# -- Panoptic_Segmentation: class tiles plus instance masks ---------------------------------------
def same_pixels(a: Path, b: Path) -> None:
    with rasterio.open(a) as first, rasterio.open(b) as second:
        np.testing.assert_array_equal(first.read(), second.read())


def test_panoptic_labels_are_class_tiles_and_instance_masks(
    tmp_path: Path, rgb_raster: Path, labels_gpkg: Path
) -> None:
    """labels/ holds what Classified_Tiles writes for the class data, labels2/<class>/ what
    RCNN_Masks writes for the instance data (here the same features, so the same chips)."""
    panoptic, classified, rcnn = tmp_path / "p", tmp_path / "c", tmp_path / "r"
    export_chips(
        rgb_raster,
        labels_gpkg,
        panoptic,
        params(metadata_format="Panoptic_Segmentation"),
        instance_data=labels_gpkg,
    )
    export_chips(rgb_raster, labels_gpkg, classified, params(metadata_format="Classified_Tiles"))
    export_chips(rgb_raster, labels_gpkg, rcnn, params(metadata_format="RCNN_Masks"))
    chips = images(panoptic)
    assert [c.name for c in chips] == [c.name for c in images(classified)]
    for chip in chips:
        same_pixels(panoptic / "labels" / chip.name, classified / "labels" / chip.name)
        for folder in sorted((rcnn / "labels").iterdir()):
            same_pixels(panoptic / "labels2" / folder.name / chip.name, folder / chip.name)
    emd = json.loads((panoptic / "esri_model_definition.emd").read_text())
    assert emd["MetaDataMode"] == "Panoptic_Segmentation"
    assert [c["Value"] for c in emd["Panoptic_Segmentation_Instance_Classes"]] == [1, 2, 3]
    stats = json.loads((panoptic / "esri_accumulated_stats.json").read_text())
    assert (
        stats["ClassPixelStats"]
        == json.loads((classified / "esri_accumulated_stats.json").read_text())["ClassPixelStats"]
    )


@pytest.mark.parametrize(
    "fmt,instances,message",
    [
        ("Panoptic_Segmentation", False, "Panoptic_Segmentation needs instance features"),
        ("RCNN_Masks", True, "instance data is used only with Panoptic_Segmentation"),
        ("CycleGAN", True, "instance data is used only with Panoptic_Segmentation"),
    ],
)
def test_instance_data_bad_input(
    tmp_path: Path,
    rgb_raster: Path,
    labels_gpkg: Path,
    fmt: str,
    instances: bool,
    message: str,
    capsys: Any,
) -> None:
    out = tmp_path / "x"
    extra = ["--instance-data", str(labels_gpkg)] if instances else []
    if fmt == "CycleGAN":
        extra += ["--raster2", str(rgb_raster)]
    else:
        extra += ["--labels", str(labels_gpkg)]
    args = ["--raster", str(rgb_raster), "--format", fmt, *extra]
    code = main(["export-chips", *args, "--tile-size", "64", "--stride", "64", "-o", str(out)])
    assert code == 3
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()
