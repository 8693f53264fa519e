"""JSON Schemas (draft 2020-12) generated from the pydantic models, the single source of truth.

The generated files are committed under dlpk/spec/schemas/ and a test fails when they drift.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from dlpk.spec.conformance import ConformanceReport
from dlpk.spec.emd import EsriModelDefinition
from dlpk.spec.job import JOB, Result

DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_DIR = Path(__file__).parent / "schemas"


def model_schema(
    model: type[BaseModel] | TypeAdapter[Any], name: str, title: str, description: str
) -> dict[str, Any]:
    if isinstance(model, TypeAdapter):
        body = model.json_schema(by_alias=True, mode="validation")
    else:
        body = model.model_json_schema(by_alias=True, mode="validation")
    header = {
        "$schema": DIALECT,
        "$id": f"urn:dlpk:schema:{name}",
        "title": title,
        "description": description,
    }
    body.pop("title", None)
    body.pop("description", None)
    return header | body


def emd_schema() -> dict[str, Any]:
    return model_schema(
        EsriModelDefinition,
        "emd",
        "Esri Model Definition (.emd)",
        "The model definition file of an Esri deep-learning package. Keys are case-sensitive; "
        "keys not listed here are allowed and must be kept.",
    )


def job_schema() -> dict[str, Any]:
    return model_schema(
        JOB,
        "job",
        "dlpk job (job.json)",
        "A job directory's job.json: task (export_chips, classify_pixels, detect_objects or "
        "classify_objects), model, inputs, parameters and outputs; every path is relative to "
        "the job directory.",
    )


def result_schema() -> dict[str, Any]:
    return model_schema(
        Result,
        "result",
        "dlpk job result (out/result.json)",
        "Written last and atomically by the runner: its presence means the job finished.",
    )


def conformance_schema() -> dict[str, Any]:
    return model_schema(
        ConformanceReport,
        "conformance",
        "dlpk conformance report (dlpk conformance --format json)",
        "What `dlpk conformance` found: each check of a model package (CFnnn) or each case of "
        "the runner kit (RCnnn), with its status, evidence and fix. Versioned: fields are only "
        "added; `version` changes when a reader could break.",
    )


SCHEMAS: dict[str, Callable[[], dict[str, Any]]] = {
    "emd": emd_schema,
    "job": job_schema,
    "result": result_schema,
    "conformance": conformance_schema,
}


def schema_text(name: str) -> str:
    return json.dumps(SCHEMAS[name](), indent=2, ensure_ascii=False) + "\n"


def schema_path(name: str) -> Path:
    return SCHEMA_DIR / f"{name}.schema.json"
