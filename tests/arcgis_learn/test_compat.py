"""The stand-ins for what PyPI's arcgis lacks fail only when used, naming what is missing
(the import path itself is exercised in the image: test_packages_in_docker.py)."""

from __future__ import annotations

import pytest

from dlpk.errors import ModelError
from dlpk.runners.models.arcgis_learn_compat import (
    gdal_array_standin,
    knn_standin,
    written_by_arcgis_learn,
)


def test_packages_written_by_arcgis_learn_are_recognised() -> None:
    assert written_by_arcgis_learn({"Framework": "arcgis.learn.models._inferencing"})
    assert written_by_arcgis_learn({"Framework": "PyTorch", "ArcGISLearnVersion": "2.4.4"})
    assert not written_by_arcgis_learn({"Framework": "PyTorch", "ModelConfiguration": "Custom"})


def test_the_knn_standin_fails_only_when_called() -> None:
    module = knn_standin()
    with pytest.raises(ModelError, match="nearest_neighbors"):
        module.knn_batch([[0.0]], [[0.0]], 1)


def test_the_gdal_standin_has_no_gdal_and_a_failing_gdal_array() -> None:
    osgeo = gdal_array_standin()
    assert not hasattr(osgeo, "gdal")  # `from osgeo import gdal` fails: arcgis sees no GDAL
    assert not hasattr(osgeo.gdal_array, "__file__")  # introspection is not a use
    with pytest.raises(ModelError, match="GDAL's Python bindings"):
        osgeo.gdal_array.OpenArray([[0]])
