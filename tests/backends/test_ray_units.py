"""The Ray backend's parts that need no cluster: cutting the plan, progress summed over
shares, addresses, placement, the options, and the one-line errors (exit 2) for an address
nobody answers at and for Ray missing."""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import dlpk
from dlpk.cli import main
from dlpk.errors import UsageError
from dlpk.runners.backends.choose import resolve_backend
from dlpk.runners.backends.ray.cluster import check_address, placement
from dlpk.runners.backends.ray.progress import SharedProgress
from dlpk.runners.backends.ray.worker import attempts, clear_out
from dlpk.runners.tasks.shares.parts import batch_range, share_range
from dlpk.spec.job import JOB
from tests.inference_models import conv_stack, emd, package, save_onnx, seeded_rgb, write_raster


@given(st.integers(0, 500), st.integers(1, 40))
def test_shares_cut_the_plan_into_consecutive_even_ranges(units: int, count: int) -> None:
    ranges = [share_range(units, count, index) for index in range(count)]
    assert [n for numbers in ranges for n in numbers] == list(range(units))
    sizes = [len(numbers) for numbers in ranges]
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


@given(st.integers(0, 300), st.integers(1, 9), st.integers(1, 12))
def test_shares_take_whole_batches(tiles: int, batch: int, count: int) -> None:
    ranges = [batch_range(tiles, batch, count, index) for index in range(count)]
    assert [n for numbers in ranges for n in numbers] == list(range(tiles))
    for numbers in ranges:
        assert numbers.start % batch == 0  # every batch is the one a whole run makes
        assert len(numbers) % batch == 0 or numbers.stop == tiles


def test_a_part_names_a_range_of_its_count() -> None:
    job = {"task": "classify_pixels", "model": "model", "inputs": {"in_raster": "in/a.tif"}}
    part = {"step": "share", "count": 2, "index": 1}
    parsed = JOB.validate_python({**job, "parameters": {"part": part}})
    assert parsed.parameters.part is not None and parsed.parameters.part.index == 1
    assert "part" not in parsed.parameters.model_dump()  # not in a result's parameters
    with pytest.raises(ValueError, match="part index 2 is not below count 2"):
        JOB.validate_python({**job, "parameters": {"part": {**part, "index": 2}}})


def write_records(path: Path, *records: tuple[str, int, int | None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        for stage, done, total in records:
            line = {"stage": stage, "done": done, "total": total, "elapsed": 0.0}
            handle.write(json.dumps(line) + "\n")


def test_progress_is_summed_over_the_shares(tmp_path: Path) -> None:
    shares = [tmp_path / "0", tmp_path / "1"]
    heard: list[tuple[str, int, int | None]] = []
    relay = SharedProgress(shares, lambda *record: heard.append(record))
    write_records(shares[0] / "out" / "progress.jsonl", ("infer", 0, 10), ("infer", 4, 10))
    relay.poll()
    assert heard == [("infer", 4, None)]  # the second share has not said its total yet
    write_records(shares[1] / "out" / "progress.jsonl", ("infer", 3, 8))
    relay.poll()
    relay.poll()  # nothing new: nothing heard
    assert heard[-1] == ("infer", 7, 18) and len(heard) == 2
    # the second share's worker was lost: its new start is recorded once its old records
    # are gone, and its new records are counted afresh
    (shares[1] / "out" / "progress.jsonl").unlink()
    (shares[1] / "attempts.jsonl").write_text('{"pid": 1}\n{"pid": 2}\n')
    write_records(shares[1] / "out" / "progress.jsonl", ("infer", 1, 8))
    relay.poll()
    assert heard[-1] == ("infer", 5, 18)


@pytest.mark.parametrize("address", ["nonsense", "host:port", "ray://:10001"])
def test_an_address_that_is_none(address: str) -> None:
    with pytest.raises(UsageError, match="is not an address"):
        check_address(address)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once it is closed


def test_an_address_nobody_answers_at_is_refused_at_once() -> None:
    started = time.monotonic()
    for address in (f"127.0.0.1:{closed_port()}", f"ray://127.0.0.1:{closed_port()}"):
        with pytest.raises(UsageError, match="no Ray cluster answers at"):
            check_address(address)
    assert time.monotonic() - started < 5  # Ray itself would wait for minutes
    check_address("auto")
    check_address("local")


def test_placement_on_cpus_and_gpus() -> None:
    cpu = placement({"CPU": 8.0}, "auto", 2.0, None)
    assert (cpu.cpus, cpu.gpus, cpu.workers) == (2.0, 0.0, 4)
    shared = placement({"CPU": 8.0, "GPU": 2.0}, "gpu", 1.0, 0.25)
    assert (shared.gpus, shared.workers) == (0.25, 8)  # four workers on each GPU
    assert placement({"CPU": 8.0, "GPU": 2.0}, "cpu", 1.0, None).gpus == 0.0
    options = shared.options(retries=3)
    assert options["max_restarts"] == options["max_task_retries"] == 3
    with pytest.raises(UsageError, match="has no GPU"):
        placement({"CPU": 8.0}, "gpu", 1.0, None)


def test_the_backend_by_name_and_its_checks() -> None:
    assert isinstance(resolve_backend("ray"), dlpk.Ray)
    assert dlpk.Ray(address="auto", workers=3).name == "ray"
    with pytest.raises(UsageError, match="--ray-workers 0"):
        dlpk.Ray(workers=0)
    with pytest.raises(UsageError, match="--gpus-per-worker 0"):
        dlpk.Ray(gpus_per_worker=0)


def test_a_started_share_begins_afresh_but_keeps_its_links(tmp_path: Path) -> None:
    out = tmp_path / "share" / "out"
    (out / "part").mkdir(parents=True)
    (out / "result.json").write_text("{}")
    (tmp_path / "chips").mkdir()
    (tmp_path / "chips" / "kept.tif").write_text("a chip")
    (out / "chips").symlink_to(tmp_path / "chips")
    clear_out(out)
    assert [p.name for p in out.iterdir()] == ["chips"]
    assert (tmp_path / "chips" / "kept.tif").exists()  # a link is not followed
    (tmp_path / "share" / "attempts.jsonl").write_text('{"pid": 1}\n{"pid": 2}\n{"pid"')
    assert [a["pid"] for a in attempts(tmp_path / "share")] == [1, 2]  # a cut line is skipped


@pytest.fixture
def small_job(tmp_path: Path) -> list[str]:
    folder = tmp_path / "pixels"
    folder.mkdir()
    save_onnx(conv_stack(3, 3), folder / "model.onnx", 3)
    model = package(folder, emd("model.onnx", "ONNX", "PixelClassifier"))
    raster = write_raster(tmp_path / "in.tif", seeded_rgb(20, 20))
    output = tmp_path / "out" / "classes.tif"
    output.parent.mkdir()
    return ["classify-pixels", "--model", str(model), "--raster", str(raster), "-o", str(output)]


def test_a_bad_address_is_one_line_and_exit_2(
    tmp_path: Path, small_job: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    address = f"127.0.0.1:{closed_port()}"
    assert main([*small_job, "--backend", "ray", "--ray-address", address]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"no Ray cluster answers at {address}" in err[0]
    assert "ray start --head" in err[0]
    assert list((tmp_path / "out").iterdir()) == []  # no output, no work folder left


def test_without_ray_the_backend_names_the_extra(
    small_job: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    assert main([*small_job, "--backend", "ray"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'dlpk[ray]'" in err[0]


def test_ray_workers_must_be_positive(
    small_job: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*small_job, "--backend", "ray", "--ray-workers", "0"]) == 2
    assert "--ray-workers 0: must be at least 1" in capsys.readouterr().err


def test_a_resumed_run_takes_over_only_a_work_folder_of_the_same_job(tmp_path: Path) -> None:
    from dlpk.runners.backends.launch import Mount, PreparedJob
    from dlpk.runners.backends.ray.resume import job_signature, work_folder

    (tmp_path / "data").mkdir()
    raster = write_raster(tmp_path / "data" / "in.tif", seeded_rgb(20, 20))
    (tmp_path / "data" / "other.tif").write_bytes(b"changes nothing of in.tif")
    model = tmp_path / "model"
    model.mkdir()
    (model / "m.emd").write_text("{}")
    mounts = [Mount(model, "model", True), Mount(raster.parent, "in/0", True)]

    def signature(arguments: dict[str, str], resume: bool = True) -> dict[str, object]:
        parameters = {"arguments": arguments, "resume": resume}
        job = {"task": "classify_pixels", "model": "model/m.emd", "parameters": parameters}
        job["inputs"] = {"in_raster": "in/0/in.tif"}
        return job_signature(PreparedJob(tmp_path, job, mounts), job)

    out = tmp_path / "out"
    out.mkdir()
    first, taken = work_folder(out, signature({"padding": "8"}, resume=False), resume=False)
    assert not taken
    (first / "shares").mkdir()
    other, taken = work_folder(out, signature({"padding": "16"}), resume=True)
    assert not taken and other != first  # another argument: the run starts afresh
    (tmp_path / "data" / "other.tif").write_bytes(b"a sidecar changed")
    again, taken = work_folder(out, signature({"padding": "8"}), resume=True)
    assert taken and (again / "shares").is_dir() and not first.exists()
    raster.write_bytes(raster.read_bytes() + b"\0")  # the input changed
    _, taken = work_folder(out, signature({"padding": "8"}), resume=True)
    assert not taken
