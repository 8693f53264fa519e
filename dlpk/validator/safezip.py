"""Reading a .dlpk without trusting it: everything is decided from the central directory.

Nothing is extracted to check a package; single members are read into memory with size caps,
and extraction (for --deep or for running) goes member by member into a fresh folder only after
every name has been checked, the declared total has been held against the package's budget and
the free space of the target, and with a running byte count across all members.

Member names go through one normalisation, `member_path` (backslashes as `/`, no `.` or empty
parts, Unicode NFC), and duplicates are compared by `member_key` (that, case-folded, because
packages are unpacked on case-insensitive file systems too): the name lint checks is the name
extraction writes, and two members that would land on one file are never both extracted.
"""

from __future__ import annotations

import errno
import itertools
import lzma
import os
import re
import shutil
import stat
import struct
import unicodedata
import zipfile
import zlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from dlpk.errors import DlpkError, PackageError

MAX_TOTAL_BYTES = 64 * 1024**3  # uncompressed package content
MAX_RATIO = 200  # uncompressed / compressed, for members large enough to matter
RATIO_MIN_BYTES = 16 * 1024**2
MAX_EMD_BYTES = 16 * 1024**2
# The whole package: its declared uncompressed total may be at most MAX_PACKAGE_RATIO times its
# compressed bytes, or PACKAGE_RATIO_FLOOR, whichever is larger. A real model package is mostly
# weights, which do not compress: float32/float16 tensors deflate to 85-95% of their size, int8
# ones to 70-90%, and even a heavily pruned model (90% zeros) or a package padded with Python
# code and JSON stays within about 10x. 100x is ten times that, and it caps what a bomb can make
# of its bytes: the 697 KB package of 4,300 bzip2 members of zeros (63 GiB, 95,000x) is refused.
# The floor lets small packages whose side files compress well (sample JSON, text, an empty
# mask) pass whatever their ratio: 1 GiB fits on any disk that runs models.
MAX_PACKAGE_RATIO = 100
PACKAGE_RATIO_FLOOR = 1024**3
# What unpacking needs beyond the declared bytes: at most a file system block for each file.
FILE_OVERHEAD_BYTES = 4096
_DRIVE = re.compile(r"^[A-Za-z]:")
_WINDOWS_FORBIDDEN = set('<>:"|?*') | {chr(code) for code in range(1, 32)}
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL"} | {
    f"{kind}{n}" for kind in ("COM", "LPT") for n in [*"123456789", "\u00b9", "\u00b2", "\u00b3"]
}


@dataclass(frozen=True)
class MemberInfo:
    name: str  # member_path of the stored name (a folder keeps its "/"); unsafe names as stored
    size: int
    compressed: int
    offset: int
    is_dir: bool
    is_link: bool
    encrypted: bool
    raw: str = ""  # the name as stored in the zip

    @property
    def stored(self) -> str:
        return self.raw or self.name


def member_path(name: str) -> str:
    """The relative path a member unpacks to: `./a//b\\c` -> `a/b/c`, in Unicode NFC.

    `..` parts are kept so that `unsafe_name_reason` still sees them.
    """
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    return unicodedata.normalize("NFC", "/".join(parts))


def member_key(name: str) -> str:
    """What two names are compared by: the member path, case-folded (Windows and macOS file
    systems do not tell `Model.onnx` from `model.onnx`), each part without the trailing dots
    and spaces Windows drops (`model.pt.` is `model.pt` there)."""
    parts = [part.rstrip(". ") for part in member_path(name).casefold().split("/")]
    return unicodedata.normalize("NFC", "/".join(parts))


def _normalised_name(raw: str) -> str:
    if unsafe_name_reason(raw) is not None:
        return raw  # reported as stored, never extracted
    path = member_path(raw)
    if raw.endswith("/"):
        return f"{path}/" if path else raw
    return path


def member_infos(archive: zipfile.ZipFile) -> list[MemberInfo]:
    infos = []
    for info in archive.infolist():
        mode = info.external_attr >> 16
        infos.append(
            MemberInfo(
                name=_normalised_name(info.filename),
                size=info.file_size,
                compressed=info.compress_size,
                offset=info.header_offset,
                is_dir=info.filename.endswith("/"),  # is_dir() fails on an empty name
                is_link=stat.S_ISLNK(mode),
                encrypted=bool(info.flag_bits & 0x1),
                raw=info.filename,
            )
        )
    return infos


def unsafe_name_reason(name: str) -> str | None:
    """Why extracting `name` could write outside the target folder, here or on Windows (where
    ArcGIS unpacks packages), or could not be unpacked there at all; None when it is safe."""
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "is an absolute path"
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        return "contains '..'"
    if "\x00" in name:
        return "contains a NUL character"
    if not name.endswith("/") and not member_path(name):
        return "is empty once '.' and '/' are removed"
    return _windows_reason([part for part in parts if part not in ("", ".")])


def _windows_reason(parts: list[str]) -> str | None:
    for part in parts:
        if not part.strip(". "):
            return f"has a part {part!r} that Windows reads as '..' or '.'"
        if set(part) & _WINDOWS_FORBIDDEN:
            return f"has a part {part!r} with a character Windows file names cannot hold"
        if part.split(".")[0].rstrip(" ").upper() in _WINDOWS_DEVICES:
            return f"has a part {part!r} that is a Windows device name"
    return None


@dataclass(frozen=True)
class Collision:
    """Members that would unpack onto one path."""

    path: str  # the member path of the first file
    names: list[str]  # the names as stored, each once, in archive order
    members: int  # members involved (an exact duplicate counts each time)
    folder: bool  # one file where other members need a folder


def name_collisions(infos: list[MemberInfo]) -> list[Collision]:
    """Members that would unpack onto one file, compared by `member_key`; a file whose path
    other members use as a folder collides with them too. Folder entries that repeat each
    other are harmless and not listed; unsafe names are DL705's and not compared."""
    by_key: defaultdict[str, list[MemberInfo]] = defaultdict(list)
    for info in infos:
        if unsafe_name_reason(info.stored) is None:
            by_key[member_key(info.stored)].append(info)
    under: defaultdict[str, list[MemberInfo]] = defaultdict(list)  # members inside each folder
    for key, members in by_key.items():
        parts = key.split("/")
        for depth in range(1, len(parts)):
            under["/".join(parts[:depth])].extend(members)
    found = []
    for key, members in by_key.items():
        files = [m for m in members if not m.is_dir]
        others = [m for m in members if m.is_dir] + under.get(key, [])
        if len(files) > 1 or (files and others):
            involved = [*files, *others]
            names = list(dict.fromkeys(m.stored for m in involved))
            found.append(
                Collision(member_path(files[0].stored), names, len(involved), len(files) == 1)
            )
    return found


def overlapping_members(infos: list[MemberInfo]) -> list[str]:
    """Members whose data overlaps the next local header: the trick of overlapped zip bombs."""
    ordered = sorted(infos, key=lambda i: i.offset)
    return [
        current.name
        for current, following in itertools.pairwise(ordered)
        if current.offset + current.compressed > following.offset
    ]


# What Python's zipfile (and so dlpk) decompresses; ZIP_LZMA needs the lzma module.
READABLE_METHODS = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
}
METHOD_NAMES = {9: "Deflate64", 93: "Zstandard", 95: "xz", 98: "PPMd", 99: "AES"}
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # 30 bytes before the local name
_LOCAL_SIGNATURE = b"PK\x03\x04"


def unreadable_members(archive: zipfile.ZipFile) -> list[tuple[str, str]]:
    """Members that no unzip reads the way the central directory says: a compression method
    zipfile cannot decompress (Windows' "Send to compressed folder" writes Deflate64 past
    2 GiB), or a local header that is missing or names another file (tools that read local
    headers, streaming unzips among them, would unpack something else). Read from the local
    headers only (30 bytes and a name each), not the data: `corrupt_members` checks that."""
    found: list[tuple[str, str]] = []
    fp = archive.fp
    for info in archive.infolist():
        if info.compress_type not in READABLE_METHODS:
            method = METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
            found.append((info.filename, f"is compressed with {method}, which dlpk cannot read"))
            continue
        if fp is None or info.filename.endswith("/"):
            continue
        header = b""
        if info.header_offset >= 0:  # a damaged directory can point before the file
            fp.seek(info.header_offset)
            header = fp.read(_LOCAL_HEADER.size)
        if len(header) < _LOCAL_HEADER.size or header[:4] != _LOCAL_SIGNATURE:
            found.append((info.filename, "has no local header where the directory says"))
            continue
        name_length = _LOCAL_HEADER.unpack(header)[10]
        local = fp.read(name_length)
        if local not in _stored_names(info):
            shown = local.decode("utf-8", "replace")
            found.append((info.filename, f"is named {shown!r} in its local header"))
    return found


def _stored_names(info: zipfile.ZipInfo) -> tuple[bytes, ...]:
    """The byte spellings of a member's central-directory name (UTF-8 or CP437, as flagged;
    some writers store backslashes in one and slashes in the other)."""
    names = {info.orig_filename}
    names.add(info.orig_filename.replace("/", "\\"))
    encoded: set[bytes] = set()
    for name in names:
        for encoding in ("utf-8", "cp437"):
            try:
                encoded.add(name.encode(encoding))
            except UnicodeEncodeError:
                continue
    return tuple(encoded)


# What a damaged member's data raises as it is read: a bad CRC or a truncated stream
# (BadZipFile, EOFError), bad deflate, bzip2 or lzma data (zlib.error, OSError, LZMAError).
_DATA_ERRORS = (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error, lzma.LZMAError)


def corrupt_members(
    archive: zipfile.ZipFile, limit: int = MAX_TOTAL_BYTES
) -> list[tuple[str, str]]:
    """Members whose data does not decompress to their CRC (a bad CRC, bad deflate data, a
    truncated file): found by reading every member through, at most `limit` bytes in all."""
    found: list[tuple[str, str]] = []
    budget = ByteBudget(limit)
    unreadable = {name for name, _ in unreadable_members(archive)}
    for info in archive.infolist():
        if info.filename.endswith("/") or info.filename in unreadable or info.flag_bits & 0x1:
            continue
        try:
            with archive.open(info) as handle:
                while chunk := handle.read(1 << 20):
                    budget.take(len(chunk), info.filename)
        except PackageError:
            found.append((info.filename, "inflates beyond what the package declares"))
            break
        except (*_DATA_ERRORS, NotImplementedError) as exc:
            found.append((info.filename, f"is corrupt ({_one_line(exc)})"))
    return found


def package_bytes(infos: list[MemberInfo], file_size: int | None) -> int:
    """The bytes a package really has for its members: their compressed sizes, at most the
    file's size (a last member may claim more than the file holds; padding outside members
    buys no budget)."""
    compressed = sum(i.compressed for i in infos)
    return compressed if file_size is None else min(compressed, file_size)


def package_budget(package: int, max_total: int = MAX_TOTAL_BYTES) -> int:
    """The most uncompressed bytes a package of `package` compressed bytes may hold."""
    return min(max_total, max(PACKAGE_RATIO_FLOOR, MAX_PACKAGE_RATIO * package))


def human_size(n: int) -> str:
    """`1000 bytes`, `9.0 KiB (9205 bytes)`: readable, and exact for scripts and bug reports."""
    value = float(n)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            return f"{n} bytes" if n < 1024 else f"{value:.1f} {unit} ({n} bytes)"
    return f"{n} bytes"  # pragma: no cover


def _short(n: int) -> str:
    return human_size(n).split(" (")[0]


def _file_size(archive: zipfile.ZipFile) -> int | None:
    try:
        return os.fstat(archive.fp.fileno()).st_size if archive.fp is not None else None
    except (AttributeError, OSError, ValueError):
        return None  # an in-memory archive: its compressed sizes alone


def _existing_folder(target: Path) -> Path:
    folder = target.absolute()
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    return folder


def check_extraction(archive: zipfile.ZipFile, target: Path, label: str | None = None) -> int:
    """Refuse, before anything is written, a package that is over its budget or that does not
    fit in the free space where `target` will be; returns the bytes its members declare, the
    most the running count lets extraction write (members that lie inflate beyond it).
    """
    infos = member_infos(archive)
    label = label or str(archive.filename or "the package")
    declared = sum(i.size for i in infos if not i.is_dir)
    package = package_bytes(infos, _file_size(archive))
    budget = package_budget(package)
    if declared > budget:
        raise PackageError(
            f"{label} declares {human_size(declared)} of content in {human_size(package)}, "
            f"above its budget of {human_size(budget)} (at most {MAX_PACKAGE_RATIO}x its size, "
            f"{_short(PACKAGE_RATIO_FLOOR)} for small packages, {_short(MAX_TOTAL_BYTES)} in all): "
            "zip bomb?",
            f"run `dlpk lint {label}`; repack it without the members that inflate",
        )
    files = sum(1 for i in infos if not i.is_dir)
    needed = declared + files * FILE_OVERHEAD_BYTES
    where = _existing_folder(target)
    free = shutil.disk_usage(where).free
    if needed > free:
        raise PackageError(
            f"unpacking {label} needs {human_size(needed)} but {where} has only "
            f"{human_size(free)} free",
            "free space there, or set TMPDIR to a folder on a larger disk",
        )
    return declared


def read_member(archive: zipfile.ZipFile, name: str, limit: int = MAX_EMD_BYTES) -> bytes:
    """Read one member fully into memory, refusing more than `limit` bytes."""
    with archive.open(resolve_member(archive, name)) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise PackageError(f"{name} is larger than {limit} bytes")
    return data


def resolve_member(archive: zipfile.ZipFile, name: str) -> zipfile.ZipInfo:
    """The member stored under `name` or whose `member_path` is `name`; of several, the last,
    as unzipping in order would leave it (lint reports the duplicates, extraction refuses)."""
    wanted = member_path(name) if unsafe_name_reason(name) is None else name
    found = None
    for info in archive.infolist():
        if info.filename == name or _normalised_name(info.filename).rstrip("/") == wanted:
            found = info
    if found is None:
        raise KeyError(f"There is no item named {name!r} in the archive")
    return found


class ByteBudget:
    """A running count of bytes written, across every member of one extraction."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, n: int, name: str) -> None:
        self.used += n
        if self.used > self.limit:
            raise PackageError(
                f"unpacking stopped at {human_size(self.used)} in {name}: the package inflates "
                f"beyond the {human_size(self.limit)} it declares; it is corrupt or a zip bomb"
            )


def extract_member(
    archive: zipfile.ZipFile, name: str, target: Path, budget: ByteBudget | None = None
) -> Path:
    """Extract one checked member under `target`, streaming and with its declared size enforced.

    `name` is the stored name or its `member_path`; the file is written at the member path and
    never over an existing file.
    """
    reason = unsafe_name_reason(name)
    if reason is not None:
        raise PackageError(f"refusing to extract {name!r}: it {reason}")
    return _extract_info(archive, resolve_member(archive, name), target, budget)


def _extract_info(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: ByteBudget | None
) -> Path:
    reason = unsafe_name_reason(info.filename)
    if reason is not None:
        raise PackageError(f"refusing to extract {info.filename!r}: it {reason}")
    relative = member_path(info.filename)
    destination = target.joinpath(*relative.split("/"))
    if target.resolve() not in destination.resolve().parents:
        raise PackageError(f"refusing to extract {info.filename!r}: it leaves the target folder")
    destination.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(info) as source, destination.open("xb") as sink:
        _copy_bounded(source, sink, info.file_size, relative, budget)
    return destination


def _copy_bounded(
    source: IO[bytes], sink: IO[bytes], declared: int, name: str, budget: ByteBudget | None
) -> None:
    written = 0
    while chunk := source.read(1 << 20):
        written += len(chunk)
        if budget is not None:
            budget.take(len(chunk), name)
        if written > declared:
            raise PackageError(f"{name} inflates beyond its declared size; the package is corrupt")
        sink.write(chunk)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def extract_all(archive: zipfile.ZipFile, target: Path, label: str | None = None) -> None:
    """Extract every regular member after checking all names, the budget and the free space;
    links, encryption and names that collide once normalised are refused. On any failure what
    was written is removed again."""
    infos = member_infos(archive)
    label = label or str(archive.filename or "the package")
    for info in infos:
        if info.is_link or info.encrypted:
            raise PackageError(f"refusing to extract {info.raw!r}: links/encryption not allowed")
        reason = unsafe_name_reason(info.raw)
        if reason is not None:
            raise PackageError(f"refusing to extract {info.raw!r}: it {reason}")
    collisions = name_collisions(infos)
    if collisions:
        first = collisions[0]
        shown = ", ".join(repr(n) for n in first.names[:4])
        more = f" and {len(first.names) - 4} more" if len(first.names) > 4 else ""
        raise PackageError(
            f"refusing to extract {shown}{more}: they all unpack to {first.path}",
            f"run `dlpk lint {label}`; keep one and repack",
        )
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise PackageError(f"refusing to unpack into {target}: it is not an empty folder")
    budget = ByteBudget(check_extraction(archive, target, label))
    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    try:
        for stored, info in zip(archive.infolist(), infos, strict=True):
            if not info.is_dir:
                _extract_info(archive, stored, target, budget)
    except BaseException as exc:
        _remove(target, created)
        if isinstance(exc, DlpkError) or not isinstance(exc, Exception):
            raise
        full = isinstance(exc, OSError) and exc.errno == errno.ENOSPC
        raise PackageError(
            f"cannot unpack {label} into {target}: {_one_line(exc)}",
            "free space there, or set TMPDIR to a folder on a larger disk" if full else None,
        ) from exc


def _remove(target: Path, created: bool) -> None:
    """Remove what an extraction wrote: the target it made, or everything in the empty target
    it was given."""
    if created:
        shutil.rmtree(target, ignore_errors=True)
        return
    for entry in list(target.iterdir()):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
