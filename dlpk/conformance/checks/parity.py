"""CF8: the runner image gives the bytes this machine gives, for the same job."""

from __future__ import annotations

from dlpk.conformance.checks.common import base_run
from dlpk.conformance.context import ModelContext
from dlpk.conformance.outcome import NotApplicable, Outcome, failed, passed
from dlpk.conformance.registry import MODEL_CHECKS
from dlpk.errors import DockerUnavailableError, ImageMissingError


@MODEL_CHECKS.register(
    "CF801", "parity.runner_image", "the runner image writes the bytes a local run writes"
)
def runner_image(context: ModelContext) -> Outcome:
    import dlpk

    options = context.options
    base = base_run(context)
    if options.backend == "docker":
        docker, local = base, context.run("local", backend=dlpk.InProcess(device=options.device))
    else:
        try:
            from dlpk.runners.backends.images.docker_client import docker_client

            docker_client()
        except DockerUnavailableError as exc:
            raise NotApplicable(f"not run: {exc}") from None
        backend = dlpk.Docker(image=options.image, device=options.device)
        docker, local = context.run("docker", backend=backend), base
    for run, where in ((docker, "in the runner image"), (local, "locally")):
        if not run.ok:
            if isinstance(run.error, ImageMissingError | DockerUnavailableError):
                raise NotApplicable(f"not run: {run.failure()}")
            if run is local and context.load_skipped is not None:
                raise NotApplicable(f"not run: no local run to compare ({context.load_skipped})")
            return failed(
                f"the job fails {where}: {run.failure()}",
                "the runner image must run what runs locally (same framework "
                "versions: `dlpk images build`)",
            )
    evidence = {"local": local.digest(), "docker": docker.digest()}
    if local.digest() != docker.digest():
        return failed(
            "the runner image wrote other bytes than the local run",
            "rebuild the runner image from this dlpk (`dlpk images build --if-stale`), so it "
            "pins the framework versions installed here",
            **evidence,
        )
    return passed("the runner image wrote the local run's bytes", **evidence)
