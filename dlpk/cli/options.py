"""Options and output helpers every command group shares: the backend options, sizes, colour,
the progress bar, printing a job's result, and `echo`, the one way a line holding package or
job data (names, messages, logs) reaches the terminal."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from dlpk.validator.reporters.safe_text import terminal_safe

if TYPE_CHECKING:
    from dlpk.runners.backends.base import Backend
    from dlpk.spec.job import Result

_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?$", re.IGNORECASE)


def echo(
    text: str, file: TextIO | None = None, *, multiline: bool = False, end: str = "\n"
) -> None:
    """Print `text` (to stdout, or `file`) with its control characters, C1 codes and bidi
    overrides made visible (`\\x1b`, `\\u202e`): a name from a package cannot retitle the
    window, clear the screen or write the clipboard. `multiline` keeps newlines and tabs, for a
    block such as a job's log or a diff (`echo("".join(diff), multiline=True, end="")`)."""
    stream = file if file is not None else sys.stdout
    print(terminal_safe(text, multiline=multiline), file=stream, end=end)


def colour(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and "NO_COLOR" not in os.environ


def codes(values: list[str] | None) -> list[str]:
    """`--select DL1,DL2 --select DL3` as one list of codes."""
    return [code.strip() for value in values or [] for code in value.split(",") if code.strip()]


def parse_size(text: str) -> int:
    match = _SIZE.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 500M or 64G")
    number, unit = float(match.group(1)), match.group(2).upper()
    return int(number * 1024 ** "_KMGT".index(unit or "_"))


def write_or_print(text: str, output: str | None) -> None:
    if output:
        from dlpk.atomic import atomic_path

        with atomic_path(Path(output), overwrite=True) as temporary:
            temporary.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def add_backend_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("backend")
    group.add_argument(
        "--backend",
        choices=("local", "docker"),
        default="local",
        help="run on this machine (default: in this process; in a subprocess with --timeout, "
        "so it can be stopped) or in the framework's runner image",
    )
    group.add_argument(
        "--image",
        help="runner image (default: by the .emd Framework; $DLPK_DEFAULT_IMAGE for packages "
        "naming none and jobs without a model)",
    )
    group.add_argument(
        "--device",
        choices=("cpu", "gpu", "auto"),
        default="auto",
        help="where the model runs (auto: a GPU when one is usable)",
    )
    group.add_argument("--gpus", help="GPU ids for --device gpu/auto, e.g. 0,1 (default: all)")
    group.add_argument(
        "--memory", help="container memory limit, e.g. 8g (docker; default: 3/4 of this machine)"
    )
    group.add_argument("--cpus", type=float, help="container CPU limit, e.g. 2 (docker)")
    group.add_argument("--timeout", type=float, help="stop the job after this many seconds")


def backend_from(args: argparse.Namespace) -> Backend:
    """The typed backend the options name; the Namespace goes no further than here."""
    import dlpk

    if args.backend == "docker":
        return dlpk.Docker(
            image=args.image,
            device=args.device,
            gpus=args.gpus,
            memory=args.memory,
            cpus=args.cpus,
            timeout=args.timeout,
            on_log=_stderr,
        )
    if args.timeout is None:  # no second interpreter to start: the job runs in this process
        return dlpk.InProcess(device=args.device)
    return dlpk.Local(device=args.device, timeout=args.timeout)


def _stderr(line: str) -> None:
    echo(line, sys.stderr)  # a container's log line: written by the package's code


def print_warnings(result: Result | None) -> None:
    for warning in result.warnings if result is not None else []:
        echo(f"dlpk: warning: {warning}", sys.stderr)


def print_done(result: Result) -> None:
    print_warnings(result)
    counts = ", ".join(f"{k} {v}" for k, v in result.counts.items())
    total = result.timings.get("total", 0.0)
    echo(f"done: {len(result.outputs)} files written; {counts} in {total:.1f} s")
