"""dlpk: an open toolchain for Esri deep-learning model packages (.emd / .dlpk).

The public API is flat and imported lazily (pydantic's pattern): `import dlpk` costs almost
nothing, and `dlpk.lint` never pulls in rasterio or a framework. See docs/python-api.md.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from dlpk.version import __version__

if TYPE_CHECKING:
    from dlpk import errors
    from dlpk.api import (
        classify_objects,
        classify_pixels,
        conformance,
        detect_objects,
        export_chips,
        export_training_data,
        fix,
        inspect,
        lint,
        normalize,
        pack,
        run_job,
    )
    from dlpk.packaging.fix import FixReport
    from dlpk.runners.backends.base import Backend
    from dlpk.runners.backends.docker import Docker
    from dlpk.runners.backends.local import InProcess, Local
    from dlpk.runners.backends.ray import Ray
    from dlpk.serve.client import Client
    from dlpk.spec.conformance import ConformanceReport
    from dlpk.spec.job import Result
    from dlpk.validator.diagnostics import Diagnostic, Severity
    from dlpk.validator.report import LintReport

#: public name -> the module that defines it
_LAZY = {
    **dict.fromkeys(
        (
            "lint", "fix", "normalize", "pack", "inspect", "export_training_data",
            "export_chips", "classify_pixels", "detect_objects", "classify_objects", "run_job",
            "conformance",
        ),
        "dlpk.api",
    ),
    "Backend": "dlpk.runners.backends.base",
    "Docker": "dlpk.runners.backends.docker",
    "Local": "dlpk.runners.backends.local",
    "InProcess": "dlpk.runners.backends.local",
    "Ray": "dlpk.runners.backends.ray",
    "Client": "dlpk.serve.client",
    "Result": "dlpk.spec.job",
    "ConformanceReport": "dlpk.spec.conformance",
    "LintReport": "dlpk.validator.report",
    "FixReport": "dlpk.packaging.fix",
    "Diagnostic": "dlpk.validator.diagnostics",
    "Severity": "dlpk.validator.diagnostics",
}  # fmt: skip

__all__ = [
    "Backend",
    "Client",
    "ConformanceReport",
    "Diagnostic",
    "Docker",
    "FixReport",
    "InProcess",
    "LintReport",
    "Local",
    "Ray",
    "Result",
    "Severity",
    "__version__",
    "classify_objects",
    "classify_pixels",
    "conformance",
    "detect_objects",
    "errors",
    "export_chips",
    "export_training_data",
    "fix",
    "inspect",
    "lint",
    "normalize",
    "pack",
    "run_job",
]


def __getattr__(name: str) -> Any:
    if name == "errors":
        return import_module("dlpk.errors")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dlpk' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
