"""The `--backend` options every task command shares, and running a prepared job with them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from dlpk.runners.backends.docker import DockerOptions, run_docker
from dlpk.runners.backends.launch import PreparedJob, link_mounts
from dlpk.runners.backends.local import OnProgress, run_local
from dlpk.runners.images.catalog import default_image


def add_backend_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("backend")
    group.add_argument(
        "--backend",
        choices=("local", "docker"),
        default="local",
        help="run in a local process (default) or in the framework's runner image",
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
    group.add_argument("--memory", help="container memory limit, e.g. 8g (docker)")
    group.add_argument("--cpus", type=float, help="container CPU limit, e.g. 2 (docker)")
    group.add_argument("--timeout", type=float, help="stop the job after this many seconds")


def run_prepared(
    prepared: PreparedJob,
    args: argparse.Namespace,
    emd_framework: str | None,
    on_progress: OnProgress | None,
) -> int:
    """Run with the backend the options chose; returns the entrypoint's exit code."""
    if args.backend == "docker":
        gpu = args.device == "gpu"
        options = DockerOptions(
            image=args.image or default_image(emd_framework, "gpu" if gpu else "cpu"),
            device=args.device,
            gpus=args.gpus,
            memory=args.memory,
            cpus=args.cpus,
            timeout=args.timeout,
        )
        return run_docker(prepared, options, emd_framework, on_progress, _stderr, _stderr)
    link_mounts(prepared)
    return run_local(prepared.jobdir, on_progress, timeout=args.timeout)


_stderr: Callable[[str], None] = lambda line: print(line, file=sys.stderr)  # noqa: E731
