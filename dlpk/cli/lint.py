"""`dlpk lint`, `dlpk fix`, `dlpk normalize`: checking and repairing model definitions.

Kept light: nothing here imports rasterio, a framework or rich, so a pre-commit hook pays only
for the validator.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlpk.cli.options import (
    codes,
    colour,
    echo,
    parse_size,
    reader_gone,
    stdout_gone,
    write_or_print,
)
from dlpk.errors import UsageError

if TYPE_CHECKING:
    from dlpk.validator.diagnostics import Diagnostic

REPORT_FORMATS = ("github", "json", "sarif", "text")


def register(subparsers: Any) -> None:
    lint = subparsers.add_parser(
        "lint",
        help="check .emd files, .dlpk packages and folders",
        description="Exit status: 0 no errors, 1 errors (or warnings with --strict), "
        "2 usage or I/O failure (a folder holding nothing to lint is one).",
    )
    lint.add_argument("paths", nargs="+", metavar="PATH", help=".emd, .dlpk/.zip or folder")
    lint.add_argument("--format", choices=REPORT_FORMATS, default="text")
    lint.add_argument("-o", "--output", help="write the report to this file")
    lint.add_argument("--strict", action="store_true", help="fail on warnings too")
    lint.add_argument("--select", action="append", metavar="CODES", help="only these codes")
    lint.add_argument("--ignore", action="append", metavar="CODES", help="skip these codes")
    lint.add_argument(
        "--deep",
        action="store_true",
        help="open model files and check shapes; a `deep:` line per file on stderr says what "
        "was opened and checked",
    )
    lint.add_argument(
        "--trust-code", action="store_true", help="allow unpickling model files for --deep"
    )
    lint.add_argument(
        "--max-size",
        type=parse_size,
        default="64G",
        help="largest uncompressed package content accepted (default 64G)",
    )
    lint.set_defaults(func=cmd_lint)

    fix = subparsers.add_parser("fix", help="apply safe fixes to an .emd or a .dlpk")
    fix.add_argument("path", metavar="PATH", help=".emd or .dlpk")
    fix.add_argument("-o", "--output", help="write here instead of in place")
    fix.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    fix.add_argument("--unsafe", action="store_true", help="also apply unsafe fixes")
    fix.set_defaults(func=cmd_fix)

    normalize = subparsers.add_parser("normalize", help="print the canonical form of an .emd")
    normalize.add_argument("paths", nargs="+", metavar="PATH", help=".emd or .dlpk")
    normalize.add_argument("-o", "--output", help="write here instead of standard output")
    normalize.add_argument(
        "--check", action="store_true", help="exit 1 and show a diff when not canonical"
    )
    normalize.set_defaults(func=cmd_normalize)


def cmd_lint(args: argparse.Namespace) -> int:
    from dlpk.api import lint

    _refuse_empty_folders([Path(p) for p in args.paths])
    report = lint(
        args.paths,
        deep=args.deep,
        select=codes(args.select),
        ignore=codes(args.ignore),
        strict=args.strict,
        trust_code=args.trust_code,
        max_size=args.max_size,
    )
    if args.deep:
        for file in report.files:
            echo(f"deep: {file}: {deep_note(Path(file), report.diagnostics)}", sys.stderr)
    try:
        text = report.render(args.format, colour(sys.stdout) and not args.output)
        write_or_print(text, args.output)
        sys.stdout.flush()
    except BrokenPipeError:  # `dlpk lint ... | head`: the verdict stands
        if not stdout_gone():
            raise
        return reader_gone(report.exit_code)
    return report.exit_code


#: Deep outcomes that mean the model file was not (or could not be) checked.
DEEP_NOT_CHECKED = ("DL801", "DL802", "DL806", "DL807")
DEEP_CHECKS = "input channels, input size, class count (where it declares them) and side-effect ops"


def deep_note(file: Path, diagnostics: list[Diagnostic]) -> str:
    """What `--deep` did with one linted file, for stderr (the report, which machines read,
    keeps to findings): the model file it opened and what it compared, or why it opened none."""
    mine = [d for d in diagnostics if d.file == str(file)]
    model = _model_file(file)
    if model is None:
        return "no model file to open (ModelFile is missing, not found, or outside the folder)"
    skipped = next((d for d in mine if d.code in DEEP_NOT_CHECKED), None)
    if skipped is not None:
        return f"{model} not checked: {skipped.code} {skipped.message}"
    findings = sorted({d.code for d in mine if d.code.startswith("DL8")})
    found = ", ".join(findings) or "no findings"
    return f"opened {model}; checked {DEEP_CHECKS} against the .emd: {found}"


def _model_file(file: Path) -> str | None:
    """The ModelFile of a linted .emd or package as `--deep` opens it (relative to the .emd,
    present), or None when there is none to open."""
    import json

    from dlpk.errors import DlpkError
    from dlpk.packaging.reader import read_package_emd
    from dlpk.validator.files import DirectoryIndex, FileIndex, MemberIndex
    from dlpk.validator.lint import PACKAGE_SUFFIXES, read_emd_file
    from dlpk.validator.references import Kind, read_reference

    index: FileIndex
    try:
        if file.suffix.lower() in PACKAGE_SUFFIXES:
            package = read_package_emd(file)
            data, index = package.data, MemberIndex(package.names, package.base)
        else:
            data, index = read_emd_file(file), DirectoryIndex(file.parent)
        document = json.loads(data)
    except (DlpkError, OSError, ValueError):
        return None
    raw = document.get("ModelFile") if isinstance(document, dict) else None
    if not isinstance(raw, str):
        return None
    reference = read_reference(raw, index)
    return reference.relative if reference.kind is Kind.RELATIVE and reference.found else None


def _refuse_empty_folders(paths: list[Path]) -> None:
    """A folder holding nothing to lint is a mistake (a wrong path in CI), not a pass."""
    from dlpk.validator.lint import PACKAGE_SUFFIXES, iter_targets

    for path in paths:
        if path.is_dir() and next(iter_targets(path), None) is None:
            *first, last = (".emd", *PACKAGE_SUFFIXES)
            kinds = f"{', '.join(first)} or {last}"
            raise UsageError(
                f"{path}: no {kinds} file in this folder or below it",
                "name the model definitions or packages, or a folder holding them",
            )


def cmd_fix(args: argparse.Namespace) -> int:
    """Exit 0 only when no error is left (the package's own DL7xx included) and the fixes
    settled; every error left, and every fix refused by verification, is listed."""
    from dlpk.api import fix
    from dlpk.validator.diagnostics import Severity

    report = fix(args.path, output=args.output, unsafe=args.unsafe, overwrite=args.overwrite)
    for d in report.applied:
        if d.fix is not None:
            echo(f"fixed {d.code} {d.location}: {d.fix.description}")
    if not report.applied:
        echo(f"{report.output}: nothing " + ("fixed" if report.refused else "to fix"))
    refused = {id(d) for d in report.refused}
    for d in report.remaining:
        if d.severity is Severity.ERROR or id(d) in refused:
            unsafe = d.fix is not None and not d.fix.safe and not args.unsafe
            hint = " (unsafe fix available: --unsafe)" if unsafe else ""
            echo(f"remaining {d.code} {d.location}: {d.message}{hint}", sys.stderr)
    if not report.converged:
        print(
            f"{report.output}: the fixes did not settle; what was kept verified, rerun "
            "`dlpk lint` to see what is left",
            file=sys.stderr,
        )
    return 0 if report.ok and report.converged else 1


def cmd_normalize(args: argparse.Namespace) -> int:
    """Refusals (keys that would merge, duplicated keys, unreadable JSON) name the file; with
    --check every file is still checked and any refusal fails the check."""
    from dlpk.errors import DlpkError
    from dlpk.packaging.fix import emd_text
    from dlpk.validator.normalize import normalize_text

    if len(args.paths) > 1 and not args.check:
        raise UsageError("normalize prints one file", "pass one PATH, or several with --check")
    status = 0
    for name in args.paths:
        path = Path(name)
        text = emd_text(path)
        try:
            canonical = normalize_text(text)
        except DlpkError as exc:
            exc.message = f"{path}: {exc.message}"
            if not args.check:
                raise
            echo(f"dlpk: error: {exc}", sys.stderr)
            status = max(status, exc.exit_code)
            continue
        if not args.check:
            write_or_print(canonical, args.output)
        elif canonical != text:
            diff = difflib.unified_diff(
                text.splitlines(True), canonical.splitlines(True), str(path), "normalized"
            )
            echo("".join(diff), multiline=True, end="")
            status = max(status, 1)
    return status
