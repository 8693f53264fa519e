"""Where the files an .emd references are looked up: a folder on disk or a package's members.

Lookups are case-sensitive even on case-insensitive file systems, because the package will be
unpacked on Linux servers where `Model.PTH` is not `model.pth`. A few rules also read a small
referenced file (the InferenceFunction's source); an index that cannot read returns None and
those rules stay silent.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Protocol

#: The most a rule reads of a referenced file; a larger one is left unread (and unjudged).
MAX_READ_BYTES = 4 * 1024**2

_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
ARCGIS_FUNCTIONS_PREFIX = "[Functions]"


class Found(Enum):
    EXACT = "exact"
    OTHER_CASE = "other-case"
    MISSING = "missing"


@dataclass(frozen=True)
class Lookup:
    found: Found
    actual: str | None = None  # the name as stored, when found with other case
    is_dir: bool = False


class FileIndex(Protocol):
    def lookup(self, relpath: str) -> Lookup: ...

    def files(self) -> list[str]: ...

    def read(self, relpath: str) -> bytes | None:
        """The bytes of an exactly named file, or None (absent, too large, unreadable)."""
        ...

    def absolute(self, path: str) -> Found | None:
        """Whether an absolute path exists, or None when it cannot be told from here."""
        ...


def is_absolute_path(path: str) -> bool:
    """Absolute on any OS: `/x`, `\\x`, `C:\\x`, `\\\\server\\share`."""
    return path.startswith(("/", "\\")) or bool(_DRIVE.match(path))


def to_relative_posix(path: str) -> str:
    """`.\\mrcnn\\spacenet` -> `mrcnn/spacenet`; keeps `..` so callers can report it."""
    posix = path.replace("\\", "/")
    normal = posixpath.normpath(posix) if posix else posix
    return "" if normal == "." else normal


def escapes_root(relpath: str) -> bool:
    return relpath == ".." or relpath.startswith("../")


class DirectoryIndex:
    """Files under a folder on disk."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._listings: dict[Path, tuple[frozenset[str], dict[str, str]]] = {}

    def _listing(self, folder: Path) -> tuple[frozenset[str], dict[str, str]]:
        """Names in `folder` and a lower-case map of them, listed once per folder."""
        if folder not in self._listings:
            try:
                names = os.listdir(folder)
            except OSError:
                names = []
            self._listings[folder] = (frozenset(names), {n.lower(): n for n in sorted(names)})
        return self._listings[folder]

    def lookup(self, relpath: str) -> Lookup:
        current = self.root
        actual_parts: list[str] = []
        other_case = False
        for part in relpath.split("/"):
            names, lowered = self._listing(current)
            if part in names:
                actual = part
            elif part.lower() in lowered:
                actual, other_case = lowered[part.lower()], True
            else:
                return Lookup(Found.MISSING)
            actual_parts.append(actual)
            current = current / actual
        actual_path = "/".join(actual_parts)
        found = Found.OTHER_CASE if other_case else Found.EXACT
        return Lookup(found, actual_path, current.is_dir())

    def files(self) -> list[str]:
        found: list[str] = []
        for folder, dirs, names in os.walk(self.root):
            dirs.sort()
            rel = Path(folder).relative_to(self.root)
            found.extend(str((rel / name).as_posix()) for name in sorted(names))
        return [f.removeprefix("./") for f in found]

    def read(self, relpath: str) -> bytes | None:
        """A regular file's bytes; a FIFO or device is never opened (it could block)."""
        if self.lookup(relpath).found is not Found.EXACT:
            return None
        path = self.root.joinpath(*relpath.split("/"))
        flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            if not stat.S_ISREG(path.stat().st_mode):
                return None
            fd = os.open(path, flags)
            with os.fdopen(fd, "rb") as handle:
                if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                    return None
                data = handle.read(MAX_READ_BYTES + 1)
        except OSError:
            return None
        return data if len(data) <= MAX_READ_BYTES else None

    def absolute(self, path: str) -> Found | None:
        """Only a path absolute on this system can be looked up (not C:\\ on Linux)."""
        if not os.path.isabs(path):
            return None
        return Found.EXACT if os.path.exists(path) else Found.MISSING


class MemberIndex:
    """Members of a zip archive, relative to the folder holding the .emd; `reader` reads one
    member by its archive name (lint passes one; without it nothing is read)."""

    def __init__(
        self,
        names: list[str],
        base: str = "",
        reader: Callable[[str], bytes | None] | None = None,
    ) -> None:
        prefix = f"{base}/" if base else ""
        self._prefix = prefix
        self._reader = reader
        self._files = [n[len(prefix) :] for n in names if n.startswith(prefix) and n[-1:] != "/"]
        self._exact = set(self._files)
        self._folders = {posixpath.dirname(f) for f in self._files}
        for folder in list(self._folders):
            while folder and posixpath.dirname(folder) != folder:
                folder = posixpath.dirname(folder)
                self._folders.add(folder)
        self._lower = {f.lower(): f for f in self._files}
        self._lower_folders = {f.lower(): f for f in self._folders}

    def lookup(self, relpath: str) -> Lookup:
        if relpath in self._exact:
            return Lookup(Found.EXACT, relpath)
        if relpath in self._folders:
            return Lookup(Found.EXACT, relpath, is_dir=True)
        if relpath.lower() in self._lower:
            return Lookup(Found.OTHER_CASE, self._lower[relpath.lower()])
        if relpath.lower() in self._lower_folders:
            return Lookup(Found.OTHER_CASE, self._lower_folders[relpath.lower()], is_dir=True)
        return Lookup(Found.MISSING)

    def files(self) -> list[str]:
        return sorted(self._files)

    def read(self, relpath: str) -> bytes | None:
        if self._reader is None or relpath not in self._exact:
            return None
        return self._reader(self._prefix + relpath)

    def absolute(self, path: str) -> Found | None:
        """A package holds no absolute paths: whether one exists is not the package's to say."""
        return None
