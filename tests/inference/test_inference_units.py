"""Channel-to-Value mapping (docs/esri-formats.md#classes), normalisation
(docs/esri-formats.md#bands-and-normalisation) and band resolution."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlpk.errors import BadInputError, ModelError
from dlpk.runners.io.classified import output_dtype
from dlpk.runners.io.raster_source import normaliser_for, resolve_bands
from dlpk.runners.tasks.inference.classes import ChannelMap, channel_map, class_color
from dlpk.spec.emd import ClassEntry, EsriModelDefinition

CLASSES = [ClassEntry(Value=3, Name="a"), ClassEntry(Value=7, Name="b")]


def scores_for(winners: list[int], channels: int) -> np.ndarray:
    """[1, K, 1, P] scores where pixel p's highest channel is winners[p] and channel 0 second."""
    scores = np.zeros((1, channels, 1, len(winners)), dtype=np.float32)
    scores[0, 0, 0, :] = 0.5
    for pixel, channel in enumerate(winners):
        scores[0, channel, 0, pixel] = 1.0
    return scores


def test_one_channel_per_class() -> None:
    mapping = channel_map(CLASSES, 2, None)
    assert mapping.classify(scores_for([0, 1], 2)).tolist() == [[[3, 7]]]


def test_background_channel_first_and_predict_background() -> None:
    # dlpk's own configurations: a background channel may win unless predict_background=False
    default = channel_map(CLASSES, 3, None)
    assert default.classify(scores_for([0, 1, 2], 3)).tolist() == [[[0, 3, 7]]]
    suppressed = channel_map(CLASSES, 3, False)
    assert suppressed.classify(scores_for([0, 1, 2], 3)).tolist() == [[[3, 3, 7]]]
    single = channel_map(CLASSES[:1], 2, None)
    assert single.classify(scores_for([0, 1], 2)).tolist() == [[[0, 3]]]


def test_ignored_channels_never_win() -> None:
    mapping = channel_map(CLASSES, 3, True, ignored=[2])
    assert mapping.classify(scores_for([2], 3)).tolist() == [[[0]]]


def test_channel_count_must_fit_the_classes() -> None:
    with pytest.raises(ModelError, match="4 channels for 2 classes"):
        channel_map(CLASSES, 4, None)


def test_no_colour_gets_a_stable_colour() -> None:
    entry = ClassEntry(Value=4, Name="x", Color=(-1, -1, -1))
    assert class_color(entry) == class_color(entry)
    assert class_color(ClassEntry(Value=4, Name="x", Color=(1, 2, 3))) == (1, 2, 3)


def test_imagenet_for_8_bit_rgb_only() -> None:
    emd = EsriModelDefinition()
    pixels = np.array([[[0.0]], [[255.0]], [[124.0]]], dtype=np.float32)
    got = normaliser_for(emd, [0, 1, 2], "uint8")(pixels)[:, 0, 0]
    expected = [(0 - 123.675) / 58.395, (255 - 116.28) / 57.12, (124 - 103.53) / 57.375]
    assert got == pytest.approx(expected, rel=1e-5)
    raw = normaliser_for(emd, [0, 1, 2], "uint16")(pixels)
    np.testing.assert_array_equal(raw, pixels)


def test_normalization_stats_indexed_by_extract_bands() -> None:
    stats = {
        "band_min_values": [0, 100, 10],
        "band_max_values": [1, 300, 20],
        "scaled_mean_values": [0, 0.5, 0.25],
        "scaled_std_values": [1, 0.25, 0.5],
    }
    emd = EsriModelDefinition.model_validate({"NormalizationStats": stats})
    pixels = np.array([[[15.0]], [[200.0]]], dtype=np.float32)  # bands 2 and 1, in that order
    got = normaliser_for(emd, [2, 1], "uint16")(pixels)[:, 0, 0]
    assert got == pytest.approx([(0.5 - 0.25) / 0.5, (0.5 - 0.5) / 0.25])
    with pytest.raises(BadInputError, match="covers 3 bands"):
        normaliser_for(emd, [5], "uint16")


def test_bands_by_index_or_name() -> None:
    names = ["Blue", "Green", "Red", "NearInfrared"]
    assert resolve_bands(["red", "NearInfrared"], 4, names) == [2, 3]
    assert resolve_bands([3, 0], 4, names) == [3, 0]
    assert resolve_bands(None, 1, ["Gray"]) == [0]
    with pytest.raises(BadInputError, match="band index 4"):
        resolve_bands([4], 4, names)


@pytest.mark.parametrize(
    ("values", "dtype", "nodata"),
    [
        ([1, 2], "uint8", 255),
        ([0, 254], "uint8", 255),
        ([255], "uint16", 65535),
        ([-1], "int32", -(2**31)),
    ],
)
def test_output_dtype_leaves_room_for_nodata(values: list[int], dtype: str, nodata: int) -> None:
    assert output_dtype(values) == (dtype, nodata)


@settings(max_examples=60, deadline=None)
@given(
    channels=st.integers(1, 6),
    seed=st.integers(0, 2**16),
    nans=st.integers(0, 6),
    dtype=st.sampled_from(["float32", "float64", "int16"]),
    data=st.data(),
)
def test_classify_is_the_argmax_of_the_allowed_channels(
    channels: int, seed: int, nans: int, dtype: str, data: st.DataObject
) -> None:
    """Ties go to the first channel and a NaN wins, exactly as np.argmax over masked scores."""
    allowed = np.array(data.draw(st.lists(st.booleans(), min_size=channels, max_size=channels)))
    if not allowed.any():
        allowed[data.draw(st.integers(0, channels - 1))] = True
    rng = np.random.default_rng(seed)
    scores = rng.integers(-3, 3, (2, channels, 5, 7)).astype(dtype)  # small range: many ties
    if dtype != "int16":
        for _ in range(nans):
            scores[tuple(rng.integers(0, n) for n in scores.shape)] = np.nan
    values = np.arange(10, 10 + channels, dtype=np.int64)
    masked = np.where(allowed.reshape(1, -1, 1, 1), scores.astype(np.float32), -np.inf)
    expected = values[np.argmax(masked.astype(np.float32), axis=1)]
    got = ChannelMap(values, allowed).classify(scores)
    np.testing.assert_array_equal(got, expected)
