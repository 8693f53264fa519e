"""Fixing an .emd or a package: lint, apply the fixes, re-lint, write atomically.

A package is rewritten member by member (only its .emd changes, or its top folder is flattened
by the unsafe DL704 fix); a loose .emd is rewritten as text. Nothing is written when nothing
changed and the output is the input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from dlpk.atomic import atomic_path
from dlpk.errors import InputNotFoundError, OutputExistsError, PackageError, UsageError
from dlpk.validator.diagnostics import Diagnostic, Fix, Severity
from dlpk.validator.lint import read_emd_file

PACKAGE_SUFFIXES = (".dlpk", ".zip")
PACKAGE_CODE_PREFIX = "DL7"  # rules over the archive, not its .emd


@dataclass(frozen=True)
class FixReport:
    """What `fix` did. `remaining` holds every diagnostic left, a package's own (DL7xx, which
    no text edit repairs) included; `refused` those of them whose fix was not applied because
    its result failed verification (the reason is in the message); `converged` is False when
    the fixes did not settle within the bounded number of rounds."""

    output: Path
    applied: list[Diagnostic]
    remaining: list[Diagnostic]
    refused: list[Diagnostic] = field(default_factory=list)
    converged: bool = True

    @property
    def ok(self) -> bool:
        """No error is left."""
        return not any(d.severity is Severity.ERROR for d in self.remaining)


def decode(data: bytes, where: object) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{where} is not UTF-8", "re-save it as UTF-8, then run fix") from exc


def emd_text(path: Path) -> str:
    """The .emd text of a loose .emd or of a package's .emd member."""
    if path.suffix.lower() not in PACKAGE_SUFFIXES:
        if not path.exists():
            raise InputNotFoundError(f"{path}: no such file")
        return decode(read_emd_file(path), path)
    from dlpk.packaging.reader import read_package_emd

    package = read_package_emd(path)
    return decode(package.data, f"{path}!{package.member}")


def _lint_text_for(
    path: Path, member: str | None, names: list[str] | None, base: str
) -> Callable[[str], list[Diagnostic]]:
    from dlpk.validator.files import DirectoryIndex, FileIndex, MemberIndex
    from dlpk.validator.lint import lint_emd_bytes

    if names is not None:
        index: FileIndex = MemberIndex(names, base, _package_reader(path))
    else:
        index = DirectoryIndex(path.parent)

    def lint(text: str) -> list[Diagnostic]:
        data = text.encode("utf-8")
        return lint_emd_bytes(data, str(path), member, index, names is not None).diagnostics

    return lint


def _package_reader(path: Path) -> Callable[[str], bytes | None]:
    """Small members for the rules that read them (an InferenceFunction's source): fix lints
    a package's .emd as lint does, with its members at hand."""
    import zipfile

    from dlpk.validator.lint import member_reader
    from dlpk.validator.safezip import member_infos

    def read(name: str) -> bytes | None:
        try:
            with zipfile.ZipFile(path) as archive:
                return member_reader(archive, member_infos(archive))(name)
        except (OSError, zipfile.BadZipFile):
            return None

    return read


def fix_path(
    path: Path, output: Path | None = None, unsafe: bool = False, overwrite: bool = False
) -> FixReport:
    """Apply the safe (or, with `unsafe`, all) fixes to `path`, in place or into `output`."""
    from dlpk.validator.fixes import fix_text

    if not path.exists():
        raise InputNotFoundError(f"{path}: no such file")
    target = output or path
    if output is not None and output.exists() and not overwrite:
        raise OutputExistsError(f"{output} already exists", "pass --overwrite to replace it")
    if path.suffix.lower() in PACKAGE_SUFFIXES:
        return _fix_package(path, target, unsafe)
    text = decode(read_emd_file(path), path)
    outcome = fix_text(text, _lint_text_for(path, None, None, ""), unsafe)
    if outcome.text != text or target != path:
        with atomic_path(target, overwrite=True) as temporary:
            temporary.write_bytes(outcome.text.encode("utf-8"))
    return FixReport(target, outcome.applied, outcome.remaining, outcome.refused, outcome.converged)


def _fix_package(path: Path, output: Path, unsafe: bool) -> FixReport:
    from dlpk.packaging.reader import read_package_emd
    from dlpk.packaging.rewrite import rewrite_package
    from dlpk.validator.fixes import fix_text
    from dlpk.validator.lint import LintOptions, lint_package

    before = lint_package(path, LintOptions())
    package = read_package_emd(path)
    text = decode(package.data, package.member)
    lint = _lint_text_for(path, package.member, package.names, package.base)
    outcome = fix_text(text, lint, unsafe)
    flatten = unsafe and any(d.fix and d.fix.action == "flatten" for d in before)
    applied = outcome.applied + [d for d in before if flatten and d.code == "DL704"]
    after = before
    if outcome.text != text or flatten or output != path:
        encrypted = ", ".join(str(d.member) for d in before if d.code == "DL707")
        if encrypted:
            raise PackageError(
                f"{path}: cannot rewrite a package with encrypted members ({encrypted})",
                "repack it from its files, then run fix",
            )
        prefix = f"{package.base}/" if flatten else ""
        rewrite_package(path, output, {package.member: outcome.text.encode("utf-8")}, prefix)
        after = lint_package(output, LintOptions())
        # the rewrite never copies a member whose name escapes extraction: say so
        applied += [
            replace(d, fix=Fix("left it out of the rewritten package", safe=True))
            for d in before
            if d.code == "DL705"
        ]
    # what the archive itself is (links, duplicate members, sizes): no .emd edit repairs it
    archive = [d for d in after if d.code.startswith(PACKAGE_CODE_PREFIX)]
    return FixReport(
        output, applied, outcome.remaining + archive, outcome.refused, outcome.converged
    )
