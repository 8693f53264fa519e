"""An independent reader of Export Training Data folders, written from the description of what
arcgis.learn's prepare_data does with them (docs/esri-formats.md#folder-layout, #root-files).

It shares no code with dlpk's writer. `load` raises AssertionError, naming the file and field,
wherever a folder would stop arcgis.learn (or silently feed it the wrong thing).
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

ESRI_FILES = ("esri_model_definition.emd", "esri_accumulated_stats.json", "map.txt")
PIXEL_MODES = {"Classified_Tiles", "Panoptic_Segmentation"}
FEATURE_MODES = {
    "PASCAL_VOC_rectangles",
    "KITTI_rectangles",
    "RCNN_Masks",
    "Labeled_Tiles",
    "MultiLabeled_Tiles",
    "Imagenet",
}
RUNNING_KEYS = {"Min", "Max", "Mean", "Sum", "Count"}
RGB_NAMES = {"red", "green", "blue"}


@dataclass
class Loaded:
    """What a training library ends up with: the dataset type and (image, labels) pairs."""

    mode: str
    chip_size: tuple[int, int]
    classes: dict[int, str]
    band_std: list[float]
    multispectral: bool
    samples: list[tuple[Path, Any]] = field(default_factory=list)
    second_images: list[Path] = field(default_factory=list)


def _windows_path(folder: Path, token: str) -> Path:
    assert "/" not in token, f"map.txt paths use backslashes: {token}"
    return folder.joinpath(*token.split("\\"))


def _first_map_line(folder: Path, min_tokens: int) -> list[str]:
    """Only the first line with enough whitespace-separated tokens is ever looked at."""
    for line in (folder / "map.txt").read_text(encoding="utf-8").splitlines():
        tokens = line.split()
        if len(tokens) >= min_tokens:
            return tokens
    raise AssertionError(f"map.txt has no line with {min_tokens} or more tokens")


def _running(obj: Any, where: str) -> None:
    assert isinstance(obj, dict) and set(obj) >= RUNNING_KEYS, f"{where}: {obj!r}"


def _check_stats(stats: dict[str, Any], mode: str) -> dict[int, str]:
    for key in ("NumBands", "TileSizeX", "TileSizeY", "NumClasses", "MetaDataMode", "Classes"):
        assert key in stats, f"esri_accumulated_stats.json lacks {key}"
    assert "NumTiles" in stats or "NumTilesAsDouble" in stats
    assert stats["MetaDataMode"] == mode
    classes = {int(c["ClassValue"]): str(c["ClassName"]) for c in stats["Classes"]}
    assert len(classes) == stats["NumClasses"] == len(stats["Classes"])
    n = len(classes)
    if mode in PIXEL_MODES:
        assert stats["OutputFeatures"] is False
        cps = stats["ClassPixelStats"]
        assert cps["NumClasses"] == n
        assert len(cps["NumImagesPerClass"]) == len(cps["NumPixelsPerClass"]) == n
        assert len(cps["PixelsPerClass"]) == n
        _running(cps["NumClassesPerImage"], "NumClassesPerImage")
        for r in cps["PixelsPerClass"]:
            _running(r, "PixelsPerClass")
    elif mode in FEATURE_MODES:
        assert stats["OutputFeatures"] is True
        fs = stats["FeatureStats"]
        assert fs["NumClasses"] == n
        assert len(fs["NumImagesPerClass"]) == len(fs["NumFeaturesPerClass"]) == n
        assert fs["NumFeaturesTotal"] == sum(fs["NumFeaturesPerClass"])
        _running(fs["NumFeaturesPerImage"], "NumFeaturesPerImage")
        for r in fs["FeatureAreaPerClass"]:
            _running(r, "FeatureAreaPerClass")
    if mode == "RCNN_Masks":
        assert min(classes) >= 1, "RCNN_Masks class values start at 1"
    return classes


def _band_std(stats: dict[str, Any], emd: dict[str, Any]) -> list[float]:
    """Newer readers take StdDev = sqrt(M2 / Num) from BandStatsState; it must agree with the
    emd's AllTilesStats, which older readers use."""
    state = stats["BandStatsState"]
    assert len(state) == stats["NumBands"]
    std = []
    for band, entry in zip(emd["AllTilesStats"], state, strict=True):
        assert set(entry) >= {"Min", "Max", "M1", "M2", "Num"}
        assert entry["Num"] > 0
        s = math.sqrt(entry["M2"] / entry["Num"])
        assert math.isclose(s, band["StdDev"], rel_tol=1e-9, abs_tol=1e-9)
        assert math.isclose(entry["M1"], band["Mean"], rel_tol=1e-9, abs_tol=1e-9)
        std.append(s)
    return std


def _is_multispectral(emd: dict[str, Any], stats: dict[str, Any]) -> bool:
    names = [str(n).lower() for n in emd["InputRastersProps"]["BandNames"]]
    if stats["NumBands"] > 3 and not (stats["NumBands"] == 4 and names[-1] == "alpha"):
        return True
    if any(n not in RGB_NAMES for n in names[:3]):
        return True
    return any(b["Min"] < 0 or b["Max"] > 255 for b in emd["AllTilesStats"])


def _pascal_names(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    assert root.tag == "annotation"
    size = root.find("size")
    assert size is not None and all(size.find(k) is not None for k in ("width", "height"))
    names = []
    for obj in root.iter("object"):
        name = obj.findtext("name")
        assert name is not None
        box = obj.find("bndbox")
        assert box is not None
        xmin, ymin, xmax, ymax = (
            float(box.findtext(k) or "nan") for k in ("xmin", "ymin", "xmax", "ymax")
        )
        assert 0 <= xmin <= xmax and 0 <= ymin <= ymax
        names.append(name)
    return names


def _kitti_rows(path: Path) -> list[tuple[str, list[float]]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        cols = line.split()
        assert len(cols) == 15, f"{path.name}: {len(cols)} KITTI columns"
        values = [float(c) for c in cols[1:]]  # every column after the class must be numeric
        rows.append((cols[0], values[3:7]))
    return rows


def _class_of(token: str, classes: dict[int, str]) -> int:
    """A label may name a class by value or by name: both must resolve."""
    by_name = {name: value for value, name in classes.items()}
    if token in by_name:
        return by_name[token]
    assert token.lstrip("-").isdigit() and int(token) in classes, f"unknown class {token!r}"
    return int(token)


def load(folder: Path) -> Loaded:
    for name in ESRI_FILES:
        assert (folder / name).is_file(), f"missing {name}: not an Esri export"
    stats = json.loads((folder / "esri_accumulated_stats.json").read_text(encoding="utf-8"))
    emd = json.loads((folder / "esri_model_definition.emd").read_text(encoding="utf-8"))
    mode = emd["MetaDataMode"]
    classes = _check_stats(stats, mode)
    assert emd["ImageSpaceUsed"] in ("MAP_SPACE", "PIXEL_SPACE")
    props = emd["InputRastersProps"]
    assert set(props) >= {"RasterCount", "SensorName", "BandNames"}
    assert len(props["BandNames"]) == stats["NumBands"] == len(emd["AllTilesStats"])
    for band in emd["AllTilesStats"]:
        assert set(band) >= {"BandName", "Min", "Max", "Mean", "StdDev"}
    emd_classes = {int(c["Value"]): str(c["Name"]) for c in emd.get("Classes", [])}
    assert emd_classes == classes, "emd Classes and stats Classes disagree"
    std = _band_std(stats, emd)

    # the first usable map.txt line: chip size from its image, label extension from a label
    first = _first_map_line(folder, 1 if mode == "Imagenet" else 2)
    with rasterio.open(_windows_path(folder, first[0])) as chip:
        size = (chip.height, chip.width)
        assert chip.count == stats["NumBands"]
    assert size == (stats["TileSizeY"], stats["TileSizeX"])
    assert size == (emd["ImageHeight"], emd["ImageWidth"])
    label_ext = "" if mode == "Imagenet" else Path(first[1 if mode != "RCNN_Masks" else -1]).suffix

    loaded = Loaded(mode, size, classes, std, _is_multispectral(emd, stats))
    # Imagenet: images/<class name>/, the class is the parent folder's name
    listed = (
        (folder / "images").glob("*/*") if mode == "Imagenet" else (folder / "images").iterdir()
    )
    images = sorted(p for p in listed if not _sidecar(p))
    ntiles = stats.get("NumTiles", stats.get("NumTilesAsDouble"))
    assert len(images) == ntiles, f"{len(images)} images, NumTiles {ntiles}"
    for image in images:
        instance_classes = emd.get("Panoptic_Segmentation_Instance_Classes")
        if mode == "Panoptic_Segmentation":
            assert instance_classes, "emd lacks Panoptic_Segmentation_Instance_Classes"
        labels = _labels(folder, image, mode, label_ext, classes, instance_classes)
        loaded.samples.append((image, labels))
    if (folder / "images2").is_dir():  # change detection / image translation
        loaded.second_images = sorted(p for p in (folder / "images2").iterdir() if not _sidecar(p))
        assert [p.name for p in loaded.second_images] == [p.name for p in images]
        assert props["RasterCount"] == 2 and "AllTilesStats2" in emd
    return loaded


def _sidecar(path: Path) -> bool:
    return path.name.startswith(".") or path.suffix in (".tfw", ".pgw", ".jgw", ".xml", ".ovr")


def _mask_max(path: Path) -> int:
    with rasterio.open(path) as m:
        return int(m.read(1).max())


def _labels(
    folder: Path,
    image: Path,
    mode: str,
    ext: str,
    classes: dict[int, str],
    instance_classes: list[dict[str, Any]] | None = None,
) -> Any:
    stem = image.stem
    if mode == "Imagenet":
        return _class_of(image.parent.name, classes)
    if mode == "Panoptic_Segmentation":
        # semantic classes in labels/, instance masks per instance class in labels2/<Name>/
        names = {int(c["Value"]): str(c["Name"]) for c in instance_classes}
        masks = [folder / "labels2" / n / f"{stem}{ext}" for n in names.values()]
        assert all(m.exists() for m in masks), f"{stem}: an instance mask is missing"
        semantic = _labels(folder, image, "Classified_Tiles", ext, classes)
        return semantic, {v: _mask_max(m) for v, m in zip(names, masks, strict=True)}
    if mode == "Classified_Tiles":
        with rasterio.open(folder / "labels" / f"{stem}{ext}") as lab:
            assert lab.count == 1
            values = set(np.unique(lab.read(1)).tolist())
        assert values <= {0, *classes}, f"{stem}: label values {values}"
        return values
    if mode == "RCNN_Masks":
        masks = {}
        for value, name in classes.items():
            path = folder / "labels" / name / f"{stem}{ext}"
            if path.exists():
                with rasterio.open(path) as m:
                    masks[value] = int(m.read(1).max())
        assert masks, f"{stem}: no mask in any class folder"
        return masks
    if mode == "KITTI_rectangles":
        return [
            (_class_of(c, classes), box)
            for c, box in _kitti_rows(folder / "labels" / f"{stem}.txt")
        ]
    if mode in ("PASCAL_VOC_rectangles", "Labeled_Tiles"):
        return [_class_of(n, classes) for n in _pascal_names(folder / "labels" / f"{stem}.xml")]
    if mode == "MultiLabeled_Tiles":
        names = _pascal_names(folder / "labels" / f"{stem}.xml")
        return [[_class_of(t, classes) for t in n.split(",")] for n in names]
    assert mode in ("Export_Tiles", "CycleGAN"), mode
    return None
