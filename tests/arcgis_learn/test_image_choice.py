"""arcgis.learn's packages go to the arcgis-learn image, and without arcgis.learn a local run
says how to get it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import dlpk
from dlpk.errors import FrameworkMissingError
from dlpk.packaging.unpack import runner_framework
from dlpk.runners.backends.images.catalog import IMAGE_PROVIDES, default_image, image_tag
from dlpk.spec.emd import EsriModelDefinition
from tests.raster_functions import function_package
from tests.rasters import write_raster


def test_arcgis_learn_packages_pick_their_image() -> None:
    assert default_image("arcgis.learn.models._inferencing", "cpu") == image_tag("arcgis-learn")
    assert "arcgis.learn.models._inferencing" not in IMAGE_PROVIDES["pytorch"]
    written = EsriModelDefinition.model_validate(
        {"Framework": "PyTorch", "ModelConfiguration": "_unet", "ArcGISLearnVersion": "2.4.4",
         "InferenceFunction": "ArcGISImageClassifier.py", "ModelType": "ImageClassification"}
    )  # fmt: skip
    assert runner_framework(written) == "arcgis.learn.models._inferencing"
    plain = written.model_copy(update={"ArcGISLearnVersion": None})
    assert runner_framework(plain) == "PyTorch"


def test_without_arcgis_learn_the_error_names_the_way(tmp_path: Path) -> None:
    if importlib.util.find_spec("arcgis") is not None:
        pytest.skip("arcgis is installed here: the case under test is a machine without it")
    source = "import arcgis.learn\n\nclass ArcGISImageClassifier:\n    pass\n"
    package = function_package(
        tmp_path / "pkg", "ArcGISImageClassifier", source, "ImageClassification",
        Framework="arcgis.learn.models._inferencing", ModelConfiguration="_unet",
        ArcGISLearnVersion="2.4.4",
    )  # fmt: skip
    raster = write_raster(tmp_path / "scene.tif", np.zeros((1, 32, 32), np.uint8))
    with pytest.raises(FrameworkMissingError, match=r"arcgis\.learn, which is not installed") as e:
        dlpk.classify_pixels(package, raster, tmp_path / "out.tif", trust_code=True)
    assert "--backend docker" in str(e.value) and "dlpk[arcgis-learn]" in str(e.value)
    assert e.value.exit_code == 4
