"""Key metadata: what the input holds, and updateKeyMetadata's edits for the output.

ArcGIS asks updateKeyMetadata(names, bandIndex, **keyMetadata) whenever the output's key
metadata is read: bandIndex -1 for the dataset, 0.. for a band, names () for every property.
dlpk asks once per output, for all properties, before any block is processed (so the output's
form is known up front), handing the input's: its dataset metadata and, for band i, the
input's band i (its name as `bandname`, then its metadata), none of it with
invalidateProperties 8. The output holds only what the function added or changed: the
input's metadata describes the input; a property set to None is dropped, as ArcGIS's reference
function resets inapplicable ones.

getConfiguration's `keyMetadata` (a list of names) asks for the input's values of those
properties in updateRasterInfo as `<raster>_keyMetadata`, looked up without regard to case.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from dlpk.errors import ModelError
from dlpk.runners.models.raster_function import RasterFunction

KEY_PROPERTIES = 8  # invalidateProperties: the key properties


@dataclass(frozen=True)
class KeyMetadata:
    """The function's own key metadata for the output: the dataset's and one dict per band."""

    dataset: dict[str, str] = field(default_factory=dict)
    bands: list[dict[str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.dataset) or any(self.bands)


def input_dataset(dataset: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in dataset.tags().items()}


def input_band(dataset: Any, band: int) -> dict[str, str]:
    """Band `band` (0-based) of the input: its description as `bandname`, then its tags."""
    found = {"bandname": dataset.descriptions[band]} if dataset.descriptions[band] else {}
    return found | {str(k): str(v) for k, v in dataset.tags(band + 1).items()}


def requested(dataset: Any, names: tuple[str, ...]) -> dict[str, str | None]:
    """`<raster>_keyMetadata`: each named property of the input's dataset metadata, or None."""
    known = {k.lower(): v for k, v in input_dataset(dataset).items()}
    return {name: known.get(name.lower()) for name in names}


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return str(value)


def _edits(given: dict[str, str], answer: Any, name: str, band: int) -> dict[str, str]:
    if not isinstance(answer, dict):
        raise ModelError(
            f"{name}: updateKeyMetadata() returned {type(answer).__name__} for bandIndex {band}",
            "it must return the keyMetadata dict, edited",
        )
    return {
        str(key): _text(value)
        for key, value in answer.items()
        if value is not None and (key not in given or given[key] != value)
    }


def key_metadata(
    function: RasterFunction, dataset: Any, bands: list[int], count: int, invalidate: int
) -> KeyMetadata:
    """Ask updateKeyMetadata for the dataset and each of the output's `count` bands; input
    band `bands[i]` is the one handed for output band i."""
    if not function.has("updateKeyMetadata"):
        return KeyMetadata()
    keep = not invalidate & KEY_PROPERTIES
    given = input_dataset(dataset) if keep else {}
    answer = function.call("updateKeyMetadata", (), -1, **given)
    top = _edits(given, answer, function.name, -1)
    per_band = []
    for index in range(count):
        known = input_band(dataset, bands[index]) if keep and index < len(bands) else {}
        answer = function.call("updateKeyMetadata", (), index, **known)
        per_band.append(_edits(known, answer, function.name, index))
    return KeyMetadata(top, per_band)
