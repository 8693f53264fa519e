"""`dlpk images bootstrap-base`: a Debian base image made on a host that reaches no registry.

debootstrap builds a minimal bookworm root with python3, venv, pip and ca-certificates from the
Debian mirror; the host's CA bundle is copied in (companies often intercept TLS, and pip inside
image builds must trust the same proxy as the host); `docker import` turns it into an image.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from dlpk.errors import BootstrapError
from dlpk.runners.backends.images.catalog import BASE_IMAGE_TAG

PACKAGES = ("python3", "python3-venv", "python3-pip", "ca-certificates", "passwd")
HOST_CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")
DEFAULT_MIRROR = "http://deb.debian.org/debian"


def _host_ca_bundle() -> Path | None:
    for candidate in HOST_CA_BUNDLES:
        if Path(candidate).is_file():
            return Path(candidate)
    return None


def debootstrap(root: Path, mirror: str, suite: str = "bookworm") -> None:
    if shutil.which("debootstrap") is None:
        raise BootstrapError(
            "debootstrap is not installed", "install it (apt-get install debootstrap)"
        )
    command = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        suite,
        str(root),
        mirror,
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-3:]
        raise BootstrapError(f"debootstrap failed: {' | '.join(tail)}", "check the mirror URL")


def slim(root: Path) -> None:
    """Drop what a runtime image never needs: apt lists, caches, docs, locales."""
    for relative in ("var/lib/apt/lists", "var/cache/apt", "usr/share/doc", "usr/share/man"):
        target = root / relative
        if target.is_dir():
            shutil.rmtree(target)
            target.mkdir(parents=True)
    locales = root / "usr/share/locale"
    if locales.is_dir():
        shutil.rmtree(locales)


def install_ca_bundle(root: Path) -> None:
    bundle = _host_ca_bundle()
    if bundle is not None:
        target = root / "etc/ssl/certs/ca-certificates.crt"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(bundle, target)


def import_root(root: Path, tag: str) -> str:
    """`docker import` the folder as an image with a python3 default command."""
    import docker

    client = docker.from_env()
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "rootfs.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add(root, arcname=".")
        repository, _, version = tag.partition(":")
        client.api.import_image(
            src=str(archive),
            repository=repository,
            tag=version or "latest",
            changes=['CMD ["python3"]', "ENV LANG=C.UTF-8"],
        )
    image = client.images.get(tag)
    return str(image.id)


def bootstrap_base(tag: str = BASE_IMAGE_TAG, mirror: str = DEFAULT_MIRROR) -> str:
    with tempfile.TemporaryDirectory(prefix="dlpk-base-") as scratch:
        root = Path(scratch) / "rootfs"
        debootstrap(root, mirror)
        slim(root)
        install_ca_bundle(root)
        return import_root(root, tag)
