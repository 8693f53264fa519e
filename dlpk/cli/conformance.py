"""`dlpk conformance`: does a model package really work (PKG), does a runner keep the job
contract (--runner), and --list of every check."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from dlpk.cli.options import colour, echo, write_or_print
from dlpk.errors import UsageError

FORMATS = ("text", "json", "junit", "markdown")
EPILOG = (
    "Exit status: 0 every check passed (warnings allowed unless --strict), 1 a check failed, "
    "2 usage (also: not a model package). Reports: docs/conformance.md; schema: "
    "`dlpk schema conformance`."
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "conformance",
        help="check that a model package really works, or that a runner keeps the job contract",
        description="Run the model checks (CFnnn) against PKG through the real tasks, or the "
        "runner kit (RCnnn) against --runner.",
        epilog=EPILOG,
    )
    parser.add_argument("package", nargs="?", metavar="PKG", help=".dlpk, .emd or model folder")
    parser.add_argument(
        "--runner",
        metavar="IMAGE_OR_COMMAND",
        help="run the runner kit instead: `local` (this dlpk's `python -m dlpk.runners`), "
        "docker:IMAGE, or a command given the job directory as its last argument",
    )
    parser.add_argument(
        "--raster", metavar="SAMPLE", help="take pixels from this raster instead of synthetic ones"
    )
    parser.add_argument(
        "--backend",
        choices=("local", "docker"),
        default="local",
        help="where the checks' tasks run (default: in this process)",
    )
    parser.add_argument("--image", help="runner image for --backend docker and the parity check")
    parser.add_argument(
        "--device",
        choices=("cpu", "gpu", "auto"),
        default="cpu",
        help="where models run (default: cpu, so runs repeat exactly)",
    )
    parser.add_argument(
        "--arg",
        dest="arguments",
        action="append",
        metavar="NAME=VALUE",
        help="model argument the checks run with (padding, batch_size, ...); repeatable",
    )
    parser.add_argument(
        "--trust-code",
        action="store_true",
        help="allow running the package's Python raster function in this process",
    )
    parser.add_argument("--format", choices=FORMATS, default="text")
    parser.add_argument("-o", "--output", help="write the report to this file")
    parser.add_argument(
        "--artifacts", metavar="DIR", help="write evidence images (e.g. a seam) into DIR"
    )
    parser.add_argument("--strict", action="store_true", help="fail on warnings too")
    parser.add_argument("--select", action="append", metavar="IDS", help="only these checks")
    parser.add_argument("--ignore", action="append", metavar="IDS", help="skip these checks")
    parser.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="--runner: seconds one kit job may take (default 300)",
    )
    parser.add_argument("--list", action="store_true", help="list every check and exit")
    parser.set_defaults(func=cmd_conformance)


def _ids(values: list[str] | None) -> list[str]:
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def _pairs(values: list[str] | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for text in values or []:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--arg {text!r}: expected name=value, e.g. padding=64")
        found[name.strip()] = value.strip()
    return found


def cmd_conformance(args: argparse.Namespace) -> int:
    if args.list:
        return _list(args.format)
    if (args.package is None) == (args.runner is None):
        raise UsageError(
            "give a package (PKG) or --runner, not both"
            if args.package
            else "give a package (PKG) to check, or --runner IMAGE_OR_COMMAND",
            "see `dlpk conformance --help`",
        )
    from dlpk import api

    live = sys.stderr.isatty()
    report = api.conformance(
        args.package,
        runner=args.runner,
        raster=args.raster,
        model_arguments=_pairs(args.arguments),
        backend=args.backend,
        image=args.image,
        device=args.device,
        trust_code=args.trust_code,
        select=_ids(args.select),
        ignore=_ids(args.ignore),
        strict=args.strict,
        artifacts=args.artifacts,
        timeout=args.timeout,
        on_check=_progress() if live else None,
    )
    if live:
        sys.stderr.write("\r\x1b[K")
    from dlpk.conformance.reporters import render

    painted = colour(sys.stdout) and not args.output and args.format == "text"
    write_or_print(render(report, args.format, painted), args.output)
    if args.output:
        verdict = "passed" if report.ok else "failed"
        echo(f"{verdict}: report written to {Path(args.output)}", sys.stderr)
    return report.exit_code


def _progress() -> Any:
    def show(check_id: str, name: str, status: str) -> None:
        sys.stderr.write(f"\r\x1b[K{check_id} {name}: {status}")
        sys.stderr.flush()

    return show


def _list(format: str) -> int:
    from dlpk.conformance.model_kit import check_names
    from dlpk.conformance.runner.kit import case_names

    rows = [
        {"id": c.id, "name": c.name, "kit": kit, "proves": c.proves}
        for kit, checks in (("model", check_names()), ("runner", case_names()))
        for c in checks
    ]
    if format == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    width = max(len(r["name"]) for r in rows)
    for row in rows:
        print(f"{row['id']}  {row['name']:<{width}}  {row['proves']}")
    return 0
