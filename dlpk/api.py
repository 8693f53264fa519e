"""The public Python API: what the `dlpk` command does, as functions.

Every path accepts `str | os.PathLike`. Task functions build a job directory and run it with a
backend (`backend=None`: in this process; `"local"`: a subprocess; `"docker"` or
`dlpk.Docker(...)`: a container; `"ray"` or `dlpk.Ray(...)`: in shares on a Ray cluster,
docs/cluster.md), return the job's typed `Result` (what out/result.json holds),
and raise the classes of `dlpk.errors` on failure. `progress` is shown on stderr: None (the
default), False or "none" is silent; "bar" a rich bar; "plain" a line every few seconds with
counts, rate and ETA; "json" one JSON object a line; "auto" or True a bar on a terminal and
plain lines otherwise; a callable hears `(stage, done, total)` instead.

Heavy modules (rasterio, frameworks, rich) are imported inside the functions, so `import dlpk`
and `dlpk.lint` stay cheap.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dlpk.packaging.fix import FixReport
    from dlpk.runners.backends.base import Backend
    from dlpk.spec.choices import Device, ProcessingMode
    from dlpk.spec.conformance import ConformanceReport
    from dlpk.spec.job import Result
    from dlpk.validator.report import LintReport

PathLike = str | os.PathLike[str]
ProgressArg = bool | str | Callable[[str, int, int | None], None] | None
"""True, False, None, a name of dlpk.runners.progress.PROGRESS_MODES, or a listener."""
Scalar = str | int | float | bool | Sequence[int | float]


# -- packages --------------------------------------------------------------------------------
def lint(
    paths: PathLike | Sequence[PathLike],
    *,
    deep: bool = False,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] | None = None,
    strict: bool = False,
    trust_code: bool = False,
    max_size: int | None = None,
) -> LintReport:
    """Lint .emd files, .dlpk packages and folders of them (`dlpk lint`).

    `select` / `ignore` take codes or prefixes (`"DL3"`); `deep` opens the model files;
    `strict` makes warnings fail `report.ok` too.
    """
    from dlpk.validator.lint import LintOptions, lint_paths
    from dlpk.validator.lint import select as select_codes
    from dlpk.validator.report import LintReport
    from dlpk.validator.safezip import MAX_TOTAL_BYTES

    targets = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    options = LintOptions(deep, trust_code, max_size or MAX_TOTAL_BYTES)
    files, diagnostics = lint_paths([Path(p) for p in targets], options)
    diagnostics = select_codes(diagnostics, list(select or []), list(ignore or []))
    return LintReport(files, diagnostics, strict)


def fix(
    path: PathLike,
    *,
    output: PathLike | None = None,
    unsafe: bool = False,
    overwrite: bool = False,
) -> FixReport:
    """Apply the safe (with `unsafe`, all) fixes to an .emd or .dlpk, in place or to `output`."""
    from dlpk.packaging.fix import fix_path

    return fix_path(Path(path), _path_or_none(output), unsafe, overwrite)


def normalize(path: PathLike) -> str:
    """The canonical text of an .emd (or of a package's .emd): keys ordered, names fixed."""
    from dlpk.packaging.fix import emd_text
    from dlpk.validator.normalize import normalize_text

    return normalize_text(emd_text(Path(path)))


def pack(folder: PathLike, output: PathLike | None = None, *, overwrite: bool = False) -> Path:
    """Build a deterministic .dlpk of a model folder (default FOLDER.dlpk); returns its path.
    Lint warnings become Python warnings; lint errors raise PackageError."""
    import warnings

    from dlpk.packaging.pack import pack_folder
    from dlpk.validator.diagnostics import Severity

    source = Path(folder)
    target = Path(output) if output is not None else source.resolve().with_suffix(".dlpk")
    for d in pack_folder(source, target, overwrite=overwrite):
        if d.severity is Severity.WARNING:
            warnings.warn(f"{d.code} {d.location}: {d.message}", stacklevel=2)
    return target


def inspect(path: PathLike) -> dict[str, Any]:
    """A summary of a package, folder or .emd: model, classes, files, lint status."""
    from dlpk.errors import InputNotFoundError
    from dlpk.packaging.inspect import describe

    source = Path(path)
    if not source.exists():
        raise InputNotFoundError(f"{source}: no such file or folder")
    return describe(source)


# -- tasks -----------------------------------------------------------------------------------
def export_training_data(
    raster: PathLike,
    output: PathLike,
    *,
    labels: PathLike | None = None,
    metadata_format: str = "Classified_Tiles",
    tile_size: int | tuple[int, int] = 256,
    stride: int | tuple[int, int] | None = None,
    image_chip_format: str = "TIFF",
    output_nofeature_tiles: str = "ONLY_TILES_WITH_FEATURES",
    class_value_field: str | None = None,
    class_name_field: str | None = None,
    class_data_layer: str | None = None,
    buffer_radius: float = 0.0,
    mask_polygons: PathLike | None = None,
    rotation_angle: float = 0.0,
    reference_system: str = "MAP_SPACE",
    processing_mode: str = "PROCESS_AS_MOSAICKED_IMAGE",
    blacken_around_feature: bool = False,
    crop_mode: str = "FIXED_SIZE",
    raster2: PathLike | None = None,
    instance_data: PathLike | None = None,
    instance_class_value_field: str | None = None,
    min_polygon_overlap_ratio: float = 0.0,
    pad_edges: bool = False,
    workers: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    backend: Backend | str | None = None,
    progress: ProgressArg = None,
) -> Result:
    """Export chips, labels and metadata as ArcGIS's Export Training Data For Deep Learning.

    Parameters keep ArcGIS's meanings; `tile_size` and `stride` are one number or (x, y), the
    stride defaulting to half the tile; `blacken_around_feature` is a bool. `class_name_field`
    (dlpk's own) names the field of the class names, by default one named classname.
    """
    from dlpk.remote import raster_location
    from dlpk.runners.backends.submit import ExportRequest, run_export

    tile_x, tile_y = _pair(tile_size)
    stride_x, stride_y = _pair(stride) if stride is not None else (tile_x // 2, tile_y // 2)
    parameters = _parameters(
        metadata_format=metadata_format,
        image_chip_format=image_chip_format,
        tile_size_x=tile_x,
        tile_size_y=tile_y if tile_y != tile_x else None,
        stride_x=max(stride_x, 1),
        stride_y=max(stride_y, 1) if stride_y != stride_x else None,
        output_nofeature_tiles=output_nofeature_tiles,
        class_value_field=class_value_field,
        class_name_field=class_name_field,
        class_data_layer=class_data_layer,
        instance_class_value_field=instance_class_value_field,
        rotation_angle=rotation_angle,
        reference_system=reference_system,
        buffer_radius=buffer_radius,
        min_polygon_overlap_ratio=min_polygon_overlap_ratio,
        blacken_around_feature="BLACKEN_AROUND_FEATURE" if blacken_around_feature else "NO_BLACKEN",
        crop_mode=crop_mode,
        processing_mode=processing_mode,
        pad_edges=pad_edges,
        workers=workers,
        resume=resume,
        overwrite=overwrite,
    )
    request = ExportRequest(
        raster=raster_location(raster),
        output=Path(output),
        parameters=parameters,
        labels=_path_or_none(labels),
        raster2=_path_or_none(raster2),
        mask_polygons=_path_or_none(mask_polygons),
        instance_data=_path_or_none(instance_data),
    )
    with _progress(progress) as listener:
        return run_export(request, _backend(backend), listener)


export_chips = export_training_data


def classify_pixels(
    model: PathLike,
    raster: PathLike,
    output: PathLike,
    *,
    model_arguments: Mapping[str, Scalar] | None = None,
    processing_mode: ProcessingMode = "PROCESS_AS_MOSAICKED_IMAGE",
    extent: tuple[float, float, float, float] | None = None,
    aoi: PathLike | None = None,
    overwrite: bool = False,
    resume: bool = False,
    trust_code: bool = False,
    device: Device | None = None,
    backend: Backend | str | None = None,
    progress: ProgressArg = None,
) -> Result:
    """Classify every pixel of `raster` (a raster or a folder of images) into a GeoTIFF of
    class Values; with PROCESS_ITEMS_SEPARATELY `output` is a folder of one GeoTIFF per image.
    `resume` finishes an interrupted run of the same output, model, inputs and arguments from
    the tiles it had written (a killed or interrupted run keeps them beside `output`)."""
    return _infer(
        "classify_pixels", model, raster, output, model_arguments, backend, progress,
        processing_mode=processing_mode, extent=extent, aoi=_path_or_none(aoi),
        overwrite=overwrite, resume=resume, trust_code=trust_code, device=device,
    )  # fmt: skip


def detect_objects(
    model: PathLike,
    raster: PathLike,
    output: PathLike,
    *,
    model_arguments: Mapping[str, Scalar] | None = None,
    extent: tuple[float, float, float, float] | None = None,
    aoi: PathLike | None = None,
    overwrite: bool = False,
    trust_code: bool = False,
    device: Device | None = None,
    backend: Backend | str | None = None,
    progress: ProgressArg = None,
) -> Result:
    """Detect objects in `raster` into a layer (.gpkg, .geojson, .shp, .gdb) of polygons with
    Class, ClassValue and Confidence."""
    return _infer(
        "detect_objects", model, raster, output, model_arguments, backend, progress,
        extent=extent, aoi=_path_or_none(aoi), overwrite=overwrite, trust_code=trust_code,
        device=device,
    )  # fmt: skip


def classify_objects(
    model: PathLike,
    raster: PathLike,
    output: PathLike,
    *,
    features: PathLike | None = None,
    features_layer: str | None = None,
    model_arguments: Mapping[str, Scalar] | None = None,
    extent: tuple[float, float, float, float] | None = None,
    aoi: PathLike | None = None,
    overwrite: bool = False,
    trust_code: bool = False,
    device: Device | None = None,
    backend: Backend | str | None = None,
    progress: ProgressArg = None,
) -> Result:
    """Label each feature of `features` (of its `features_layer` when it holds several) from
    its chip of `raster` (without features: each image of `raster` is one object) into a layer
    with ClassLabel, ClassValue and Confidence."""
    return _infer(
        "classify_objects", model, raster, output, model_arguments, backend, progress,
        features=_path_or_none(features), features_layer=features_layer, extent=extent,
        aoi=_path_or_none(aoi), overwrite=overwrite, trust_code=trust_code, device=device,
    )  # fmt: skip


def run_job(
    jobdir: PathLike, *, backend: Backend | str | None = None, progress: ProgressArg = None
) -> Result:
    """Run a job directory (job.json) written by hand or by another tool."""
    from dlpk.runners.backends.submit import run_jobdir

    with _progress(progress) as listener:
        return run_jobdir(Path(jobdir), _backend(backend), listener)


# -- conformance -----------------------------------------------------------------------------
def conformance(
    package: PathLike | None = None,
    *,
    runner: str | None = None,
    raster: PathLike | None = None,
    model_arguments: Mapping[str, Scalar] | None = None,
    backend: str = "local",
    image: str | None = None,
    device: Device = "cpu",
    trust_code: bool = False,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] | None = None,
    strict: bool = False,
    artifacts: PathLike | None = None,
    timeout: float = 300.0,
    on_check: Callable[[str, str, str], None] | None = None,
) -> ConformanceReport:
    """Check that a model package really works (`dlpk conformance PKG`): the CFnnn checks
    run its task on a raster built from its .emd (or the window of `raster`), `backend`
    "local" (this process) or "docker"; or, with `runner` ("local", "docker:IMAGE" or a
    command), run the RCnnn job-contract cases against a runner. `select`/`ignore` take ids,
    prefixes or names; `on_check` hears (id, name, status) as each check ends. Returns the
    report (`report.ok`, `report.exit_code`, `report.check("CF301")`); see
    docs/conformance.md."""
    from dlpk.errors import UsageError

    if (package is None) == (runner is None):
        raise UsageError("give a package or a runner to check, not both or neither")
    if runner is not None:
        from dlpk.conformance.runner.context import RunnerOptions
        from dlpk.conformance.runner.kit import run_runner_cases

        return run_runner_cases(RunnerOptions(
            runner, tuple(select or ()), tuple(ignore or ()), strict, timeout, on_check,
        ))  # fmt: skip
    from dlpk.conformance.context import ModelOptions
    from dlpk.conformance.model_kit import run_model_checks

    assert package is not None
    return run_model_checks(ModelOptions(
        Path(package), _path_or_none(raster), backend, image,
        model_argument_strings(model_arguments), trust_code, device, tuple(select or ()),
        tuple(ignore or ()), strict, _path_or_none(artifacts), on_check,
    ))  # fmt: skip


# -- helpers ---------------------------------------------------------------------------------
def _infer(
    task: str,
    model: PathLike,
    raster: PathLike,
    output: PathLike,
    model_arguments: Mapping[str, Scalar] | None,
    backend: Backend | str | None,
    progress: ProgressArg,
    **options: Any,
) -> Result:
    from dlpk.remote import raster_location
    from dlpk.runners.backends.submit import InferenceRequest, run_inference

    request = InferenceRequest(
        task=task,
        model=Path(model),
        raster=raster_location(raster),
        output=Path(output),
        arguments=model_argument_strings(model_arguments),
        **options,
    )
    with _progress(progress) as listener:
        return run_inference(request, _backend(backend), listener)


def model_argument_strings(arguments: Mapping[str, Scalar] | None) -> dict[str, str]:
    """Model arguments as ArcGIS passes them, text: True/False, numbers, comma lists."""
    strings: dict[str, str] = {}
    for name, value in (arguments or {}).items():
        if isinstance(value, bool):
            strings[name] = "True" if value else "False"
        elif isinstance(value, str):
            strings[name] = value
        elif isinstance(value, int | float):
            strings[name] = repr(value)
        else:
            strings[name] = ",".join(repr(v) for v in value)
    return strings


def _backend(backend: Backend | str | None) -> Backend:
    from dlpk.runners.backends.choose import resolve_backend

    return resolve_backend(backend)


@contextlib.contextmanager
def _progress(progress: ProgressArg) -> Iterator[Callable[[str, int, int | None], None] | None]:
    if progress is None or progress is False or progress == "none":
        yield None
    elif callable(progress):
        yield progress
    else:
        from dlpk.runners.progress import PROGRESS_MODES, progress_display, progress_mode

        mode = "auto" if progress is True else progress_mode(str(progress))
        if mode is None:
            from dlpk.errors import UsageError

            raise UsageError(
                f"progress={progress!r} is not a progress display",
                f"use one of {', '.join(PROGRESS_MODES)}, True, None or a callable",
            )
        with progress_display(mode) as listener:
            yield listener


def _path_or_none(path: PathLike | None) -> Path | None:
    return None if path is None else Path(path)


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _parameters(**values: Any) -> Any:
    """ExportChipsParameters, with a pydantic error turned into a one-line UsageError."""
    from pydantic import ValidationError

    from dlpk.errors import UsageError
    from dlpk.spec.job import ExportChipsParameters

    try:
        return ExportChipsParameters(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UsageError(f"invalid option: {where}: {first['msg']}") from None
