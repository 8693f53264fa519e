"""`dlpk conformance PKG`: open the package once, build its test raster, run the checks.

Preparing follows the package checks' order: lint (a package ArcGIS would refuse stops
here), unpack, the configuration that runs it, loading the model, the tile plan, the test
raster. What cannot be prepared is recorded, and the checks that need it skip saying why.
Input that is not a model package at all is a one-line usage error, before any check.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dlpk.conformance.checks import load as load_checks
from dlpk.conformance.context import DETECTOR, OBJECTS, PIXELS, ModelContext, ModelOptions
from dlpk.conformance.outcome import NotApplicable, Outcome, plain, skipped
from dlpk.conformance.registry import MODEL_CHECKS, Check
from dlpk.conformance.synthetic import (
    Geometry,
    chip_box,
    from_sample,
    raster_size,
    write_synthetic,
)
from dlpk.errors import DlpkError, InputNotFoundError, ModelError, UsageError
from dlpk.scratch import scratch
from dlpk.spec.configurations import CONFIGURATIONS
from dlpk.spec.conformance import CheckResult, ConformanceReport, Summary
from dlpk.version import __version__

#: Lint codes that mean the path is no model package at all (not one that fails a check).
NOT_A_PACKAGE = ("DL701", "DL702", "DL703")
#: ModelType -> the task that runs a raster function package (as ArcGIS's tools).
TASK_OF_TYPE = {
    "ImageClassification": PIXELS,
    "ObjectDetection": DETECTOR,
    "InstanceDetection": DETECTOR,
    "ObjectClassification": OBJECTS,
}


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run_model_checks(options: ModelOptions) -> ConformanceReport:
    """Every chosen check against `options.package`, in id order."""
    load_checks()
    chosen = MODEL_CHECKS.chosen(options.select, options.ignore)
    if not options.package.exists():
        raise InputNotFoundError(f"{options.package}: no such file or folder")
    if options.raster is not None and not options.raster.is_file():
        raise InputNotFoundError(f"--raster {options.raster}: no such file")
    started = now()
    with scratch("dlpk-conformance-") as folder:
        context = ModelContext(options, folder)
        with prepared(context):
            results = [execute(check, context) for check in chosen]
    return build_report(
        "model",
        str(options.package),
        results,
        started,
        options.strict,
        {
            "backend": options.backend,
            "image": options.image,
            "raster": str(options.raster) if options.raster else None,
            "arguments": dict(options.arguments),
            "device": options.device,
            "task": context.task,
        },
    )


def build_report(
    kind: str,
    target: str,
    results: list[CheckResult],
    started: str,
    strict: bool,
    settings: dict[str, object],
) -> ConformanceReport:
    counts = {
        status: sum(r.status == status for r in results)
        for status in ("pass", "fail", "warn", "skip")
    }
    summary = Summary(
        passed=counts["pass"],
        failed=counts["fail"],
        warned=counts["warn"],
        skipped=counts["skip"],
    )
    return ConformanceReport.model_validate(
        {
            "kind": kind,
            "target": target,
            "dlpk": __version__,
            "strict": strict,
            "settings": settings,
            "started": started,
            "finished": now(),
            "checks": results,
            "summary": summary,
        }
    )


def execute(check: Check[ModelContext], context: ModelContext) -> CheckResult:
    """Run one check; past a failed package check, the others skip naming it."""
    started = time.perf_counter()
    if context.blocked is not None and check.group != "package":
        outcome = skipped(f"not run: {context.blocked}")
    else:
        try:
            outcome = check.run(context)
        except NotApplicable as exc:
            outcome = skipped(str(exc))
    result = as_result(check, outcome, time.perf_counter() - started)
    if context.options.on_check is not None:
        context.options.on_check(check.id, check.name, result.status)
    return result


def as_result(check: Check[Any], outcome: Outcome, seconds: float) -> CheckResult:
    return CheckResult(
        id=check.id,
        name=check.name,
        group=check.group,
        status=outcome.status,
        summary=outcome.summary,
        evidence=plain(outcome.evidence),
        fix=outcome.fix,
        artifacts=outcome.artifacts,
        seconds=round(seconds, 3),
    )


@contextlib.contextmanager
def prepared(context: ModelContext) -> Iterator[None]:
    """Lint, unpack, pick the configuration, load the model, plan tiles, write the raster."""
    import dlpk.api as api
    from dlpk.packaging.unpack import parse_emd, prepared_model
    from dlpk.validator.diagnostics import Severity

    options = context.options
    report = api.lint(model_path(options.package))
    for d in report.diagnostics:
        if d.code in NOT_A_PACKAGE:
            raise UsageError(
                f"{options.package} is not a model package ({d.code} {d.message})",
                "pass a .dlpk, an .emd, or a folder holding one .emd and its model file",
            )
        line = f"{d.code} {d.message}"
        if d.severity is Severity.ERROR:
            context.lint_errors.append(line)
        elif d.severity is Severity.WARNING:
            context.lint_warnings.append(line)
    if context.lint_errors:
        context.blocked = "the package does not lint (CF101)"
        yield
        return
    with prepared_model(options.package) as model:
        context.emd_path = model.folder / model.emd_name
        context.emd = parse_emd(context.emd_path)
        _configure(context)
        if context.blocked is None:
            _load(context)
        if context.blocked is None:
            _test_raster(context)
        yield


def model_path(package: Path) -> Path:
    """What to lint and open: the .dlpk, .zip or .emd given, or a model folder's one .emd;
    anything else is no model package (a usage error, before any check)."""
    from dlpk.packaging.pack import folder_emd

    hint = "pass a .dlpk, an .emd, or a folder holding one .emd and its model file"
    if package.is_dir():
        try:
            return folder_emd(package)
        except DlpkError as exc:
            raise UsageError(f"{package} is not a model folder ({exc.message})", hint) from None
    if package.suffix.lower() not in (".dlpk", ".zip", ".emd"):
        raise UsageError(f"{package} is not a model package (a .dlpk, .zip or .emd)", hint)
    return package


def _configure(context: ModelContext) -> None:
    """The task and configuration that run the package, or why none does (CF102)."""
    from dlpk.runners.models.opened import open_model

    emd = context.emd
    assert emd is not None and context.emd_path is not None
    if emd.InferenceFunction:
        task = TASK_OF_TYPE.get(str(emd.ModelType or ""))
        if task is None:
            context.blocked = (
                f"ModelType {emd.ModelType!r} names no task that runs an InferenceFunction (CF102)"
            )
            return
    else:
        found = CONFIGURATIONS.get((emd.Framework or "", emd.configuration_name or ""))
        if found is None:
            runnable = ", ".join(f"{f}/{n}" for f, n in CONFIGURATIONS)
            context.blocked = (
                f"no runner for Framework {emd.Framework!r} with ModelConfiguration "
                f"{emd.configuration_name!r} (CF102; runnable: {runnable})"
            )
            return
        task = found.task
    try:
        with open_model(context.emd_path, task) as opened:
            context.configuration = opened.configuration
    except DlpkError as exc:
        context.blocked = f"{exc} (CF102)"
        return
    context.task = task
    if context.runs_function and not (context.options.trust_code or _docker(context)):
        raise UsageError(
            f"{context.options.package} runs its own Python raster function "
            f"({emd.InferenceFunction}); conformance runs it only when told to trust it",
            "pass --trust-code, or --backend docker to run it in the runner image",
        )
    context.backend = _backend(context)


def _docker(context: ModelContext) -> bool:
    return context.options.backend == "docker"


def _backend(context: ModelContext) -> object:
    import dlpk

    options = context.options
    if options.backend == "docker":
        return dlpk.Docker(image=options.image, device=options.device)
    if options.backend != "local":
        raise UsageError(f"unknown backend {options.backend!r}", "use local or docker")
    return dlpk.InProcess(device=options.device)


def _load(context: ModelContext) -> None:
    """Load the model here (the probes' forward pass), and read the tile plan it runs with."""
    from dlpk.runners.models.opened import open_model
    from dlpk.runners.tasks.inference.arguments import (
        DETECTOR_ARGUMENTS,
        PIXEL_ARGUMENTS,
        parse_arguments,
    )

    assert context.emd is not None and context.emd_path is not None and context.task
    options, emd = context.options, context.emd
    if context.runs_function:
        _load_function(context)
        return
    allowed = DETECTOR_ARGUMENTS if context.task == DETECTOR else PIXEL_ARGUMENTS
    if context.task == OBJECTS:
        height = emd.ImageHeight or 224
        context.geometry = Geometry(height, emd.ImageWidth or height, 0)
        context.batch_size = emd.BatchSize or 4
    else:
        try:
            args = parse_arguments(dict(options.arguments), emd, allowed)
        except DlpkError as exc:
            raise UsageError(f"--arg: {exc}") from None
        grid = args.grid
        context.geometry = Geometry(grid.tile_height, grid.tile_width, grid.padding)
        context.batch_size = args.batch_size
        context.threshold = args.threshold
    started = time.perf_counter()
    try:
        # loaded here only as trusted as the user said: the container is no sandbox for this
        with open_model(context.emd_path, context.task) as opened:
            context.adapter = opened.load(options.device, options.trust_code)
    except ModelError as exc:
        if _docker(context):  # the image may run it (its framework, its sandbox): the tasks
            context.load_skipped = f"not loaded here: {exc}"  # run there, the probes cannot
            return
        context.load_error = exc
        context.blocked = "the model does not load (CF103)"
    except DlpkError as exc:
        context.load_error = exc
        context.blocked = "the model does not load (CF103)"
    context.load_seconds = round(time.perf_counter() - started, 3)


def _load_function(context: ModelContext) -> None:
    """A raster function: import it, initialise it, and ask getConfiguration for its blocks
    (on a small raster of the .emd's bands); only when its code may run here."""
    from dlpk.runners.io.raster_source import open_raster
    from dlpk.runners.models.opened import open_model
    from dlpk.runners.models.raster_function import (
        declared_parameters,
        function_file,
        loaded_function,
    )
    from dlpk.runners.tasks.inference.function_host import prepare_function

    assert context.emd is not None and context.emd_path is not None and context.task
    options, emd = context.options, context.emd
    height = emd.ImageHeight or 256
    fallback = Geometry(height, emd.ImageWidth or height, 0)
    if not options.trust_code:
        context.geometry = fallback
        context.load_skipped = "the raster function runs only in the container (no --trust-code)"
        return
    probe = write_synthetic(
        context.folder / "probe.tif", emd, fallback, False, (fallback.tile_height,) * 2
    )
    started = time.perf_counter()
    try:
        with (
            open_model(context.emd_path, context.task) as opened,
            loaded_function(
                function_file(opened.folder, emd.InferenceFunction or ""),
                opened.emd_path,
                options.device,
                True,
            ) as function,
            open_raster(probe.path) as dataset,
        ):
            context.function_arguments = declared_parameters(function).arguments
            config = prepare_function(
                function,
                opened,
                dataset,
                dict(options.arguments),
                options.device,
                "rasters" if context.task == OBJECTS else "raster",
            ).config
    except UsageError as exc:
        raise UsageError(f"--arg: {exc}") from None
    except DlpkError as exc:
        context.load_error = exc
        context.blocked = "the model does not load (CF103)"
        return
    context.load_seconds = round(time.perf_counter() - started, 3)
    p = config.padding
    context.geometry = Geometry(config.ty + 2 * p, config.tx + 2 * p, p)
    context.batch_size = config.batch_size or 1


def _test_raster(context: ModelContext) -> None:
    """The synthetic raster (or the sample's window), and features for classify-objects."""
    assert context.emd is not None and context.geometry is not None
    geometry, options = context.geometry, context.options
    objects = context.task == OBJECTS
    size = raster_size(geometry, (5.0, 6.0) if objects else (2.5, 3.3))
    box = chip_box(geometry) if objects else None
    path = context.folder / "test.tif"
    raw = context.configuration is not None and not context.configuration.normalised
    if options.raster is not None:
        context.raster = from_sample(path, options.raster, geometry, size, box)
    else:
        context.raster = write_synthetic(path, context.emd, geometry, raw, size, box)
    if context.task == OBJECTS:
        from dlpk.conformance.features import write_test_features

        write_test_features(context.folder / "features.geojson", context.raster, geometry)


def check_names() -> list[Check[ModelContext]]:
    """Every model check (for --list)."""
    load_checks()
    return MODEL_CHECKS.all()
