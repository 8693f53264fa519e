"""The fast GeoTIFF chip encoder writes the very bytes GDAL writes, whatever the chip."""

from __future__ import annotations

import numpy as np
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st

from dlpk.runners.tasks.export_chips.encode import GeoTiffEncoder, encode_raster
from tests.rasters import RASTER_CRS

DTYPES = ["uint8", "uint16", "int16", "float32", "float64"]


@settings(max_examples=40, deadline=None)
@given(
    dtype=st.sampled_from(DTYPES),
    bands=st.integers(1, 5),
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    origins=st.lists(
        st.tuples(st.integers(-10_000, 10_000), st.integers(-10_000, 10_000)),
        min_size=1,
        max_size=3,
    ),
    seed=st.integers(0, 2**16),
    crs=st.sampled_from([RASTER_CRS, None]),
)
def test_patched_chips_equal_gdal_encodes(
    dtype: str,
    bands: int,
    height: int,
    width: int,
    origins: list[tuple[int, int]],
    seed: int,
    crs: str | None,
) -> None:
    rng = np.random.default_rng(seed)
    encoder = GeoTiffEncoder()
    for x, y in origins:  # the first chip makes the template, the next ones patch it
        array = (rng.random((bands, height, width)) * 250).astype(dtype)
        transform = Affine(0.5, 0, x * 0.5, 0, -0.5, y * 0.5)
        assert encoder.encode(array, transform, crs) == encode_raster(array, "TIFF", transform, crs)


def test_common_chips_take_the_fast_path() -> None:
    """RGB byte chips of one shape are patched from a template, not encoded by GDAL again."""
    encoder = GeoTiffEncoder()
    array = np.zeros((3, 256, 256), dtype="uint8")
    encoder.encode(array, Affine(0.5, 0, 100.0, 0, -0.5, 200.0), RASTER_CRS)
    assert [t is not None for t in encoder._templates.values()] == [True]
