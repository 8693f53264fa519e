"""Every runner image holds the Ray of the machine that built it, so a Ray cluster (KubeRay's
pods: docs/cluster.md) runs on it: `ray start` exists and the version is the driver's."""

from __future__ import annotations

from importlib import metadata

import pytest

from dlpk.runners.backends.images.catalog import ImageFramework, image_tag
from dlpk.runners.backends.images.docker_client import docker_client
from tests.conftest import require_image


@pytest.mark.parametrize("framework", ["onnx", "pytorch", "tensorflow"])
def test_the_runner_image_can_be_a_ray_node(framework: ImageFramework) -> None:
    require_image(framework)
    script = (
        "import shutil, ray, ray.dashboard.agent; "  # the agent: what KubeRay's probes ask
        "print(ray.__version__, bool(shutil.which('ray')))"
    )
    output = docker_client().containers.run(
        image_tag(framework),
        ["-c", script],
        entrypoint="python",
        remove=True,
        network_disabled=True,
        environment={"HOME": "/tmp"},
    )
    assert output.decode().split() == [metadata.version("ray"), "True"]
