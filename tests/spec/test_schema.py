"""The published .emd schema: generated from the models, committed, and right about real files."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from dlpk.cli import main
from dlpk.spec.publish import SCHEMAS, schema_path, schema_text

CORPUS = Path(__file__).parents[1] / "corpus" / "emd"
REAL_EXAMPLES = [
    "a_unet_arcgis_learn.emd",
    "b_object_classification.emd",
    "c_tf_object_detection.emd",
    "d_keras_maskrcnn.emd",
    "e_cntk_land_classification.emd",
    "f_custom_prf_grounding_dino.emd",
]
BROKEN = {
    "model_type_typo.emd": "ObjectionDetection",
    "classes_misspelt_keys.emd": "ClassValue",
    "height_as_string.emd": "'256'",
    "bands_as_string.emd": "'[0, 1, 2]'",
    "color_out_of_range.emd": "256",
    "size_not_positive.emd": "0",
    "template_manifest.emd": "e.g.",
    "image_space_typo.emd": "MAP SPACE",
}


def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(schema_path("emd").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_committed_schema_matches_models(name: str) -> None:
    assert schema_path(name).read_text() == schema_text(name), (
        f"{schema_path(name)} drifted from the models: run `make schemas`"
    )


def test_schema_declares_draft_2020_12() -> None:
    schema = json.loads(schema_path("emd").read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is True  # unknown keys are kept, never rejected


@pytest.mark.parametrize("name", REAL_EXAMPLES)
def test_real_examples_validate(name: str) -> None:
    errors = list(validator().iter_errors(json.loads((CORPUS / name).read_text())))
    assert errors == []


@pytest.mark.parametrize(("name", "culprit"), sorted(BROKEN.items()))
def test_broken_examples_are_rejected(name: str, culprit: str) -> None:
    errors = list(validator().iter_errors(json.loads((CORPUS / name).read_text())))
    assert errors, f"{name} should not validate"
    assert any(culprit in str(e.instance) or culprit in e.message for e in errors)


def test_schema_command_prints_the_committed_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "emd"]) == 0
    assert capsys.readouterr().out == schema_path("emd").read_text()
