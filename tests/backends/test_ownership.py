"""Containers never run as root: a root caller's jobs run as the runner user, which is lent the
writable folders for the run and gives back every entry, old and new, afterwards."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dlpk.runners.backends import ownership
from dlpk.runners.backends.ownership import RUNNER_UID, container_user, lent_to


def test_a_root_caller_runs_containers_as_the_runner_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ownership.os, "getuid", lambda: 0)
    assert container_user(None) == f"{RUNNER_UID}:{RUNNER_UID}"
    assert container_user("1000:1000") == "1000:1000"
    monkeypatch.setattr(ownership.os, "getuid", lambda: 1234)
    monkeypatch.setattr(ownership.os, "getgid", lambda: 99)
    assert container_user(None) == "1234:99"


def test_folders_are_lent_for_the_run_and_given_back(tmp_path: Path) -> None:
    out, job = tmp_path / "out", tmp_path / "job"
    (out / "images").mkdir(parents=True)
    (out / "images" / "old.tif").write_bytes(b"x")
    job.mkdir(mode=0o700)
    job.chmod(0o700)
    before = {p: (p.stat().st_uid, p.stat().st_gid) for p in [out, *out.rglob("*")]}
    root = os.getuid() == 0
    with lent_to(f"{RUNNER_UID}:{RUNNER_UID}", [out], readable=[job]):
        (out / "images" / "new.tif").write_bytes(b"y")  # what the job writes
        owner = RUNNER_UID if root else before[out][0]
        assert {p.stat().st_uid for p in [out, *out.rglob("*")] if p.name != "new.tif"} == {owner}
        assert (job.stat().st_mode & 0o055 == 0o055) == root
    for path, (uid, gid) in before.items():
        assert (path.stat().st_uid, path.stat().st_gid) == (uid, gid)
    new = (out / "images" / "new.tif").stat()
    assert (new.st_uid, new.st_gid) == before[out]
    assert job.stat().st_mode & 0o777 == 0o700


def test_folders_are_given_back_when_the_run_fails(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    owner = (out.stat().st_uid, out.stat().st_gid)
    with pytest.raises(KeyboardInterrupt), lent_to(f"{RUNNER_UID}:{RUNNER_UID}", [out], []):
        (out / "part.tif").write_bytes(b"z")
        raise KeyboardInterrupt
    assert {(p.stat().st_uid, p.stat().st_gid) for p in [out, out / "part.tif"]} == {owner}
