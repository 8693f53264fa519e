"""A PNG of an image and its classified raster side by side, for a first look at a result:
`python examples/preview.py IMAGE CLASSIFIED OUT.png [--overwrite] [--width PIXELS]`.

The image shows its first three bands (8-bit ones as they are, others stretched from their
2nd to 98th percentile), the classified raster its colour map (nodata black); both are read
at one reduced size when they are wider than `--width` / 2. Written with rasterio's PNG
driver, under a temporary name, renamed when complete.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning

from dlpk.atomic import atomic_path
from dlpk.errors import DlpkError

GAP = 8  # white pixels between the two halves


def _shape(dataset: rasterio.DatasetReader, width: int) -> tuple[int, int]:
    scale = min(1.0, width / dataset.width)
    return max(1, round(dataset.height * scale)), max(1, round(dataset.width * scale))


def image_rgb(path: Path, width: int) -> np.ndarray:
    """The image's first three bands (one band as grey) as 8-bit RGB [3, rows, cols]."""
    with rasterio.open(path) as dataset:
        bands = [1, 2, 3] if dataset.count >= 3 else [1, 1, 1]
        rows, cols = _shape(dataset, width)
        pixels = dataset.read(bands, out_shape=(3, rows, cols), resampling=Resampling.average)
        if dataset.dtypes[0] == "uint8":
            return pixels
    low, high = np.percentile(pixels, (2, 98))
    stretched = (pixels.astype(np.float64) - low) / max(float(high - low), 1e-9)
    return np.clip(stretched * 255, 0, 255).astype(np.uint8)


def classes_rgb(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """The classified raster through its colour map [3, rows, cols]; nodata and values
    without a colour black."""
    with rasterio.open(path) as dataset:
        values = dataset.read(1, out_shape=shape, resampling=Resampling.nearest)
        try:
            colours = dataset.colormap(1)
        except ValueError:
            raise SystemExit(f"preview: {path} has no colour map") from None
        nodata = dataset.nodata
    table = np.zeros((max(colours) + 1, 3), dtype=np.uint8)
    for value, colour in colours.items():
        table[value] = colour[:3]
    inside = (values >= 0) & (values < len(table))
    if nodata is not None:
        inside &= values != nodata
    rgb = np.zeros((3, *values.shape), dtype=np.uint8)
    rgb[:, inside] = table[values[inside]].T
    return rgb


def preview(image: Path, classified: Path, out: Path, overwrite: bool, width: int) -> None:
    left = image_rgb(image, (width - GAP) // 2)
    right = classes_rgb(classified, left.shape[1:])
    rows, cols = left.shape[1], left.shape[2]
    canvas = np.full((3, rows, 2 * cols + GAP), 255, dtype=np.uint8)
    canvas[:, :, :cols] = left
    canvas[:, :, cols + GAP :] = right
    profile = {"driver": "PNG", "width": canvas.shape[2], "height": rows, "count": 3}
    with atomic_path(out, overwrite) as temporary, warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a picture, not a map
        with rasterio.open(temporary, "w", dtype="uint8", **profile) as png:
            png.write(canvas)
        temporary.with_name(temporary.name + ".aux.xml").unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", type=Path)
    parser.add_argument("classified", type=Path)
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing PNG")
    parser.add_argument("--width", type=int, default=1600, help="most pixels across")
    args = parser.parse_args(argv)
    try:
        preview(args.image, args.classified, args.out, args.overwrite, args.width)
    except (DlpkError, rasterio.errors.RasterioIOError) as exc:
        print(f"preview: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
