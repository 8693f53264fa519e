"""Files appear complete or not at all: write a temporary sibling, then rename over the target."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

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
