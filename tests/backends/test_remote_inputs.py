"""Input rasters read where they live, over the network, through GDAL (dlpk/remote.py): a
real HTTP server on loopback, the same bytes out as from the file on disk, one-line errors for
a URL nobody serves and for the Docker backend, whose containers have no network."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import dlpk
from dlpk.cli import main
from dlpk.remote import is_remote, raster_location, shown
from tests.http_files import serving
from tests.inference_models import conv_stack, emd, package, save_onnx, seeded_rgb, write_raster

PIXEL_ARGS = {"tile_size": "64", "padding": "8", "batch_size": "2"}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str, Path]]:
    """A tiled scene on disk, and its URL on a loopback HTTP server."""
    folder = tmp_path / "www"
    folder.mkdir()
    scene = write_raster(folder / "scene.tif", seeded_rgb(150, 130, seed=2))
    with serving(folder) as (base, requests):
        yield scene, f"{base}/scene.tif", requests


@pytest.fixture
def pixel_model(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    save_onnx(conv_stack(3, 3), folder / "model.onnx", 3)
    return package(folder, emd("model.onnx", "ONNX", "PixelClassifier"))


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://host/a b.tif", "/vsicurl?url=https%3A%2F%2Fhost%2Fa%20b.tif"),
        ("/vsicurl/http://host/x.tif", "/vsicurl?url=http%3A%2F%2Fhost%2Fx.tif"),
        ("s3://bucket/key/x.tif", "/vsis3/bucket/key/x.tif"),
        ("gs://bucket/x.tif", "/vsigs/bucket/x.tif"),
        ("/vsis3/bucket/x.tif", "/vsis3/bucket/x.tif"),
        ("data/scene.tif", "data/scene.tif"),
    ],
)
def test_urls_are_kept_as_gdal_paths_that_pathlib_leaves_whole(given: str, kept: str) -> None:
    location = raster_location(given)
    assert str(location) == kept
    assert is_remote(location) == (kept != "data/scene.tif")
    if given.startswith("https"):
        assert shown(location) == given


@pytest.mark.parametrize("backend", [None, "local"], ids=["in-process", "local"])
def test_classify_pixels_from_a_url_writes_the_bytes_of_the_file(
    tmp_path: Path, served: tuple[Path, str, Path], pixel_model: Path, backend: str | None
) -> None:
    scene, url, requests = served
    from_file, from_url = tmp_path / "file" / "out.tif", tmp_path / "url" / "out.tif"
    dlpk.classify_pixels(pixel_model, scene, from_file, model_arguments=PIXEL_ARGS)
    result = dlpk.classify_pixels(
        pixel_model, url, from_url, model_arguments=PIXEL_ARGS, backend=backend
    )
    assert from_url.read_bytes() == from_file.read_bytes()
    assert result.counts["tiles"] > 4
    assert "GET /scene.tif" in requests.read_text()  # read from the server, not the disk


def test_export_chips_from_a_url_on_the_command_line(
    tmp_path: Path, served: tuple[Path, str, Path]
) -> None:
    scene, url, _ = served
    argv = ["export-chips", "--format", "Export_Tiles", "--all-tiles", "--tile-size", "32"]
    assert main([*argv, "--raster", str(scene), "-o", str(tmp_path / "file")]) == 0
    assert main([*argv, "--raster", url, "-o", str(tmp_path / "url")]) == 0
    names = sorted(p.relative_to(tmp_path / "file") for p in (tmp_path / "file").rglob("*"))
    assert sorted(p.relative_to(tmp_path / "url") for p in (tmp_path / "url").rglob("*")) == names
    assert len([name for name in names if name.suffix == ".tif"]) >= 4
    record = json.loads((tmp_path / "url" / ".dlpk-export.json").read_text())
    assert url in json.dumps(record)
    for name in names:  # .dlpk-export.json records where the chips came from
        if (tmp_path / "file" / name).is_file() and name.name != ".dlpk-export.json":
            assert (tmp_path / "url" / name).read_bytes() == (tmp_path / "file" / name).read_bytes()


def test_a_url_nobody_serves_is_one_line_exit_3(
    tmp_path: Path,
    served: tuple[Path, str, Path],
    pixel_model: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, url, _ = served
    missing = url.replace("scene.tif", "missing.tif")
    argv = ["classify-pixels", "--model", str(pixel_model), "--raster", missing]
    assert main([*argv, "-o", str(tmp_path / "out.tif")]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"cannot read raster {missing}" in err[0]
    assert "404" in err[0]
    assert not (tmp_path / "out.tif").exists()


def test_the_docker_backend_refuses_a_url_before_any_container(
    tmp_path: Path,
    served: tuple[Path, str, Path],
    pixel_model: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, url, _ = served
    argv = ["classify-pixels", "--model", str(pixel_model), "--raster", url]
    code = main([*argv, "-o", str(tmp_path / "out.tif"), "--backend", "docker"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert f"{url} is read over the network, which runner containers do not have" in err[0]
    assert list(tmp_path.glob(".out.tif*")) == [] and not (tmp_path / "out.tif").exists()


def test_a_hand_written_job_may_name_a_network_raster_but_no_other_absolute_path() -> None:
    from pydantic import ValidationError

    from dlpk.spec.job import JOB

    base = {"task": "classify_pixels", "model": "model", "outputs": {}}
    inputs = {"in_raster": "/vsis3/bucket/scene.tif"}
    assert JOB.validate_python({**base, "inputs": inputs}).inputs.in_raster == inputs["in_raster"]
    with pytest.raises(ValidationError, match="must be a relative path"):
        JOB.validate_python({**base, "inputs": {"in_raster": "/etc/scene.tif"}})
