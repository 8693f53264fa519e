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
