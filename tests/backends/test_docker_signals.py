"""SIGTERM to a `dlpk ... --backend docker` mid-job: the container is stopped (the runner in it
unwinds as on Ctrl-C) and removed, the command exits 143, and nothing is left in TMPDIR or
beside the output but classify-pixels' checkpoint, which --resume then finishes.

Like every Docker test these run where the runner images are built, and fail instead of
skipping under DLPK_REQUIRE_DOCKER=1 (tests/conftest.py)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from tests.cli.test_signals import (
    ARGUMENTS,
    FOLDER,
    busy_classifier,
    checkpoint_state,
    leftovers,
    progress_done,
    sleepy_pixels,
    staged,
    start,
    stop,
    wait_for,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def containers_of(tmp: Path) -> list[str]:
    """The dlpk containers, running or not, whose job directory is in `tmp`."""
    from dlpk.runners.backends.images.docker_client import docker_client

    found = docker_client().containers.list(all=True, filters={"label": "dlpk.job"})
    return [c.id for c in found if c.labels.get("dlpk.job", "").startswith(str(tmp))]


@pytest.mark.slow
@pytest.mark.usefixtures("docker_pytorch")  # the function's .emd names Framework PyTorch
def test_sigterm_stops_and_removes_the_container(tmp_path: Path) -> None:
    """A raster function (runs in the container without --trust-code) with no checkpoint: no
    staging folder is left either."""
    model, raster = sleepy_pixels(tmp_path)
    output, tmp = tmp_path / "out" / "ones.tif", tmp_path / "tmp"
    argv = ["classify-pixels", "--model", str(model), "--raster", str(raster), "-o", str(output)]
    process = start([*argv, "--backend", "docker"], tmp)
    wait_for(process, lambda: progress_done(tmp, "infer") >= 3)  # the runner is at work
    assert containers_of(tmp)
    code, err, _ = stop(process, signal.SIGTERM)
    assert code == 128 + signal.SIGTERM, err
    assert err.strip().splitlines()[-1] == "dlpk: stopped by SIGTERM"
    assert "Traceback" not in err
    assert containers_of(tmp) == []
    assert leftovers(tmp) == []
    assert staged(output) == [] and not output.exists()


@pytest.mark.slow
@pytest.mark.usefixtures("docker_ready")
def test_sigterm_keeps_the_checkpoint_and_resume_finishes_it(tmp_path: Path) -> None:
    """The runner in the container records its checkpoint as stopped (no live writer), so a
    --resume right after finishes into the bytes of an uninterrupted run."""
    from tests.inference_models import emd, package, save_onnx, seeded_rgb, write_raster

    folder = tmp_path / "model"
    folder.mkdir()
    save_onnx(busy_classifier(), folder / "model.onnx", 3)
    model = package(folder, emd("model.onnx", "ONNX", "PixelClassifier"))
    # onnxruntime is quick: 1764 tiles, so the run is still going at its first record (2 s)
    raster = write_raster(tmp_path / "scene.tif", seeded_rgb(2000, 2000, seed=3))
    argv = ["classify-pixels", "--model", str(model), "--raster", str(raster), *ARGUMENTS]
    tmp = tmp_path / "tmp"
    reference = tmp_path / "reference.tif"
    assert start([*argv, "-o", str(reference)], tmp).wait() == 0
    output = tmp_path / "out" / "classes.tif"
    process = start([*argv, "-o", str(output), "--backend", "docker"], tmp)
    wait_for(process, lambda: len((checkpoint_state(output) or {}).get("done", [])) >= 2)
    code, err, _ = stop(process, signal.SIGTERM)
    assert code == 128 + signal.SIGTERM, err
    assert containers_of(tmp) == [] and leftovers(tmp) == []
    [kept] = staged(output)
    assert [p.name for p in kept.iterdir()] == [FOLDER]
    state = checkpoint_state(output)
    assert state is not None and state["pid"] is None
    resumed = start([*argv, "-o", str(output), "--backend", "docker", "--resume"], tmp)
    _, err = resumed.communicate()
    assert resumed.returncode == 0, err
    assert output.read_bytes() == reference.read_bytes()
    assert staged(output) == [] and leftovers(tmp) == []
