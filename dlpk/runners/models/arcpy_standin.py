"""An `arcpy` for raster functions run outside ArcGIS: what arcgis.learn's functions use of it.

arcgis.learn's InferenceFunctions import arcpy, set `arcpy.env.processorType` and `gpuId` from
the tool's device argument, and read `processorType` back to choose the torch device; some call
AddMessage / AddWarning / AddError. Nothing else of arcpy is touched on the inference path
(tests/arcgis_learn/test_arcpy_use.py checks that claim against the installed arcgis.learn).
The stand-in is put on sys.modules only while a raster function runs, and only where a real
arcpy cannot be imported: under ArcGIS the real one is used.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger("dlpk.runners")

MODULE = "arcpy"
#: The names the stand-in defines (env's attributes apart); anything else is an AttributeError
#: naming the missing piece, not a silent None.
PROVIDED = ("env", "AddMessage", "AddWarning", "AddError", "ExecuteError")


class ExecuteError(Exception):
    """arcpy's error class, for functions that catch it."""


class Environment(types.SimpleNamespace):
    """arcpy.env: the settings a function reads; those dlpk does not set read as None."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return None


def _logger(level: int, said: list[str] | None = None) -> Callable[[Any], None]:
    def add(text: Any) -> None:
        log.log(level, "%s", text)
        if said is not None:
            said.append(" ".join(str(text).split()))

    return add


def standin(device: str) -> types.ModuleType:
    """A fresh `arcpy` module, its environment set as ArcGIS's tools set it for `device`.
    AddMessage and AddError go to the job's log; AddWarning also to `warnings_said`, which
    the task reports among its warnings."""
    module = types.ModuleType(MODULE, "dlpk's stand-in for the arcpy that ArcGIS provides")
    gpu = device == "gpu"
    said: list[str] = []
    environment = Environment(processorType="GPU" if gpu else "CPU", gpuId="0" if gpu else None)
    module.__dict__.update(
        env=environment,
        AddMessage=_logger(logging.INFO),
        AddWarning=_logger(logging.WARNING, said),
        AddError=_logger(logging.ERROR),
        ExecuteError=ExecuteError,
        warnings_said=said,
        __dlpk_standin__=True,
    )
    return module


def real_arcpy_available() -> bool:
    if MODULE in sys.modules:
        return not getattr(sys.modules[MODULE], "__dlpk_standin__", False)
    try:
        return importlib.util.find_spec(MODULE) is not None
    except (ImportError, ValueError):
        return False


@contextlib.contextmanager
def provided_arcpy(device: str) -> Iterator[types.ModuleType | None]:
    """While the block runs, `import arcpy` gives the stand-in (yielded), unless a real arcpy
    is importable (None is yielded and nothing changes)."""
    if real_arcpy_available():
        yield None
        return
    module = standin(device)
    previous = sys.modules.get(MODULE)
    sys.modules[MODULE] = module
    try:
        yield module
    finally:
        if sys.modules.get(MODULE) is module:
            if previous is None:
                del sys.modules[MODULE]
            else:
                sys.modules[MODULE] = previous
