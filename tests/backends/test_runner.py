"""The job entrypoint and the local backend: result.json, progress.jsonl, exit codes."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from dlpk.runners.backends.local import run_local
from dlpk.spec.job import Result
from dlpk.spec.publish import schema_path
from tests.rasters import pixel_box, write_features


def make_job(tmp_path: Path, raster: Path, labels: Path, **parameters: object) -> Path:
    job = tmp_path / "job"
    (job / "in").mkdir(parents=True)
    shutil.copy(raster, job / "in" / "scene.tif")
    shutil.copy(labels, job / "in" / "buildings.gpkg")
    doc = {
        "apiVersion": "dlpk/v1",
        "task": "export_chips",
        "inputs": {"in_raster": "in/scene.tif", "in_class_data": "in/buildings.gpkg"},
        "parameters": {"tile_size_x": 64, "stride_x": 64, "workers": 1, **parameters},
        "outputs": {"out_folder": "out/chips"},
    }
    (job / "job.json").write_text(json.dumps(doc))
    return job


def load_result(job: Path) -> Result:
    raw = json.loads((job / "out" / "result.json").read_text())
    jsonschema.validate(raw, json.loads(schema_path("result").read_text()))
    return Result.model_validate(raw)


def test_local_backend_runs_a_job(tmp_path: Path, rgb_raster: Path, labels_gpkg: Path) -> None:
    job = make_job(tmp_path, rgb_raster, labels_gpkg)
    records: list[tuple[str, int, int | None]] = []
    assert run_local(job, lambda *record: records.append(record), poll=0.05) == 0
    result = load_result(job)
    assert result.status == "done" and result.exit_code == 0 and result.error is None
    assert result.parameters["tile_size_y"] == 64 and result.parameters["stride_y"] == 64
    assert result.counts["chips"] > 0 and "rasterio" in result.software
    paths = {o.path for o in result.outputs}
    assert "out/chips/map.txt" in paths and "out/chips/images/000000000.tif" in paths
    for o in result.outputs:
        data = (job / o.path).read_bytes()
        assert len(data) == o.size and hashlib.sha256(data).hexdigest() == o.sha256
    on_disk = {str(p.relative_to(job)) for p in (job / "out" / "chips").rglob("*") if p.is_file()}
    assert paths == on_disk - {"out/chips/.dlpk-export.json"}
    assert records and records[-1][0] == "chips"
    assert records[-1][1] == records[-1][2] == result.counts["chips"]
    assert (job / "out" / "log.txt").read_text().strip()


def test_invalid_job_exits_2_with_a_failed_result(
    tmp_path: Path, rgb_raster: Path, labels_gpkg: Path
) -> None:
    job = make_job(tmp_path, rgb_raster, labels_gpkg, tile_size_x=-1)
    assert run_local(job) == 2
    result = load_result(job)
    assert result.status == "failed" and result.error is not None
    assert "tile_size_x" in result.error.message


def test_bad_input_job_exits_3(tmp_path: Path, rgb_raster: Path, labels_gpkg: Path) -> None:
    job = make_job(tmp_path, rgb_raster, labels_gpkg, class_value_field="missing")
    assert run_local(job) == 3
    result = load_result(job)
    assert result.error is not None and result.error.type == "BadInputError"
    assert "class field 'missing' not found" in result.error.message


def test_unknown_task_exits_2(tmp_path: Path) -> None:
    job = tmp_path / "job"
    job.mkdir()
    (job / "job.json").write_text('{"task": "train", "inputs": {}}')
    assert run_local(job) == 2
    assert load_result(job).error is not None


def test_hand_written_inference_job_runs(tmp_path: Path) -> None:
    """A job.json written by hand (model folder and inputs inside the job) runs with `dlpk run`."""
    from dlpk.cli import main
    from tests.inference_models import conv_stack, emd, save_torchscript, seeded_rgb, write_raster

    jobdir = tmp_path / "job"
    (jobdir / "model").mkdir(parents=True)
    (jobdir / "in").mkdir()
    save_torchscript(conv_stack(3, 3), jobdir / "model" / "model.pt")
    document = emd("model.pt", "TorchScript", "PixelClassifier")
    (jobdir / "model" / "model.emd").write_text(json.dumps(document))
    write_raster(jobdir / "in" / "scene.tif", seeded_rgb(40, 50))
    job = {
        "apiVersion": "dlpk/v1",
        "task": "classify_pixels",
        "model": "model",
        "inputs": {"in_raster": "in/scene.tif"},
        "parameters": {"arguments": {"padding": "4"}, "device": "cpu"},
    }
    (jobdir / "job.json").write_text(json.dumps(job))
    assert main(["run", str(jobdir)]) == 0
    result = json.loads((jobdir / "out" / "result.json").read_text())
    assert result["status"] == "done" and result["task"] == "classify_pixels"
    paths = {o["path"] for o in result["outputs"]}
    assert "out/classified.tif" in paths
    assert (jobdir / "out" / "classified.tif").stat().st_size > 0
    shutil.rmtree(jobdir / "out")
    job["parameters"]["arguments"] = {"padding": "40"}  # leaves no tile core: a usage error
    (jobdir / "job.json").write_text(json.dumps(job))
    assert main(["run", str(jobdir)]) == 2
    assert json.loads((jobdir / "out" / "result.json").read_text())["status"] == "failed"


def test_job_with_second_raster_and_mask(
    tmp_path: Path, rgb_raster: Path, labels_gpkg: Path
) -> None:
    """in_raster2 and in_mask_polygons are job inputs like the others, relative to the job."""
    job = make_job(tmp_path, rgb_raster, labels_gpkg, metadata_format="Classified_Tiles")
    shutil.copy(rgb_raster, job / "in" / "after.tif")
    mask = write_features(job / "in" / "mask.gpkg", [pixel_box(0, 0, 128, 128)], None)
    doc = json.loads((job / "job.json").read_text())
    doc["inputs"] |= {"in_raster2": "in/after.tif", "in_mask_polygons": "in/mask.gpkg"}
    (job / "job.json").write_text(json.dumps(doc))
    assert mask.exists() and run_local(job, poll=0.05) == 0
    result = load_result(job)
    images2 = {o.path for o in result.outputs if o.path.startswith("out/chips/images2/")}
    images = {o.path for o in result.outputs if o.path.startswith("out/chips/images/")}
    assert images2 and {p.replace("images2/", "images/") for p in images2} == images
    assert result.counts["chips"] <= 4  # 64 px chips completely inside a 128 px square


def test_an_internal_error_names_a_log_that_exists(
    tmp_path: Path,
    rgb_raster: Path,
    labels_gpkg: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`python -m dlpk.runners JOBDIR` run by hand: the message points at the job's log, by a
    path that holds, whatever the working folder."""
    from dlpk.runners import entrypoint

    def broken(*args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setitem(entrypoint.TASKS, "export_chips", broken)
    monkeypatch.delenv("DLPK_LAUNCHED", raising=False)
    job = make_job(tmp_path, rgb_raster, labels_gpkg)
    monkeypatch.chdir(tmp_path)
    assert entrypoint.main(["job"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("dlpk: internal error: RuntimeError('a bug') (see ")
    log = Path(err.removesuffix(")").rsplit("(see ", 1)[1])
    assert log.is_absolute() and log == job / "out" / "log.txt"
    assert "RuntimeError: a bug" in log.read_text()  # the traceback is there


def test_a_stopped_job_leaves_no_log_handler_behind(
    tmp_path: Path, rgb_raster: Path, labels_gpkg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C (or SIGTERM) in a job run in this process: the next job's log is its own."""
    import logging

    from dlpk.runners import entrypoint

    def stopped(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setitem(entrypoint.TASKS, "export_chips", stopped)
    job = make_job(tmp_path, rgb_raster, labels_gpkg)
    handlers = list(logging.getLogger("dlpk.runners").handlers)
    with pytest.raises(KeyboardInterrupt):
        entrypoint.run_job(job, launched=True)
    assert logging.getLogger("dlpk.runners").handlers == handlers
    assert not (job / "out" / "result.json").exists()  # nothing looks finished
    assert "stopped before the job ended" in (job / "out" / "log.txt").read_text()
