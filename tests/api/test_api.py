"""The public Python API: str paths, typed results, errors as dlpk.errors classes, backends."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import dlpk
from dlpk import errors
from dlpk.cli import main
from tests.conftest import REPO

LANDCOVER = REPO / "examples" / "landcover.dlpk"
SCENE = REPO / "examples" / "scene.tif"
BUILDINGS = REPO / "examples" / "buildings.geojson"
ESRI_DOC = REPO / "examples" / "esri-doc-example.dlpk"


def _modules_after(code: str) -> set[str]:
    """Top-level modules a fresh interpreter holds after running `code`."""
    probe = f"{code}\nimport sys, json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return {name.split(".")[0] for name in json.loads(out.stdout.splitlines()[-1])}


HEAVY = {"rasterio", "pyogrio", "shapely", "pyproj", "torch", "tensorflow", "onnxruntime", "numpy"}


def test_import_dlpk_is_cheap() -> None:
    loaded = _modules_after("import dlpk")
    assert not loaded & (HEAVY | {"pydantic", "rich", "docker"})


def test_lint_imports_no_raster_library_framework_or_live_display() -> None:
    code = f"import dlpk, sys; dlpk.lint({str(ESRI_DOC)!r}); print(sorted(sys.modules))"
    full = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {name.split(".")[0] for name in eval(full.stdout)}
    assert not loaded & HEAVY
    assert "rich.live" not in full.stdout and "rich.progress" not in full.stdout


def test_lint_lists_the_errors_the_cli_shows(capsys: pytest.CaptureFixture[str]) -> None:
    report = dlpk.lint(str(ESRI_DOC))
    assert main(["lint", "--format", "json", str(ESRI_DOC)]) == 1
    shown = json.loads(capsys.readouterr().out)
    cli_codes = sorted(d["code"] for d in shown["diagnostics"] if d["severity"] == "error")
    assert sorted(d.code for d in report.errors) == cli_codes == ["DL202", "DL501", "DL503"]
    assert not report.ok and report.exit_code == 1
    assert json.loads(report.render("json")) == shown
    assert dlpk.lint(ESRI_DOC, ignore=["DL2", "DL5"]).ok


def test_lint_strict_fails_on_warnings_only(tmp_path: Path) -> None:
    assert dlpk.lint(LANDCOVER).ok
    report = dlpk.lint([LANDCOVER], strict=True)
    assert report.ok == (not report.warnings)


def test_classify_pixels_takes_str_paths_and_returns_the_result(tmp_path: Path) -> None:
    output = tmp_path / "classes.tif"
    result = dlpk.classify_pixels(str(LANDCOVER), str(SCENE), str(output))
    assert isinstance(result, dlpk.Result) and result.status == "done"
    assert result.counts["tiles"] > 0 and result.counts["pixels"] > 0
    assert output.is_file()
    [raster] = [o for o in result.outputs if o.path.endswith("/classes.tif")]
    assert raster.size == output.stat().st_size
    # the same job through the CLI (a subprocess) writes the same bytes
    again = tmp_path / "cli.tif"
    assert main(["classify-pixels", "--model", str(LANDCOVER), "--raster", str(SCENE),
                 "-o", str(again), "--device", "cpu"]) == 0  # fmt: skip
    assert again.read_bytes() == output.read_bytes()


def test_local_backend_equals_in_process(tmp_path: Path) -> None:
    here, there = tmp_path / "here.tif", tmp_path / "there.tif"
    arguments = {"padding": 16, "test_time_augmentation": False}
    dlpk.classify_pixels(LANDCOVER, SCENE, here, model_arguments=arguments)
    result = dlpk.classify_pixels(
        LANDCOVER, SCENE, there, model_arguments=arguments, backend=dlpk.Local(device="cpu")
    )
    assert result.parameters["arguments"]["padding"] == "16"
    assert here.read_bytes() == there.read_bytes()


def test_progress_callable_hears_stage_done_total(tmp_path: Path) -> None:
    heard: list[tuple[str, int, int | None]] = []
    dlpk.classify_pixels(LANDCOVER, SCENE, tmp_path / "c.tif", progress=lambda *r: heard.append(r))
    assert heard and all(isinstance(s, str) and isinstance(d, int) for s, d, _ in heard)
    _, done, total = heard[-1]
    assert total is not None and done == total


def test_failures_raise_dlpk_errors_matching_builtins(tmp_path: Path) -> None:
    with pytest.raises(errors.BadInputError, match="raster not found") as caught:
        dlpk.classify_pixels(LANDCOVER, tmp_path / "missing.tif", tmp_path / "out.tif")
    assert isinstance(caught.value, ValueError) and caught.value.exit_code == 3
    existing = tmp_path / "have.tif"
    existing.write_bytes(b"mine")
    with pytest.raises(FileExistsError):
        dlpk.classify_pixels(LANDCOVER, SCENE, existing)
    assert existing.read_bytes() == b"mine"
    with pytest.raises(errors.PackageError, match="does not lint"):
        dlpk.detect_objects(ESRI_DOC, SCENE, tmp_path / "trees.gpkg")
    with pytest.raises(errors.UsageError, match="unknown backend"):
        dlpk.classify_pixels(LANDCOVER, SCENE, tmp_path / "x.tif", backend="cluster")


def test_a_runner_error_is_raised_as_its_own_class_with_user_paths(tmp_path: Path) -> None:
    """A job's error crosses the process boundary as the class the runner raised."""
    bands = tmp_path / "one_band.tif"
    import numpy as np

    from tests.rasters import write_raster

    write_raster(bands, np.zeros((1, 64, 64), dtype=np.uint8))
    with pytest.raises(errors.BadInputError) as caught:
        dlpk.classify_pixels(LANDCOVER, bands, tmp_path / "out.tif", backend="local")
    assert caught.value.exit_code == 3 and caught.value.result.status == "failed"
    assert "/job/" not in str(caught.value) and "dlpk-job-" not in str(caught.value)
    assert not (tmp_path / "out.tif").exists()


def test_export_training_data_defaults_and_alias(tmp_path: Path) -> None:
    result = dlpk.export_training_data(str(SCENE), str(tmp_path / "chips"), labels=str(BUILDINGS))
    assert result.parameters["metadata_format"] == "Classified_Tiles"
    assert result.parameters["tile_size_x"] == 256 and result.parameters["stride_x"] == 128
    assert result.counts["chips"] > 0
    assert (tmp_path / "chips" / "esri_model_definition.emd").is_file()
    assert dlpk.export_chips is dlpk.export_training_data
    with pytest.raises(errors.UsageError, match="tile_size_x"):
        dlpk.export_training_data(SCENE, tmp_path / "bad", tile_size=0)


def test_run_job_runs_a_job_directory(tmp_path: Path) -> None:
    jobdir = tmp_path / "job"
    (jobdir / "in").mkdir(parents=True)
    (jobdir / "in" / "scene.tif").write_bytes(SCENE.read_bytes())
    job = {"apiVersion": "dlpk/v1", "task": "export_chips", "inputs": {"in_raster": "in/scene.tif"},
           "parameters": {"metadata_format": "Export_Tiles", "output_nofeature_tiles": "ALL_TILES",
                          "tile_size_x": 128, "stride_x": 128}}  # fmt: skip
    (jobdir / "job.json").write_text(json.dumps(job))
    result = dlpk.run_job(str(jobdir))
    assert result.status == "done" and result.counts["chips"] == 9
    assert (jobdir / "out" / "result.json").is_file()
    with pytest.raises(errors.InvalidJobError):
        dlpk.run_job(tmp_path / "nothing")


def test_model_arguments_take_python_scalars() -> None:
    from dlpk.api import model_argument_strings

    arguments = {"padding": 32, "threshold": 0.5, "test_time_augmentation": True}
    strings = model_argument_strings(arguments | {"tta_scales": [0.9, 1, 1.1]})
    assert strings == {
        "padding": "32",
        "threshold": "0.5",
        "test_time_augmentation": "True",
        "tta_scales": "0.9,1,1.1",
    }


def test_pack_inspect_fix_normalize(tmp_path: Path) -> None:
    package = dlpk.pack(str(REPO / "examples" / "landcover"), tmp_path / "landcover.dlpk")
    assert package.read_bytes() == LANDCOVER.read_bytes()
    info = dlpk.inspect(package)
    assert (info["framework"], info["configuration"]) == ("ONNX", "PixelClassifier")
    fixed = dlpk.fix(ESRI_DOC, output=tmp_path / "fixed.dlpk", unsafe=True)
    assert {d.code for d in fixed.applied} >= {"DL202", "DL503"}
    assert '"ObjectDetection"' in dlpk.normalize(tmp_path / "fixed.dlpk")


@pytest.mark.usefixtures("docker_ready")
def test_docker_backend_gives_the_same_bytes(tmp_path: Path) -> None:
    here, there = tmp_path / "here.tif", tmp_path / "there.tif"
    dlpk.classify_pixels(LANDCOVER, SCENE, here, device="cpu")
    logged: list[str] = []
    result = dlpk.classify_pixels(
        LANDCOVER, SCENE, there, backend=dlpk.Docker(device="cpu", on_log=logged.append)
    )
    assert result.status == "done" and there.read_bytes() == here.read_bytes()
    assert not list(tmp_path.glob(".there.tif.*"))  # the staging folder is gone
