"""Options and output helpers every command group shares: the backend and progress options,
sizes, colour, a reader that went away, printing a job's result, and `echo`, the one way a
line holding package or job data (names, messages, logs) reaches the terminal."""

from __future__ import annotations

import argparse
import os
import re
import select
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


def stdout_gone() -> bool:
    """Whether standard output is a pipe nobody reads any more (`dlpk rules | head`: poll
    reports an error on its write end); a broken pipe elsewhere (a socket, a subprocess) is an
    error like any other."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll (Windows), or no real stdout
        return True


def reader_gone(status: int = 0) -> int:
    """End quietly once standard output's reader has gone, as a command killed by SIGPIPE
    would: standard output is pointed at the null device, so the flush at exit cannot fail
    again; returns `status`."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # not a real file descriptor (a test's capture)
        pass
    return status


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
        choices=("local", "docker", "ray"),
        default="local",
        help="run on this machine (default: in this process; in a subprocess with --timeout, "
        "so it can be stopped), in the framework's runner image, or in shares on a Ray "
        "cluster (docs/cluster.md)",
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
    group.add_argument(
        "--cpus",
        type=float,
        help="container CPU limit, e.g. 2 (docker); CPUs each worker asks for (ray; default 1)",
    )
    group.add_argument("--timeout", type=float, help="stop the job after this many seconds")
    group.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        help="ray: the cluster to join: auto (the one this machine belongs to), HOST:PORT, or "
        "ray://HOST:10001 (Ray Client); default: $RAY_ADDRESS, else a local Ray started for "
        "the job",
    )
    group.add_argument(
        "--ray-workers",
        type=int,
        metavar="N",
        help="ray: workers to share the job among (one actor each, the model loaded once per "
        "worker); default: as many as the cluster's CPUs, or its GPUs, hold",
    )
    group.add_argument(
        "--gpus-per-worker",
        type=float,
        metavar="GPUS",
        help="ray: GPUs each worker asks for with --device gpu/auto, a fraction to share one "
        "(0.25: four workers a GPU); default 1",
    )
    add_progress_option(parser)


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    """`--progress`, for every command that runs a job (the value goes to the API as is)."""
    from dlpk.runners.progress import PROGRESS_MODES

    parser.add_argument(
        "--progress",
        choices=PROGRESS_MODES,
        default="auto",
        help="how progress is shown on stderr: bar, plain (a line every few seconds with "
        "counts, rate and ETA), json (one JSON object a line), none; auto (the default): a "
        "bar on a terminal, plain lines otherwise",
    )


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
    if args.backend == "ray":
        return dlpk.Ray(
            address=args.ray_address,
            workers=args.ray_workers,
            gpus_per_worker=args.gpus_per_worker,
            cpus_per_worker=args.cpus if args.cpus is not None else 1.0,
            device=args.device,
            timeout=args.timeout,
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
