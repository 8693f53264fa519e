"""Run inside the arcgis-learn image: print (JSON) each arcpy attribute that the child
modules behind the four families' InferenceFunctions use, outside comments. Read as text:
nothing is imported."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

CHILDREN = ("_unet", "_DynamicSSD", "_FeatureClassifier", "_maskrcnn_inferencing", "util")
USE = re.compile(r"\barcpy\.([A-Za-z_][\w.]*)")

spec = importlib.util.find_spec("arcgis")
assert spec is not None and spec.submodule_search_locations
folder = Path(next(iter(spec.submodule_search_locations))) / "learn" / "models" / "_inferencing"
used = {}
for name in CHILDREN:
    lines = (folder / f"{name}.py").read_text(encoding="utf-8").splitlines()
    code = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    used[name] = sorted(set(USE.findall(code)))
print(json.dumps(used))
