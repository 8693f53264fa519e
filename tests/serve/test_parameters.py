"""submitJob's parameters: ArcGIS's names and value forms, as one dlpk.api call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dlpk.cli.arcgis_names import NAMES
from dlpk.errors import UsageError
from dlpk.serve.tasks import TASKS, model_arguments, parse_submission


def _parse(task: str, **values: Any) -> Any:
    return parse_submission(
        task, values, lambda name, value: Path("/r") / str(value), lambda _: None
    )


@pytest.mark.parametrize(
    "given",
    [
        "padding 32;batch_size 4",
        {"padding": 32, "batch_size": 4},
        '{"padding": 32, "batch_size": 4}',
        '[{"name": "padding", "value": 32}, {"name": "batch_size", "value": 4}]',
    ],
)
def test_model_arguments_in_every_arcgis_form(given: Any) -> None:
    assert model_arguments(given) == {"padding": "32", "batch_size": "4"}


def test_a_malformed_value_table_names_the_parameter() -> None:
    with pytest.raises(UsageError, match="modelArguments"):
        model_arguments("padding")


def test_classify_pixels_parameters() -> None:
    sub = _parse(
        "ClassifyPixelsUsingDeepLearning", inputRaster="a.tif", model="http://h/models/abc/",
        modelArguments="padding 8", outputClassifiedRaster='{"serviceProperties": {"name": "out"}}',
        context='{"processorType": "GPU", "extent": {"xmin": 1, "ymin": 2, "xmax": 3, "ymax": 4}}',
    )  # fmt: skip
    assert sub.model_id == "abc" and sub.inputs == {"raster": Path("/r/a.tif")}
    assert sub.options == {"model_arguments": {"padding": "8"}, "device": "gpu",
                           "extent": [1.0, 2.0, 3.0, 4.0]}  # fmt: skip
    assert sub.output_name == "out.tif"


def test_detect_objects_takes_arcgis_only_names_with_a_warning() -> None:
    sub = _parse("DetectObjectsUsingDeepLearning", inputRaster="a.tif", model="m",
                 maxOverlapRatio="0.3", runNMS="true", processingMode="PROCESS_AS_MOSAICKED_IMAGE",
                 confidenceScoreField="Score")  # fmt: skip
    assert sub.options["model_arguments"] == {"nms_overlap": "0.3"}
    assert sorted(w.split(" ")[0] for w in sub.warnings) == [
        "confidenceScoreField", "processingMode", "runNMS",
    ]  # fmt: skip
    assert sub.output_name == "outputObjects.gpkg"


def test_export_parameters() -> None:
    sub = _parse(
        "ExportTrainingDataforDeepLearning", inputRaster="a.tif", inputClassData="l.gpkg",
        tileSizeX="64", tileSizeY="32", strideX=32, processAllRasterItems="true",
        blackenAroundFeature="BLACKEN_AROUND_FEATURE", outputLocation="chips",
    )  # fmt: skip
    assert sub.inputs == {"raster": Path("/r/a.tif"), "labels": Path("/r/l.gpkg")}
    assert sub.options == {"tile_size": [64, 32], "stride": 32, "blacken_around_feature": True,
                           "processing_mode": "PROCESS_ITEMS_SEPARATELY"}  # fmt: skip
    assert sub.output_name == "chips"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"inputRaster": "a.tif", "model": "m", "tileSizeX": 3}, "no parameter 'tileSizeX'"),
        ({"inputRaster": "a.tif"}, "model is required"),
        ({"inputRaster": "a.tif", "model": "m", "processorType": "TPU"}, "CPU or GPU"),
    ],
)
def test_refusals(values: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        _parse("ClassifyPixelsUsingDeepLearning", **values)


def test_every_task_maps_the_names_the_command_line_maps() -> None:
    """Each ArcGIS input the CLI takes (arcgis_names) has its REST parameter here."""
    rest_inputs = {
        "in_raster": "inputRaster", "in_model_definition": "model",
        "arguments": "modelArguments", "model_arguments": "modelArguments",
        "in_features": "inputFeatures", "in_class_data": "inputClassData",
        "in_mask_polygons": "inputMaskPolygons", "in_raster2": "additionalInputRaster",
        "in_instance_data": "inputInstanceData",
    }  # fmt: skip
    for task in TASKS.values():
        for name in NAMES:
            if task.command in name.commands and name.arcgis in rest_inputs and name.mapped:
                assert rest_inputs[name.arcgis] in task.parameters, (task.command, name.arcgis)
