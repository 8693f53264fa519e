"""The `dlpk` command line: thin wiring from options to the library functions."""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from dlpk import __version__
from dlpk.errors import DlpkError, InputNotFoundError, UsageError
from dlpk.runners.inference.commands import register as register_inference
from dlpk.validator.diagnostics import Diagnostic, Severity

Handler = Callable[[argparse.Namespace], int]
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?$", re.IGNORECASE)


def _colour(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and "NO_COLOR" not in os.environ


def _codes(values: list[str] | None) -> list[str]:
    return [code.strip() for value in values or [] for code in value.split(",") if code.strip()]


def parse_size(text: str) -> int:
    match = _SIZE.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 500M or 64G")
    number, unit = float(match.group(1)), match.group(2).upper()
    return int(number * 1024 ** "_KMGT".index(unit or "_"))


def _write_or_print(text: str, output: str | None) -> None:
    if output:
        from dlpk.atomic import atomic_path

        with atomic_path(Path(output), overwrite=True) as temporary:
            temporary.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


# -- lint ---------------------------------------------------------------------------------------
def cmd_lint(args: argparse.Namespace) -> int:
    from dlpk.validator.lint import LintOptions, lint_paths, select
    from dlpk.validator.reporters import REPORTERS

    options = LintOptions(deep=args.deep, trust_code=args.trust_code, max_total_bytes=args.max_size)
    files, diagnostics = lint_paths([Path(p) for p in args.paths], options)
    diagnostics = select(diagnostics, _codes(args.select), _codes(args.ignore))
    colour = _colour(sys.stdout) and not args.output
    _write_or_print(REPORTERS[args.format](files, diagnostics, colour), args.output)
    failing = {Severity.ERROR, Severity.WARNING} if args.strict else {Severity.ERROR}
    return 1 if any(d.severity in failing for d in diagnostics) else 0


# -- fix ------------------------------------------------------------------------------------------
def _lint_text_for(
    path: Path, member: str | None, names: list[str] | None, base: str
) -> Callable[[str], list[Diagnostic]]:
    from dlpk.validator.files import DirectoryIndex, MemberIndex
    from dlpk.validator.lint import lint_emd_bytes

    index = MemberIndex(names, base) if names is not None else DirectoryIndex(path.parent)

    def lint(text: str) -> list[Diagnostic]:
        data = text.encode("utf-8")
        return lint_emd_bytes(data, str(path), member, index, names is not None).diagnostics

    return lint


def _report_fix(applied: list[Diagnostic], remaining: list[Diagnostic], target: Path) -> int:
    for d in applied:
        if d.fix is not None:
            print(f"fixed {d.code} {d.location}: {d.fix.description}")
    if not applied:
        print(f"{target}: nothing to fix")
    left = [d for d in remaining if d.severity is Severity.ERROR]
    for d in left:
        hint = " (unsafe fix available: --unsafe)" if d.fix is not None else ""
        print(f"remaining {d.code} {d.location}: {d.message}{hint}", file=sys.stderr)
    return 1 if left else 0


def _read_text(path: Path) -> str:
    return _decode(path.read_bytes(), path)


def cmd_fix(args: argparse.Namespace) -> int:
    from dlpk.atomic import atomic_path
    from dlpk.validator.fixes import fix_text

    path = Path(args.path)
    if not path.exists():
        raise InputNotFoundError(f"{path}: no such file")
    output = Path(args.output) if args.output else path
    if args.output and output.exists() and not args.overwrite:
        raise UsageError(f"{output} already exists", "pass --overwrite to replace it")
    if path.suffix.lower() in (".dlpk", ".zip"):
        return _fix_package(path, output, args.unsafe)
    text = _read_text(path)
    outcome = fix_text(text, _lint_text_for(path, None, None, ""), args.unsafe)
    if outcome.text != text or output != path:
        with atomic_path(output, overwrite=True) as temporary:
            temporary.write_bytes(outcome.text.encode("utf-8"))
    return _report_fix(outcome.applied, outcome.remaining, output)


def _fix_package(path: Path, output: Path, unsafe: bool) -> int:
    from dlpk.packaging.reader import read_package_emd
    from dlpk.packaging.rewrite import rewrite_package
    from dlpk.validator.fixes import fix_text
    from dlpk.validator.lint import LintOptions, lint_package

    before = lint_package(path, LintOptions())
    package = read_package_emd(path)
    text = _decode(package.data, package.member)
    lint = _lint_text_for(path, package.member, package.names, package.base)
    outcome = fix_text(text, lint, unsafe)
    flatten = unsafe and any(d.fix and d.fix.action == "flatten" for d in before)
    applied = outcome.applied + [d for d in before if flatten and d.code == "DL704"]
    if outcome.text != text or flatten or output != path:
        prefix = f"{package.base}/" if flatten else ""
        rewrite_package(path, output, {package.member: outcome.text.encode("utf-8")}, prefix)
    return _report_fix(applied, outcome.remaining, output)


def _decode(data: bytes, where: object) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{where} is not UTF-8", "re-save it as UTF-8, then run fix") from exc


# -- normalize ----------------------------------------------------------------------------------
def _emd_text(path: Path) -> str:
    if path.suffix.lower() not in (".dlpk", ".zip"):
        if not path.exists():
            raise InputNotFoundError(f"{path}: no such file")
        return _read_text(path)
    from dlpk.packaging.reader import read_package_emd

    package = read_package_emd(path)
    return _decode(package.data, f"{path}!{package.member}")


def cmd_normalize(args: argparse.Namespace) -> int:
    from dlpk.validator.normalize import normalize_text

    if len(args.paths) > 1 and not args.check:
        raise UsageError("normalize prints one file", "pass one PATH, or several with --check")
    status = 0
    for name in args.paths:
        path = Path(name)
        text = _emd_text(path)
        canonical = normalize_text(text)
        if not args.check:
            _write_or_print(canonical, args.output)
        elif canonical != text:
            diff = difflib.unified_diff(
                text.splitlines(True), canonical.splitlines(True), str(path), "normalized"
            )
            sys.stdout.writelines(diff)
            status = 1
    return status


# -- pack / inspect / schema / rules ------------------------------------------------------------
def cmd_pack(args: argparse.Namespace) -> int:
    from dlpk.packaging.pack import pack_folder

    folder = Path(args.folder)
    output = Path(args.output) if args.output else folder.resolve().with_suffix(".dlpk")
    diagnostics = pack_folder(folder, output, overwrite=args.overwrite)
    warnings = [d for d in diagnostics if d.severity is Severity.WARNING]
    for d in warnings:
        print(f"warning {d.code} {d.location}: {d.message}", file=sys.stderr)
    print(f"wrote {output} ({output.stat().st_size} bytes)")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from dlpk.packaging.inspect import describe, render_text

    path = Path(args.path)
    if not path.exists():
        raise InputNotFoundError(f"{path}: no such file or folder")
    info = describe(path)
    if args.format == "json":
        sys.stdout.write(json.dumps(info, indent=2) + "\n")
    else:
        sys.stdout.write(render_text(info, _colour(sys.stdout)))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from dlpk.spec.publish import schema_text

    sys.stdout.write(schema_text(args.name))
    return 0


def cmd_rules(args: argparse.Namespace) -> int:
    from dlpk.validator.rules import RULES

    chosen = [r for r in RULES.values() if not args.codes or r.code in args.codes]
    unknown = set(args.codes or []) - set(RULES)
    if unknown:
        raise UsageError(f"unknown rule code(s): {', '.join(sorted(unknown))}", "see `dlpk rules`")
    if args.format == "json":
        rows = [
            {
                "code": r.code,
                "name": r.name,
                "severity": r.severity.value,
                "summary": r.summary,
                "fix": r.fix,
            }
            for r in chosen
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    for r in chosen:
        fix = f" [{r.fix} fix]" if r.fix else ""
        print(f"{r.code}  {r.name:<32} {r.severity.value:<8}{r.summary}{fix}")
    return 0


# -- parser -------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from dlpk.spec.publish import SCHEMAS
    from dlpk.validator.reporters import REPORTERS

    parser = argparse.ArgumentParser(
        prog="dlpk",
        description="Lint, fix, normalise, pack and inspect Esri deep-learning model packages.",
    )
    parser.add_argument("--version", action="version", version=f"dlpk {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on failure")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    lint = commands.add_parser(
        "lint",
        help="check .emd files, .dlpk packages and folders",
        description="Exit status: 0 no errors, 1 errors (or warnings with --strict), "
        "2 usage or I/O failure.",
    )
    lint.add_argument("paths", nargs="+", metavar="PATH", help=".emd, .dlpk/.zip or folder")
    lint.add_argument("--format", choices=sorted(REPORTERS), default="text")
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

    fix = commands.add_parser("fix", help="apply safe fixes to an .emd or a .dlpk")
    fix.add_argument("path", metavar="PATH", help=".emd or .dlpk")
    fix.add_argument("-o", "--output", help="write here instead of in place")
    fix.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    fix.add_argument("--unsafe", action="store_true", help="also apply unsafe fixes")
    fix.set_defaults(func=cmd_fix)

    normalize = commands.add_parser("normalize", help="print the canonical form of an .emd")
    normalize.add_argument("paths", nargs="+", metavar="PATH", help=".emd or .dlpk")
    normalize.add_argument("-o", "--output", help="write here instead of standard output")
    normalize.add_argument(
        "--check", action="store_true", help="exit 1 and show a diff when not canonical"
    )
    normalize.set_defaults(func=cmd_normalize)

    pack = commands.add_parser("pack", help="build a deterministic .dlpk from a model folder")
    pack.add_argument("folder", metavar="FOLDER")
    pack.add_argument("-o", "--output", help="package path (default FOLDER.dlpk)")
    pack.add_argument("--overwrite", action="store_true", help="replace an existing package")
    pack.set_defaults(func=cmd_pack)

    inspect = commands.add_parser("inspect", help="summarise a package, folder or .emd")
    inspect.add_argument("path", metavar="PATH")
    inspect.add_argument("--format", choices=("text", "json"), default="text")
    inspect.set_defaults(func=cmd_inspect)

    schema = commands.add_parser("schema", help="print a published JSON Schema")
    schema.add_argument("name", choices=sorted(SCHEMAS))
    schema.set_defaults(func=cmd_schema)

    rules = commands.add_parser("rules", help="list lint rules with their explanations")
    rules.add_argument("codes", nargs="*", metavar="CODE")
    rules.add_argument("--format", choices=("text", "json"), default="text")
    rules.set_defaults(func=cmd_rules)

    from dlpk.runners.commands import register as register_runner_commands

    register_runner_commands(commands)

    register_inference(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.func
    try:
        return handler(args)
    except DlpkError as exc:
        if args.debug:
            raise
        print(f"dlpk: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("dlpk: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"dlpk: internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
