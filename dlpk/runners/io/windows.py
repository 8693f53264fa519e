"""The window plan: the raster cut into tiles of core + halo, planned once before any pixel is read.

Each tile is `tile_height x tile_width` pixels read from `padding` pixels above-left of its core;
the cores (tile minus `padding` on each side) partition the raster, so every output pixel comes
from exactly one tile, the one whose core holds it. With padding at least a fully convolutional
model's receptive radius, the tiled result equals one pass of the model over the whole raster
framed by `padding` pixels of the edge fill (what edge tiles see beyond the raster, as in
ArcGIS). The plan is also the unit of scale-out: a worker can take any slice of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from dlpk.errors import BadInputError


@dataclass(frozen=True, slots=True)
class Window:
    """A rectangle in raster pixel coordinates: rows [row, row+height), columns [col, col+width).

    Tiles of inference and chips of an export alike; a window may reach past the raster's edge
    (a padded tile), which `inside` tells.
    """

    row: int
    col: int
    height: int
    width: int

    def inside(self, width: int, height: int) -> bool:
        """Whether the window lies wholly within a `width x height` raster."""
        return (
            self.col >= 0
            and self.row >= 0
            and self.col + self.width <= width
            and self.row + self.height <= height
        )

    def intersection(self, other: Window) -> Window | None:
        top, left = max(self.row, other.row), max(self.col, other.col)
        bottom = min(self.row + self.height, other.row + other.height)
        right = min(self.col + self.width, other.col + other.width)
        if bottom <= top or right <= left:
            return None
        return Window(top, left, bottom - top, right - left)


@dataclass(frozen=True)
class Tile:
    """One model input: `read` is the full tile (may extend past the raster), `core` the part of
    the raster it is responsible for; the core starts `padding` pixels into the tile."""

    index: int
    read: Window
    core: Window

    @property
    def core_offset(self) -> tuple[int, int]:
        """Where the core starts inside the tile array."""
        return self.core.row - self.read.row, self.core.col - self.read.col


#: A model tile's largest side: ArcGIS's own are a few thousand pixels at most.
MAX_TILE_SIDE = 16384


@dataclass(frozen=True)
class TileGrid:
    """Tile geometry, validated: padding per side must leave a core (padding < tile / 2)."""

    tile_height: int
    tile_width: int
    padding: int

    def __post_init__(self) -> None:
        if self.tile_height <= 0 or self.tile_width <= 0:
            raise BadInputError(f"tile size {self.tile_height}x{self.tile_width} is not positive")
        if max(self.tile_height, self.tile_width) > MAX_TILE_SIDE:
            raise BadInputError(
                f"tile size {self.tile_height}x{self.tile_width} is beyond {MAX_TILE_SIDE} px a "
                "side (one tile would not fit in memory)",
                "check ImageHeight/ImageWidth in the .emd, or pass --arg tile_size=N",
            )
        if self.padding < 0 or 2 * self.padding >= min(self.tile_height, self.tile_width):
            raise BadInputError(
                f"padding {self.padding} leaves no core in a "
                f"{self.tile_height}x{self.tile_width} tile",
                "padding must be less than half the tile size",
            )

    @property
    def core_height(self) -> int:
        return self.tile_height - 2 * self.padding

    @property
    def core_width(self) -> int:
        return self.tile_width - 2 * self.padding


def plan_tiles(height: int, width: int, grid: TileGrid) -> list[Tile]:
    """Row-major tiles whose cores partition a `height x width` raster (edge cores are clipped)."""
    tiles: list[Tile] = []
    p = grid.padding
    for row in range(0, height, grid.core_height):
        for col in range(0, width, grid.core_width):
            core = Window(
                row, col, min(grid.core_height, height - row), min(grid.core_width, width - col)
            )
            read = Window(row - p, col - p, grid.tile_height, grid.tile_width)
            tiles.append(Tile(len(tiles), read, core))
    return tiles


def default_padding(image_height: int, model_padding: int | None) -> int:
    """ArcGIS's default: the model's own ModelPadding, else a quarter of the tile
    (docs/esri-formats.md#arguments)."""
    return model_padding if model_padding is not None else image_height // 4


def batched(tiles: list[Tile], size: int) -> list[list[Tile]]:
    """Consecutive groups of at most `size` tiles, in plan order."""
    if size <= 0:
        raise BadInputError(f"batch_size {size} is not positive")
    return [tiles[i : i + size] for i in range(0, len(tiles), size)]
