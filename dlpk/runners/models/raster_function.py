"""A package's Python raster function (docs/esri-formats.md#methods), driven as ArcGIS drives it.

The .py is imported from the unpacked model folder and its class named like the file is
instantiated; that is running the package's code, so it happens only in a container (where the
job says trust_code) or with --trust-code. Outside ArcGIS, `import arcpy` gives dlpk's stand-in
(arcpy_standin.py) while the function runs. Every call into the function is wrapped: whatever it
raises becomes a one-line ModelError, never a traceback. isLicensed is asked first, as ArcGIS
asks it soon after construction; updateRasterInfo and updateKeyMetadata are read in
raster_info.py and key_metadata.py, for the raster outputs that ask them (classify-pixels).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import re
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from dlpk.errors import BadInputError, ModelError, UsageError
from dlpk.runners.models.arcgis_learn_compat import prepare_arcgis_learn
from dlpk.runners.models.arcpy_standin import provided_arcpy
from dlpk.runners.models.base import one_line
from dlpk.spec.emd import EsriModelDefinition
from dlpk.validator.suggest import did_you_mean
from dlpk.version import __version__

RASTER_TYPES = ("raster", "rasters")
TOOL_PARAMETERS = ("model", "device")  # the tool's own parameters, not Arguments rows
DEFAULT_BLOCK = 256


class RasterFunction:
    """An instance of the function's class; `call` turns its failures into ModelError.
    `arcpy` is dlpk's stand-in when the function runs with it (None beside a real arcpy)."""

    def __init__(self, instance: Any, name: str, arcpy: ModuleType | None = None) -> None:
        self.instance = instance
        self.name = name
        self.arcpy = arcpy

    def warnings_said(self) -> list[str]:
        """What the function reported through arcpy.AddWarning, once each."""
        said = getattr(self.arcpy, "warnings_said", [])
        return [f"{self.name}: {text}" for text in dict.fromkeys(said)]

    def has(self, method: str) -> bool:
        return callable(getattr(self.instance, method, None))

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if not self.has(method):
            raise ModelError(f"{self.name} has no {method}() method")
        try:
            return getattr(self.instance, method)(*args, **kwargs)
        except (Exception, SystemExit) as exc:
            raise ModelError(f"{self.name}: {method}() failed ({one_line(exc)})") from exc


def function_file(folder: Path, name: str) -> Path:
    """The .py named by InferenceFunction, which must lie inside the model folder."""
    root = folder.resolve()
    path = (root / name.replace("\\", "/")).resolve()
    if not path.is_relative_to(root) or path.suffix.lower() != ".py" or not path.is_file():
        raise ModelError(f"InferenceFunction {name} is not a .py file in the package")
    return path


def device_id(device: str) -> int:
    """ArcGIS's device argument: -1 for the CPU, 0 for the first GPU; auto leaves it to the CPU
    because dlpk cannot know which framework the function uses."""
    return 0 if device == "gpu" else -1


def _leading(text: str) -> int:
    found = re.match(r"\d*", text)
    return int(found.group()) if found and found.group() else 0


def product_info() -> dict[str, Any]:
    """What isLicensed(**productInfo) is told: the product it runs in is dlpk, by its own name
    and version (dlpk does not pose as ArcGIS to pass a function's checks)."""
    parts = [*__version__.split("."), "0", "0"]
    return {
        "productName": "dlpk",
        "version": __version__,
        "path": str(Path(__file__).resolve().parents[2]),
        "major": _leading(parts[0]),
        "minor": float(_leading(parts[1])),
        "build": _leading(parts[2]),
        "spNumber": 0,
        "spBuild": 0,
    }


def check_licence(function: RasterFunction) -> None:
    """isLicensed, called soon after construction as ArcGIS does: the function stops the job
    by answering False or {"okToRun": False, "message": ...}; anything else lets it run.
    productLevel and extension name ArcGIS licences, which dlpk does not have to check."""
    if not function.has("isLicensed"):
        return
    answer = function.call("isLicensed", **product_info())
    refused = answer is False or (isinstance(answer, dict) and answer.get("okToRun") is False)
    if not refused:
        return
    message = answer.get("message") if isinstance(answer, dict) else None
    said = f": {' '.join(str(message).split())}" if message else ""
    raise ModelError(
        f"{function.name}: isLicensed() says it may not run here (dlpk {__version__}){said}",
        "the function decides this itself; run it where it allows itself to run",
    )


def _instantiate(path: Path, module_name: str) -> Any:
    """Import `path` as `module_name` and construct its class named like the file."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ModelError(f"{path.name} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        raise ModelError(f"{path.name} failed to import ({one_line(exc)})") from exc
    cls = getattr(module, path.stem, None)
    if not isinstance(cls, type):
        raise ModelError(
            f"{path.name} defines no class {path.stem}",
            "ArcGIS instantiates the class named like the file",
        )
    try:
        return cls()
    except (Exception, SystemExit) as exc:
        raise ModelError(f"{path.stem}() failed ({one_line(exc)})") from exc


@contextlib.contextmanager
def loaded_function(
    path: Path, emd_path: Path, device: str, trust_code: bool
) -> Iterator[RasterFunction]:
    """Import `path`, instantiate its class, ask isLicensed, call initialize(model, device);
    `import arcpy` gives dlpk's stand-in meanwhile, where ArcGIS's is not installed, and a
    package arcgis.learn wrote gets arcgis.learn made importable first."""
    if not trust_code:
        raise ModelError(
            f"{path.name} is Python code from the package; dlpk runs it only in a container "
            "or when told to trust it",
            "pass --trust-code, or run it with --backend docker",
        )
    module_name = f"_dlpk_function_{uuid.uuid4().hex}"
    folder = str(path.parent)
    sys.path.insert(0, folder)  # functions import their sibling modules
    try:
        prepare_arcgis_learn(emd_path)  # imported before the stand-in: arcgis sees no arcpy
        with provided_arcpy(device) as arcpy:
            function = RasterFunction(_instantiate(path, module_name), path.name, arcpy)
            check_licence(function)
            if function.has("initialize"):
                function.call("initialize", model=str(emd_path), device=device_id(device))
            yield function
    finally:
        sys.modules.pop(module_name, None)
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)


@dataclass(frozen=True)
class Parameters:
    """getParameterInfo's answer: the Arguments rows (name -> default, in declared order) and
    the raster parameters' names, which name the pixel blocks (`<name>_pixels`)."""

    arguments: dict[str, Any]
    rasters: list[str]

    def raster(self, default: str) -> str:
        """The raster dlpk delivers: the first raster parameter (ArcGIS's tools give one)."""
        return self.rasters[0] if self.rasters else default


def declared_parameters(function: RasterFunction) -> Parameters:
    """Read getParameterInfo: raster parameters apart, the tool's own (model, device) left out."""
    info = function.call("getParameterInfo") if function.has("getParameterInfo") else []
    if not isinstance(info, list | tuple):
        raise ModelError(f"{function.name}: getParameterInfo() must return a list of dicts")
    arguments: dict[str, Any] = {}
    rasters: list[str] = []
    for entry in info:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ModelError(f"{function.name}: getParameterInfo() gave an entry without a name")
        kind = entry.get("dataType")
        if isinstance(kind, str) and kind.lower() in RASTER_TYPES:
            rasters.append(entry["name"])
        elif entry["name"] not in TOOL_PARAMETERS:
            arguments[entry["name"]] = entry.get("value")
    return Parameters(arguments, rasters)


def scalars_for(
    declared: dict[str, Any], given: dict[str, str], emd_path: Path, device: str
) -> dict[str, Any]:
    """What getConfiguration receives: every non-raster parameter, as the tool's value table
    passes them (strings), --arg values over the declared defaults."""
    unknown = sorted(set(given) - set(declared))
    if unknown:
        takes = ", ".join(declared) if declared else "no arguments"
        guess = did_you_mean(unknown, declared)
        raise UsageError(
            f"unknown argument(s) {', '.join(unknown)}",
            f"{guess + ' ' if guess else ''}this raster function takes: {takes}",
        )
    values: dict[str, Any] = {
        name: None if value is None else str(value) for name, value in declared.items()
    }
    values.update(given)
    return {"model": str(emd_path), "device": str(device_id(device)), **values}


@dataclass(frozen=True)
class BlockConfiguration:
    """The getConfiguration keys that shape the blocks (docs/esri-formats.md#getconfiguration)."""

    bands: list[int]
    padding: int
    tx: int
    ty: int
    fixed: bool
    input_mask: bool
    data_range: tuple[float, float] | None = None
    batch_size: int | None = None
    crop_fixed: bool | None = None  # CropSizeFixed and BlackenAroundFeature: object chips only
    blacken: bool | None = None
    inherit: int | None = None  # inheritProperties; None: all (ArcGIS's default)
    invalidate: int = 0  # invalidateProperties
    key_metadata: tuple[str, ...] = ()  # keyMetadata: input properties updateRasterInfo gets
    extra: dict[str, str] = field(default_factory=dict)

    def resolved(self) -> dict[str, str]:
        values = {
            "extractBands": ",".join(str(b) for b in self.bands),
            "padding": str(self.padding),
            "tx": str(self.tx),
            "ty": str(self.ty),
            "fixedTileSize": str(int(self.fixed)),
            "inputMask": str(self.input_mask),
        }
        if self.data_range is not None:
            values["dataRange"] = f"{self.data_range[0]},{self.data_range[1]}"
        if self.batch_size is not None:
            values["batch_size"] = str(self.batch_size)
        if self.crop_fixed is not None:
            values["CropSizeFixed"] = str(int(self.crop_fixed))
        if self.blacken is not None:
            values["BlackenAroundFeature"] = str(int(self.blacken))
        return values


def _whole(name: str, value: Any, low: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ModelError(f"getConfiguration() gave {name}={value!r}, not an integer") from None
    if number < low:
        raise ModelError(f"getConfiguration() gave {name}={number}; it must be at least {low}")
    return number


def _bands(value: Any, count: int) -> list[int]:
    if value is None:
        return list(range(count))
    if isinstance(value, int):
        value = [value]
    bands = [_whole("extractBands", band, 0) for band in value]
    missing = [b for b in bands if b >= count]
    if missing or not bands:
        raise BadInputError(
            f"the raster function needs bands {bands} (0-based); the raster has {count} band(s)"
        )
    return bands


def _range(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ModelError(f"getConfiguration() gave dataRange={value!r}, not [min, max]") from None
    if not low < high:
        raise ModelError(f"getConfiguration() gave dataRange={value!r}; min must be < max")
    return low, high


def _names(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    names = (value,) if isinstance(value, str) else value
    try:
        return tuple(str(name) for name in names)
    except TypeError:
        raise ModelError(f"getConfiguration() gave keyMetadata={value!r}, not names") from None


def block_configuration(raw: Any, emd: EsriModelDefinition, band_count: int) -> BlockConfiguration:
    """Read getConfiguration's answer; tx/ty default to the .emd's tile less the padding."""
    if not isinstance(raw, dict):
        raise ModelError(f"getConfiguration() returned {type(raw).__name__}, not a dict")
    padding = _whole("padding", raw.get("padding", 0), 0)

    def size(key: str, tile: int | None) -> int:
        if raw.get(key) is not None:
            return _whole(key, raw[key], 1)
        return tile - 2 * padding if tile and tile > 2 * padding else DEFAULT_BLOCK

    batch = raw.get("batch_size")

    def flag(key: str) -> bool | None:
        return None if raw.get(key) is None else bool(_whole(key, raw[key], 0))

    return BlockConfiguration(
        bands=_bands(raw.get("extractBands"), band_count),
        padding=padding,
        tx=size("tx", emd.ImageWidth),
        ty=size("ty", emd.ImageHeight),
        fixed=bool(_whole("fixedTileSize", raw.get("fixedTileSize", 0), 0)),
        input_mask=bool(raw.get("inputMask", False)),
        data_range=_range(raw.get("dataRange")),
        batch_size=None if batch is None else _whole("batch_size", batch, 1),
        crop_fixed=flag("CropSizeFixed"),
        blacken=flag("BlackenAroundFeature"),
        inherit=None if raw.get("inheritProperties") is None
        else _whole("inheritProperties", raw["inheritProperties"], 0),
        invalidate=_whole("invalidateProperties", raw.get("invalidateProperties", 0), 0),
        key_metadata=_names(raw.get("keyMetadata")),
    )  # fmt: skip


def fields_of(function: RasterFunction) -> list[dict[str, Any]]:
    """getFields()'s field list ({"fields": [{"name", "type", ...}]}, JSON text or a dict)."""
    raw = function.call("getFields")
    try:
        document = json.loads(raw) if isinstance(raw, str | bytes) else raw
        fields = document["fields"]
        if not isinstance(fields, list) or not all(
            isinstance(f, dict) and isinstance(f.get("name"), str) for f in fields
        ):
            raise TypeError("fields must be a list of objects with a name")
    except (ValueError, TypeError, KeyError) as exc:
        raise ModelError(
            f"{function.name}: getFields() must give {{'fields': [{{'name', 'type'}}]}} "
            f"({one_line(exc)})"
        ) from exc
    return fields
