"""export_chips end to end: chips, labels and statistics checked against independent reads."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.features import rasterize
from rasterio.windows import Window
from rasterio.windows import transform as rio_window_transform

from dlpk.runners.tasks.export_chips.export import STATE_FILE, export_chips
from dlpk.runners.tasks.export_chips.formats import FORMATS
from dlpk.spec.job import ExportChipsParameters
from tests.rasters import HEIGHT, WIDTH, read_map_geoms, write_raster

ROOT = {"esri_model_definition.emd", "esri_accumulated_stats.json", "map.txt", "stats.txt"}


def params(**kw: Any) -> ExportChipsParameters:
    base: dict[str, Any] = {"tile_size_x": 64, "stride_x": 48, "workers": 1}
    base.update(kw)
    return ExportChipsParameters(**base)


def map_entries(out: Path) -> list[list[str]]:
    lines = (out / "map.txt").read_text(encoding="utf-8").splitlines()
    for line in lines:
        assert line.endswith(" ") and "/" not in line
    return [line.split() for line in lines]


def chip_window(src: Any, chip: Path) -> Window:
    """The source window a georeferenced chip came from, from its own georeferencing."""
    with rasterio.open(chip) as c:
        col, row = ~src.transform @ (c.transform.c, c.transform.f)
        return Window(round(col), round(row), c.width, c.height)


def test_pascal_voc_end_to_end(tmp_path: Path, rgb_raster: Path, labels_gpkg: Path) -> None:
    out = tmp_path / "pascal"
    report = export_chips(rgb_raster, labels_gpkg, out, params())
    assert {p.name for p in out.iterdir()} == {"images", "labels", STATE_FILE} | ROOT
    entries = map_entries(out)
    assert len(entries) == report.counts["chips"] > 0
    geoms, values = read_map_geoms(labels_gpkg)
    n_boxes = 0
    with rasterio.open(rgb_raster) as src:
        for i, (image, label) in enumerate(entries):
            stem = f"{i:09d}"
            assert image == f"images\\{stem}.tif" and label == f"labels\\{stem}.xml"
            chip = out / "images" / f"{stem}.tif"
            assert (out / "images" / f"{stem}.tfw").exists()
            win = chip_window(src, chip)
            with rasterio.open(chip) as c:
                assert c.crs == src.crs
                np.testing.assert_array_equal(c.read(), src.read(window=win))
            root = ET.parse(out / "labels" / f"{stem}.xml").getroot()
            assert root.tag == "annotation" and root.findtext("filename") == f"{stem}.tif"
            assert root.findtext("size/width") == "64" and root.findtext("size/depth") == "3"
            # expected: every feature touching the tile, box of its part inside, in tile pixels
            wt = rio_window_transform(win, src.transform)
            tile = shapely.box(*rasterio.windows.bounds(win, src.transform))
            expected = []
            for g, v in zip(geoms, values, strict=True):
                part = shapely.intersection(g, tile)
                if part.is_empty:
                    continue
                x0, y0, x1, y1 = part.bounds
                c0, r0 = ~wt @ (x0, y1)
                c1, r1 = ~wt @ (x1, y0)
                expected.append((str(v), c0, r0, c1, r1))
            got = [
                (
                    o.findtext("name"),
                    *(
                        float(o.findtext(f"bndbox/{k}") or "nan")
                        for k in ("xmin", "ymin", "xmax", "ymax")
                    ),
                )
                for o in root.iter("object")
            ]
            assert len(got) == len(expected) > 0
            for g_box, e_box in zip(sorted(got), sorted(expected), strict=True):
                assert g_box[0] == e_box[0]
                np.testing.assert_allclose(g_box[1:], e_box[1:], atol=0.011)
                assert all(0 <= x <= 64 for x in g_box[1:])
            n_boxes += len(got)
    stats = json.loads((out / "esri_accumulated_stats.json").read_text())
    assert stats["MetaDataMode"] == "PASCAL_VOC_rectangles" and stats["OutputFeatures"] is True
    assert stats["FeatureStats"]["NumFeaturesTotal"] == n_boxes
    assert stats["NumTiles"] == len(entries)
    assert [c["ClassValue"] for c in stats["Classes"]] == sorted(set(values.tolist()))


def test_only_tiles_with_features_vs_all_tiles(
    tmp_path: Path, rgb_raster: Path, labels_gpkg: Path
) -> None:
    some = export_chips(rgb_raster, labels_gpkg, tmp_path / "a", params())
    every = export_chips(
        rgb_raster, labels_gpkg, tmp_path / "b", params(output_nofeature_tiles="ALL_TILES")
    )
    # 320 x 240 with 64/48: columns 0,48,...,240,256 (7) and rows 0,...,144,176 (5)
    assert every.counts["chips"] == 7 * 5
    assert 0 < some.counts["chips"] < every.counts["chips"]
    empty = [
        p
        for p in (tmp_path / "b" / "labels").glob("*.xml")
        if ET.parse(p).getroot().find("object") is None
    ]
    assert len(empty) == every.counts["chips"] - some.counts["chips"]


def test_classified_tiles_labels_and_exact_statistics(
    tmp_path: Path, rgb_raster: Path, labels_gpkg: Path
) -> None:
    out = tmp_path / "cls"
    # tiles that partition the raster exactly, so statistics equal whole-raster numpy figures
    p = params(
        metadata_format="Classified_Tiles",
        tile_size_x=80,
        stride_x=80,
        output_nofeature_tiles="ALL_TILES",
        workers=2,
    )
    export_chips(rgb_raster, labels_gpkg, out, p)
    geoms, values = read_map_geoms(labels_gpkg)
    with rasterio.open(rgb_raster) as src:
        whole = src.read()
        full_labels = rasterize(
            zip(geoms, values.tolist(), strict=True),
            out_shape=(HEIGHT, WIDTH),
            transform=src.transform,
            fill=0,
            dtype="uint8",
        )
        entries = map_entries(out)
        assert len(entries) == (WIDTH // 80) * (HEIGHT // 80)
        for i, (image, label) in enumerate(entries):
            assert label == f"labels\\{i:09d}.tif" and image == f"images\\{i:09d}.tif"
            win = chip_window(src, out / "images" / f"{i:09d}.tif")
            with rasterio.open(out / "labels" / f"{i:09d}.tif") as lab:
                assert lab.count == 1 and lab.dtypes[0] == "uint8"
                expected = rasterize(
                    zip(geoms, values.tolist(), strict=True),
                    out_shape=(80, 80),
                    transform=rio_window_transform(win, src.transform),
                    fill=0,
                    dtype="uint8",
                )
                np.testing.assert_array_equal(lab.read(1), expected)
    stats = json.loads((out / "esri_accumulated_stats.json").read_text())
    assert stats["OutputFeatures"] is False and "FeatureStats" not in stats
    bss = stats["BandStatsState"]
    for b in range(3):
        band = whole[b].astype(np.float64)
        assert bss[b]["Num"] == band.size
        assert bss[b]["Min"] == band.min() and bss[b]["Max"] == band.max()
        assert bss[b]["M1"] == pytest.approx(band.mean(), rel=1e-12)
        assert bss[b]["M2"] == pytest.approx(((band - band.mean()) ** 2).sum(), rel=1e-9)
    cps = stats["ClassPixelStats"]
    classes = [c["ClassValue"] for c in stats["Classes"]]
    assert cps["NumPixelsPerClass"] == [int((full_labels == v).sum()) for v in classes]
    assert cps["NumImagesTotal"] == len(entries)
    emd = json.loads((out / "esri_model_definition.emd").read_text())
    assert emd["MetaDataMode"] == "Classified_Tiles"
    assert [c["Value"] for c in emd["Classes"]] == classes
    assert emd["AllTilesStats"][0]["StdDev"] == pytest.approx(whole[0].std(), rel=1e-9)
    assert emd["InputRastersProps"]["BandNames"] == ["Red", "Green", "Blue"]


def test_multiband_16bit_and_float_tiff_pixel_for_pixel(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    for dtype in ("uint16", "float32"):
        data = (rng.random((5, 100, 90)) * 4000).astype(dtype)
        raster = write_raster(tmp_path / f"{dtype}.tif", data)
        out = tmp_path / f"out-{dtype}"
        export_chips(
            raster, None, out, params(metadata_format="Export_Tiles", tile_size_x=32, stride_x=32)
        )
        assert {p.name for p in out.iterdir()} == {"images", STATE_FILE} | ROOT
        chips = sorted((out / "images").glob("*.tif"))
        assert len(chips) == 4 * 3
        with rasterio.open(raster) as src:
            for chip in chips:
                with rasterio.open(chip) as c:
                    assert c.count == 5 and c.dtypes[0] == dtype
                    np.testing.assert_array_equal(c.read(), src.read(window=chip_window(src, chip)))


@pytest.mark.parametrize("chip_format,ext,world", [("PNG", "png", "pgw"), ("JPEG", "jpg", "jgw")])
def test_png_and_jpeg_chips_carry_world_files(
    tmp_path: Path, rgb_raster: Path, labels_gpkg: Path, chip_format: str, ext: str, world: str
) -> None:
    out = tmp_path / chip_format
    export_chips(
        rgb_raster,
        labels_gpkg,
        out,
        params(metadata_format="Classified_Tiles", image_chip_format=chip_format),
    )
    entries = map_entries(out)
    assert entries[0] == [f"images\\000000000.{ext}", "labels\\000000000.png"]
    with rasterio.open(rgb_raster) as src:
        for image, _ in entries:
            chip = out / image.replace("\\", "/")
            assert chip.with_suffix(f".{world}").exists()
            with rasterio.open(chip) as c:  # georeferenced from the world file and .aux.xml
                assert c.crs == src.crs
                win = chip_window(src, chip)
                assert c.transform == rio_window_transform(win, src.transform)
                if chip_format == "PNG":
                    np.testing.assert_array_equal(c.read(), src.read(window=win))


def test_kitti_rows_have_15_columns(tmp_path: Path, rgb_raster: Path, labels_gpkg: Path) -> None:
    out = tmp_path / "kitti"
    export_chips(rgb_raster, labels_gpkg, out, params(metadata_format="KITTI_rectangles"))
    pascal = tmp_path / "pascal"
    export_chips(rgb_raster, labels_gpkg, pascal, params())
    for txt in sorted((out / "labels").glob("*.txt")):
        rows = [line.split(" ") for line in txt.read_text().splitlines()]
        assert rows and all(len(r) == 15 for r in rows)
        xml = ET.parse(pascal / "labels" / f"{txt.stem}.xml").getroot()
        boxes = sorted(
            [
                o.findtext("name"),
                *(o.findtext(f"bndbox/{k}") for k in ("xmin", "ymin", "xmax", "ymax")),
            ]
            for o in xml.iter("object")
        )
        assert sorted([r[0], *r[4:8]] for r in rows) == boxes


def test_rcnn_masks_one_instance_raster_per_class(
    tmp_path: Path, rgb_raster: Path, labels_gpkg: Path
) -> None:
    out = tmp_path / "rcnn"
    export_chips(rgb_raster, labels_gpkg, out, params(metadata_format="RCNN_Masks"))
    stats = json.loads((out / "esri_accumulated_stats.json").read_text())
    names = [c["ClassName"] for c in stats["Classes"]]
    assert sorted(p.name for p in (out / "labels").iterdir()) == sorted(names)
    entries = map_entries(out)
    assert entries[0][1] == f"labels\\{names[0]}\\000000000.tif"
    total_instances = 0
    for i in range(len(entries)):
        for name in names:
            with rasterio.open(out / "labels" / name / f"{i:09d}.tif") as m:
                ids = np.unique(m.read(1))
                assert ids[0] == 0 or ids.size == 0
                total_instances += int((ids > 0).sum())
    # each feature in a chip is one instance (a feature fully hidden by a later one has none)
    assert 0 < total_instances <= stats["FeatureStats"]["NumFeaturesTotal"]


def test_labeled_tiles_one_chip_per_feature(
    tmp_path: Path, rgb_raster: Path, labels_gpkg: Path, buildings: Any
) -> None:
    out = tmp_path / "labeled"
    report = export_chips(rgb_raster, labels_gpkg, out, params(metadata_format="Labeled_Tiles"))
    geoms, values = buildings
    assert report.counts["chips"] == len(geoms)
    for i, value in enumerate(values):
        root = ET.parse(out / "labels" / f"{i:09d}.xml").getroot()
        objects = list(root.iter("object"))
        assert [o.findtext("name") for o in objects] == [str(value)]
    emd = json.loads((out / "esri_model_definition.emd").read_text())
    assert emd["CropTileMode"] == "Fixed_Size" and emd["BlackenAroundFeature"] is False


def test_imagenet_files_each_feature_chip_under_its_class(
    tmp_path: Path, rgb_raster: Path, labels_gpkg: Path, buildings: Any
) -> None:
    """Imagenet: the Labeled_Tiles chips, with no label files: images/<class>/<stem>."""
    labeled, imagenet = tmp_path / "labeled", tmp_path / "imagenet"
    export_chips(rgb_raster, labels_gpkg, labeled, params(metadata_format="Labeled_Tiles"))
    export_chips(rgb_raster, labels_gpkg, imagenet, params(metadata_format="Imagenet"))
    _, values = buildings
    assert not (imagenet / "labels").exists()
    lines = (imagenet / "map.txt").read_text().splitlines()
    assert len(lines) == len(values)
    for i, value in enumerate(values):
        chip = imagenet / "images" / str(value) / f"{i:09d}.tif"
        assert lines[i] == f"images\\{value}\\{i:09d}.tif "
        with rasterio.open(chip) as a, rasterio.open(labeled / "images" / chip.name) as b:
            assert a.transform == b.transform
            np.testing.assert_array_equal(a.read(), b.read())
    stats = json.loads((imagenet / "esri_accumulated_stats.json").read_text())
    assert stats["MetaDataMode"] == "Imagenet" and stats["OutputFeatures"] is True
    assert stats["FeatureStats"]["NumFeaturesPerClass"] == [
        values.count(v) for v in sorted(set(values))
    ]


def test_multilabeled_tiles_list_the_classes_present(
    tmp_path: Path, rgb_raster: Path, labels_gpkg: Path
) -> None:
    out = tmp_path / "multi"
    export_chips(rgb_raster, labels_gpkg, out, params(metadata_format="MultiLabeled_Tiles"))
    pascal = tmp_path / "pascal"
    export_chips(rgb_raster, labels_gpkg, pascal, params())
    for xml in sorted((out / "labels").glob("*.xml")):
        names = [o.findtext("name") for o in ET.parse(xml).getroot().iter("object")]
        present = {
            o.findtext("name")
            for o in ET.parse(pascal / "labels" / xml.name).getroot().iter("object")
        }
        assert len(names) == 1 and names[0] == ",".join(sorted(present, key=int))


def test_classified_raster_as_class_data(tmp_path: Path, rgb_raster: Path) -> None:
    rng = np.random.default_rng(5)
    classes = np.zeros((1, HEIGHT, WIDTH), dtype=np.uint8)
    classes[0, 50:90, 60:140] = 2
    classes[0, 150:200, 200:260] = 5
    classes[0, 0:10, 0:10] = rng.integers(0, 2, (10, 10))
    labels = write_raster(tmp_path / "classes.tif", classes)
    out = tmp_path / "cr"
    p = params(metadata_format="Classified_Tiles", tile_size_x=80, stride_x=80)
    report = export_chips(rgb_raster, labels, out, p)
    assert report.counts["labelled_pixels"] == int((classes > 0).sum())
    stats = json.loads((out / "esri_accumulated_stats.json").read_text())
    assert [c["ClassValue"] for c in stats["Classes"]] == [1, 2, 5]
    with rasterio.open(rgb_raster) as src:
        for image, label in map_entries(out):
            win = chip_window(src, out / image.replace("\\", "/"))
            with rasterio.open(out / label.replace("\\", "/")) as lab:
                np.testing.assert_array_equal(
                    lab.read(1),
                    classes[0, win.row_off : win.row_off + 80, win.col_off : win.col_off + 80],
                )


def test_every_format_writes_its_layout(
    tmp_path: Path, rgb_raster: Path, labels_gpkg: Path
) -> None:
    for name, traits in FORMATS.items():
        if name == "CycleGAN":
            continue  # two export folders, A/ and B/: test_export_options checks them
        out = tmp_path / name
        instances = labels_gpkg if traits.labels == "panoptic" else None
        export_chips(
            rgb_raster, labels_gpkg, out, params(metadata_format=name), instance_data=instances
        )
        expected = (
            {"images", STATE_FILE}
            | ROOT
            | ({"labels"} if traits.labels not in ("none", "folder") else set())
            | ({"labels2"} if traits.labels == "panoptic" else set())
        )
        assert {p.name for p in out.iterdir()} == expected, name
        stats = json.loads((out / "esri_accumulated_stats.json").read_text())
        assert stats["MetaDataMode"] == name
        for key in ("Version", "NumBands", "TileSizeX", "TileSizeY", "NumClasses", "NumTiles"):
            assert isinstance(stats[key], int)
        chips = (out / "images").glob("*/*.tif" if traits.labels == "folder" else "*.tif")
        assert len(map_entries(out)) == stats["NumTiles"] == len(list(chips))
        assert not list(out.rglob("*.part")), "no temporary file is left behind"


def test_default_workers_follow_the_cores_this_process_may_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under a CPU affinity or cpuset narrower than the machine, workers and GDAL threads fit
    the cores allowed, not the machine's count."""
    from dlpk.runners.tasks.export_chips import export as task

    monkeypatch.setattr(task.os, "sched_getaffinity", lambda pid: {3}, raising=False)
    assert task.usable_cores() == 1
    assert task.resolve(ExportChipsParameters()).workers == 1
    monkeypatch.setattr(task.os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert task.resolve(ExportChipsParameters()).workers == 3
