"""A job run in shares, step by step, without a cluster: the step directories the Ray backend
makes (views.py), each step run by the entrypoint as a worker runs it, and the assembled
output compared byte for byte with a whole run's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dlpk.runners.backends.launch import PreparedJob
from dlpk.runners.backends.ray.views import Views
from dlpk.runners.entrypoint import run_job
from dlpk.spec.job import Result
from tests.inference_models import (
    TRANSFORM,
    conv_stack,
    emd,
    make_detector,
    save_onnx,
    seeded_rgb,
    write_raster,
)
from tests.rasters import pixel_box, write_features
from tests.rasters import write_raster as write_scene

RECORDS = ("result.json", "log.txt", "progress.jsonl")


def hand_written_job(root: Path, task: str, inputs: dict[str, str], **more: Any) -> Path:
    """A job directory written by hand: its inputs in in/, its model (if any) in model/."""
    jobdir = root / "job"
    jobdir.mkdir()
    (jobdir / "job.json").write_text(json.dumps({"task": task, "inputs": inputs, **more}))
    return jobdir


def whole(root: Path, jobdir: Path) -> Path:
    """A copy of the job run whole (links to the same inputs); its out/ folder."""
    copy = root / "whole"
    copy.mkdir()
    for entry in jobdir.iterdir():
        if entry.name != "out":
            (copy / entry.name).symlink_to(entry.resolve())
    assert run_job(copy, launched=True) == 0, (copy / "out" / "log.txt").read_text()
    return copy / "out"


def in_shares(jobdir: Path, count: int) -> tuple[Result, Result]:
    """Plan, `count` shares and assemble, in the step directories the backend makes; the
    plan's result and the job's."""
    (jobdir / "out").mkdir(exist_ok=True)
    views = Views(PreparedJob(jobdir, {}, owned=False), jobdir / ".dlpk-ray-1-test")
    plan_dir = views.make("plan", {"step": "plan"})
    assert run_job(plan_dir, launched=True) == 0, (plan_dir / "out" / "log.txt").read_text()
    for index in range(count):
        share = views.make(f"shares/{index}", {"step": "share", "count": count, "index": index})
        assert run_job(share, launched=True) == 0, (share / "out" / "log.txt").read_text()
    assemble = views.make("assemble", {"step": "assemble", "count": count}, main_out=True)
    (assemble / "shares").symlink_to(views.work / "shares")
    code = run_job(assemble, launched=True)
    assert code == 0, (jobdir / "out" / "log.txt").read_text()
    return read(plan_dir / "out"), read(jobdir / "out")


def read(out: Path) -> Result:
    return Result.model_validate_json((out / "result.json").read_text())


def same_outputs(left: Path, right: Path) -> list[str]:
    """The two out/ folders hold the same files (but the job records), byte for byte."""

    def files(folder: Path) -> list[Path]:
        found = [p.relative_to(folder) for p in folder.rglob("*") if p.is_file()]
        return sorted(p for p in found if p.name not in RECORDS)

    names = files(left)
    assert names == files(right)
    for name in names:
        assert (left / name).read_bytes() == (right / name).read_bytes(), name
    return [str(name) for name in names]


@pytest.fixture
def pixel_job(tmp_path: Path) -> Path:
    jobdir = hand_written_job(
        tmp_path,
        "classify_pixels",
        {"in_raster": "in/scene.tif"},
        model="model",
        parameters={"arguments": {"tile_size": "32", "padding": "6", "batch_size": "3"}},
    )
    (jobdir / "model").mkdir()
    (jobdir / "in").mkdir()
    save_onnx(conv_stack(3, 3), jobdir / "model" / "model.onnx", 3)
    (jobdir / "model" / "model.emd").write_text(
        json.dumps(emd("model.onnx", "ONNX", "PixelClassifier"))
    )
    write_raster(jobdir / "in" / "scene.tif", seeded_rgb(95, 130, seed=2), nodata=None)
    return jobdir


@pytest.mark.parametrize("count", [1, 2, 3, 40])
def test_classify_pixels_in_shares_equals_a_whole_run(
    tmp_path: Path, pixel_job: Path, count: int
) -> None:
    expected = whole(tmp_path, pixel_job)
    plan, result = in_shares(pixel_job, count)
    tiles = plan.counts["tiles"]
    assert plan.counts["plan_units"] == -(-tiles // 3)  # batches of 3
    assert count <= 3 or count > plan.counts["plan_units"]  # 40: most shares run nothing
    assert same_outputs(expected, pixel_job / "out") == [
        "classified.tif",
        "classified.tif.aux.xml",
    ]
    whole_result = read(expected)
    assert result.counts == whole_result.counts and result.warnings == whole_result.warnings
    assert [o.sha256 for o in result.outputs] == [o.sha256 for o in whole_result.outputs]


def test_classify_pixels_with_an_extent(tmp_path: Path, pixel_job: Path) -> None:
    job = json.loads((pixel_job / "job.json").read_text())
    x0, y0 = TRANSFORM @ (17, 80)  # part of the raster: tiles outside it do not run
    x1, y1 = TRANSFORM @ (101, 9)
    job["parameters"]["extent"] = [x0, y0, x1, y1]
    (pixel_job / "job.json").write_text(json.dumps(job))
    expected = whole(tmp_path, pixel_job)
    _, result = in_shares(pixel_job, 2)
    same_outputs(expected, pixel_job / "out")
    assert result.counts == read(expected).counts
    assert 0 < result.counts["nodata_pixels"] < result.counts["pixels"]


def test_detect_objects_in_shares_equals_a_whole_run(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    jobdir = hand_written_job(
        tmp_path,
        "detect_objects",
        {"in_raster": "in/scene.tif"},
        model="model",
        parameters={"arguments": {"padding": "8", "batch_size": "4", "nms_overlap": "0.1"}},
    )
    (jobdir / "model").mkdir()
    (jobdir / "in").mkdir()
    torch.jit.script(make_detector()).save(str(jobdir / "model" / "model.pt"))
    document = emd("model.pt", "TorchScript", "ObjectDetector", ExtractBands=[0], ImageHeight=32)
    (jobdir / "model" / "model.emd").write_text(json.dumps({**document, "ImageWidth": 32}))
    rng = np.random.default_rng(1)
    data = np.zeros((1, 150, 140), np.float32)
    for _ in range(40):
        row, col = rng.integers(0, 144), rng.integers(0, 134)
        data[0, row : row + 6, col : col + 6] = rng.integers(1, 3)
    write_raster(jobdir / "in" / "scene.tif", data)
    expected = whole(tmp_path, jobdir)
    _, result = in_shares(jobdir, 3)
    assert same_outputs(expected, jobdir / "out") == ["detections.gpkg"]
    assert result.counts == read(expected).counts and result.counts["detections"] > 20


@pytest.fixture
def export_job(tmp_path: Path) -> Path:
    jobdir = hand_written_job(
        tmp_path,
        "export_chips",
        {"in_raster": "in/scene.tif", "in_class_data": "in/labels.gpkg"},
        parameters={"tile_size_x": 64, "stride_x": 32, "workers": 2},
    )
    (jobdir / "in").mkdir()
    rng = np.random.default_rng(3)
    write_scene(jobdir / "in" / "scene.tif", rng.integers(0, 256, (3, 220, 250), np.uint8))
    boxes = [pixel_box(*rng.uniform(0, 230, 2), *rng.uniform(5, 20, 2)) for _ in range(40)]
    write_features(jobdir / "in" / "labels.gpkg", boxes, rng.integers(1, 4, 40).tolist())
    return jobdir


@pytest.mark.parametrize(
    "parameters",
    [
        {"metadata_format": "PASCAL_VOC_rectangles"},
        {"metadata_format": "Classified_Tiles", "image_chip_format": "PNG"},
        {"metadata_format": "RCNN_Masks"},
        {"metadata_format": "Export_Tiles", "output_nofeature_tiles": "ALL_TILES"},
    ],
    ids=lambda p: p["metadata_format"],
)
def test_export_chips_in_shares_equals_a_whole_export(
    tmp_path: Path, export_job: Path, parameters: dict[str, str]
) -> None:
    job = json.loads((export_job / "job.json").read_text())
    job["parameters"].update(parameters)
    (export_job / "job.json").write_text(json.dumps(job))
    expected = whole(tmp_path, export_job)
    plan, result = in_shares(export_job, 3)
    names = same_outputs(expected, export_job / "out")
    assert "chips/map.txt" in names and "chips/esri_accumulated_stats.json" in names
    whole_result = read(expected)
    assert result.counts == whole_result.counts and plan.counts["chips"] > 20
    assert [o.path for o in result.outputs] == [o.path for o in whole_result.outputs]


def test_the_plan_step_refuses_a_used_output_folder(export_job: Path) -> None:
    (export_job / "out" / "chips").mkdir(parents=True)
    (export_job / "out" / "chips" / "mine.txt").write_text("the user's")
    views = Views(PreparedJob(export_job, {}, owned=False), export_job / ".dlpk-ray-1-test")
    plan_dir = views.make("plan", {"step": "plan"})
    assert run_job(plan_dir, launched=True) == 3  # before any share ran
    assert "exists and is not empty" in (read(plan_dir / "out").error or _no_error()).message
    assert (export_job / "out" / "chips" / "mine.txt").read_text() == "the user's"


def test_assembling_needs_every_share(tmp_path: Path, pixel_job: Path) -> None:
    views = Views(PreparedJob(pixel_job, {}, owned=False), pixel_job / ".dlpk-ray-1-test")
    share = views.make("shares/0", {"step": "share", "count": 2, "index": 0})
    assert run_job(share, launched=True) == 0
    (pixel_job / "out").mkdir()
    assemble = views.make("assemble", {"step": "assemble", "count": 2}, main_out=True)
    (assemble / "shares").symlink_to(views.work / "shares")
    assert run_job(assemble, launched=True) == 2
    error = read(pixel_job / "out").error or _no_error()
    assert error.type == "InvalidJobError" and "share 1 of 2 has no result" in error.message
    assert not (pixel_job / "out" / "classified.tif").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"processing_mode": "PROCESS_ITEMS_SEPARATELY"}, "PROCESS_ITEMS_SEPARATELY"),
        ({"task": "classify_objects"}, "without features (each image one object) does not run"),
    ],
)
def test_what_does_not_run_in_shares_is_refused_by_the_plan(
    pixel_job: Path, change: dict[str, str], message: str
) -> None:
    job = json.loads((pixel_job / "job.json").read_text())
    if "task" in change:
        job["task"] = change["task"]
    else:
        job["parameters"].update(change)
        job["outputs"] = {"out_classified_folder": "out/each"}
    (pixel_job / "job.json").write_text(json.dumps(job))
    views = Views(PreparedJob(pixel_job, {}, owned=False), pixel_job / ".dlpk-ray-1-test")
    plan_dir = views.make("plan", {"step": "plan"})
    assert run_job(plan_dir, launched=True) == 2
    error = read(plan_dir / "out").error or _no_error()
    assert message in error.message and "--backend local" in error.message


def _no_error() -> Any:
    raise AssertionError("the result holds no error")


def test_an_export_whose_driver_died_resumes_from_the_chips_written(
    tmp_path: Path, export_job: Path
) -> None:
    expected = whole(tmp_path, export_job)
    (export_job / "out").mkdir()
    views = Views(PreparedJob(export_job, {}, owned=False), export_job / ".dlpk-ray-1-dead")
    assert run_job(views.make("plan", {"step": "plan"}), launched=True) == 0
    for index in range(2):  # the shares ran; the driver died before assembling
        share = views.make(f"shares/{index}", {"step": "share", "count": 2, "index": index})
        assert run_job(share, launched=True) == 0
    assert not (export_job / "out" / "chips" / "map.txt").exists()  # nothing looks finished
    job = json.loads((export_job / "job.json").read_text())
    job["parameters"]["resume"] = True
    (export_job / "job.json").write_text(json.dumps(job))
    _, result = in_shares(export_job, 3)  # another cut of the plan: the chips are the same
    same_outputs(expected, export_job / "out")
    assert result.counts["chips_reused"] == result.counts["chips"] > 20
    assert result.counts["chips_written"] == 0
