"""Delivery from the staging folder a job (a container, a package's code) wrote: only the
declared output and its side files reach the user's folder; nothing of theirs is replaced
without overwrite or deleted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dlpk.errors import OutputExistsError
from dlpk.runners.backends.deliver import deliver


@pytest.fixture
def places(tmp_path: Path) -> tuple[Path, Path]:
    staging, home = tmp_path / "staging", tmp_path / "home"
    staging.mkdir()
    home.mkdir()
    return staging, home


def test_undeclared_entries_never_reach_the_users_folder(places: tuple[Path, Path]) -> None:
    staging, home = places
    (home / "victim.txt").write_text("mine")
    (home / "victimdir").mkdir()
    (home / "victimdir" / "precious.txt").write_text("mine too")
    (staging / "out.tif").write_bytes(b"raster")
    (staging / "out.tif.aux.xml").write_text("<PAMDataset/>")
    (staging / "victim.txt").write_text("overwritten?")
    (staging / "victimdir").mkdir()
    (staging / "victimdir" / "x").write_text("replaced?")
    os.symlink("/etc/passwd", staging / "out.tif.ovr")
    os.mkfifo(staging / "out.fifo")
    warnings = deliver(staging, home / "out.tif", overwrite=False)
    assert (home / "out.tif").read_bytes() == b"raster"
    assert (home / "out.tif.aux.xml").is_file()
    assert (home / "victim.txt").read_text() == "mine"
    assert (home / "victimdir" / "precious.txt").read_text() == "mine too"
    assert not (home / "victimdir" / "x").exists()
    assert not (home / "out.tif.ovr").exists() and not (home / "out.fifo").exists()
    assert len(warnings) == 1 and "4 undeclared item(s)" in warnings[0]
    assert "victim.txt" in warnings[0] and "out.tif.ovr" in warnings[0]


def test_an_existing_side_file_is_not_replaced_without_overwrite(
    places: tuple[Path, Path],
) -> None:
    staging, home = places
    (home / "out.tif.aux.xml").write_text("the user's own statistics")
    (staging / "out.tif").write_bytes(b"raster")
    (staging / "out.tif.aux.xml").write_text("<PAMDataset/>")
    with pytest.raises(OutputExistsError, match=r"out\.tif\.aux\.xml already exists"):
        deliver(staging, home / "out.tif", overwrite=False)
    assert not (home / "out.tif").exists()  # checked before anything moved
    assert (home / "out.tif.aux.xml").read_text() == "the user's own statistics"
    deliver(staging, home / "out.tif", overwrite=True)
    assert (home / "out.tif.aux.xml").read_text() == "<PAMDataset/>"


def test_a_shapefile_arrives_with_its_parts(places: tuple[Path, Path]) -> None:
    staging, home = places
    for suffix in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
        (staging / f"roofs{suffix}").write_bytes(suffix.encode())
    assert deliver(staging, home / "roofs.shp", overwrite=False) == []
    assert sorted(p.name for p in home.iterdir()) == [
        "roofs.cpg", "roofs.dbf", "roofs.prj", "roofs.shp", "roofs.shx"
    ]  # fmt: skip


def test_a_folder_output_is_merged_and_keeps_the_users_other_files(
    places: tuple[Path, Path],
) -> None:
    staging, home = places
    target = home / "classes"
    target.mkdir()
    (target / "a.tif").write_bytes(b"old a")
    (target / "notes.txt").write_text("mine")
    (staging / "classes").mkdir()
    (staging / "classes" / "a.tif").write_bytes(b"new a")
    (staging / "classes" / "b.tif").write_bytes(b"new b")
    os.symlink("/etc/passwd", staging / "classes" / "c.tif")
    with pytest.raises(OutputExistsError, match=r"a\.tif already exists"):
        deliver(staging, target, overwrite=False)
    warnings = deliver(staging, target, overwrite=True)
    assert (target / "a.tif").read_bytes() == b"new a" and (target / "b.tif").is_file()
    assert (target / "notes.txt").read_text() == "mine"
    assert not (target / "c.tif").exists() and "classes/c.tif" in warnings[0]


def test_a_folder_that_is_not_an_output_is_never_replaced(places: tuple[Path, Path]) -> None:
    staging, home = places
    (home / "out.gpkg").mkdir()
    (home / "out.gpkg" / "thesis.docx").write_text("years of work")
    (staging / "out.gpkg").write_bytes(b"layer")
    with pytest.raises(OutputExistsError, match="not an output dlpk replaces"):
        deliver(staging, home / "out.gpkg", overwrite=True)
    assert (home / "out.gpkg" / "thesis.docx").read_text() == "years of work"


def test_a_geodatabase_is_replaced_whole_with_overwrite(places: tuple[Path, Path]) -> None:
    staging, home = places
    (home / "out.gdb").mkdir()
    (home / "out.gdb" / "a00000001.gdbtable").write_bytes(b"old")
    (staging / "out.gdb").mkdir()
    (staging / "out.gdb" / "a00000009.gdbtable").write_bytes(b"new")
    deliver(staging, home / "out.gdb", overwrite=True)
    assert [p.name for p in (home / "out.gdb").iterdir()] == ["a00000009.gdbtable"]


def test_links_in_the_users_folder_are_not_written_through(places: tuple[Path, Path]) -> None:
    staging, home = places
    elsewhere = home.parent / "elsewhere.tif"
    elsewhere.write_bytes(b"not yours to replace")
    os.symlink(elsewhere, home / "out.tif")
    (staging / "out.tif").write_bytes(b"raster")
    with pytest.raises(OutputExistsError, match="is a link"):
        deliver(staging, home / "out.tif", overwrite=True)
    assert elsewhere.read_bytes() == b"not yours to replace"
