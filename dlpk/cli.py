"""The dlpk command line (minimal: wires the runner's subcommands)."""

from __future__ import annotations

import argparse

from dlpk import __version__
from dlpk.runners import commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dlpk")
    parser.add_argument("--version", action="version", version=f"dlpk {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    commands.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code
