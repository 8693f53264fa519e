"""`dlpk lint`, `dlpk fix`, `dlpk normalize`: checking and repairing model definitions.

Kept light: nothing here imports rasterio, a framework or rich, so a pre-commit hook pays only
for the validator.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path
from typing import Any

from dlpk.cli.options import codes, colour, echo, parse_size, write_or_print
from dlpk.errors import UsageError

REPORT_FORMATS = ("github", "json", "sarif", "text")


def register(subparsers: Any) -> None:
    lint = subparsers.add_parser(
        "lint",
        help="check .emd files, .dlpk packages and folders",
        description="Exit status: 0 no errors, 1 errors (or warnings with --strict), "
        "2 usage or I/O failure.",
    )
    lint.add_argument("paths", nargs="+", metavar="PATH", help=".emd, .dlpk/.zip or folder")
    lint.add_argument("--format", choices=REPORT_FORMATS, default="text")
    lint.add_argument("-o", "--output", help="write the report to this file")
    lint.add_argument("--strict", action="store_true", help="fail on warnings too")
    lint.add_argument("--select", action="append", metavar="CODES", help="only these codes")
    lint.add_argument("--ignore", action="append", metavar="CODES", help="skip these codes")
    lint.add_argument("--deep", action="store_true", help="open model files and check shapes")
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

    report = lint(
        args.paths,
        deep=args.deep,
        select=codes(args.select),
        ignore=codes(args.ignore),
        strict=args.strict,
        trust_code=args.trust_code,
        max_size=args.max_size,
    )
    write_or_print(report.render(args.format, colour(sys.stdout) and not args.output), args.output)
    return report.exit_code


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
