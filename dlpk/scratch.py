"""Scratch folders that a killed run does not leave behind for good.

Each folder's name carries the process id that made it (`dlpk-job-1234-x8f2`); making a new one
first removes the folders of the same kind whose process is gone (a kill -9, a power cut), so
job directories, unpacked models, mosaics and output staging folders do not pile up in the
temporary folder or beside the user's outputs. Only folders this user owns are removed, and
only when their process no longer exists.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def scratch_folder(prefix: str, parent: Path | None = None, suffix: str = "") -> Path:
    """A fresh folder `prefix<pid>-<random><suffix>` in `parent` (default: the temporary
    folder), after removing the leftovers of dead processes with the same prefix."""
    base = parent if parent is not None else Path(tempfile.gettempdir())
    remove_leftovers(base, prefix, suffix)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", suffix=suffix, dir=base))


def take_over(folder: Path, prefix: str, suffix: str = "") -> Path:
    """`folder` (a dead process's scratch folder, or this one's) renamed as this process's, so
    it is no longer another's leftover: the rename onto a fresh empty folder is atomic."""
    fresh = Path(
        tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", suffix=suffix, dir=folder.parent)
    )
    os.rename(folder, fresh)
    return fresh


@contextlib.contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    """A scratch folder in the temporary folder for the block, removed after it."""
    folder = scratch_folder(prefix)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def remove_leftovers(base: Path, prefix: str, suffix: str = "") -> list[Path]:
    """Remove `base/prefix<pid>-*<suffix>` folders of this user whose process is gone."""
    removed: list[Path] = []
    for entry in leftovers(base, prefix, suffix):
        with contextlib.suppress(OSError):
            shutil.rmtree(entry)
            removed.append(entry)
    return removed


def leftovers(base: Path, prefix: str, suffix: str = "", own: bool = False) -> list[Path]:
    """This user's `base/prefix<pid>-*<suffix>` folders whose process is gone (with `own`,
    this process's too), newest first."""
    found: list[Path] = []
    for entry in base.glob(f"{glob.escape(prefix)}*{glob.escape(suffix)}"):
        pid = entry.name[len(prefix) :].split("-", 1)[0]
        if not pid.isdigit():
            continue
        if process_alive(int(pid)) and not (own and int(pid) == os.getpid()):
            continue
        with contextlib.suppress(OSError):
            if not entry.is_symlink() and entry.is_dir() and entry.stat().st_uid == os.getuid():
                found.append(entry)
    return sorted(found, key=_modified, reverse=True)


def _modified(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def process_alive(pid: int) -> bool:
    """Whether a process of that id exists (someone else's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
