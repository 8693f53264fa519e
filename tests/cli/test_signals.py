"""SIGTERM and SIGHUP stop a job as Ctrl-C does, with real processes: the CLI runs in a
subprocess, the signal comes mid-job, and afterwards no runner process (the local backend's
subprocess, export workers) is left, the exit status is 128 + the signal's number, the TMPDIR
holds no dlpk-job-*, dlpk-model-* or dlpk-mosaic-* folder, and beside the output there is no
staging folder but classify-pixels' checkpoint, kept for --resume."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dlpk.runners.io.checkpoint import FOLDER, STATE
from dlpk.scratch import process_alive
from tests.inference_models import conv_stack, emd, package, seeded_rgb, write_raster
from tests.raster_functions import function_package
from tests.rasters import write_raster as write_plain_raster

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

ARGUMENTS = ["--arg", "tile_size=64", "--arg", "padding=8", "--arg", "batch_size=2"]
LOCAL = ["--timeout", "600"]  # the local backend: a runner subprocess

#: Classify pixels as 1, a tile every 50 ms: slow for a known time on any machine.
SLEEPY_PRF = """
import json
import time

import numpy as np


class Sleepy:
    def __init__(self):
        self.name = "Sleepy"
        self.description = "class 1 everywhere, slowly"

    def initialize(self, **kwargs):
        with open(kwargs["model"]) as handle:
            self.json_info = json.load(handle)

    def getParameterInfo(self):
        return [
            {"name": "raster", "dataType": "raster", "value": None, "required": True},
            {"name": "model", "dataType": "string", "value": None, "required": True},
        ]

    def getConfiguration(self, **scalars):
        return {"extractBands": (0,), "padding": 0, "tx": 32, "ty": 32, "fixedTileSize": 1}

    def updatePixels(self, tlc, shape, props, **pixelBlocks):
        time.sleep(0.05)
        pixelBlocks["output_pixels"] = np.ones(shape, dtype=props["pixelType"])
        return pixelBlocks
"""


def busy_classifier(layers: int = 12) -> Any:
    """conv_stack(3, 3) behind `layers` 32-channel convolutions whose result changes nothing
    (it is added scaled by 1e-30): a pixel classifier with a real model that takes a while."""
    import torch

    class Busy(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module, layers: int) -> None:
            super().__init__()
            self.inner = inner
            work: list[torch.nn.Module] = [torch.nn.Conv2d(3, 32, 3, padding=1)]
            for _ in range(layers):
                work += [torch.nn.ReLU(), torch.nn.Conv2d(32, 32, 3, padding=1)]
            self.work = torch.nn.Sequential(*work)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            busy = self.work(x[:, :3]).mean()
            return self.inner(x + busy * 1e-30)

    torch.manual_seed(0)
    return Busy(conv_stack(3, 3), layers).eval()


def torch_pixels(tmp_path: Path) -> tuple[Path, Path]:
    """A TorchScript pixel classifier and a raster of 441 of its tiles."""
    import torch

    folder = tmp_path / "model"
    folder.mkdir()
    torch.jit.script(busy_classifier()).save(str(folder / "model.pt"))
    model = package(folder, emd("model.pt", "TorchScript", "PixelClassifier"))
    return model, write_raster(tmp_path / "scene.tif", seeded_rgb(1000, 1000, seed=3))


def sleepy_pixels(tmp_path: Path) -> tuple[Path, Path]:
    """A raster function taking 50 ms a tile and a raster of 100 of its tiles."""
    model = function_package(tmp_path / "sleepy", "Sleepy", SLEEPY_PRF, "ImageClassification")
    raster = write_raster(tmp_path / "scene.tif", seeded_rgb(320, 320, seed=1)[:1])
    return model, raster


def start(argv: list[str], tmp: Path, **env: str) -> subprocess.Popen[str]:
    """`dlpk ARGV` in its own session (so a signal can go to its process group, as `timeout`
    and a terminal's Ctrl-C send it), with TMPDIR set to `tmp`; no progress lines, so stderr
    holds only what the stop says."""
    tmp.mkdir(exist_ok=True)
    environment = {**os.environ, "TMPDIR": str(tmp), "DLPK_CHECKPOINT_SECONDS": "0", **env}
    return subprocess.Popen(
        [sys.executable, "-m", "dlpk", *argv, "--progress", "none"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_for(
    process: subprocess.Popen[str], ready: Callable[[], bool], seconds: float = 90
) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"the job ended (exit {process.returncode}) before the signal: {err}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the job did not get going")
        time.sleep(0.02)


def descendants(pid: int) -> set[int]:
    """Every living process below `pid` (read from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and process_alive(pid)


def stop(process: subprocess.Popen[str], signum: int) -> tuple[int, str, set[int]]:
    """Send `signum` as a scheduler or a shell would (SIGINT, Ctrl-C, to the process group;
    SIGTERM and SIGHUP to the command itself); its exit status, stderr, and the processes that
    ran below it when the signal came."""
    below = descendants(process.pid)
    if signum == signal.SIGINT:
        os.killpg(process.pid, signum)
    else:
        process.send_signal(signum)
    try:
        _, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    return process.returncode, err, below


def leftovers(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.glob("dlpk-*"))


def staged(output: Path) -> list[Path]:
    return sorted(output.parent.glob(f".{output.name}.*"))


def checkpoint_state(output: Path) -> dict[str, Any] | None:
    for path in output.parent.glob(f".{output.name}.*/{FOLDER}/{STATE}"):
        with contextlib.suppress(OSError, ValueError):  # being replaced
            state: dict[str, Any] = json.loads(path.read_text())
            return state
    return None


def progress_done(tmp: Path, stage: str) -> int:
    """How far a running job says it got (its out/progress.jsonl in TMPDIR's job folder)."""
    done = 0
    for path in tmp.glob("dlpk-job-*/out/progress.jsonl"):
        with contextlib.suppress(OSError):
            for line in path.read_text().splitlines():
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    if record["stage"] == stage:
                        done = max(done, int(record["done"]))
    return done


SIGNALS = [
    pytest.param(signal.SIGTERM, "stopped by SIGTERM", id="SIGTERM"),
    pytest.param(signal.SIGHUP, "stopped by SIGHUP", id="SIGHUP", marks=pytest.mark.slow),
    pytest.param(signal.SIGINT, "interrupted", id="SIGINT", marks=pytest.mark.slow),
]
BACKENDS = [pytest.param([], id="in-process"), pytest.param(LOCAL, id="local")]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("signum", "said"), SIGNALS)
def test_classify_pixels_stops_and_keeps_only_its_checkpoint(
    tmp_path: Path, backend: list[str], signum: int, said: str
) -> None:
    pytest.importorskip("torch")
    model, raster = torch_pixels(tmp_path)
    output, tmp = tmp_path / "out" / "classes.tif", tmp_path / "tmp"
    argv = ["classify-pixels", "--model", str(model), "--raster", str(raster), "-o", str(output)]
    process = start([*argv, *ARGUMENTS, *backend], tmp)
    recorded: dict[str, Any] = {}

    def tiles_recorded() -> bool:
        state = checkpoint_state(output)
        if state is not None and len(state["done"]) >= 2 and state["pid"]:
            recorded.update(state)
            return True
        return False

    wait_for(process, tiles_recorded)
    code, err, below = stop(process, signum)
    assert code == 128 + signum, err
    kept_note = f"dlpk: the finished tiles are kept beside {output}: rerun with --resume to finish"
    assert err.strip().splitlines() == [f"dlpk: {said}", kept_note]
    runner = recorded["pid"]
    assert (runner in below) == bool(backend)  # the local backend's runner is a subprocess
    assert not any(running(pid) for pid in below | {runner})
    assert leftovers(tmp) == []
    assert not output.exists()
    [kept] = staged(output)  # the checkpoint, recorded as stopped: --resume may take it over
    assert [p.name for p in kept.iterdir()] == [FOLDER]
    state = checkpoint_state(output)
    assert state is not None and state["pid"] is None and len(state["done"]) >= 2


@pytest.mark.slow
def test_a_run_stopped_by_sigterm_resumes_into_the_same_bytes(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    model, raster = torch_pixels(tmp_path)
    argv = ["classify-pixels", "--model", str(model), "--raster", str(raster), *ARGUMENTS]
    reference = tmp_path / "reference.tif"
    done = start([*argv, "-o", str(reference)], tmp_path / "tmp")
    assert done.wait() == 0
    output = tmp_path / "out" / "classes.tif"
    process = start([*argv, *LOCAL, "-o", str(output)], tmp_path / "tmp")
    wait_for(process, lambda: len((checkpoint_state(output) or {}).get("done", [])) >= 4)
    assert stop(process, signal.SIGTERM)[0] == 128 + signal.SIGTERM
    resumed = start([*argv, *LOCAL, "-o", str(output), "--resume"], tmp_path / "tmp")
    _, err = resumed.communicate()
    assert resumed.returncode == 0, err
    assert output.read_bytes() == reference.read_bytes()
    assert staged(output) == [] and leftovers(tmp_path / "tmp") == []


@pytest.mark.parametrize(
    "backend", [pytest.param([], id="in-process", marks=pytest.mark.slow), *BACKENDS[1:]]
)
@pytest.mark.parametrize(
    "signum",
    [
        pytest.param(signal.SIGTERM, id="SIGTERM"),
        pytest.param(signal.SIGHUP, id="SIGHUP", marks=pytest.mark.slow),
    ],
)
def test_a_stopped_job_without_checkpoint_leaves_no_staging_folder(
    tmp_path: Path, backend: list[str], signum: int
) -> None:
    """A raster function's classify-pixels has no checkpoint: its staging folder goes too."""
    model, raster = sleepy_pixels(tmp_path)
    output, tmp = tmp_path / "out" / "ones.tif", tmp_path / "tmp"
    argv = ["classify-pixels", "--model", str(model), "--raster", str(raster), "-o", str(output)]
    process = start([*argv, "--trust-code", *backend], tmp)
    wait_for(process, lambda: progress_done(tmp, "infer") >= 3)
    code, err, below = stop(process, signum)
    assert code == 128 + signum, err
    assert "Traceback" not in err and "--resume" not in err
    assert not any(running(pid) for pid in below)
    assert (len(below) >= 1) == bool(backend)
    assert leftovers(tmp) == []
    assert staged(output) == [] and not output.exists()
    assert list(output.parent.iterdir()) == []


@pytest.mark.parametrize(
    "backend", [BACKENDS[0], pytest.param(LOCAL, id="local", marks=pytest.mark.slow)]
)
@pytest.mark.parametrize(
    ("signum", "said"),
    [
        pytest.param(signal.SIGINT, "interrupted", id="SIGINT"),
        pytest.param(signal.SIGTERM, "stopped by SIGTERM", id="SIGTERM", marks=pytest.mark.slow),
    ],
)
def test_a_stopped_export_says_one_line_and_leaves_no_worker(
    tmp_path: Path, backend: list[str], signum: int, said: str
) -> None:
    """Ctrl-C reaches every process of the group, export workers included: only the launcher
    speaks, and every worker ends (no tracebacks, no orphans)."""
    raster = write_plain_raster(
        tmp_path / "big.tif", np.zeros((3, 4096, 4096), dtype=np.uint8), tiled=True
    )
    out, tmp = tmp_path / "chips", tmp_path / "tmp"
    argv = ["export-chips", "--raster", str(raster), "--format", "Export_Tiles", "--all-tiles"]
    argv += ["--tile-size", "32", "--stride", "32", "--chip-format", "PNG", "--workers", "2"]
    process = start([*argv, "-o", str(out), *backend], tmp)
    wait_for(process, lambda: len(list((out / "images").glob("*.png"))) >= 50)
    code, err, below = stop(process, signum)
    assert code == 128 + signum, err
    assert err.strip().splitlines() == [f"dlpk: {said}"]
    assert len(below) >= 2  # the two workers (and the local backend's runner)
    assert not any(running(pid) for pid in below)
    assert leftovers(tmp) == []
    assert not (out / "map.txt").exists()  # written last: the export does not look finished
