"""Tiny rasters and layers for the page's tests, written by dlpk's own writers (the classified
raster with its colour map and attribute table, the detections GeoPackage), a store holding
jobs that point at them, and the page's router served on loopback by uvicorn."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import shapely
import uvicorn
from affine import Affine
from fastapi import FastAPI
from numpy.typing import NDArray
from pyproj import Transformer
from rasterio.io import MemoryFile
from rasterio.transform import from_origin

from dlpk.runners.io.classified import ClassifiedRasterWriter, ClassRow
from dlpk.runners.io.layers import write_polygons
from dlpk.serve.page.grid import ORIGIN, TILE_SIZE
from dlpk.serve.views import JobView, ModelView
from tests.rasters import write_raster
from tests.serve.service import free_port

CRS = "EPSG:32633"
#: 10 m pixels in UTM 33N, near 15.1 E 45.1 N
TRANSFORM = from_origin(510_000.0, 5_000_000.0, 10.0, 10.0)
ROWS, COLS = 64, 96
WATER = ClassRow(1, "Water", (0, 0, 255))
FOREST = ClassRow(5, "Forest", (0, 128, 0))
ROWS_OF_CLASSES = [WATER, FOREST]
NODATA_ROWS = 8  # the classified raster's last rows are nodata


@dataclass(frozen=True)
class Grid:
    """A raster grid as the classified-raster writer asks for it (`like`)."""

    width: int
    height: int
    crs: Any
    transform: Affine


def class_values(rows: int = ROWS, cols: int = COLS) -> NDArray[np.uint8]:
    """Water (1) in the left half, Forest (5) in the right; nodata (255) in the last rows."""
    values = np.full((rows, cols), FOREST.value, np.uint8)
    values[:, : cols // 2] = WATER.value
    values[rows - NODATA_ROWS :, :] = 255
    return values


def write_classified(
    path: Path,
    values: NDArray[np.uint8] | None = None,
    transform: Affine = TRANSFORM,
    crs: str | None = CRS,
) -> Path:
    """A classified raster as classify-pixels writes it: COG, colour map, .aux.xml table."""
    from dlpk.runners.io.windows import Window

    data = class_values() if values is None else values
    grid = Grid(data.shape[1], data.shape[0], rasterio.crs.CRS.from_user_input(crs), transform)
    with ClassifiedRasterWriter(path, grid, ROWS_OF_CLASSES) as writer:
        writer.write(Window(0, 0, data.shape[0], data.shape[1]), data)
    return path


def imagery_data(rows: int = ROWS, cols: int = COLS) -> NDArray[np.uint16]:
    """Three bands: red rising left to right over 1000..2000, green constant, blue 0."""
    ramp = np.linspace(1000, 2000, cols, dtype=np.float64)
    red = np.broadcast_to(ramp, (rows, cols))
    green = np.full((rows, cols), 1500.0)
    blue = np.zeros((rows, cols))
    return np.stack([red, green, blue]).astype(np.uint16)


def write_imagery(path: Path, nodata: float | None = None) -> Path:
    return write_raster(path, imagery_data(), TRANSFORM, CRS, nodata=nodata)


def write_detections(path: Path) -> Path:
    """Two detections as detect-objects writes them (Class, ClassValue, Confidence)."""
    x0, y0 = TRANSFORM @ (10, 10)
    x1, y1 = TRANSFORM @ (20, 20)
    boxes = [shapely.box(x0, y1, x1, y0), shapely.box(x0 + 400, y1, x1 + 400, y0)]
    fields = {
        "Class": np.array(["Water", "Forest"], dtype=object),
        "ClassValue": np.array([1, 5], dtype=np.int32),
        "Confidence": np.array([91.5, 62.25]),
    }
    write_polygons(
        path, np.array(boxes, dtype=object), fields, rasterio.crs.CRS.from_user_input(CRS).to_wkt()
    )
    return path


def lonlat_of_pixel(row: float, col: float, transform: Affine = TRANSFORM) -> tuple[float, float]:
    x, y = transform @ (col, row)
    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(x, y)
    return float(lon), float(lat)


def tile_pixel(lon: float, lat: float, z: int) -> tuple[int, int, int, int]:
    """(x, y, column, row): the tile of zoom z holding lon/lat, and the pixel inside it."""
    mx = math.radians(lon) * 6378137.0
    my = math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) * 6378137.0
    span = 2 * ORIGIN / 2**z
    fx, fy = (mx + ORIGIN) / span, (ORIGIN - my) / span
    x, y = int(fx), int(fy)
    return x, y, int((fx - x) * TILE_SIZE), int((fy - y) * TILE_SIZE)


def decode_png(data: bytes) -> NDArray[np.uint8]:
    """A PNG's bands [bands, rows, cols] (read back through GDAL)."""
    with MemoryFile(data) as memory, memory.open() as png:
        return np.asarray(png.read())


class MemoryStore:
    """The page's read side (views.ServiceStore) over dicts: the jobs a test made."""

    def __init__(self) -> None:
        self.jobs: dict[str, JobView] = {}
        self.models: dict[str, ModelView] = {}

    def get_model(self, model_id: str) -> ModelView | None:
        return self.models.get(model_id)

    def get_job(self, job_id: str) -> JobView | None:
        return self.jobs.get(job_id)


def page_app(store: MemoryStore) -> FastAPI:
    from dlpk.serve.page import router

    app = FastAPI()
    app.state.store = store
    app.include_router(router)
    return app


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """`app` on uvicorn on a free loopback port, for the block: its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def band_classifier() -> Any:
    """A 1x1 convolution whose class scores are bands: background <- blue, Water <- red,
    Forest <- green; so a red pixel is Water and a green one Forest, whatever the tile."""
    import torch

    module = torch.nn.Conv2d(3, 3, 1, bias=False)
    with torch.no_grad():
        module.weight.zero_()
        for channel, band in ((0, 2), (1, 0), (2, 1)):
            module.weight[channel, band, 0, 0] = 1.0
    return module.eval()


def write_band_model(folder: Path) -> Path:
    """The band classifier as an ONNX pixel classifier .dlpk with classes Water (1, blue) and
    Forest (5, green)."""
    from tests.inference_models import emd, package, save_onnx

    folder.mkdir(parents=True, exist_ok=True)
    save_onnx(band_classifier(), folder / "model.onnx", 3)
    document = emd("model.onnx", "ONNX", "PixelClassifier", ModelName="bands")
    return package(folder, document)


def write_red_green_scene(path: Path, rows: int = ROWS, cols: int = COLS) -> Path:
    """Red in the left half, green in the right: Water and Forest to the band classifier."""
    data = np.zeros((3, rows, cols), np.uint8)
    data[0, :, : cols // 2] = 200
    data[1, :, cols // 2 :] = 200
    data[2] = 20
    return write_raster(path, data, TRANSFORM, CRS)


#: The squares of write_squares_scene: (row, col, value); value 1 is Water, 2 Forest.
SQUARES = [(4, 13, 1.0), (29, 29, 1.0), (40, 40, 2.0)]


def write_square_detector(folder: Path) -> Path:
    """The square detector of the inference tests (6 px squares of 1 are Water, of 2 Forest;
    score 0.9) as an ONNX object detector .dlpk."""
    from tests.inference_models import emd, make_detector, package, save_onnx_detector

    folder.mkdir(parents=True, exist_ok=True)
    save_onnx_detector(make_detector(), folder / "model.onnx", 32)
    document = emd("model.onnx", "ONNX", "ObjectDetector", ExtractBands=[0], ModelName="squares")
    return package(folder, document)


def write_squares_scene(path: Path) -> Path:
    data = np.zeros((1, 60, 60), np.float32)
    for row, col, value in SQUARES:
        data[0, row : row + 6, col : col + 6] = value
    return write_raster(path, data, TRANSFORM, CRS)
