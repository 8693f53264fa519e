"""--progress auto|bar|plain|json|none on every task command, and the API's `progress=`:
off a terminal, progress is shown as it goes, not only at `done:`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import dlpk
from dlpk.cli import main
from dlpk.errors import UsageError
from dlpk.runners import progress as progress_module
from dlpk.runners.progress import JsonProgress, PlainProgress, progress_display
from tests.conftest import REPO

LANDCOVER = REPO / "examples" / "landcover.dlpk"
SCENE = REPO / "examples" / "scene.tif"
BUILDINGS = REPO / "examples" / "buildings.geojson"
PLAIN = re.compile(r"^dlpk: (plan|chips|infer) \d+/\d+ \(\d+%\)(, [\d.]+/s(, ETA \d+:\d\d)?)?$")
FINAL = re.compile(r"^dlpk: (plan|chips|infer) (\d+)/\2 \(100%\) in \d+\.\d s$")


def commands(tmp_path: Path) -> dict[str, list[str]]:
    """One job of each kind the CLI runs (inference, export, a job directory)."""
    jobdir = tmp_path / "job"
    return {
        "classify-pixels": ["classify-pixels", "--model", str(LANDCOVER), "--raster", str(SCENE),
                            "-o", str(tmp_path / "classes.tif")],
        "export-chips": ["export-chips", "--raster", str(SCENE), "--labels", str(BUILDINGS),
                         "--format", "PASCAL_VOC_rectangles", "-o", str(tmp_path / "chips")],
        "run": ["run", str(jobdir)],
    }  # fmt: skip


def job_directory(tmp_path: Path) -> None:
    """A hand-written export job, for `dlpk run`."""
    jobdir = tmp_path / "job"
    (jobdir / "in").mkdir(parents=True)
    (jobdir / "in" / "scene.tif").write_bytes(SCENE.read_bytes())
    job = {
        "apiVersion": "dlpk/v1",
        "task": "export_chips",
        "inputs": {"in_raster": "in/scene.tif"},
        "parameters": {"metadata_format": "Export_Tiles", "output_nofeature_tiles": "ALL_TILES"},
        "outputs": {"out_folder": "out/chips"},
    }
    (jobdir / "job.json").write_text(json.dumps(job))


def run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> list[str]:
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("done:")  # results on stdout, progress on stderr
    return captured.err.splitlines()


@pytest.mark.parametrize("command", ["classify-pixels", "export-chips", "run"])
def test_off_a_terminal_progress_is_plain_lines(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:
    """capsys is not a terminal: the default (auto) writes plain lines as the job goes."""
    monkeypatch.setenv("DLPK_PROGRESS_SECONDS", "0")
    job_directory(tmp_path)
    lines = [line for line in run(capsys, commands(tmp_path)[command]) if "warning" not in line]
    assert lines and all(PLAIN.match(line) or FINAL.match(line) for line in lines), lines
    stage = "infer" if command == "classify-pixels" else "chips"
    assert any(FINAL.match(line) and f" {stage} " in line for line in lines), lines


@pytest.mark.parametrize("command", ["classify-pixels", "export-chips", "run"])
def test_json_progress_is_one_object_a_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
) -> None:
    job_directory(tmp_path)
    lines = run(capsys, [*commands(tmp_path)[command], "--progress", "json"])
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert records and len(records) == len([line for line in lines if "warning" not in line])
    for record in records:
        assert set(record) == {"stage", "done", "total", "elapsed", "rate", "eta"}
        assert 0 <= record["done"] <= record["total"]
    last = records[-1]
    assert last["done"] == last["total"] and last["eta"] in (None, 0.0)


def test_none_is_silent_and_bar_draws_a_bar(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argv = commands(tmp_path)["classify-pixels"]
    assert [line for line in run(capsys, [*argv, "--progress", "none"]) if line] == []
    err = "\n".join(run(capsys, [*argv, "--progress", "bar", "--overwrite"]))
    assert "infer" in err and "4/4" in err and "\x1b[" in err  # rich's bar, forced


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_come_every_interval_with_rate_and_eta(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    monkeypatch.setattr(progress_module.time, "monotonic", clock)
    lines: list[str] = []

    class Sink:
        def write(self, text: str) -> None:
            lines.append(text)

        def flush(self) -> None:
            pass

    plain = PlainProgress(Sink(), interval=5)  # type: ignore[arg-type]
    for now, done in [(0, 0), (1, 10), (4, 40), (5, 50), (6, 60), (10, 100), (11, 100)]:
        clock.now = now
        plain("infer", done, 100)
    assert lines == [
        "dlpk: infer 50/100 (50%), 10.0/s, ETA 0:05\n",
        "dlpk: infer 100/100 (100%) in 10.0 s\n",
    ]
    for now, done in [(12, 0), (13, 3), (14, 7)]:  # over within 5 s: nothing to say
        clock.now = now
        plain("plan", done, 7)
    for now, done in [(20, 1), (25, 2)]:  # an unknown total: the count and the rate
        clock.now = now
        plain("write", done, None)
    assert lines[2:] == ["dlpk: write 2, 0.2/s\n"]


def test_json_rate_counts_from_where_a_resumed_stage_began(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    monkeypatch.setattr(progress_module.time, "monotonic", clock)
    written: list[dict[str, Any]] = []

    class Sink:
        def write(self, text: str) -> None:
            written.append(json.loads(text))

        def flush(self) -> None:
            pass

    listener = JsonProgress(Sink())  # type: ignore[arg-type]
    listener("infer", 60, 100)  # 60 tiles were done by the interrupted run
    clock.now = 2
    listener("infer", 80, 100)
    assert written[0] == {"stage": "infer", "done": 60, "total": 100, "elapsed": 0.0,
                          "rate": None, "eta": None}  # fmt: skip
    assert written[1]["rate"] == 10.0 and written[1]["eta"] == 2.0


def test_the_api_takes_the_same_names(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    dlpk.classify_pixels(LANDCOVER, SCENE, tmp_path / "a.tif", progress="json")
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert records[-1]["stage"] == "infer" and records[-1]["done"] == records[-1]["total"]
    dlpk.classify_pixels(LANDCOVER, SCENE, tmp_path / "b.tif", progress="none")
    assert capsys.readouterr().err == ""
    with pytest.raises(UsageError, match="plain"):
        dlpk.classify_pixels(LANDCOVER, SCENE, tmp_path / "c.tif", progress="loud")
    assert not (tmp_path / "c.tif").exists()


def test_auto_is_a_bar_on_a_terminal_and_plain_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLPK_PROGRESS_SECONDS", "0")

    class Stream:
        def __init__(self, tty: bool) -> None:
            self.tty, self.text = tty, ""

        def isatty(self) -> bool:
            return self.tty

        def write(self, text: str) -> int:
            self.text += text
            return len(text)

        def flush(self) -> None:
            pass

    for tty in (False, True):
        stream = Stream(tty)
        with progress_display("auto", stream) as listener:  # type: ignore[arg-type]
            listener("infer", 3, 3)
        assert ("\x1b[" in stream.text) == tty
        assert ("dlpk: infer 3/3 (100%)" in stream.text) == (not tty)
