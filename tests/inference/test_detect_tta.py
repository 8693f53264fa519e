"""Test-time augmentation for detect-objects: boxes mapped back exactly, candidates merged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st

from dlpk.runners.progress import no_progress as quiet
from dlpk.runners.tasks.inference.detect_objects import detect_objects
from dlpk.runners.tasks.inference.nms import class_aware_nms
from dlpk.runners.tasks.inference.tta import Transform
from tests.inference_models import emd, make_detector, package, write_raster

torch = pytest.importorskip("torch")

SIZE = 6  # the detector's square side
View = tuple[bool, bool, int]  # flip columns, flip rows, quarter turns (np.rot90), in that order


def view(array: np.ndarray, flip: bool, flip_rows: bool, turns: int) -> np.ndarray:
    """The transformed tile, written out with numpy alone ([..., H, W])."""
    out = array[..., ::-1] if flip else array
    out = out[..., ::-1, :] if flip_rows else out
    return np.ascontiguousarray(np.rot90(out, turns, axes=(-2, -1)))


def bounding_box(mask: np.ndarray) -> tuple[float, float, float, float]:
    """Pixel-edge box (x1, y1, x2, y2) of the True pixels of a 2-D mask."""
    rows, cols = np.nonzero(mask)
    return float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1)


def box_mask(height: int, width: int, box: tuple[int, int, int, int]) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    x1, y1, x2, y2 = box
    mask[y1:y2, x1:x2] = True
    return mask


def test_a_quarter_turn_moves_a_known_box() -> None:
    # np.rot90 turns counter-clockwise: the top-left corner goes to the bottom-left.
    box = np.array([[1.0, 0.0, 3.0, 2.0]])
    turned = Transform(turns=1).apply_boxes(box, 10, 10)
    assert turned.tolist() == [[0.0, 7.0, 2.0, 9.0]]
    assert bounding_box(view(box_mask(10, 10, (1, 0, 3, 2)), False, False, 1)) == (0, 7, 2, 9)
    assert Transform(turns=1).invert_boxes(turned, 10, 10).tolist() == box.tolist()
    mirrored = Transform(flip=True).apply_boxes(box, 10, 10)
    assert mirrored.tolist() == [[7.0, 0.0, 9.0, 2.0]]


@st.composite
def framed_boxes(draw: st.DrawFn) -> tuple[int, int, tuple[int, int, int, int]]:
    height, width = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    x1, y1 = draw(st.integers(0, width - 1)), draw(st.integers(0, height - 1))
    x2, y2 = draw(st.integers(x1 + 1, width)), draw(st.integers(y1 + 1, height))
    return height, width, (x1, y1, x2, y2)


transforms = st.builds(
    Transform, turns=st.integers(0, 3), flip=st.booleans(), flip_rows=st.booleans()
)


@given(scene=framed_boxes(), transform=transforms)
def test_boxes_move_with_the_pixels_and_back(
    scene: tuple[int, int, tuple[int, int, int, int]], transform: Transform
) -> None:
    """The box of a transformed tile is where the transformed pixels went, in any tile shape
    (quarter turns of a non-square tile swap its sides), and inverting it gives the box."""
    height, width, box = scene
    mask = box_mask(height, width, box)
    moved = transform.apply(mask[np.newaxis, np.newaxis])[0, 0]
    assert moved.shape == ((width, height) if transform.turns % 2 else (height, width))
    expected = bounding_box(moved)
    array = np.array([box], dtype=np.float64)
    assert tuple(transform.apply_boxes(array, height, width)[0]) == expected
    found = np.array([expected])
    assert transform.invert_boxes(found, height, width).tolist() == array.tolist()


@given(
    size=st.tuples(st.integers(1, 500), st.integers(1, 500)),
    corners=st.lists(st.floats(-50, 550, allow_nan=False), min_size=4, max_size=4),
    transform=transforms,
)
def test_invert_boxes_undoes_apply_boxes(
    size: tuple[int, int], corners: list[float], transform: Transform
) -> None:
    height, width = size
    x1, x2 = sorted(corners[:2])
    y1, y2 = sorted(corners[2:])
    box = np.array([[x1, y1, x2, y2]])
    back = transform.invert_boxes(transform.apply_boxes(box, height, width), height, width)
    np.testing.assert_allclose(back, box, rtol=0, atol=1e-9)


def squares(shape: tuple[int, int], corners: list[tuple[int, int, float]]) -> np.ndarray:
    data = np.zeros((1, *shape), dtype=np.float32)
    for row, col, value in corners:
        data[0, row : row + SIZE, col : col + SIZE] = value
    return data


def detector_package(folder: Path, module: Any, height: int, width: int, **extra: Any) -> Path:
    folder.mkdir()
    torch.jit.script(module).save(str(folder / "model.pt"))
    document = emd("model.pt", "TorchScript", "ObjectDetector", ExtractBands=[0], **extra)
    document.update(ImageHeight=height, ImageWidth=width)
    return package(folder, document)


def read_detections(path: Path) -> list[tuple[float, ...]]:
    """(x1, y1, x2, y2, ClassValue, Confidence) per feature, sorted; no CRS, so map
    coordinates are pixel edges with y along rows."""
    meta, _, geometry, fields = pyogrio.raw.read(path)
    names = list(meta["fields"])
    values, confidence = fields[names.index("ClassValue")], fields[names.index("Confidence")]
    found = [
        (*shapely.from_wkb(g).bounds, float(v), float(c))
        for g, v, c in zip(geometry, values, confidence, strict=True)
    ]
    return sorted(found)


def expected_detections(
    module: Any, tile: np.ndarray, views: list[View], overlap: float
) -> list[tuple[float, ...]]:
    """Every view's detections mapped back through an index grid (which original pixel each
    transformed pixel shows), pooled and merged by class-aware NMS, as the task should."""
    height, width = tile.shape[-2:]
    grid = np.stack(np.indices((height, width)))  # [2, H, W]: row, col
    boxes, scores, labels = [], [], []
    for flip, flip_rows, turns in views:
        pixels = view(tile, flip, flip_rows, turns)[np.newaxis]
        with torch.inference_mode():
            found = [o.numpy()[0] for o in module(torch.from_numpy(pixels))]
        origin = view(grid, flip, flip_rows, turns)
        for box, score, label in zip(*found, strict=True):
            if label <= 0:
                continue
            x1, y1, x2, y2 = (int(v) for v in box)
            rows, cols = origin[0, y1:y2, x1:x2], origin[1, y1:y2, x1:x2]
            boxes.append([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1])
            scores.append(float(score))
            labels.append(int(label))
    chosen = class_aware_nms(
        np.array(boxes, dtype=np.float64), np.array(scores), np.array(labels), overlap
    )
    values = {1: 1.0, 2: 5.0}  # Classes: label 1 is Value 1, label 2 is Value 5
    return sorted(
        (*(float(v) for v in boxes[i]), values[labels[i]], round(scores[i] * 100, 4))
        for i in chosen
    )


DIHEDRAL = [(flip, False, turns) for flip in (False, True) for turns in range(4)]


@pytest.mark.parametrize(
    ("space", "shape", "views", "sides"),
    [
        ("MAP_SPACE", (32, 32), DIHEDRAL, 4),  # boxes shifted left, right, up and down
        (None, (32, 32), DIHEDRAL, 4),  # MAP_SPACE is the default
        # a non-square tile: no quarter turns; flipping rows keeps the shift to the right
        ("MAP_SPACE", (32, 40), [(False, False, 0), (True, False, 0), (False, True, 0)], 2),
        ("PIXEL_SPACE", (32, 32), [(False, False, 0), (True, False, 0)], 2),
    ],
)
@pytest.mark.parametrize("overlap", ["0.1", "0.3"])
def test_tta_pools_every_view_and_merges_by_nms(
    tmp_path: Path,
    space: str | None,
    shape: tuple[int, int],
    views: list[View],
    sides: int,
    overlap: str,
) -> None:
    """A detector that is not flip-equivariant: each view finds a square's box shifted to
    another side, with another score. With nms_overlap 0.3 the shifted boxes (IoU 0.2 and
    0.29) all survive: the union; with 0.1 each square keeps its best-scoring box."""
    module = make_detector(shift=2, graded=True)
    extra = {"ImageSpaceUsed": space} if space else {}
    model = detector_package(tmp_path / "model", module, *shape, **extra)
    data = squares(shape, [(5, 6, 1.0), (19, 22, 2.0)])
    raster = write_raster(tmp_path / "in.tif", data, crs=None)
    output = tmp_path / "out.gpkg"
    args = {"padding": "0", "test_time_augmentation": "True", "nms_overlap": overlap}
    summary = detect_objects(model, raster, output, args, "cpu", quiet)
    expected = expected_detections(module, data, views, float(overlap))
    assert read_detections(output) == expected
    assert len(expected) == (2 if overlap == "0.1" else 2 * sides)
    assert summary.arguments["test_time_augmentation"] == "True"
    plain = tmp_path / "plain.gpkg"
    detect_objects(model, raster, plain, {"padding": "0", "nms_overlap": overlap}, "cpu", quiet)
    assert read_detections(plain) != expected  # the augmentation changed the answer


def test_equivariant_detector_finds_the_same_objects_with_tta(tmp_path: Path) -> None:
    """Squares on tile seams and corners, several tiles: every view of an object gives the same
    box back, so TTA changes nothing (the core rule and the NMS across tiles still apply)."""
    model = detector_package(tmp_path / "model", make_detector(), 32, 32)
    corners = [(4, 13, 1.0), (29, 3, 1.0), (29, 29, 1.0), (40, 40, 2.0), (50, 2, 2.0)]
    raster = write_raster(tmp_path / "in.tif", squares((60, 60), corners), crs=None)
    args = {"padding": "8", "batch_size": "3"}
    results = []
    for tta in ("False", "True"):
        output = tmp_path / f"tta-{tta}.gpkg"
        summary = detect_objects(
            model, raster, output, {**args, "test_time_augmentation": tta}, "cpu", quiet
        )
        results.append(read_detections(output))
        assert summary.arguments["test_time_augmentation"] == tta
    expected = sorted(
        (col, row, col + SIZE, row + SIZE, 1.0 if v == 1.0 else 5.0, 90.0)
        for row, col, v in corners
    )
    assert results[0] == results[1] == [tuple(float(x) for x in e) for e in expected]


def test_bad_tta_value_is_a_one_line_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dlpk.cli import main

    model = detector_package(tmp_path / "model", make_detector(), 32, 32)
    raster = write_raster(tmp_path / "in.tif", squares((32, 32), [(5, 6, 1.0)]))
    output = tmp_path / "out.gpkg"
    argv = ["detect-objects", "--model", str(model), "--raster", str(raster), "-o", str(output)]
    argv += ["--arg", "test_time_augmentation=maybe", "--device", "cpu"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "dlpk: error: --arg test_time_augmentation=maybe: expected True or False"
    ]
    assert not output.exists()


def make_blob_detector(only_size: int = 0) -> Any:
    """One box per tile: the bounding box of the band-1 pixels >= 0.5 (class 1), scored by the
    input's height / 256, so the box kept tells which scale of the tile found it. With
    `only_size`, inputs of any other height or width are refused, as a model exported for
    one input size refuses them."""

    class BlobDetector(torch.nn.Module):
        def __init__(self, only_size: int) -> None:
            super().__init__()
            self.only_size = only_size

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            n, h, w = x.shape[0], x.shape[2], x.shape[3]
            if self.only_size > 0 and (h != self.only_size or w != self.only_size):
                raise RuntimeError("this model takes 32 x 32 inputs only")
            mask = x[:, 0] >= 0.5
            rows, cols = mask.any(dim=2), mask.any(dim=1)
            row_numbers = torch.arange(h, dtype=torch.float32).expand(n, h)
            col_numbers = torch.arange(w, dtype=torch.float32).expand(n, w)
            far = torch.full_like(row_numbers, 1e9)
            y1 = torch.where(rows, row_numbers, far).min(dim=1).values
            y2 = torch.where(rows, row_numbers, -far).max(dim=1).values + 1
            far = torch.full_like(col_numbers, 1e9)
            x1 = torch.where(cols, col_numbers, far).min(dim=1).values
            x2 = torch.where(cols, col_numbers, -far).max(dim=1).values + 1
            found = rows.any(dim=1)
            boxes = torch.where(found[:, None], torch.stack([x1, y1, x2, y2], dim=1), 0.0)
            scores = torch.where(found, torch.full_like(x1, h / 256.0), 0.0)
            labels = found.to(torch.int64)
            return boxes[:, None], scores[:, None], labels[:, None]

    return BlobDetector(only_size).eval()


@pytest.mark.parametrize(
    ("shape", "scales", "tta", "confidence"),
    [
        ((32, 32), "0.5", "False", 100 * 16 / 256),  # the half-size tile alone
        ((32, 32), "2", "False", 100 * 64 / 256),
        ((32, 32), "0.5,1,2", "False", 100 * 64 / 256),  # every scale found it; 2 scores best
        ((32, 48), "0.5, 2", "True", 100 * 64 / 256),  # with flips, on a non-square tile
    ],
)
def test_tta_scales_map_boxes_back_to_the_tile(
    tmp_path: Path, shape: tuple[int, int], scales: str, tta: str, confidence: float
) -> None:
    """A tile resized by each scale is detected and its boxes divided by the scale: an object
    with even edges is found exactly where it is (bilinear halving and doubling keep its
    edges), with the score of the largest view."""
    model = detector_package(tmp_path / "model", make_blob_detector(), *shape)
    data = np.zeros((1, *shape), dtype=np.float32)
    data[0, 6:14, 10:20] = 1.0
    raster = write_raster(tmp_path / "in.tif", data, crs=None)
    output = tmp_path / "out.gpkg"
    args = {"padding": "0", "threshold": "0.05", "tta_scales": scales}
    summary = detect_objects(
        model, raster, output, {**args, "test_time_augmentation": tta}, "cpu", quiet
    )
    assert read_detections(output) == [(10.0, 6.0, 20.0, 14.0, 1.0, confidence)]
    assert summary.arguments["tta_scales"] == scales.replace(" ", "")
    plain = tmp_path / "plain.gpkg"
    detect_objects(model, raster, plain, {**args, "tta_scales": "1"}, "cpu", quiet)
    assert read_detections(plain) == [(10.0, 6.0, 20.0, 14.0, 1.0, 100 * shape[0] / 256)]


def test_tta_scales_on_a_fixed_size_model_says_what_to_drop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dlpk.cli import main

    model = detector_package(tmp_path / "model", make_blob_detector(only_size=32), 32, 32)
    raster = write_raster(tmp_path / "in.tif", squares((32, 32), [(5, 6, 1.0)]), crs=None)
    output = tmp_path / "out.gpkg"
    argv = ["detect-objects", "--model", str(model), "--raster", str(raster), "-o", str(output)]
    argv += ["--arg", "padding=0", "--arg", "tta_scales=1,0.5", "--device", "cpu"]
    assert main(argv) == 4
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("dlpk: error: the model failed on tiles rescaled by 0.5 (16x16 px): ")
    assert err.endswith("(drop tta_scales: this model takes only its own tile size)")
    assert not output.exists()
    argv[-3] = "tta_scales=1,9"
    assert main(argv) == 2
    assert capsys.readouterr().err.splitlines() == [
        "dlpk: error: --arg tta_scales=9: must be between 0.25 and 4.0"
    ]
