"""Atomic writes: a file appears whole or not at all, and nothing is left beside it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from dlpk import atomic
from dlpk.atomic import write_new_file_atomic


def test_new_file_appears_whole_with_the_usual_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if sys.platform.startswith("linux"):  # the unnamed-file route, not the fallback

        def no_fallback(path: Path, data: bytes) -> None:
            raise AssertionError("took the rename route")

        monkeypatch.setattr(atomic, "write_bytes_atomic", no_fallback)
    target = tmp_path / "chip.tif"
    data = os.urandom(300_000)
    write_new_file_atomic(target, data)
    assert target.read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == ["chip.tif"]  # no temporary left
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


def test_existing_file_is_replaced_whole(tmp_path: Path) -> None:
    """--resume may remake a chip whose image exists (a label was missing)."""
    target = tmp_path / "chip.tif"
    target.write_bytes(b"old")
    write_new_file_atomic(target, b"new content")
    assert target.read_bytes() == b"new content"
    assert [p.name for p in tmp_path.iterdir()] == ["chip.tif"]


def test_without_unnamed_files_the_rename_route_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(atomic.os, "O_TMPFILE", raising=False)
    target = tmp_path / "chip.tif"
    write_new_file_atomic(target, b"data")
    assert target.read_bytes() == b"data"
    assert [p.name for p in tmp_path.iterdir()] == ["chip.tif"]
