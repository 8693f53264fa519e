"""The Ray backend on a real cluster of one head and two one-CPU worker nodes on this machine:
outputs byte-identical to the local backend's, a worker killed mid-job, a model the workers
cannot load. Ray is a dev dependency: without it this module fails to import (it is not
skipped), as CI requires."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import ray
import shapely
from ray.cluster_utils import Cluster

import dlpk
from dlpk.cli import main
from dlpk.errors import JobFailedError, ModelError
from dlpk.runners.backends.ray.worker import attempts
from dlpk.spec.job import Result
from tests.inference_models import (
    conv_stack,
    emd,
    make_detector,
    package,
    save_onnx,
    save_onnx_detector,
    seeded_rgb,
    write_raster,
)
from tests.rasters import pixel_box, write_features
from tests.rasters import write_raster as write_scene

pytestmark = pytest.mark.slow  # a cluster takes ~10 s to start; CI runs these (DLPK_SLOW=1)

PIXEL_ARGS = {"tile_size": "64", "padding": "8", "batch_size": "3"}
TILE = 32


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A head without CPUs (nothing runs there) and two worker nodes of one CPU each."""
    assert not ray.is_initialized()
    started = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    for _ in range(2):
        started.add_node(num_cpus=1)
    started.wait_for_nodes()
    yield started
    started.shutdown()


@pytest.fixture(scope="module")
def pixel_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pixels") / "pixels"
    folder.mkdir()
    save_onnx(conv_stack(3, 3), folder / "model.onnx", 3)
    return package(folder, emd("model.onnx", "ONNX", "PixelClassifier"))


@pytest.fixture(scope="module")
def slow_pixel_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pixel classifier of some 30 ms a tile on one CPU: long enough to kill mid-share."""
    import torch

    torch.manual_seed(0)
    layers: list[torch.nn.Module] = [torch.nn.Conv2d(3, 48, 3, padding=1)]
    for _ in range(3):
        layers += [torch.nn.ReLU(), torch.nn.Conv2d(48, 48, 3, padding=1)]
    layers += [torch.nn.ReLU(), torch.nn.Conv2d(48, 3, 3, padding=1)]
    folder = tmp_path_factory.mktemp("slow") / "slow"
    folder.mkdir()
    save_onnx(torch.nn.Sequential(*layers).eval(), folder / "model.onnx", 3)
    return package(folder, emd("model.onnx", "ONNX", "PixelClassifier"))


def same_files(left: Path, right: Path) -> None:
    """The two folders hold the same files with the same bytes."""
    names = sorted(p.relative_to(left) for p in left.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(right) for p in right.rglob("*") if p.is_file())
    assert names
    for name in names:
        assert (left / name).read_bytes() == (right / name).read_bytes(), name


def check_cluster_report(result: Result, units: str) -> None:
    """Two shares on two nodes, their counts summing to the job's."""
    report = result.cluster
    assert report is not None
    assert (report.workers, report.shares) == (2, 2)
    assert len(report.nodes) == 2 and {n.shares for n in report.nodes} == {1}
    assert sum(node.counts[units] for node in report.nodes) == result.counts[units]
    assert all((node.peak_memory_mib or 0) > 50 for node in report.nodes)  # a real process
    assert set(report.timings) >= {"plan", "connect", "shares", "assemble"}


def test_classify_pixels_is_byte_identical_to_local(
    tmp_path: Path, cluster: Cluster, pixel_model: Path
) -> None:
    data = seeded_rgb(150, 170, seed=5)
    data[:, 40:60, 30:90] = 0  # nodata pixels across a share boundary
    raster = write_raster(tmp_path / "in.tif", data, nodata=0)
    (tmp_path / "local").mkdir()
    (tmp_path / "ray").mkdir()
    local = dlpk.classify_pixels(
        pixel_model, raster, tmp_path / "local" / "out.tif", model_arguments=PIXEL_ARGS
    )
    heard: list[tuple[str, int, int | None]] = []
    result = dlpk.classify_pixels(
        pixel_model,
        raster,
        tmp_path / "ray" / "out.tif",
        model_arguments=PIXEL_ARGS,
        backend=dlpk.Ray(address=cluster.address),
        progress=lambda *record: heard.append(record),
    )
    same_files(tmp_path / "local", tmp_path / "ray")
    assert result.counts == local.counts and result.warnings == local.warnings
    assert result.counts["nodata_pixels"] > 0
    check_cluster_report(result, "tiles")
    infer = [record for record in heard if record[0] == "infer"]
    assert infer[-1] == ("infer", local.counts["tiles"], local.counts["tiles"])
    assert heard[-1] == ("assemble", 2, 2)


def test_a_raster_read_over_http_by_every_worker(
    tmp_path: Path, cluster: Cluster, pixel_model: Path
) -> None:
    """An input raster named by URL is read by GDAL on each node, never copied or mounted."""
    from tests.http_files import serving

    (tmp_path / "www").mkdir()
    scene = write_raster(tmp_path / "www" / "scene.tif", seeded_rgb(150, 170, seed=7))
    local, ray_output = tmp_path / "local.tif", tmp_path / "out" / "ray.tif"
    dlpk.classify_pixels(pixel_model, scene, local, model_arguments=PIXEL_ARGS)
    with serving(tmp_path / "www") as (base, requests):
        result = dlpk.classify_pixels(
            pixel_model,
            f"{base}/scene.tif",
            ray_output,
            model_arguments=PIXEL_ARGS,
            backend=dlpk.Ray(address=cluster.address),
        )
        asked = requests.read_text()
    assert ray_output.read_bytes() == local.read_bytes()
    assert result.cluster is not None and len(result.cluster.nodes) == 2
    assert asked.count("GET /scene.tif") >= 2  # the plan step and each worker read it


def test_detect_objects_is_byte_identical_to_local(tmp_path: Path, cluster: Cluster) -> None:
    folder = tmp_path / "detector"
    folder.mkdir()
    save_onnx_detector(make_detector(), folder / "model.onnx", TILE)
    document = emd(
        "model.onnx", "ONNX", "ObjectDetector", ExtractBands=[0], ImageHeight=TILE, ImageWidth=TILE
    )
    detector = package(folder, document)
    rng = np.random.default_rng(1)
    data = np.zeros((1, 120, 130), np.float32)
    for _ in range(30):  # squares anywhere: on seams, across the two shares' boundary
        row, col = rng.integers(0, 114), rng.integers(0, 124)
        data[0, row : row + 6, col : col + 6] = rng.integers(1, 3)
    raster = write_raster(tmp_path / "in.tif", data)
    args = {"padding": "8", "batch_size": "1", "nms_overlap": "0.1"}
    outputs = {name: tmp_path / name / "out.gpkg" for name in ("local", "ray")}
    for path in outputs.values():
        path.parent.mkdir()
    local = dlpk.detect_objects(detector, raster, outputs["local"], model_arguments=args)
    result = dlpk.detect_objects(
        detector,
        raster,
        outputs["ray"],
        model_arguments=args,
        backend=dlpk.Ray(address=cluster.address),
    )
    assert outputs["local"].read_bytes() == outputs["ray"].read_bytes()
    assert result.counts == local.counts and local.counts["detections"] > 10
    check_cluster_report(result, "tiles")


def test_classify_objects_is_byte_identical_to_local(tmp_path: Path, cluster: Cluster) -> None:
    from tests.inference.test_classify_objects import classifier, write_layer
    from tests.inference_models import map_point

    rng = np.random.default_rng(6)
    data = rng.integers(0, 256, (3, 90, 120), dtype=np.uint8)
    raster = write_raster(tmp_path / "scene.tif", data)
    points = [
        shapely.Point(map_point(rng.integers(0, 90), rng.integers(0, 120))) for _ in range(29)
    ]
    points.append(shapely.Point(map_point(-400, -400)))  # outside the raster: no label
    names = [f"feature {n}" for n in range(len(points))]
    features = write_layer(tmp_path / "features.gpkg", points, names, "EPSG:32633")
    model = classifier(tmp_path)
    args = {"batch_size": "4"}
    outputs = {name: tmp_path / name / "labelled.gpkg" for name in ("local", "ray")}
    results = {}
    for name, path in outputs.items():
        path.parent.mkdir()
        backend = dlpk.Ray(address=cluster.address) if name == "ray" else None
        results[name] = dlpk.classify_objects(
            model, raster, path, features=features, model_arguments=args, backend=backend
        )
    assert outputs["local"].read_bytes() == outputs["ray"].read_bytes()
    local, ray_result = results["local"], results["ray"]
    assert ray_result.counts == local.counts and local.counts["labelled"] == 29
    assert ray_result.warnings == local.warnings
    assert ray_result.cluster is not None and ray_result.cluster.shares == 2


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("Threshold", {"threshold": "120"}),  # classified: the Classes' colour map and table
        ("Declared", {"declare": '{"pixelType": "f4", "bandCount": 2, "noData": -1}'}),
    ],
)
def test_a_raster_function_is_byte_identical_to_local(
    tmp_path: Path, cluster: Cluster, name: str, arguments: dict[str, str]
) -> None:
    """A package's Python raster function in shares (with --trust-code: a Ray worker is no
    sandbox), into the bytes of a local run: values, nodata, statistics, table."""
    from tests.raster_functions import DECLARED_PRF, THRESHOLD_PRF, function_package

    source = {"Threshold": THRESHOLD_PRF, "Declared": DECLARED_PRF}[name]
    model = function_package(tmp_path / name, name, source, "ImageClassification")
    data = np.random.default_rng(8).integers(0, 240, (3, 61, 83), dtype=np.uint16)
    data[:, 50:, 60:] = 255  # nodata across the last blocks
    raster = write_scene(tmp_path / "scene.tif", data, nodata=255)
    outputs = {backend: tmp_path / backend / "out.tif" for backend in ("local", "ray")}
    results = {}
    for backend, path in outputs.items():
        path.parent.mkdir()
        results[backend] = dlpk.classify_pixels(
            model,
            raster,
            path,
            model_arguments=arguments,
            trust_code=True,
            backend=dlpk.Ray(address=cluster.address) if backend == "ray" else None,
        )
    same_files(tmp_path / "local", tmp_path / "ray")
    local, ray_result = results["local"], results["ray"]
    assert ray_result.counts == local.counts and local.counts["nodata_pixels"] > 0
    assert ray_result.warnings == local.warnings
    assert ray_result.cluster is not None and ray_result.cluster.shares == 2


def test_a_raster_function_without_trust_is_refused_before_any_worker(
    tmp_path: Path, cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.raster_functions import THRESHOLD_PRF, function_package

    model = function_package(tmp_path / "t", "Threshold", THRESHOLD_PRF, "ImageClassification")
    raster = write_scene(tmp_path / "scene.tif", np.zeros((3, 20, 20), np.uint16))
    output = tmp_path / "out.tif"
    argv = ["classify-pixels", "--model", str(model), "--raster", str(raster), "-o", str(output)]
    code = main([*argv, "--backend", "ray", "--ray-address", cluster.address])
    err = capsys.readouterr().err
    assert code != 0 and "--trust-code" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.tif", "t", "t.dlpk"]


@pytest.mark.parametrize(
    ("metadata_format", "chip_format"),
    [("PASCAL_VOC_rectangles", "TIFF"), ("Classified_Tiles", "PNG")],
)
def test_export_chips_is_byte_identical_to_local(
    tmp_path: Path, cluster: Cluster, metadata_format: str, chip_format: str
) -> None:
    rng = np.random.default_rng(3)
    raster = write_scene(tmp_path / "scene.tif", rng.integers(0, 256, (3, 200, 230), np.uint8))
    boxes = [pixel_box(*rng.uniform(0, 210, 2), *rng.uniform(5, 20, 2)) for _ in range(30)]
    labels = write_features(tmp_path / "b.gpkg", boxes, rng.integers(1, 4, 30).tolist())
    options = {
        "labels": labels,
        "metadata_format": metadata_format,
        "image_chip_format": chip_format,
        "tile_size": 64,
        "stride": 32,
    }
    local = dlpk.export_training_data(raster, tmp_path / "local", **options)
    result = dlpk.export_training_data(
        raster, tmp_path / "ray", **options, backend=dlpk.Ray(address=cluster.address)
    )
    same_files(tmp_path / "local", tmp_path / "ray")
    assert result.counts == local.counts and local.counts["chips"] > 20
    assert [o.path for o in result.outputs] == [o.path for o in local.outputs]
    check_cluster_report(result, "chips")


def kill_a_worker(work: Path, killed: list[int], stop: threading.Event) -> None:
    """SIGKILL the process of the first share seen classifying (tiles done, not all)."""
    while not stop.is_set():
        for share in sorted(work.glob("*/shares/*")):
            try:
                lines = (share / "out" / "progress.jsonl").read_text().splitlines()
            except OSError:
                continue
            records = [json.loads(line) for line in lines if line.strip()]
            running = [r for r in records if r["stage"] == "infer" and 0 < r["done"] < r["total"]]
            started = attempts(share)
            if running and started:
                os.kill(started[-1]["pid"], signal.SIGKILL)
                killed.append(started[-1]["pid"])
                return
        time.sleep(0.02)


def test_a_worker_killed_mid_job_is_retried_with_the_same_bytes(
    tmp_path: Path, cluster: Cluster, slow_pixel_model: Path
) -> None:
    pixel_model = slow_pixel_model
    raster = write_raster(tmp_path / "in.tif", seeded_rgb(600, 560, seed=9))
    args = {**PIXEL_ARGS, "batch_size": "1"}
    (tmp_path / "local").mkdir()
    (tmp_path / "ray").mkdir()
    dlpk.classify_pixels(pixel_model, raster, tmp_path / "local" / "out.tif", model_arguments=args)
    work = tmp_path / "work"
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(target=kill_a_worker, args=(work, killed, stop), daemon=True)
    killer.start()
    try:
        result = dlpk.classify_pixels(
            pixel_model,
            raster,
            tmp_path / "ray" / "out.tif",
            model_arguments=args,
            backend=dlpk.Ray(address=cluster.address, work_dir=work),
        )
    finally:
        stop.set()
        killer.join()
    assert len(killed) == 1, "no worker was seen mid-share to kill"
    assert result.cluster is not None and result.cluster.retries >= 1
    same_files(tmp_path / "local", tmp_path / "ray")
    assert not list(work.iterdir())  # the work folder went with the job


def test_a_model_the_workers_cannot_load_exits_4_with_their_message(
    tmp_path: Path, cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"\x08\x07not-an-onnx-graph")
    broken = package(folder, emd("model.onnx", "ONNX", "PixelClassifier"))
    raster = write_raster(tmp_path / "in.tif", seeded_rgb(40, 40))
    output = tmp_path / "out.tif"
    argv = ["classify-pixels", "--model", str(broken), "--raster", str(raster), "-o", str(output)]
    code = main([*argv, "--backend", "ray", "--ray-address", cluster.address])
    assert code == ModelError.exit_code == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model.onnx could not be loaded" in err[0]
    assert "DecodeError" in err[0]  # onnxruntime's reason, as the worker raised it
    assert not output.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no scratch left


def test_dlpk_run_of_a_hand_written_job(
    tmp_path: Path, cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(4)
    jobs = []
    for name in ("local", "ray"):
        jobdir = tmp_path / name
        (jobdir / "in").mkdir(parents=True)
        write_scene(jobdir / "in" / "scene.tif", rng.integers(0, 256, (3, 130, 150), np.uint8))
        doc = {
            "task": "export_chips",
            "inputs": {"in_raster": "in/scene.tif"},
            "parameters": {
                "metadata_format": "Export_Tiles",
                "output_nofeature_tiles": "ALL_TILES",
                "tile_size_x": 32,
            },
        }
        (jobdir / "job.json").write_text(json.dumps(doc))
        jobs.append(jobdir)
        rng = np.random.default_rng(4)  # the same scene in both
    assert main(["run", str(jobs[0])]) == 0
    assert main(["run", str(jobs[1]), "--backend", "ray", "--ray-address", cluster.address]) == 0
    assert "done:" in capsys.readouterr().out
    same_files(jobs[0] / "out" / "chips", jobs[1] / "out" / "chips")
    result = Result.model_validate_json((jobs[1] / "out" / "result.json").read_text())
    assert result.cluster is not None and result.cluster.shares == 2
    assert sorted(p.name for p in jobs[1].iterdir()) == ["in", "job.json", "out"]  # no work left


def test_a_worker_lost_for_good_fails_the_job_and_publishes_nothing(
    tmp_path: Path, cluster: Cluster, slow_pixel_model: Path
) -> None:
    raster = write_raster(tmp_path / "in.tif", seeded_rgb(600, 560, seed=9))
    output = tmp_path / "out" / "out.tif"
    output.parent.mkdir()
    work = tmp_path / "work"
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(target=kill_a_worker, args=(work, killed, stop), daemon=True)
    killer.start()
    try:
        with pytest.raises(JobFailedError, match=r"share \d of 2 lost its worker for good"):
            dlpk.classify_pixels(
                slow_pixel_model,
                raster,
                output,
                model_arguments={**PIXEL_ARGS, "batch_size": "1"},
                backend=dlpk.Ray(address=cluster.address, work_dir=work, retries=0),
            )
    finally:
        stop.set()
        killer.join()
    assert len(killed) == 1
    assert list(output.parent.iterdir()) == []  # nothing published, no scratch left
    assert not list(work.iterdir())


@pytest.mark.parametrize(
    "signum",
    [signal.SIGKILL, signal.SIGTERM, pytest.param(signal.SIGHUP, marks=pytest.mark.slow)],
    ids=["SIGKILL", "SIGTERM", "SIGHUP"],
)
def test_a_stopped_driver_resumes_from_its_finished_shares_into_the_same_bytes(
    tmp_path: Path, cluster: Cluster, slow_pixel_model: Path, signum: int
) -> None:
    """The driver killed (kill -9) or stopped (`timeout`, a closed terminal) mid-job: its
    workers end, nothing that looks finished is left, and the same command with --resume runs
    only the shares that had not finished, into the bytes of an uninterrupted run."""
    from tests.cli.test_signals import leftovers, running, start, wait_for

    raster = write_raster(tmp_path / "in.tif", seeded_rgb(900, 900, seed=5))
    reference = tmp_path / "reference.tif"
    dlpk.classify_pixels(slow_pixel_model, raster, reference, model_arguments=PIXEL_ARGS)
    output = tmp_path / "out" / "classes.tif"
    output.parent.mkdir()
    argv = ["classify-pixels", "--model", str(slow_pixel_model), "--raster", str(raster)]
    argv += ["-o", str(output), "--backend", "ray", "--ray-address", cluster.address]
    argv += ["--ray-workers", "3"]  # on two CPUs: the third share starts when one finished
    argv += [flag for name, value in PIXEL_ARGS.items() for flag in ("--arg", f"{name}={value}")]
    tmp = tmp_path / "tmp"
    process = start(argv, tmp)
    workers: list[int] = []

    def one_share_finished_one_running() -> bool:
        shares = sorted(output.parent.glob(".dlpk-ray-*/shares/*"))
        done = [(share / "out" / "result.json").exists() for share in shares]
        started = [attempts(share) for share in shares if attempts(share)]
        if len(shares) == 3 and any(done) and not all(done) and len(started) == 3:
            workers[:] = [records[-1]["pid"] for records in started]
            return True
        return False

    wait_for(process, one_share_finished_one_running, seconds=120)
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == (128 + signum if signum != signal.SIGKILL else -signum), err
    if signum != signal.SIGKILL:
        lines = err.strip().splitlines()
        assert lines[0] == f"dlpk: stopped by {signal.Signals(signum).name}"
        assert lines[1].endswith("rerun with --resume to finish") and len(lines) == 2
    deadline = time.monotonic() + 30  # the raylet ends the workers of a driver that went
    while any(running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(running(pid) for pid in workers), "a worker went on after the driver"
    assert not output.exists()
    assert [p.name[:10] for p in output.parent.glob(".dlpk-ray-*")] == [".dlpk-ray-"]

    resumed = start([*argv, "--resume"], tmp)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert output.read_bytes() == reference.read_bytes()
    said = [line for line in err.splitlines() if "resumed an interrupted run" in line]
    assert len(said) == 1 and " of 3 shares had finished and were kept" in said[0], err
    assert int(said[0].split("resumed an interrupted run: ")[1].split()[0]) >= 1
    aux = Path(f"{output}.aux.xml")
    assert aux.read_bytes() == Path(f"{reference}.aux.xml").read_bytes()
    assert sorted(p.name for p in output.parent.iterdir()) == [output.name, aux.name]
    assert leftovers(tmp) == []
