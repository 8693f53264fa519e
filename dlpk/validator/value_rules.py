"""Rules over how values relate: sizes, bands and ranges that validate alone but not together.

Each value here may pass the schema on its own; these checks catch combinations that the raster
functions mishandle (padding that eats the tile, statistics shorter than the band list, ...).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

from dlpk.spec import vocab
from dlpk.validator.docvalues import int_value
from dlpk.validator.emitter import Emitter
from dlpk.validator.jsontext import child_pointer


def check_values(emit: Emitter, doc: dict[str, Any]) -> None:
    height, width = int_value(doc.get("ImageHeight")), int_value(doc.get("ImageWidth"))
    for key in ("ModelPadding", "Padding"):
        padding = int_value(doc.get(key))
        sizes = [s for s in (height, width) if s is not None and s > 0]
        if padding is not None and sizes and 2 * padding >= min(sizes):
            emit.emit(
                "DL208",
                f"{key} {padding} leaves no centre: it must be less than half the tile "
                f"({min(sizes)} px), i.e. at most {(min(sizes) - 1) // 2}",
                child_pointer("", key),
            )
    arcgis_learn = doc.get("Framework") == vocab.ARCGIS_LEARN_FRAMEWORK
    if arcgis_learn and height and width and height != width:
        emit.emit(
            "DL211",
            f"ImageHeight {height} != ImageWidth {width}: arcgis.learn uses ImageHeight for both",
            "/ImageWidth",
        )
    bands = doc.get("ExtractBands")
    if isinstance(bands, list):
        for band, count in Counter(map(json.dumps, bands)).items():
            if count > 1:
                emit.emit("DL212", f"ExtractBands lists band {band} {count} times", "/ExtractBands")
    data_range = doc.get("DataRange")
    if (
        isinstance(data_range, list)
        and len(data_range) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in data_range)
        and not data_range[0] < data_range[1]
    ):
        emit.emit(
            "DL213", f"DataRange {data_range} must be [min, max] with min < max", "/DataRange"
        )
    _check_normalization(emit, doc, bands)
    batch = int_value(doc.get("BatchSize"))
    if arcgis_learn and batch and batch > 0 and math.isqrt(batch) ** 2 != batch:
        emit.emit(
            "DL215",
            f"BatchSize {batch} is rounded down to {math.isqrt(batch) ** 2} by arcgis.learn",
            "/BatchSize",
        )


def _check_normalization(emit: Emitter, doc: dict[str, Any], bands: Any) -> None:
    stats = doc.get("NormalizationStats")
    if not isinstance(stats, dict) or not isinstance(bands, list):
        return
    indexes = [b for b in bands if int_value(b) is not None]
    if not indexes:
        return
    needed = max(indexes) + 1
    for key, values in stats.items():
        if isinstance(values, list) and len(values) < needed:
            emit.emit(
                "DL214",
                f"NormalizationStats.{key} has {len(values)} values but ExtractBands uses "
                f"band {needed - 1}",
                child_pointer("/NormalizationStats", key),
            )
