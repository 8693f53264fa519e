"""The `dlpk` command: the parser, and the one place errors become a message and an exit code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from dlpk.cli import conformance, export, images, inference, info, lint, package, run, serve
from dlpk.cli.options import echo, print_warnings, reader_gone, stdout_gone
from dlpk.cli.parser import DlpkParser
from dlpk.errors import DlpkError
from dlpk.interrupts import stop_exit_code, stop_on_signals, stop_reason
from dlpk.version import __version__

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = DlpkParser(
        prog="dlpk",
        description="Lint, fix, normalise, pack and inspect Esri deep-learning model packages; "
        "export training data and run models locally or in containers.",
    )
    parser.add_argument("--version", action="version", version=f"dlpk {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on failure")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (lint, package, info, export, run, images, inference, conformance, serve):
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.func
    try:
        with stop_on_signals():  # SIGTERM and SIGHUP clean up as Ctrl-C does
            status = handler(args)
            sys.stdout.flush()  # a reader that went away (`| head`) is met here, not at exit
            return status
    except DlpkError as exc:
        print_warnings(exc.result)
        if args.debug:
            if exc.log:  # the job's own log, its traceback included, before the launcher's
                echo(exc.log, sys.stderr, multiline=True)
            raise
        echo(f"dlpk: error: {exc}", sys.stderr)
        _print_notes(exc)
        return exc.exit_code
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP: cleaned up on the way here
        print(f"dlpk: {stop_reason(exc)}", file=sys.stderr)
        _print_notes(exc)
        return stop_exit_code(exc)
    except OSError as exc:  # a path the user named cannot be used: one line, not a traceback
        if isinstance(exc, BrokenPipeError) and stdout_gone():
            return reader_gone()
        if args.debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        hint = " (check that the path can be created, read and written)"
        echo(f"dlpk: error: {where}{exc.strerror or exc}{hint}", sys.stderr)
        return 2
    except Exception as exc:
        if args.debug:
            raise
        echo(
            f"dlpk: internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)",
            sys.stderr,
        )
        return 1


def _print_notes(exc: BaseException) -> None:
    """What the launcher added on the way out (e.g. that finished tiles were kept)."""
    for note in getattr(exc, "__notes__", []):
        echo(f"dlpk: {note}", sys.stderr)
