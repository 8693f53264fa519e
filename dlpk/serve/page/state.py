"""The page's caches, one set per app: open datasets, raster descriptions, rendered tiles and
GeoJSON documents, shared by every request of that app."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from dlpk.serve.page.datasets import DatasetCache
from dlpk.serve.page.features import FeatureCatalog
from dlpk.serve.page.raster_layers import RasterCatalog
from dlpk.serve.page.tiles import TileRenderer


@dataclass
class PageState:
    datasets: DatasetCache = field(default_factory=DatasetCache)
    rasters: RasterCatalog = field(init=False)
    tiles: TileRenderer = field(init=False)
    features: FeatureCatalog = field(default_factory=FeatureCatalog)

    def __post_init__(self) -> None:
        self.rasters = RasterCatalog(self.datasets)
        self.tiles = TileRenderer(self.datasets)

    def close(self) -> None:
        self.datasets.close()


_CREATING = threading.Lock()


def page_state(app_state: Any) -> PageState:
    """The app's PageState (`app.state.page`), made on first use."""
    found = getattr(app_state, "page", None)
    if isinstance(found, PageState):
        return found
    with _CREATING:
        found = getattr(app_state, "page", None)
        if not isinstance(found, PageState):
            found = PageState()
            app_state.page = found
        return found
