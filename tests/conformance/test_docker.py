"""The runner images pass the runner kit, and a package's bytes in its image equal the local
ones (CF801). These need Docker and the built images: skipped with the reason on a machine
without them, failing under DLPK_REQUIRE_DOCKER=1 (CI), as tests/backends does."""

from __future__ import annotations

import pytest

import dlpk
from dlpk.runners.backends.images.catalog import IMAGE_FRAMEWORKS, ImageFramework, image_tag
from tests.conftest import REPO, require_image


@pytest.mark.parametrize("framework", IMAGE_FRAMEWORKS)
def test_runner_images_pass_the_kit(framework: ImageFramework) -> None:
    require_image(framework)
    report = dlpk.conformance(runner=f"docker:{image_tag(framework)}")
    assert report.ok, [c for c in report.checks if c.status != "pass"]
    assert {c.id for c in report.checks if c.status != "pass"} <= {"RC302"}


def test_landcover_gives_the_local_bytes_in_its_runner_image(docker_ready: None) -> None:
    report = dlpk.conformance(REPO / "examples" / "landcover.dlpk", select=["CF801"])
    check = report.check("CF801")
    assert check.status == "pass", check
    assert check.evidence["local"] == check.evidence["docker"]


def test_checks_run_in_the_runner_image(docker_ready: None) -> None:
    report = dlpk.conformance(
        REPO / "examples" / "landcover.dlpk", backend="docker", select=["CF2", "CF4", "CF801"]
    )
    assert report.ok and {c.status for c in report.checks} == {"pass"}, report.checks
    assert report.settings["backend"] == "docker"
