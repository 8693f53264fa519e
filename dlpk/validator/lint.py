"""Linting entry points: an .emd (text or file), a .dlpk package, a model folder, many paths."""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from dlpk.errors import InputNotFoundError, InputReadError, PackageError
from dlpk.validator import (
    class_rules,
    emd_rules,
    framework_rules,
    package_rules,
    schema_rules,
    value_rules,
)
from dlpk.validator.diagnostics import Diagnostic
from dlpk.validator.docvalues import type_name
from dlpk.validator.emitter import EmdSource, Emitter
from dlpk.validator.files import MAX_READ_BYTES, DirectoryIndex, FileIndex, MemberIndex
from dlpk.validator.jsonparser import parse_json_bytes
from dlpk.validator.reference_rules import check_references
from dlpk.validator.rules import rule
from dlpk.validator.safezip import (
    MAX_EMD_BYTES,
    MAX_TOTAL_BYTES,
    MemberInfo,
    member_infos,
    read_member,
)

PACKAGE_SUFFIXES = (".dlpk", ".zip")


@dataclass(frozen=True)
class LintOptions:
    deep: bool = False
    trust_code: bool = False
    max_total_bytes: int = MAX_TOTAL_BYTES


@dataclass
class EmdResult:
    diagnostics: list[Diagnostic]
    document: dict[str, Any] | None = None
    referenced: set[str] = field(default_factory=set)


def lint_emd_bytes(
    data: bytes,
    file: str,
    member: str | None = None,
    index: FileIndex | None = None,
    in_package: bool = False,
) -> EmdResult:
    """Every .emd content rule over raw bytes; never raises on any input."""
    parsed = parse_json_bytes(data)
    emit = Emitter(EmdSource(parsed, file, member, index, in_package))
    emd_rules.check_syntax(emit)
    if not parsed.ok:
        return EmdResult(emit.diagnostics)
    doc = parsed.value
    if not isinstance(doc, dict):
        emit.emit("DL110", f"the top level is {type_name(doc)}, not an object", "")
        return EmdResult(emit.diagnostics)
    if emd_rules.check_manifest(emit, doc):
        return EmdResult(emit.diagnostics, doc)
    emd_rules.check_keys(emit, doc)
    emd_rules.check_vocabulary(emit, doc)
    framework_rules.check_framework(emit, doc)
    schema_rules.check_schema(emit, doc)
    emd_rules.check_required(emit, doc)
    value_rules.check_values(emit, doc)
    class_rules.check_classes(emit, doc)
    emd_rules.check_consistency(emit, doc)
    referenced = check_references(emit, doc)
    return EmdResult(emit.diagnostics, doc, referenced)


def file_kind(mode: int) -> str:
    """What a file that is not a regular file is, for a message: "a FIFO (named pipe)", ..."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def _not_regular(path: Path, mode: int) -> InputReadError:
    return InputReadError(
        f"{path}: is {file_kind(mode)}, not a regular file; dlpk reads only regular files"
    )


def regular_file_size(path: Path) -> int:
    """The size of `path` (links followed), which must be a regular file.

    A FIFO, socket or device is refused from its stat alone, never opened: opening a FIFO
    waits for a writer, reading a device may never end.
    """
    try:
        info = path.stat()
    except FileNotFoundError as exc:
        raise InputNotFoundError(f"{path}: no such file") from exc
    except OSError as exc:
        raise InputReadError(f"{path}: cannot read ({exc.strerror})") from exc
    if not stat.S_ISREG(info.st_mode):
        raise _not_regular(path, info.st_mode)
    return info.st_size


def open_regular(path: Path) -> BinaryIO:
    """`path` opened for reading, checked to be a regular file before and after opening.

    Non-blocking, so that a file swapped for a FIFO after the check cannot block the open; the
    descriptor is checked again and closed unread if it is not a regular file.
    """
    regular_file_size(path)
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0)
    flags |= getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError as exc:
        raise InputNotFoundError(f"{path}: no such file") from exc
    except OSError as exc:
        raise InputReadError(f"{path}: cannot read ({exc.strerror})") from exc
    handle = os.fdopen(fd, "rb")
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        handle.close()
        raise _not_regular(path, mode)
    return handle


def _read_file(path: Path, limit: int = MAX_EMD_BYTES) -> bytes:
    """At most `limit` + 1 bytes of the regular file `path` (more than `limit`: it is too big)."""
    with open_regular(path) as handle:
        try:
            return handle.read(limit + 1)
        except OSError as exc:
            raise InputReadError(f"{path}: cannot read ({exc.strerror})") from exc


def _read_emd(path: Path) -> tuple[bytes | None, int]:
    """A loose .emd's bytes and size; None (the file left unread) past MAX_EMD_BYTES."""
    size = regular_file_size(path)
    if size > MAX_EMD_BYTES:
        return None, size
    data = _read_file(path, MAX_EMD_BYTES)
    return (data, len(data)) if len(data) <= MAX_EMD_BYTES else (None, len(data))


def _too_large(name: str, size: int) -> str:
    return f"{name} is {size} bytes; an .emd is a small JSON file (at most {MAX_EMD_BYTES})"


def read_emd_file(path: Path) -> bytes:
    """A loose .emd's bytes for a reader that is not lint (inspect, normalize, fix).

    Refuses, as reading a package's .emd does, a special file (unopened) and an .emd larger
    than MAX_EMD_BYTES (before reading it).
    """
    data, size = _read_emd(path)
    if data is None:
        raise PackageError(_too_large(str(path), size), f"run `dlpk lint {path}`")
    return data


def lint_emd_file(
    path: Path, options: LintOptions, index: DirectoryIndex | None = None
) -> list[Diagnostic]:
    """Lint a loose .emd; `index` lets callers share one folder listing between files.

    An .emd larger than MAX_EMD_BYTES is reported (DL712, as in a package) without being read.
    """
    data, size = _read_emd(path)
    if data is None:
        return [_package_diag("DL712", _too_large(path.name, size), str(path))]
    folder_index = index or DirectoryIndex(path.parent)
    result = lint_emd_bytes(data, str(path), index=folder_index)
    if options.deep and result.document is not None:
        from dlpk.validator.deep import deep_check_folder

        result.diagnostics += deep_check_folder(
            result.document, path.parent, str(path), None, options.trust_code
        )
    return result.diagnostics


def _package_diag(code: str, message: str, file: str) -> Diagnostic:
    return Diagnostic(code, rule(code).severity, message, file)


def lint_package(path: Path, options: LintOptions) -> list[Diagnostic]:
    file = str(path)
    regular_file_size(path)  # a FIFO or device named .dlpk is refused, never opened
    try:
        with zipfile.ZipFile(path) as archive:
            return _lint_archive(archive, file, options)
    except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError) as exc:
        return [_package_diag("DL701", f"not a readable zip archive ({exc}); repack it", file)]
    except OSError as exc:
        raise InputReadError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def _lint_archive(archive: zipfile.ZipFile, file: str, options: LintOptions) -> list[Diagnostic]:
    infos = member_infos(archive)
    found = package_rules.check_members(infos, file, options.max_total_bytes)
    found += package_rules.unreadable(archive, infos, file)
    location, located = package_rules.locate_emd(infos, file)
    found += located
    if location is None:
        return found
    info = next(i for i in infos if i.name == location.member)
    if info.encrypted:
        return found
    if info.size > MAX_EMD_BYTES:
        message = f"{info.name} declares {info.size} bytes; an .emd is a small JSON file"
        return [*found, _package_diag("DL712", message, file)]
    try:
        data = read_member(archive, location.member)
    except Exception as exc:  # any corruption of the member: CRC, bad deflate stream, ...
        message = f"{location.member} cannot be read ({exc}); repack the package"
        return [*found, _package_diag("DL701", message, file)]
    names = [i.name for i in infos]
    index = MemberIndex(names, location.base, member_reader(archive, infos))
    result = lint_emd_bytes(data, file, location.member, index, in_package=True)
    found += result.diagnostics
    if result.document is not None:
        prefix = f"{location.base}/" if location.base else ""
        emd_name = location.member[len(prefix) :]
        found += package_rules.unreferenced_files(
            index.files(), result.referenced, emd_name, file, prefix
        )
        if options.deep:
            from dlpk.validator.deep import deep_check_package

            found += deep_check_package(
                result.document, archive, location.base, file, location.member, options.trust_code
            )
    return found


def member_reader(
    archive: zipfile.ZipFile, infos: list[MemberInfo]
) -> Callable[[str], bytes | None]:
    """Reads a small member for a rule; None for one lint would not open (a link, encrypted,
    large) or that fails to read (the archive rules report why)."""
    by_name = {info.name: info for info in infos}

    def read(name: str) -> bytes | None:
        info = by_name.get(name)
        if info is None or info.is_link or info.encrypted or info.size > MAX_READ_BYTES:
            return None
        try:
            return read_member(archive, name, MAX_READ_BYTES)
        except Exception:  # any corruption of the member: CRC, bad deflate stream, ...
            return None

    return read


def iter_targets(path: Path) -> Iterator[Path]:
    """The lintable files under a folder (recursively) or the path itself.

    A FIFO, socket or device named like one is yielded too: lint_target refuses it unopened,
    so a folder holding one fails with a one-line error instead of waiting on it.
    """
    if not path.is_dir():
        yield path
        return
    for folder, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        for name in sorted(names):
            if name.lower().endswith((".emd", *PACKAGE_SUFFIXES)):
                yield Path(folder) / name


def lint_target(
    path: Path, options: LintOptions, indexes: dict[Path, DirectoryIndex] | None = None
) -> list[Diagnostic]:
    """Lint one .emd or package; a special file (FIFO, socket, device) is refused unopened."""
    if path.suffix.lower() in PACKAGE_SUFFIXES:
        regular_file_size(path)
        return lint_package(path, options)
    if not path.exists():
        raise InputNotFoundError(f"{path}: no such file or folder")
    shared = indexes if indexes is not None else {}
    index = shared.setdefault(path.parent, DirectoryIndex(path.parent))
    return lint_emd_file(path, options, index)


def lint_paths(paths: list[Path], options: LintOptions) -> tuple[list[str], list[Diagnostic]]:
    """Lint every target; returns the files linted and their diagnostics."""
    files: list[str] = []
    diagnostics: list[Diagnostic] = []
    indexes: dict[Path, DirectoryIndex] = {}
    for path in paths:
        if not path.exists():
            raise InputNotFoundError(f"{path}: no such file or folder")
        for target in iter_targets(path):
            files.append(str(target))
            diagnostics += lint_target(target, options, indexes)
    return files, diagnostics


def select(
    diagnostics: list[Diagnostic], chosen: list[str], ignored: list[str]
) -> list[Diagnostic]:
    """ruff-style code filters: a prefix selects a family (DL1 = all JSON rules)."""

    def matches(code: str, prefixes: list[str]) -> bool:
        return any(code.startswith(p.upper()) for p in prefixes)

    return [
        d
        for d in diagnostics
        if (not chosen or matches(d.code, chosen)) and not matches(d.code, ignored)
    ]
