"""`dlpk pack`: a deterministic .dlpk from a model folder that lints clean.

Members are sorted, timestamps and permissions fixed, so the same folder always gives the same
bytes; anything that is not part of a model (caches, VCS folders, other packages) is left out.
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

from dlpk.atomic import atomic_path
from dlpk.errors import InputNotFoundError, PackageError
from dlpk.validator.diagnostics import Diagnostic, Severity
from dlpk.validator.lint import LintOptions, file_kind, lint_emd_file, open_regular

FIXED_DATE = (1980, 1, 1, 0, 0, 0)
_SKIPPED_DIRS = {"__pycache__", ".git", ".hg", ".svn", ".ipynb_checkpoints", ".mypy_cache"}
_SKIPPED_FILES = {".DS_Store", "Thumbs.db"}
_SKIPPED_SUFFIXES = (".pyc", ".dlpk", ".tmp")
_STORED_SUFFIXES = (".zip", ".pt", ".pth", ".onnx", ".h5", ".keras", ".pb", ".jpg", ".png")


def folder_emd(folder: Path) -> Path:
    if not folder.is_dir():
        raise InputNotFoundError(f"{folder}: not a folder", "pack takes the model folder")
    emds = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".emd" and p.is_file())
    if len(emds) != 1:
        found = ", ".join(p.name for p in emds) or "none"
        raise PackageError(
            f"{folder} must hold exactly one .emd at its top level (found {found})",
            "remove stale definitions or add the model's .emd",
        )
    return emds[0]


def package_members(folder: Path) -> list[tuple[str, Path]]:
    """The files a package of `folder` holds, sorted by member name.

    Links and special files (FIFO, socket, device) are refused, never opened.
    """
    members: list[tuple[str, Path]] = []
    for current, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
        for name in sorted(names):
            path = Path(current) / name
            if name in _SKIPPED_FILES or name.endswith(_SKIPPED_SUFFIXES):
                continue
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                raise PackageError(
                    f"{path} is a symbolic link", "copy the file it points to into the folder"
                )
            if not stat.S_ISREG(mode):  # a FIFO would block the packing forever
                raise PackageError(
                    f"{path} is {file_kind(mode)}, not a regular file",
                    "remove it from the model folder",
                )
            members.append((path.relative_to(folder).as_posix(), path))
    return sorted(members)


def write_deterministic_zip(members: list[tuple[str, Path]], target: Path) -> None:
    with zipfile.ZipFile(target, "w") as archive:
        for name, path in members:
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            stored = name.lower().endswith(_STORED_SUFFIXES)
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            # opened without blocking and checked again: a file swapped for a FIFO since the
            # listing is refused, not waited on
            with open_regular(path) as source:
                large = os.fstat(source.fileno()).st_size >= zipfile.ZIP64_LIMIT
                with archive.open(info, "w", force_zip64=large) as sink:
                    while chunk := source.read(1 << 20):
                        sink.write(chunk)


def pack_folder(folder: Path, output: Path, overwrite: bool = False) -> list[Diagnostic]:
    """Lint the folder's .emd, refuse on errors, write the package; returns the diagnostics."""
    emd = folder_emd(folder)
    diagnostics = lint_emd_file(emd, LintOptions())
    errors = [d for d in diagnostics if d.severity is Severity.ERROR]
    if errors:
        raise PackageError(
            f"{emd} has {len(errors)} lint error(s); refusing to pack",
            f"run `dlpk lint {emd}` and `dlpk fix {emd}`",
        )
    members = package_members(folder)
    resolved_output = output.resolve()
    members = [(n, p) for n, p in members if p.resolve() != resolved_output]
    with atomic_path(output, overwrite) as temporary:
        write_deterministic_zip(members, temporary)
    return diagnostics
