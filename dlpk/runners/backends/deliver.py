"""Putting what a job wrote in its staging folder into the user's place, and nothing else.

The staging folder is the only place a job (a container, a package's code) may write, so what is
in it is untrusted: only the declared output and its side files (same name stem: a Shapefile's
parts, a raster's .aux.xml) are moved; links, special files and anything else are left behind
and named in a warning. Nothing the user has is replaced without `overwrite`, and nothing is
ever deleted except an output being replaced: a folder output (one GeoTIFF per image) is merged
file by file into an existing folder, a File Geodatabase (.gdb) is swapped whole. Every check is
made before the first file moves.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from dlpk.errors import OutputExistsError

DATASET_FOLDERS = (".gdb",)  # folder outputs that are one dataset, replaced whole


def deliver(staging: Path, output: Path, overwrite: bool) -> list[str]:
    """Move the declared output (and side files) from `staging` beside `output`; the output
    itself comes last, so its presence means it is complete. Returns warnings."""
    moves, ignored = _declared(staging, output)
    placements: list[tuple[Path, Path]] = []
    for entry in moves:
        target = output.parent / entry.name
        if entry.is_dir() and not _is_dataset_folder(entry):
            placements += _merge_plan(entry, target, overwrite, ignored)
        else:
            _check_replaceable(target, overwrite)
            placements.append((entry, target))
    for source, target in sorted(placements, key=lambda pair: pair[1] == output):
        _place(source, target)
    if not ignored:
        return []
    shown = ", ".join(sorted(ignored)[:5]) + (" ..." if len(ignored) > 5 else "")
    return [f"the job also wrote {len(ignored)} undeclared item(s), not delivered: {shown}"]


def _declared(staging: Path, output: Path) -> tuple[list[Path], list[str]]:
    """The staging entries that are the output or its side files, and the names of the rest."""
    stem = output.name.split(".")[0]
    moves: list[Path] = []
    ignored: list[str] = []
    for entry in sorted(staging.iterdir()):
        ours = entry.name == output.name or entry.name.startswith(f"{stem}.")
        if ours and _plain(entry):
            moves.append(entry)
        else:
            ignored.append(entry.name)
    return moves, ignored


def _plain(path: Path) -> bool:
    """A regular file or a real folder: never a link, FIFO, socket or device."""
    mode = os.lstat(path).st_mode
    return stat.S_ISREG(mode) or stat.S_ISDIR(mode)


def _is_dataset_folder(path: Path) -> bool:
    return path.suffix.lower() in DATASET_FOLDERS


def _merge_plan(
    folder: Path, target: Path, overwrite: bool, ignored: list[str]
) -> list[tuple[Path, Path]]:
    """A folder output file by file: the user's other files in `target` stay as they are."""
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise OutputExistsError(f"{target} exists and is not a folder", "choose another -o")
    plan: list[tuple[Path, Path]] = []
    for entry in sorted(folder.iterdir()):
        if not entry.is_symlink() and entry.is_file():
            _check_replaceable(target / entry.name, overwrite)
            plan.append((entry, target / entry.name))
        else:
            ignored.append(f"{folder.name}/{entry.name}")
    return plan


def _check_replaceable(target: Path, overwrite: bool) -> None:
    if target.is_symlink():
        raise OutputExistsError(f"{target} is a link", "dlpk does not write through links")
    if not target.exists():
        return
    if target.is_dir() and not any(target.iterdir()):
        return  # an empty folder holds nothing to lose
    if not overwrite:
        raise OutputExistsError(f"{target} already exists", "pass --overwrite to replace it")
    if target.is_dir() and not _is_dataset_folder(target):
        raise OutputExistsError(
            f"{target} is a folder, not an output dlpk replaces", "remove it or choose another -o"
        )


def _place(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_dir() and not target.is_symlink():
        if any(target.iterdir()):
            shutil.rmtree(target)  # a dataset folder being replaced (checked above)
        else:
            target.rmdir()
    os.replace(source, target)
