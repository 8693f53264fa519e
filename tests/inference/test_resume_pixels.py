"""classify-pixels --resume: an interrupted or killed run is finished from the tiles it had
written, into the same bytes as an uninterrupted run; anything different starts afresh."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import dlpk
from dlpk.errors import BadInputError, UsageError
from dlpk.runners.io.checkpoint import FOLDER, STATE
from tests.inference_models import (
    conv_stack,
    emd,
    package,
    save_torchscript,
    seeded_rgb,
    write_raster,
)

pytest.importorskip("torch")

ARGUMENTS = {"tile_size": 64, "padding": 8, "batch_size": 2}


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "model"
    folder.mkdir()
    save_torchscript(conv_stack(3, 3), folder / "model.pt")
    model = package(folder, emd("model.pt", "TorchScript", "PixelClassifier"))
    raster = write_raster(tmp_path / "scene.tif", seeded_rgb(300, 260, seed=3))
    return model, raster


class Interrupt:
    """A progress listener that stops the run (as Ctrl-C does) once `after` tiles are done,
    and remembers where each run's tile count started."""

    def __init__(self, after: int | None = None) -> None:
        self.after = after
        self.first: tuple[int, int] | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != "infer":
            return
        if self.first is None:
            self.first = (done, total)
        if self.after is not None and done >= self.after:
            raise KeyboardInterrupt


def staged(output: Path) -> list[Path]:
    return sorted(output.parent.glob(f".{output.name}.*.dlpk"))


def classify(model: Path, raster: Path, output: Path, **options: Any) -> dlpk.Result:
    return dlpk.classify_pixels(model, raster, output, model_arguments=ARGUMENTS, **options)


def test_an_interrupted_run_resumes_into_the_same_bytes(
    tmp_path: Path, inputs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DLPK_CHECKPOINT_SECONDS", "0")
    model, raster = inputs
    reference = tmp_path / "reference.tif"
    whole = classify(model, raster, reference)
    output = tmp_path / "classes.tif"
    with pytest.raises(KeyboardInterrupt):
        classify(model, raster, output, progress=Interrupt(after=10))
    assert not output.exists()
    [kept] = staged(output)
    state = json.loads((kept / FOLDER / STATE).read_text())
    assert len(state["done"]) >= 10 and state["pid"] is None  # stopped, not running
    listener = Interrupt()
    resumed = classify(model, raster, output, resume=True, progress=listener)
    assert listener.first is not None
    done, total = listener.first
    assert done == len(state["done"]) and total == whole.counts["tiles"]
    assert output.read_bytes() == reference.read_bytes()
    assert output.with_name("classes.tif.aux.xml").read_bytes() == (
        reference.with_name("reference.tif.aux.xml").read_bytes()
    )
    assert resumed.counts == whole.counts
    assert resumed.warnings == whole.warnings  # the background note only: nothing went amiss
    assert staged(output) == []


def test_a_resume_with_other_arguments_starts_afresh(
    tmp_path: Path, inputs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DLPK_CHECKPOINT_SECONDS", "0")
    model, raster = inputs
    output = tmp_path / "classes.tif"
    with pytest.raises(KeyboardInterrupt):
        classify(model, raster, output, progress=Interrupt(after=6))
    listener = Interrupt()
    result = dlpk.classify_pixels(
        model,
        raster,
        output,
        model_arguments={**ARGUMENTS, "padding": 4},
        resume=True,
        progress=listener,
    )
    assert listener.first == (0, result.counts["tiles"])
    assert any("to resume: classified from the start" in w for w in result.warnings)
    fresh = tmp_path / "fresh.tif"
    dlpk.classify_pixels(model, raster, fresh, model_arguments={**ARGUMENTS, "padding": 4})
    assert output.read_bytes() == fresh.read_bytes()


def test_resume_without_an_interrupted_run_classifies_it_all(
    tmp_path: Path, inputs: tuple[Path, Path]
) -> None:
    model, raster = inputs
    result = classify(model, raster, tmp_path / "classes.tif", resume=True)
    assert result.counts["pixels"] == 300 * 260
    assert any("to resume" in warning for warning in result.warnings)


def test_resume_refuses_what_it_cannot_finish(tmp_path: Path, inputs: tuple[Path, Path]) -> None:
    model, raster = inputs
    with pytest.raises(UsageError, match="PROCESS_ITEMS_SEPARATELY"):
        dlpk.classify_pixels(
            model,
            raster.parent,
            tmp_path / "each",
            resume=True,
            processing_mode="PROCESS_ITEMS_SEPARATELY",
        )


def test_a_resume_waits_for_a_runner_still_writing(
    tmp_path: Path, inputs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The launcher died but its runner (this pid here) still writes: no second writer."""
    monkeypatch.setenv("DLPK_CHECKPOINT_SECONDS", "0")
    model, raster = inputs
    output = tmp_path / "classes.tif"
    with pytest.raises(KeyboardInterrupt):
        classify(model, raster, output, progress=Interrupt(after=4))
    [kept] = staged(output)
    state_path = kept / FOLDER / STATE
    state = json.loads(state_path.read_text())
    state_path.write_text(json.dumps({**state, "pid": os.getpid()}))
    with pytest.raises(BadInputError, match="still writing"):
        classify(model, raster, output, resume=True)


@pytest.mark.slow
def test_kill_9_mid_run_then_resume_on_the_command_line(
    tmp_path: Path, inputs: tuple[Path, Path]
) -> None:
    model, raster = inputs
    reference = tmp_path / "reference.tif"
    classify(model, raster, reference)
    output = tmp_path / "classes.tif"
    command = [sys.executable, "-m", "dlpk", "classify-pixels", "--model", str(model)]
    command += ["--raster", str(raster), "-o", str(output)]
    for name, value in ARGUMENTS.items():
        command += ["--arg", f"{name}={value}"]
    env = {**os.environ, "DLPK_CHECKPOINT_SECONDS": "0"}
    process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    recorded: list[int] = []
    while time.monotonic() < deadline and process.poll() is None and len(recorded) < 4:
        for state in output.parent.glob(f".{output.name}.*.dlpk/{FOLDER}/{STATE}"):
            with contextlib.suppress(OSError, ValueError):  # being replaced
                recorded = json.loads(state.read_text())["done"]
        time.sleep(0.01)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not output.exists()
    done = subprocess.run(
        [*command, "--resume"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert output.read_bytes() == reference.read_bytes()
    assert staged(output) == []
