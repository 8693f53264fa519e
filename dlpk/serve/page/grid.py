"""Web Mercator XYZ tile arithmetic (the grid every web map uses): a tile's bounds and
transform, and the zooms at which a raster is worth drawing."""

from __future__ import annotations

import math

from affine import Affine

#: Half the width of the Web Mercator world, in metres (EPSG:3857).
ORIGIN = 20037508.342789244
TILE_SIZE = 256
#: Past this zoom a tile's pixel is under 2 cm: nothing a job writes is that fine.
MAX_ZOOM = 24
#: Zooms past the raster's own resolution the map may still ask for (pixels drawn larger).
OVERZOOM = 3

Bounds = tuple[float, float, float, float]


def is_tile(z: int, x: int, y: int) -> bool:
    """Whether z/x/y names a tile of the grid."""
    return 0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z


def tile_bounds(z: int, x: int, y: int) -> Bounds:
    """The tile's west, south, east, north in EPSG:3857 metres."""
    span = 2 * ORIGIN / 2**z
    west = -ORIGIN + x * span
    north = ORIGIN - y * span
    return west, north - span, west + span, north


def tile_transform(z: int, x: int, y: int) -> Affine:
    """The geotransform of the tile's TILE_SIZE x TILE_SIZE pixels in EPSG:3857."""
    west, _, east, north = tile_bounds(z, x, y)
    size = (east - west) / TILE_SIZE
    return Affine(size, 0.0, west, 0.0, -size, north)


def zoom_for_resolution(metres: float) -> int:
    """The smallest zoom whose pixels are at least as fine as `metres` (a raster's pixel size
    in Web Mercator metres)."""
    if metres <= 0:
        return MAX_ZOOM
    level = math.log2(2 * ORIGIN / TILE_SIZE / metres)
    return max(0, min(MAX_ZOOM, math.ceil(level - 1e-9)))


def zoom_for_extent(metres: float) -> int:
    """The largest zoom at which an extent `metres` wide still fits in one tile."""
    if metres <= 0:
        return MAX_ZOOM
    return max(0, min(MAX_ZOOM, math.floor(math.log2(2 * ORIGIN / metres))))


def zoom_range(bounds: Bounds, resolution: float) -> tuple[int, int]:
    """(minzoom, maxzoom) for a raster with these EPSG:3857 bounds and pixel size: from the
    zoom at which it fits one tile (so a zoomed-out view asks for a few tiles, not thousands)
    to a few zooms past its own pixels."""
    west, south, east, north = bounds
    native = zoom_for_resolution(resolution)
    fits = zoom_for_extent(max(east - west, north - south))
    return min(fits, native), min(MAX_ZOOM, native + OVERZOOM)
