"""`dlpk run JOBDIR`: run a job directory written by hand or by another tool."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dlpk.cli.options import add_backend_options, backend_from, print_done


def register(subparsers: Any) -> None:
    r = subparsers.add_parser("run", help="run a job directory (job.json)")
    r.add_argument("jobdir", type=Path)
    add_backend_options(r)
    r.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from dlpk.api import run_job

    print_done(run_job(args.jobdir, backend=backend_from(args), progress=args.progress))
    return 0
