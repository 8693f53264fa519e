"""The arcpy stand-in covers all that arcgis.learn's inference path uses of arcpy (the claim
in dlpk/runners/models/arcpy_standin.py), checked against the pinned arcgis.learn: its
child modules in the image and the InferenceFunctions its save() wrote."""

from __future__ import annotations

import json
import re
from pathlib import Path

from dlpk.runners.models.arcpy_standin import standin
from tests.arcgis_learn.conftest import FAMILIES, run_in_image

USE = re.compile(r"\barcpy\.([A-Za-z_][\w.]*)")


def provided(attribute: str) -> bool:
    """`env.X` is any environment setting (unset ones read None); the rest must exist."""
    module = standin("cpu")
    head, _, _ = attribute.partition(".")
    return head == "env" or hasattr(module, head)


def test_inference_functions_use_only_what_the_standin_provides(arcgis_learn_work: Path) -> None:
    used: dict[str, list[str]] = json.loads(
        run_in_image(arcgis_learn_work, "arcpy_use.py").strip().splitlines()[-1]
    )
    for family in FAMILIES:
        for function in (arcgis_learn_work / family).glob("ArcGIS*.py"):
            lines = function.read_text().splitlines()
            code = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
            used[function.name] = sorted(set(USE.findall(code)))
    assert len(used) == 5 + len(FAMILIES)
    everything = {a for attributes in used.values() for a in attributes}
    assert "env.processorType" in everything
    assert [a for a in everything if not provided(a)] == []
    assert everything <= {"env.processorType", "env.gpuId", "AddMessage", "AddWarning", "AddError"}
