"""What a killed run leaves (a job directory, an output's staging folder) is removed by the next
run, and only when its process is gone."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

import dlpk
from dlpk.scratch import remove_leftovers, scratch_folder
from tests.conftest import REPO

DEAD = 2**22 + 12345  # above Linux's pid_max default: no such process


def test_a_killed_runs_folders_are_removed_by_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    out = tmp_path / "out"
    out.mkdir()
    stale_job = temp / f"dlpk-job-{DEAD}-abc"
    stale_stage = out / f".classes.tif.{DEAD}-xyz.dlpk"
    live_stage = out / f".classes.tif.{os.getpid()}-keep.dlpk"
    for folder in (stale_job, stale_stage, live_stage):
        (folder / "inner").mkdir(parents=True)
        (folder / "inner" / "half.tif").write_bytes(b"partial")
    target = out / "classes.tif"
    dlpk.classify_pixels(REPO / "examples/landcover.dlpk", REPO / "examples/scene.tif", target)
    assert target.is_file()
    assert not stale_job.exists() and not stale_stage.exists()
    assert live_stage.exists()  # its process (this one) is alive
    assert not list(temp.glob("dlpk-job-*"))  # this run's own job directory is gone too


def test_leftovers_are_only_this_users_folders_of_that_kind(tmp_path: Path) -> None:
    (tmp_path / f"dlpk-job-{DEAD}-a").mkdir()
    (tmp_path / f"dlpk-job-{DEAD}-file").write_text("a file, not a folder")
    (tmp_path / f"dlpk-model-{DEAD}-b").mkdir()
    (tmp_path / "dlpk-job-notapid-c").mkdir()
    os.symlink(tmp_path / f"dlpk-model-{DEAD}-b", tmp_path / f"dlpk-job-{DEAD}-link")
    removed = remove_leftovers(tmp_path, "dlpk-job-")
    assert [p.name for p in removed] == [f"dlpk-job-{DEAD}-a"]
    assert (tmp_path / f"dlpk-model-{DEAD}-b").is_dir()
    made = scratch_folder("dlpk-job-", tmp_path)
    assert made.name.startswith(f"dlpk-job-{os.getpid()}-") and made.is_dir()
