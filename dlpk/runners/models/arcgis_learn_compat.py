"""What arcgis.learn from PyPI needs to import and run offline, outside ArcGIS Pro's conda.

PyPI's arcgis wheel lacks the compiled `arcgis.learn._utils.nearest_neighbors` (only the
point-cloud RandLA-Net uses it; without it `import arcgis.learn` dies with "not installed
correctly(knn)"), and arcgis.learn and fastai 1 still use numpy aliases that numpy 2 removed.
These fixes are made once per process, before a package's raster function is imported, and
only for packages arcgis.learn wrote; arcgis.learn is imported then too, before the `arcpy`
stand-in exists, so arcgis's own checks for arcpy see that there is none.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import types
from pathlib import Path
from typing import Any, Final

import numpy as np

from dlpk.errors import FrameworkMissingError, ModelError
from dlpk.runners.models.base import one_line
from dlpk.spec.vocab import ARCGIS_LEARN_FRAMEWORK

KNN_MODULE: Final = "arcgis.learn._utils.nearest_neighbors"
GDAL_ARRAY: Final = "osgeo.gdal_array"
#: numpy 1 aliases numpy 2 removed, still used by arcgis.learn and fastai 1.
NUMPY_ALIASES: Final[dict[str, Any]] = {
    "bool": bool,
    "int": int,
    "float": float,
    "complex": complex,
    "object": object,
    "str": str,
}
INSTALL_HINT: Final = "run it with --backend docker, or pip install 'dlpk[arcgis-learn]'"


def written_by_arcgis_learn(emd: dict[str, Any]) -> bool:
    """The package's .emd names arcgis.learn's Framework or carries ArcGISLearnVersion."""
    return (
        emd.get("Framework") == ARCGIS_LEARN_FRAMEWORK or emd.get("ArcGISLearnVersion") is not None
    )


def _emd(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def _knn_unavailable(*args: Any, **kwargs: Any) -> Any:
    raise ModelError(
        "this model needs arcgis.learn's compiled nearest_neighbors module, which the arcgis "
        "wheel from PyPI does not hold (point-cloud models)",
        "run it where Esri's deep-learning-essentials conda packages are installed",
    )


def _knn_missing(arcgis_root: Path) -> bool:
    folder = arcgis_root / "learn" / "_utils"
    return not any(folder.glob("nearest_neighbors*")) and KNN_MODULE not in sys.modules


def knn_standin() -> types.ModuleType:
    module = types.ModuleType(KNN_MODULE, "stand-in: PyPI's arcgis lacks the compiled module")
    module.__dict__.update(knn_batch=_knn_unavailable, knn=_knn_unavailable)
    return module


def gdal_array_standin() -> types.ModuleType:
    """`osgeo` holding only a `gdal_array` whose use fails. arcgis.learn's super-resolution
    utilities import gdal_array unguarded: without GDAL's Python bindings (not on PyPI as a
    wheel) the rest of that module fails with NameError, which takes `prepare_data` down for
    every model. `from osgeo import gdal` still fails, so arcgis.learn sees no GDAL, as it is."""
    package = types.ModuleType("osgeo", "stand-in: GDAL's Python bindings are not installed")
    gdal_array = types.ModuleType(GDAL_ARRAY, "stand-in: GDAL's Python bindings are not installed")

    def unavailable(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise ModelError(
            f"osgeo.gdal_array.{name} is needed, and GDAL's Python bindings are not installed",
            "install GDAL's Python bindings (the osgeo package) beside arcgis.learn",
        )

    gdal_array.__getattr__ = unavailable  # type: ignore[method-assign]
    package.gdal_array = gdal_array  # type: ignore[attr-defined]
    return package


def allow_ragged_arrays() -> None:
    """fastai 1's `array` builds object arrays of ragged lists (a chip's boxes and labels),
    which numpy 1 did with a warning and numpy 2 refuses: retry those as numpy 1 did. Every
    fastai module holds its own reference (star imports), so each is replaced."""
    core = sys.modules.get("fastai.core")
    original = getattr(core, "array", None)
    if original is None or getattr(original, "__dlpk_ragged__", False):
        return

    def array(a: Any, dtype: Any = None, **kwargs: Any) -> Any:
        try:
            return original(a, dtype, **kwargs)
        except ValueError:
            if dtype is not None:
                raise
            return original(a, object, **kwargs)

    array.__dlpk_ragged__ = True  # type: ignore[attr-defined]
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] == "fastai" and getattr(module, "array", None) is original:
            module.array = array  # type: ignore[attr-defined]


def restore_numpy_aliases() -> None:
    for name, value in NUMPY_ALIASES.items():
        if name not in np.__dict__:
            setattr(np, name, value)


def make_arcgis_learn_importable() -> None:
    """The fixes alone (also for scripts that use arcgis.learn beside dlpk), then the import."""
    spec = importlib.util.find_spec("arcgis")
    if spec is None or not spec.submodule_search_locations:
        raise FrameworkMissingError(
            "this package was written by arcgis.learn, which is not installed here",
            INSTALL_HINT,
        )
    restore_numpy_aliases()
    if _knn_missing(Path(next(iter(spec.submodule_search_locations)))):
        sys.modules[KNN_MODULE] = knn_standin()
    try:
        importlib.import_module("arcgis")  # chooses its I/O engine by whether osgeo exists
        if "osgeo" not in sys.modules and importlib.util.find_spec("osgeo") is None:
            package = gdal_array_standin()
            sys.modules["osgeo"], sys.modules[GDAL_ARRAY] = package, package.gdal_array
        importlib.import_module("arcgis.learn")
    except Exception as exc:
        raise ModelError(
            f"arcgis.learn cannot be imported ({one_line(exc)})", INSTALL_HINT
        ) from exc
    allow_ragged_arrays()


def prepare_arcgis_learn(emd_path: Path) -> None:
    """Make arcgis.learn importable for a package it wrote, and import it; other packages are
    left alone. A missing arcgis says how to get it; a failed import names the cause."""
    if written_by_arcgis_learn(_emd(emd_path)) and "arcgis.learn" not in sys.modules:
        make_arcgis_learn_importable()
