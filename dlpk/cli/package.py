"""`dlpk pack` and `dlpk inspect`: building and summarising packages."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

from dlpk.cli.options import colour, echo


def register(subparsers: Any) -> None:
    pack = subparsers.add_parser("pack", help="build a deterministic .dlpk from a model folder")
    pack.add_argument("folder", metavar="FOLDER")
    pack.add_argument("-o", "--output", help="package path (default FOLDER.dlpk)")
    pack.add_argument("--overwrite", action="store_true", help="replace an existing package")
    pack.set_defaults(func=cmd_pack)

    inspect = subparsers.add_parser("inspect", help="summarise a package, folder or .emd")
    inspect.add_argument("path", metavar="PATH")
    inspect.add_argument("--format", choices=("text", "json"), default="text")
    inspect.set_defaults(func=cmd_inspect)


def cmd_pack(args: argparse.Namespace) -> int:
    from dlpk.api import pack

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        output = pack(args.folder, args.output, overwrite=args.overwrite)
    for warning in caught:
        echo(f"warning {warning.message}", sys.stderr)
    echo(f"wrote {output} ({Path(output).stat().st_size} bytes)")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from dlpk.api import inspect
    from dlpk.packaging.inspect import render_text

    info = inspect(args.path)
    if args.format == "json":
        sys.stdout.write(json.dumps(info, indent=2) + "\n")
    else:
        sys.stdout.write(render_text(info, colour(sys.stdout)))
    return 0
