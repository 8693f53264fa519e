"""`dlpk images build | list | bootstrap-base`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from dlpk.runners.backends.images.catalog import (
    BASE_IMAGE_TAG,
    IMAGE_FRAMEWORKS,
    ImageFramework,
    Variant,
    image_tag,
)


def register(subparsers: Any) -> None:
    images = subparsers.add_parser("images", help="build and list the per-framework runner images")
    commands = images.add_subparsers(dest="images_command", required=True, metavar="COMMAND")

    build = commands.add_parser("build", help="build runner images (all frameworks by default)")
    build.add_argument("--framework", choices=IMAGE_FRAMEWORKS, action="append")
    build.add_argument("--gpu", action="store_true", help="the CUDA build of the framework")
    build.add_argument("--base", help="base image (default: dlpk-base if present, else python)")
    build.add_argument("--wheelhouse", type=Path, help="folder of local wheels to install from")
    build.add_argument("--quiet", action="store_true", help="do not stream the build log")
    build.add_argument(
        "--if-stale",
        action="store_true",
        help="skip images already built from these sources (reuse what this machine has)",
    )
    build.set_defaults(func=cmd_build)

    listing = commands.add_parser("list", help="which runner images exist, and their sizes")
    listing.set_defaults(func=cmd_list)

    base = commands.add_parser(
        "bootstrap-base", help="make a Debian base image with debootstrap (no registry needed)"
    )
    base.add_argument("--tag", default=BASE_IMAGE_TAG)
    base.add_argument("--mirror", default="http://deb.debian.org/debian")
    base.add_argument("--if-missing", action="store_true", help="do nothing if the tag exists")
    base.set_defaults(func=cmd_bootstrap)


def cmd_build(args: argparse.Namespace) -> int:
    from dlpk.runners.backends.images.build import build_image, is_current

    frameworks: list[ImageFramework] = args.framework or list(IMAGE_FRAMEWORKS)
    variant: Variant = "gpu" if args.gpu else "cpu"
    for framework in frameworks:
        if args.if_stale and is_current(image_tag(framework, variant)):
            print(f"{image_tag(framework, variant)} is current")
            continue
        on_line = (lambda line: None) if args.quiet else (lambda line: print(line, file=sys.stderr))
        tag = build_image(
            framework, "gpu" if args.gpu else "cpu", args.base, args.wheelhouse, on_line
        )
        print(f"built {tag}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from dlpk.runners.backends.images.build import list_images

    for status in list_images():
        if status.present:
            size = f"{(status.size or 0) / 1024**2:,.0f} MiB"
            state = "current" if status.current else "stale"
            print(f"{status.tag:<40} {state:<8} {size:>10}  {status.created}")
        else:
            print(f"{status.tag:<40} missing")
    return 0


def cmd_bootstrap(args: argparse.Namespace) -> int:
    from dlpk.runners.backends.images.bootstrap import bootstrap_base
    from dlpk.runners.backends.images.docker_client import docker_client

    if args.if_missing and _exists(docker_client(), args.tag):
        print(f"{args.tag} exists")
        return 0
    image_id = bootstrap_base(args.tag, args.mirror)
    print(f"made {args.tag} ({image_id[:19]})")
    return 0


def _exists(client: Any, tag: str) -> bool:
    try:
        client.images.get(tag)
    except Exception:
        return False
    return True
