"""The job contract: schemas committed under dlpk/spec/schemas match the models."""

from __future__ import annotations

import json

import jsonschema
import pytest
from pydantic import ValidationError

from dlpk.spec import job
from dlpk.spec.publish import schema_path


@pytest.mark.parametrize("name", ["job", "result"])
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    schema = json.loads(schema_path(name).read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_minimal_job_validates_against_schema_and_model() -> None:
    doc = {"apiVersion": "dlpk/v1", "task": "export_chips", "inputs": {"in_raster": "in/a.tif"}}
    schema = json.loads(schema_path("job").read_text(encoding="utf-8"))
    jsonschema.validate(doc, schema)
    parsed = job.ExportChipsJob.model_validate(doc)
    assert parsed.outputs.out_folder == "out/chips"
    assert parsed.parameters.metadata_format == "PASCAL_VOC_rectangles"


@pytest.mark.parametrize("path", ["/abs/a.tif", "../a.tif", "in/../../a.tif", "C:\\a.tif"])
def test_input_paths_must_stay_inside_the_job(path: str) -> None:
    doc = {"task": "export_chips", "inputs": {"in_raster": path}}
    with pytest.raises(ValidationError, match="job directory"):
        job.ExportChipsJob.model_validate(doc)


def test_outputs_must_be_under_out() -> None:
    doc = {"task": "export_chips", "inputs": {"in_raster": "a.tif"}, "outputs": {"out_folder": "x"}}
    with pytest.raises(ValidationError, match="under out/"):
        job.ExportChipsJob.model_validate(doc)


def test_unknown_keys_are_rejected() -> None:
    doc = {"task": "export_chips", "inputs": {"in_raster": "a.tif"}, "paramters": {}}
    with pytest.raises(ValidationError):
        job.ExportChipsJob.model_validate(doc)


def test_result_example_validates_against_schema() -> None:
    result = job.Result(
        task="export_chips",
        status="done",
        exit_code=0,
        outputs=[job.OutputFile(path="out/chips/map.txt", size=3, sha256="0" * 64)],
        started="2024-01-01T00:00:00+00:00",
        finished="2024-01-01T00:00:01+00:00",
    )
    schema = json.loads(schema_path("result").read_text(encoding="utf-8"))
    jsonschema.validate(json.loads(result.model_dump_json()), schema)
