"""Reading a .dlpk without trusting it: everything is decided from the central directory.

Nothing is extracted to check a package; single members are read into memory with size caps,
and extraction (for --deep or for running) goes member by member into a fresh folder only after
every name has been checked.
"""

from __future__ import annotations

import itertools
import posixpath
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from dlpk.errors import PackageError

MAX_TOTAL_BYTES = 64 * 1024**3  # uncompressed package content
MAX_RATIO = 200  # uncompressed / compressed, for members large enough to matter
RATIO_MIN_BYTES = 16 * 1024**2
MAX_EMD_BYTES = 16 * 1024**2
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class MemberInfo:
    name: str
    size: int
    compressed: int
    offset: int
    is_dir: bool
    is_link: bool
    encrypted: bool


def member_infos(archive: zipfile.ZipFile) -> list[MemberInfo]:
    infos = []
    for info in archive.infolist():
        mode = info.external_attr >> 16
        infos.append(
            MemberInfo(
                name=info.filename,
                size=info.file_size,
                compressed=info.compress_size,
                offset=info.header_offset,
                is_dir=info.filename.endswith("/"),  # is_dir() fails on an empty name
                is_link=stat.S_ISLNK(mode),
                encrypted=bool(info.flag_bits & 0x1),
            )
        )
    return infos


def unsafe_name_reason(name: str) -> str | None:
    """Why extracting `name` could write outside the target folder, or None."""
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "is an absolute path"
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        return "contains '..'"
    if "\x00" in name:
        return "contains a NUL character"
    return None


def overlapping_members(infos: list[MemberInfo]) -> list[str]:
    """Members whose data overlaps the next local header: the trick of overlapped zip bombs."""
    ordered = sorted(infos, key=lambda i: i.offset)
    return [
        current.name
        for current, following in itertools.pairwise(ordered)
        if current.offset + current.compressed > following.offset
    ]


def read_member(archive: zipfile.ZipFile, name: str, limit: int = MAX_EMD_BYTES) -> bytes:
    """Read one member fully into memory, refusing more than `limit` bytes."""
    with archive.open(name) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise PackageError(f"{name} is larger than {limit} bytes")
    return data


def extract_member(archive: zipfile.ZipFile, name: str, target: Path) -> Path:
    """Extract one checked member under `target`, streaming and with its declared size enforced."""
    reason = unsafe_name_reason(name)
    if reason is not None:
        raise PackageError(f"refusing to extract {name!r}: it {reason}")
    info = archive.getinfo(name)
    destination = target.joinpath(*posixpath.normpath(name).split("/"))
    if target.resolve() not in destination.resolve().parents:
        raise PackageError(f"refusing to extract {name!r}: it leaves the target folder")
    destination.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(info) as source, destination.open("wb") as sink:
        _copy_bounded(source, sink, info.file_size, name)
    return destination


def _copy_bounded(source: IO[bytes], sink: IO[bytes], declared: int, name: str) -> None:
    written = 0
    while chunk := source.read(1 << 20):
        written += len(chunk)
        if written > declared:
            raise PackageError(f"{name} inflates beyond its declared size; the package is corrupt")
        sink.write(chunk)


def extract_all(archive: zipfile.ZipFile, target: Path) -> None:
    """Extract every regular member after checking all names; links are refused."""
    infos = member_infos(archive)
    for info in infos:
        if info.is_link or info.encrypted:
            raise PackageError(f"refusing to extract {info.name!r}: links/encryption not allowed")
        reason = unsafe_name_reason(info.name)
        if reason is not None:
            raise PackageError(f"refusing to extract {info.name!r}: it {reason}")
    target.mkdir(parents=True, exist_ok=True)
    try:
        for info in infos:
            if not info.is_dir:
                extract_member(archive, info.name, target)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
