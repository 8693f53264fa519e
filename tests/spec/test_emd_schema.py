"""spec/emd_schema.py against the models: the key orders are the models' fields, and a document
the schema check accepts is one the pydantic models accept (the linter skips pydantic then), over
the corpus, Esri-shaped documents and fuzzed ones."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from dlpk.spec.emd import ClassEntry, EsriModelDefinition
from dlpk.spec.emd_schema import canonical_key_order, class_key_order, conforms
from dlpk.validator.jsonparser import parse_json_text
from tests.conftest import GOOD_EMD, REPO
from tests.validator.test_properties import emd_documents

CORPUS = Path(__file__).parents[1] / "corpus" / "emd"


def models_accept(document: Any) -> bool:
    try:
        EsriModelDefinition.model_validate(document)
    except ValidationError:
        return False
    return True


def test_key_orders_are_the_models_fields() -> None:
    assert canonical_key_order() == tuple(EsriModelDefinition.model_fields)
    assert class_key_order() == tuple(ClassEntry.model_fields)


def test_the_schema_check_agrees_with_the_models_on_the_corpus() -> None:
    documents = [GOOD_EMD, json.loads((REPO / "examples/landcover/landcover.emd").read_text())]
    for path in sorted(CORPUS.glob("*.emd")):
        parsed = parse_json_text(path.read_text(encoding="utf-8", errors="replace"))
        if parsed.ok and isinstance(parsed.value, dict):
            documents.append(parsed.value)
    assert len(documents) > 30
    for document in documents:
        assert not conforms(document) or models_accept(document), document
    valid = [d for d in documents if models_accept(d)]
    assert valid and all(conforms(d) for d in valid)  # the fast path is taken for valid files


def _shaped(key: str, value: Any) -> dict[str, Any]:
    return GOOD_EMD | {key: value}


edge_values = st.sampled_from(
    [0, 1, -1, 1.0, 0.5, 2, True, False, None, "1", [], [0], [0, 0], [0.5, 1], [True, 1],
     [1, 2, 3], [-1, -1, -1], [256, 0, 0], {"Name": "x"}, {"Value": 1, "Name": "a"},
     [{"Value": 1, "Name": "a", "Color": [1, 2, 3]}], [{"Value": True, "Name": "a"}],
     [{"Value": 1, "Name": "a", "Extra": 1}], float("nan"), 1e300, "N/A", ["Red", "Green"]]
)  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(canonical_key_order()), edge_values)
def test_a_conforming_document_is_one_the_models_accept(key: str, value: Any) -> None:
    document = _shaped(key, value)
    assert not conforms(document) or models_accept(document)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(emd_documents)
def test_fuzzed_documents_never_conform_where_the_models_refuse(document: dict[str, Any]) -> None:
    assert not conforms(document) or models_accept(document)


def test_linting_a_valid_emd_imports_no_pydantic() -> None:
    emd = REPO / "examples" / "landcover" / "landcover.emd"
    code = f"import dlpk, sys; dlpk.lint({str(emd)!r}); print('pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
