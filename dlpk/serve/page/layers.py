"""What `GET /jobs/{id}/layers` answers: each of a job's rasters and feature layers that the map
can draw, with where it lies, the zooms and URLs of its tiles and its legend; and, under
`skipped`, each one it cannot draw and why (no CRS, not written yet, not a raster)."""

from __future__ import annotations

from typing import Any

from dlpk.serve.page.features import Color
from dlpk.serve.page.legend import LegendEntry
from dlpk.serve.page.raster_layers import LayerUnavailable
from dlpk.serve.page.state import PageState
from dlpk.serve.views import JobView, ModelView


def model_classes(model: ModelView | None) -> list[LegendEntry]:
    """The model's classes as its .emd names them (what `dlpk inspect` read), with their
    colours where valid."""
    entries = []
    for entry in (model.description.get("classes") if model else None) or []:
        if not isinstance(entry, dict):
            continue
        value, name, colour = entry.get("value"), entry.get("name"), entry.get("color")
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        rgb = _colour(colour)
        entries.append(LegendEntry(value, str(name) if name is not None else str(value), rgb))
    return entries


def _colour(value: Any) -> Color | None:
    """An .emd Color ([r, g, b], each 0-255), else None (absent, or [-1, -1, -1]: none)."""
    if not isinstance(value, list) or len(value) != 3:
        return None
    if not all(isinstance(c, int) and 0 <= c <= 255 for c in value):
        return None
    return (value[0], value[1], value[2])


def model_colours(model: ModelView | None) -> dict[int, Color]:
    return {e.value: e.color for e in model_classes(model) if e.color is not None}


def job_layers(state: PageState, job: JobView, model: ModelView | None) -> dict[str, Any]:
    rasters: dict[str, Any] = {}
    features: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name, path in job.rasters.items():
        try:
            info = state.rasters.describe(path)
        except LayerUnavailable as why:
            skipped[name] = str(why)
            continue
        rasters[name] = {
            "kind": info.kind,
            "bounds": list(info.lonlat),
            "minzoom": info.minzoom,
            "maxzoom": info.maxzoom,
            "tiles": f"/jobs/{job.id}/tiles/{name}/{{z}}/{{x}}/{{y}}.png",
            "legend": info.legend_json(),
        }
    classes = [entry.as_json() for entry in model_classes(model)]
    for name, path in job.features.items():
        try:
            layer = state.features.describe(path)
        except LayerUnavailable as why:
            skipped[name] = str(why)
            continue
        features[name] = {
            "url": f"/jobs/{job.id}/features/{name}.geojson",
            "bounds": list(layer.bounds),
            "count": layer.count,
            "legend": classes,
        }
    return {"rasters": rasters, "features": features, "skipped": skipped}
