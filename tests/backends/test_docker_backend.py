"""The Docker backend: the exact container request, and real runs equal to the local backend."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from dlpk.cli import main
from dlpk.errors import DlpkError, DockerUnavailableError
from dlpk.runners.backends import docker as docker_backend
from dlpk.runners.backends.docker import (
    ContainerError,
    DockerOptions,
    container_config,
    device_requests,
)
from dlpk.runners.backends.images.catalog import image_tag
from dlpk.runners.backends.launch import JobBuilder
from tests.export.test_export_folder import scene, split_into_tiles


def test_cpu_sends_no_device_request() -> None:
    assert device_requests("cpu", None, {"nvidia", "runc"}) == []


def test_gpu_requests_all_gpus_like_docker_run_gpus_all() -> None:
    assert device_requests("gpu", None, {"nvidia", "runc"}) == [
        {"Driver": "", "Capabilities": [["gpu"]], "Count": -1}
    ]


def test_gpu_ids_are_passed_through() -> None:
    assert device_requests("gpu", "0, 1", {"nvidia"}) == [
        {"Driver": "", "Capabilities": [["gpu"]], "DeviceIDs": ["0", "1"], "Count": 0}
    ]


def test_gpu_without_nvidia_runtime_names_the_toolkit() -> None:
    with pytest.raises(ContainerError) as caught:
        device_requests("gpu", None, {"runc"})
    assert "nvidia-container-toolkit" in str(caught.value)


def test_auto_falls_back_to_cpu_without_nvidia_runtime() -> None:
    assert device_requests("auto", None, {"runc"}) == []
    assert device_requests("auto", None, {"nvidia"})[0]["Count"] == -1


def _prepared(tmp_path: Path) -> Any:
    raster = tmp_path / "data" / "scene.tif"
    raster.parent.mkdir()
    raster.write_bytes(b"x")
    builder = JobBuilder("export_chips")
    builder.add_input("in_raster", raster)
    builder.add_output_folder("out_folder", tmp_path / "chips", "out/chips")
    return builder.write()


def test_containers_have_a_memory_limit_by_default(tmp_path: Path) -> None:
    import os

    config = container_config(_prepared(tmp_path), DockerOptions(image="img"), [])
    machine = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert config["HostConfig"]["Memory"] == machine * 3 // 4
    assert config["HostConfig"]["MemorySwap"] == config["HostConfig"]["Memory"]


@pytest.mark.parametrize("size", ["abc", "8x", "", "1k", "-5g"])
def test_a_bad_memory_size_is_a_usage_error(size: str) -> None:
    import dlpk
    from dlpk.errors import UsageError

    with pytest.raises(UsageError, match="--memory"):
        dlpk.Docker(memory=size)


def test_bad_memory_on_the_command_line_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", str(tmp_path), "--backend", "docker", "--memory", "abc"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == "dlpk: error: --memory 'abc' is not a size of at least 6m (e.g. --memory 8g)"


def test_container_is_hardened(tmp_path: Path) -> None:
    prepared = _prepared(tmp_path)
    options = DockerOptions(image="img", memory="2g", cpus=1.5, user="1000:1000")
    config = container_config(prepared, options, [])
    host = config["HostConfig"]
    assert config["User"] == "1000:1000" and config["NetworkDisabled"] is True
    assert host["NetworkMode"] == "none" and host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"] and host["SecurityOpt"] == ["no-new-privileges"]
    assert "/tmp" in host["Tmpfs"]
    assert host["Memory"] == 2 * 1024**3 and host["NanoCpus"] == 1_500_000_000
    mounts = {m["Target"]: (m["Source"], m["ReadOnly"]) for m in host["Mounts"]}
    assert mounts["/job"] == (str(prepared.jobdir), True)
    assert mounts["/job/out"] == (str(prepared.jobdir / "out"), False)
    assert mounts["/job/in/0"] == (str((tmp_path / "data").resolve()), True)
    assert mounts["/job/out/chips"] == (str((tmp_path / "chips").resolve()), False)
    assert "DeviceRequests" not in host
    prepared.cleanup(False)
    assert not prepared.jobdir.exists() and not (tmp_path / "chips").exists()


class FakeClient:
    """Records what would be sent to the Docker API; the daemon here has the NVIDIA runtime."""

    def __init__(self) -> None:
        self.created: dict[str, Any] = {}
        self.removed = False
        self.images = self
        self.api = self
        self.labels: dict[str, str] = {"dlpk.framework": "onnx"}

    def get(self, tag: str) -> FakeClient:
        return self

    def info(self) -> dict[str, Any]:
        return {"Runtimes": {"nvidia": {}, "runc": {}}}

    def create_container(self, **kwargs: Any) -> dict[str, str]:
        self.created = kwargs
        return {"Id": "abc"}

    def start(self, container_id: str) -> None:
        return None

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        return {"State": {"Running": False, "ExitCode": 0, "OOMKilled": False}}

    def remove_container(self, container_id: str, force: bool) -> None:
        self.removed = force


def test_device_gpu_sends_the_device_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeClient()
    monkeypatch.setattr(docker_backend, "docker_client", lambda: fake)
    prepared = _prepared(tmp_path)
    options = DockerOptions(image=image_tag("onnx", "gpu"), device="gpu", gpus="1")
    assert docker_backend.run_docker(prepared, options, "ONNX") == 0
    host = fake.created["host_config"]
    assert host["DeviceRequests"] == [
        {"Driver": "", "Capabilities": [["gpu"]], "DeviceIDs": ["1"], "Count": 0}
    ]
    assert fake.created["image"] == "dlpk-runner-onnx:" + image_tag("onnx", "gpu").split(":")[1]
    assert fake.removed


def test_image_lacking_the_framework_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeClient()
    monkeypatch.setattr(docker_backend, "docker_client", lambda: fake)
    with pytest.raises(ContainerError, match="cannot run TensorFlow"):
        docker_backend.run_docker(_prepared(tmp_path), DockerOptions(image="x"), "TensorFlow")


def test_daemon_not_running_suggests_local(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    status = main(["images", "list"])
    err = capsys.readouterr().err
    assert status == DockerUnavailableError.exit_code
    assert "not running" in err and "--backend local" in err


# -- real containers ------------------------------------------------------------------------------


def _tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.usefixtures("docker_ready")
@pytest.mark.parametrize(
    ("metadata_format", "source"),
    [
        ("Classified_Tiles", "raster"),
        ("PASCAL_VOC_rectangles", "raster"),
        ("Classified_Tiles", "folder"),  # mounted read-only; its VRT mosaic goes to scratch
    ],
)
def test_export_chips_in_docker_equals_local(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    rgb_raster: Path,
    labels_gpkg: Path,
    metadata_format: str,
    source: str,
) -> None:
    raster = rgb_raster if source == "raster" else split_into_tiles(tmp_path / "tiles", scene())
    common = [
        "export-chips", "--raster", str(raster), "--labels", str(labels_gpkg),
        "--format", metadata_format, "--tile-size", "64", "--stride", "64", "--workers", "1",
    ]  # fmt: skip
    local, container = tmp_path / "local", tmp_path / "docker"
    assert main([*common, "-o", str(local)]) == 0
    assert main([*common, "-o", str(container), "--backend", "docker"]) == 0, (
        capsys.readouterr().err
    )
    files = _tree(local)
    assert len(files) > 4
    assert _tree(container) == files
    # written by a non-root container user (for a root caller), given back to the caller
    owners = {(p.stat().st_uid, p.stat().st_gid) for p in [container, *container.rglob("*")]}
    assert owners == {(os.getuid(), os.getgid())}


@pytest.mark.usefixtures("docker_ready")
def test_bad_input_in_docker_is_reported_with_user_paths(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, labels_gpkg: Path
) -> None:
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"not a raster")
    out = tmp_path / "o"
    status = main(
        ["export-chips", "--raster", str(bad), "--labels", str(labels_gpkg), "--tile-size", "64",
         "-o", str(out), "--backend", "docker"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert status == 3
    assert f"dlpk: error: cannot read raster {bad}" in err.replace("'", "")
    assert "/job/" not in err
    assert not out.exists()


@pytest.mark.usefixtures("docker_ready")
def test_missing_image_prints_the_build_command(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rgb_raster: Path
) -> None:
    status = main(
        ["export-chips", "--raster", str(rgb_raster), "--format", "Export_Tiles", "--all-tiles",
         "-o", str(tmp_path / "o"), "--backend", "docker", "--image", "dlpk-runner-onnx:0.0.0-cpu"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert status == 2
    assert "dlpk images build --framework onnx" in err


@pytest.mark.usefixtures("docker_ready")
def test_memory_kill_is_reported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rgb_raster: Path
) -> None:
    status = main(
        ["export-chips", "--raster", str(rgb_raster), "--format", "Export_Tiles", "--all-tiles",
         "-o", str(tmp_path / "o"), "--backend", "docker", "--memory", "24m"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert status != 0
    assert "memory" in err


@pytest.mark.slow
@pytest.mark.usefixtures("docker_ready")
def test_timeout_stops_the_container(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Wall-clock --timeout, container start-up included: the job is stopped and removed, and
    nothing looks finished (whether any chip was cut by then depends on the machine's load)."""
    import numpy as np

    from tests.rasters import write_raster

    big = write_raster(tmp_path / "big.tif", np.zeros((3, 3072, 3072), dtype=np.uint8))
    out = tmp_path / "o"
    argv = ["export-chips", "--raster", str(big), "--format", "Export_Tiles", "--all-tiles",
            "--tile-size", "32", "--stride", "32", "--workers", "1", "-o", str(out)]  # fmt: skip
    status = main([*argv, "--backend", "docker", "--timeout", "1.5"])
    err = capsys.readouterr().err
    assert status == DlpkError.exit_code and "--timeout 1.5 s; stopped" in err
    assert not (out / "map.txt").exists()  # root files come last: the export does not look done
    from dlpk.runners.backends.images.docker_client import docker_client

    assert not docker_client().containers.list(all=True, filters={"label": "dlpk.job"})


@pytest.mark.slow
@pytest.mark.usefixtures("docker_ready")
def test_a_container_stopped_mid_export_leaves_only_whole_chips_and_resume_finishes(
    tmp_path: Path,
) -> None:
    """Stopped once 200 chips are reported done (an event, not a clock, so it is deterministic):
    every chip under its final name is complete, and --resume finishes the export."""
    import numpy as np
    import rasterio

    import dlpk
    from tests.rasters import write_raster

    big = write_raster(tmp_path / "big.tif", np.zeros((3, 3072, 3072), dtype=np.uint8))
    out = tmp_path / "o"
    options = {"metadata_format": "Export_Tiles", "output_nofeature_tiles": "ALL_TILES",
               "tile_size": 32, "stride": 32, "workers": 1}  # fmt: skip

    def interrupt(stage: str, done: int, total: int | None) -> None:
        if stage == "chips" and done >= 200:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        dlpk.export_training_data(big, out, backend=dlpk.Docker(), progress=interrupt, **options)
    assert not (out / "map.txt").exists()
    finished = sorted((out / "images").glob("*.tif"))
    assert 200 <= len(finished) < 96 * 96
    for chip in finished:  # every chip under its final name is complete
        with rasterio.open(chip) as dataset:
            assert dataset.read().shape == (3, 32, 32)
    result = dlpk.export_training_data(big, out, resume=True, **options)
    assert result.counts["chips"] == 96 * 96
    assert len(list((out / "images").glob("*.tif"))) == 96 * 96
    assert not list(out.rglob("*.part"))


def _same_bytes(first: Path, second: Path) -> None:
    """Two outputs of one job: every file of the output (sidecars included) byte-identical."""
    mine = sorted(first.parent.glob(f"{first.stem}.*"))
    theirs = sorted(second.parent.glob(f"{second.stem}.*"))
    assert [p.name for p in mine] == [p.name for p in theirs] and mine
    for a, b in zip(mine, theirs, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


@pytest.mark.usefixtures("docker_ready")
@pytest.mark.parametrize("source", ["raster", "folder", "each"])  # folder: a VRT in /tmp
def test_classify_pixels_in_docker_equals_local(tmp_path: Path, source: str) -> None:
    from tests.inference.test_inference_folder import cut
    from tests.inference_models import conv_stack, emd, package, save_onnx, seeded_rgb, write_raster

    folder = tmp_path / "pixels"
    folder.mkdir()
    save_onnx(conv_stack(3, 3), folder / "model.onnx", 3)
    model = package(folder, emd("model.onnx", "ONNX", "PixelClassifier", ModelPadding=4))
    data = seeded_rgb(80, 70)
    raster = (
        write_raster(tmp_path / "scene.tif", data)
        if source == "raster"
        else cut(data, tmp_path / "tiles")
    )  # each image of the cut scene on its own: 4 outputs
    argv = ["classify-pixels", "--model", str(model), "--raster", str(raster)]
    if source == "each":  # one GeoTIFF per image, in an output folder
        argv += ["--processing-mode", "PROCESS_ITEMS_SEPARATELY"]
        assert main([*argv, "-o", str(tmp_path / "local" / "classes")]) == 0
        assert main([*argv, "-o", str(tmp_path / "docker" / "classes"), "--backend", "docker"]) == 0
        files = _tree(tmp_path / "local" / "classes")
        assert len([name for name in files if name.endswith(".tif")]) == 4
        assert _tree(tmp_path / "docker" / "classes") == files
        return
    assert main([*argv, "-o", str(tmp_path / "local" / "classes.tif")]) == 0
    docker_out = tmp_path / "docker" / "classes.tif"
    assert main([*argv, "-o", str(docker_out), "--backend", "docker"]) == 0
    _same_bytes(tmp_path / "local" / "classes.tif", docker_out)
    assert not list((tmp_path / "docker").glob(".*"))  # no staging folder left behind


@pytest.mark.usefixtures("docker_pytorch")
@pytest.mark.parametrize("suffix", [".gpkg", ".geojson"])
def test_detect_objects_in_docker_equals_local(tmp_path: Path, suffix: str) -> None:
    import numpy as np
    import torch

    from tests.inference_models import make_detector, write_raster

    folder = tmp_path / "detector"
    folder.mkdir()
    torch.jit.script(make_detector()).save(str(folder / "model.pt"))
    from tests.inference_models import emd, package

    document = emd("model.pt", "TorchScript", "ObjectDetector", ExtractBands=[0], ModelPadding=8)
    model = package(folder, document)
    data = np.zeros((1, 90, 90), dtype=np.float32)
    data[0, 20:26, 20:26] = 1
    data[0, 21:27, 37:43] = 2  # across a tile seam
    raster = write_raster(tmp_path / "scene.tif", data)
    argv = ["detect-objects", "--model", str(model), "--raster", str(raster)]
    assert main([*argv, "-o", str(tmp_path / "local" / f"boxes{suffix}")]) == 0
    docker_out = tmp_path / "docker" / f"boxes{suffix}"
    assert main([*argv, "-o", str(docker_out), "--backend", "docker"]) == 0
    _same_bytes(tmp_path / "local" / f"boxes{suffix}", docker_out)
    import pyogrio

    assert len(pyogrio.raw.read(docker_out)[2]) == 2


@pytest.mark.usefixtures("docker_pytorch")
def test_classify_objects_in_docker_equals_local(tmp_path: Path) -> None:
    from tests.inference.test_classify_objects import classifier, halves, pixel_box, write_layer

    model = classifier(tmp_path)
    raster = halves(tmp_path)
    boxes = [pixel_box(10, 5, 30, 25), pixel_box(20, 50, 40, 70)]
    features = write_layer(tmp_path / "roofs.gpkg", boxes, ["a", "b"], "EPSG:32633")
    argv = ["classify-objects", "--model", str(model), "--raster", str(raster)]
    argv += ["--features", str(features)]
    assert main([*argv, "-o", str(tmp_path / "local" / "labels.gpkg")]) == 0
    docker_out = tmp_path / "docker" / "labels.gpkg"
    assert main([*argv, "-o", str(docker_out), "--backend", "docker"]) == 0
    _same_bytes(tmp_path / "local" / "labels.gpkg", docker_out)


def test_default_image_follows_framework_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from dlpk.runners.backends.images.catalog import default_image

    monkeypatch.delenv("DLPK_DEFAULT_IMAGE", raising=False)
    assert default_image("TorchScript", "cpu") == image_tag("pytorch", "cpu")
    assert default_image("Keras", "gpu") == image_tag("tensorflow", "gpu")
    assert default_image(None, "cpu") == image_tag("onnx", "cpu")
    monkeypatch.setenv("DLPK_DEFAULT_IMAGE", "site/runner:7")
    assert default_image(None, "cpu") == "site/runner:7"
    assert default_image("ONNX", "cpu") == image_tag("onnx", "cpu")


@pytest.mark.usefixtures("docker_ready")
def test_raster_function_runs_in_docker_without_trust_code(tmp_path: Path) -> None:
    import pyogrio

    from tests.inference.test_raster_functions import blob_raster
    from tests.raster_functions import BLOBS_PRF, function_package

    model = function_package(tmp_path / "Blobs", "Blobs", BLOBS_PRF, "ObjectDetection")
    argv = ["detect-objects", "--model", str(model), "--raster", str(blob_raster(tmp_path))]
    local = tmp_path / "local" / "blobs.gpkg"
    assert main([*argv, "-o", str(local)]) == 4  # package code: refused outside a container
    assert main([*argv, "-o", str(local), "--trust-code"]) == 0
    docker_out = tmp_path / "docker" / "blobs.gpkg"
    assert main([*argv, "-o", str(docker_out), "--backend", "docker"]) == 0
    _same_bytes(local, docker_out)
    assert len(pyogrio.raw.read(docker_out)[2]) == 6


@pytest.mark.slow
@pytest.mark.usefixtures("docker_tensorflow")
def test_tensorflow_deeplab_in_docker_equals_local(tmp_path: Path) -> None:
    import numpy as np

    from tests.inference_models import CLASSES, package, write_raster
    from tests.tensorflow_models import deeplab_frozen_graph

    pytest.importorskip("tensorflow")
    folder = tmp_path / "deeplab"
    folder.mkdir()
    deeplab_frozen_graph(folder / "graph.pb")
    document = {
        "Framework": "TensorFlow",
        "ModelConfiguration": "DeepLab",
        "ModelType": "ImageClassification",
        "ModelFile": "graph.pb",
        "ImageHeight": 32,
        "ImageWidth": 32,
        "ExtractBands": [0, 1, 2],
        "Classes": [*CLASSES[:1], {"Value": 2, "Name": "Two", "Color": [9, 9, 9]}],
    }
    model = package(folder, document)
    data = np.random.default_rng(2).integers(0, 256, (3, 50, 40), dtype=np.uint8)
    raster = write_raster(tmp_path / "scene.tif", data)
    argv = ["classify-pixels", "--model", str(model), "--raster", str(raster)]
    assert main([*argv, "-o", str(tmp_path / "local" / "classes.tif")]) == 0
    docker_out = tmp_path / "docker" / "classes.tif"
    assert main([*argv, "-o", str(docker_out), "--backend", "docker"]) == 0
    _same_bytes(tmp_path / "local" / "classes.tif", docker_out)


def test_permission_denied_on_the_socket_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    import docker

    def refuse() -> None:
        raise docker.errors.DockerException(
            "Error while fetching server API version: ('Connection aborted.', "
            "PermissionError(13, 'Permission denied'))"
        )

    monkeypatch.setattr(docker, "from_env", refuse)
    from dlpk.runners.backends.images.docker_client import docker_client

    with pytest.raises(DockerUnavailableError) as caught:
        docker_client()
    assert "permission denied" in str(caught.value) and "--backend local" in str(caught.value)
