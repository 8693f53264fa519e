"""The model checks, one module per family (CF1 package ... CF9 cost); `load` imports them
all, which registers them in `registry.MODEL_CHECKS`."""

from __future__ import annotations

import importlib

FAMILIES = (
    "package",
    "contract",
    "tiles",
    "repeatable",
    "nodata",
    "detectors",
    "tile_size",
    "parity",
    "cost",
)


def load() -> None:
    for family in FAMILIES:
        importlib.import_module(f"dlpk.conformance.checks.{family}")
