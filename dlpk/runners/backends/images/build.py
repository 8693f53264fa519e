"""`dlpk images build` and `dlpk images list`: per-framework runner images through the docker SDK.

The build context is assembled in a temporary folder: the framework's Dockerfile from images/,
the dlpk wheel built from this source tree, a constraints file pinning the versions installed
here (so a container computes exactly what the host computes), and optional local wheels.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from dlpk.errors import DlpkError, ImageBuildError
from dlpk.runners.backends.images.catalog import (
    BASE_IMAGE_TAG,
    DEFAULT_BASE_IMAGE,
    IMAGE_FRAMEWORKS,
    VARIANTS,
    ImageFramework,
    Variant,
    image_tag,
)
from dlpk.runners.backends.images.docker_client import docker_client
from dlpk.version import __version__

SOURCE_ROOT = Path(__file__).resolve().parents[4]
#: Framework packages pinned only by the Dockerfile (the host may hold other builds of them).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_UNPINNED = {"torch", "tensorflow", "tensorflow-cpu", "onnxruntime", "onnxruntime-gpu"}


@dataclass(frozen=True)
class ImageStatus:
    tag: str
    framework: ImageFramework
    variant: Variant
    present: bool
    size: int | None = None
    created: str | None = None
    current: bool = False  # built from the sources of this dlpk


def _dockerfile(framework: ImageFramework) -> Path:
    path = SOURCE_ROOT / "images" / f"{framework}.Dockerfile"
    if not path.is_file():
        raise ImageBuildError(
            f"{path.name} not found: building images needs a dlpk source checkout",
            "run `dlpk images build` from a clone of the dlpk repository",
        )
    return path


def _constraints() -> str:
    """`name==version` for every installed distribution dlpk needs, recursively."""
    pinned: dict[str, str] = {}
    pending = ["dlpk"]
    while pending:
        name = pending.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        key = dist.metadata["Name"].lower().replace("_", "-")
        if key in pinned:
            continue
        pinned[key] = dist.version
        for requirement in dist.requires or []:
            if "extra ==" not in requirement and (match := _NAME.match(requirement)):
                pending.append(match.group(0))
    pinned.pop("dlpk", None)
    return "".join(f"{k}=={v}\n" for k, v in sorted(pinned.items()) if k not in _UNPINNED)


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _build_wheel(target: Path) -> None:
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(target)]
    completed = subprocess.run(
        [*command, str(SOURCE_ROOT)], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise ImageBuildError(f"building the dlpk wheel failed: {completed.stderr.strip()[-300:]}")


def assemble_context(framework: ImageFramework, folder: Path, wheelhouse: Path | None) -> None:
    shutil.copyfile(_dockerfile(framework), folder / "Dockerfile")
    (folder / "dist").mkdir()
    (folder / "wheelhouse").mkdir()
    _build_wheel(folder / "dist")
    (folder / "requirements.txt").write_text(_constraints())
    if wheelhouse is not None:
        if not wheelhouse.is_dir():
            raise ImageBuildError(f"--wheelhouse {wheelhouse} is not a folder")
        for wheel in sorted(wheelhouse.glob("*.whl")):
            shutil.copyfile(wheel, folder / "wheelhouse" / wheel.name)


def source_digest() -> str:
    """A digest of the dlpk sources an image is built from, recorded as its `dlpk.source` label,
    so a stale image (built before the code changed) can be told apart from a current one."""
    digest = hashlib.sha256()
    files = sorted(SOURCE_ROOT.glob("dlpk/**/*.py")) + sorted(SOURCE_ROOT.glob("dlpk/**/*.json"))
    for path in [SOURCE_ROOT / "pyproject.toml", *files]:
        digest.update(path.relative_to(SOURCE_ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def is_current(tag: str) -> bool:
    """The image exists and was built from these sources."""
    try:
        image = docker_client().images.get(tag)
    except DlpkError:
        raise
    except Exception:
        return False
    return bool(image.labels.get("dlpk.source") == source_digest())


def default_base() -> str:
    """The bootstrapped local base when present (no registry needed), else python:3.11-slim."""
    client = docker_client()
    try:
        client.images.get(BASE_IMAGE_TAG)
    except Exception:
        return DEFAULT_BASE_IMAGE
    return BASE_IMAGE_TAG


def build_image(
    framework: ImageFramework,
    variant: Variant = "cpu",
    base: str | None = None,
    wheelhouse: Path | None = None,
    on_line: Callable[[str], None] = lambda line: None,
) -> str:
    """Build one runner image; returns its tag."""
    client = docker_client()
    tag = image_tag(framework, variant)
    base_image = base or default_base()
    with tempfile.TemporaryDirectory(prefix="dlpk-image-") as scratch:
        context = Path(scratch)
        assemble_context(framework, context, wheelhouse)
        arguments = {
            "BASE_IMAGE": base_image,
            "DLPK_VERSION": __version__,
            "VARIANT": variant,
            "SOURCE_DIGEST": source_digest(),
        }
        ray = _installed("ray")
        if ray is not None:  # the cluster's Ray, where the image is built beside one
            arguments["RAY_VERSION"] = ray
        previous = _image_id(client, tag)
        log: list[str] = []
        stream = client.api.build(
            path=str(context), tag=tag, buildargs=arguments, rm=True, forcerm=True, decode=True
        )
        for chunk in stream:
            _follow(chunk, log, on_line)
    if previous is not None and previous != _image_id(client, tag):
        with contextlib.suppress(Exception):  # still used by a container: leave it
            client.images.remove(previous)
    return tag


def _image_id(client: Any, tag: str) -> str | None:
    try:
        return str(client.images.get(tag).id)
    except Exception:
        return None


def _follow(chunk: dict[str, Any], log: list[str], on_line: Callable[[str], None]) -> None:
    if "error" in chunk:
        tail = " | ".join(line for line in log[-3:] if line)
        raise ImageBuildError(f"image build failed: {chunk['error'].strip()} ({tail})")
    text = str(chunk.get("stream", "")).rstrip()
    if text:
        log.append(text)
        on_line(text)


def list_images() -> list[ImageStatus]:
    client = docker_client()
    found: list[ImageStatus] = []
    for framework in IMAGE_FRAMEWORKS:
        for variant in VARIANTS:
            tag = image_tag(framework, variant)
            try:
                image = client.images.get(tag)
            except Exception:
                found.append(ImageStatus(tag, framework, variant, False))
                continue
            size, created = int(image.attrs.get("Size", 0)), str(image.attrs.get("Created", ""))
            current = image.labels.get("dlpk.source") == source_digest()
            found.append(ImageStatus(tag, framework, variant, True, size, created[:19], current))
    return found
