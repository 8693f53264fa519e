"""Run inside the arcgis-learn image: build untrained packages with arcgis.learn itself from
the chips dlpk exported, save() them, and record arcgis.learn's own predictions on the same
pixels the tests then run through dlpk (`python make_packages.py WORK FAMILY...`).

WORK holds scene.tif, window.tif and chips/<format>/; it receives <family>/<family>.dlpk and
<family>.json (the reference predictions).
"""

from __future__ import annotations

import json
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

from dlpk.runners.models.arcgis_learn_compat import make_arcgis_learn_importable

warnings.filterwarnings("ignore")
make_arcgis_learn_importable()

import arcgis.learn as learn  # noqa: E402
import torch  # noqa: E402
from arcgis.learn.models._inferencing import util  # noqa: E402
from PIL import Image  # noqa: E402

FORMATS = {
    "unet": "Classified_Tiles",
    "ssd": "PASCAL_VOC_rectangles",
    "fc": "Labeled_Tiles",
    "mrcnn": "RCNN_Masks",
}
CHIP = 64
#: UNet reference tiling: sub-tiles of CHIP px whose centre PADDING..CHIP-PADDING is kept.
PADDING = 16


def build(family: str, chips: Path, out: Path) -> Path:
    kind = FORMATS[family]
    data = learn.prepare_data(
        str(chips / kind), batch_size=2, chip_size=CHIP, dataset_type=kind,
        imagery_type="RGB", transforms=([], []),
    )  # fmt: skip
    if family == "unet":
        model = learn.UnetClassifier(data, backbone="resnet18")
        decisive_head(model.learn.model)
    elif family == "ssd":
        model = learn.SingleShotDetector(
            data, backbone="resnet18", grids=[4], zooms=[1.0], ratios=[[1.0, 1.0]]
        )
    elif family == "fc":
        model = learn.FeatureClassifier(data, backbone="resnet18")
    else:
        model = learn.MaskRCNN(data, backbone="resnet18")
    model.save(str(out / family), compute_metrics=False)
    return out / family / f"{family}.emd"


def decisive_head(network: torch.nn.Module) -> None:
    """An untrained UNet's last convolution gives nearly equal logits, whose arg-max float
    rounding decides: seeded weights of unit scale give classes that are decided."""
    torch.manual_seed(0)
    head = [m for m in network.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    torch.nn.init.normal_(head.weight, std=1.0)


def read(path: Path) -> np.ndarray[Any, Any]:
    with rasterio.open(path) as dataset:
        return dataset.read()


def unet_reference(emd: Path, scene: np.ndarray[Any, Any]) -> dict[str, Any]:
    """Classes of every pixel: each CHIP-px sub-tile (zeros beyond the raster), normalised by
    arcgis.learn's own `norm`, through the model, its centre kept, as ArcGIS tiles with
    padding PADDING; the best logit less the second beside each."""
    model = learn.UnetClassifier.from_model(str(emd))
    # ArcGISImageClassifier lets background win only where Classes hold a Value 0
    background = any(c["Value"] == 0 for c in json.loads(emd.read_text())["Classes"])
    bands, height, width = scene.shape
    core = CHIP - 2 * PADDING
    framed = np.zeros((bands, height + 2 * CHIP, width + 2 * CHIP), np.float32)
    framed[:, CHIP : CHIP + height, CHIP : CHIP + width] = scene
    classes = np.zeros((height, width), np.int64)
    margins = np.zeros((height, width), np.float64)  # best logit less the second
    for row in range(0, height, core):
        for col in range(0, width, core):
            top, left = CHIP + row - PADDING, CHIP + col - PADDING
            chip = framed[:, top : top + CHIP, left : left + CHIP]
            normed = util.norm(chip.transpose(1, 2, 0)).transpose(2, 0, 1)
            logits = model._predict_batch(torch.tensor(normed[None], dtype=torch.float32))
            centre = logits[0].numpy()[:, PADDING : PADDING + core, PADDING : PADDING + core]
            if not background:  # as ArcGISImageClassifier: predict_background False
                centre = centre[1:]
            top2 = np.sort(centre, axis=0)[-2:]
            rows, cols = min(core, height - row), min(core, width - col)
            found = centre.argmax(0) + (0 if background else 1)
            classes[row : row + rows, col : col + cols] = found[:rows, :cols]
            margins[row : row + rows, col : col + cols] = (top2[1] - top2[0])[:rows, :cols]
    return {"classes": classes.tolist(), "margins": margins.tolist()}


def png(array: np.ndarray[Any, Any], folder: Path, name: str) -> str:
    path = folder / f"{name}.png"
    Image.fromarray(np.moveaxis(array, 0, -1).astype(np.uint8)).save(path)
    return str(path)


def ssd_reference(emd: Path, window: np.ndarray[Any, Any], scratch: Path) -> dict[str, Any]:
    model = learn.SingleShotDetector.from_model(str(emd))
    boxes, labels, scores = model.predict(
        png(window, scratch, "ssd"), threshold=0.1, nms_overlap=0.1, return_scores=True
    )
    return {"boxes": np.asarray(boxes).tolist(), "labels": list(labels),
            "scores": np.asarray(scores).tolist()}  # fmt: skip


def fc_reference(emd: Path, scene: np.ndarray[Any, Any], scratch: Path) -> dict[str, Any]:
    """The label of each CHIP-px window the test's features cover (rows, cols in pixels)."""
    model = learn.FeatureClassifier.from_model(str(emd))
    loaded = model.learn.model.state_dict()
    saved = torch.load(emd.with_suffix(".pth"), map_location="cpu", weights_only=False)
    saved = saved.get("model", saved)
    # cnn_learner(pretrained=True) started from the image's seeded backbone weights: the
    # package's .pth must have replaced every one of them
    overwritten = set(loaded) == set(saved) and all(
        torch.equal(loaded[name].cpu(), saved[name].cpu()) for name in saved
    )
    labels = []
    for index, (row, col) in enumerate(WINDOWS):
        chip = scene[:, row : row + CHIP, col : col + CHIP]
        label = model.predict(png(chip, scratch, f"fc{index}"))[0]
        labels.append(str(label))
    return {"labels": labels, "overwritten": overwritten, "tensors": len(saved)}


def mrcnn_reference(emd: Path, window: np.ndarray[Any, Any]) -> dict[str, Any]:
    """The model's detections on the window as ArcGISInstanceDetector feeds it (pixels / 255)."""
    model = learn.MaskRCNN.from_model(str(emd))
    batch = torch.tensor(window[None] / 255.0, dtype=torch.float32)
    found = model._predict_results(batch, detect_thresh=0.1)[0]
    return {"boxes": found["boxes"].tolist(), "scores": found["scores"].tolist()}


#: The feature windows of the FeatureClassifier test (top-left row, col in pixels).
WINDOWS = [(0, 0), (0, 64), (64, 32), (96, 96)]


def main(work: Path, families: list[str]) -> None:
    scene, window = read(work / "scene.tif"), read(work / "window.tif")
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        for family in families:
            emd = build(family, work / "chips", work)
            if family == "unet":
                reference = unet_reference(emd, scene)
            elif family == "ssd":
                reference = ssd_reference(emd, window, scratch)
            elif family == "fc":
                reference = fc_reference(emd, scene, scratch)
            else:
                reference = mrcnn_reference(emd, window)
            (work / f"{family}.json").write_text(json.dumps(reference))
            print(f"built {family}", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
