"""The rule catalogue: one stable code per rule, never renumbered; retired codes stay reserved.

Codes by family: DL1xx JSON text, DL2xx keys and values, DL3xx Classes, DL4xx consistency,
DL5xx referenced files, DL6xx data manifests, DL7xx package archive, DL8xx deep model checks.

A rule's severity is the one it reports where the finding is surest (inside a package, with no
custom InferenceFunction deciding); where the context leaves the outcome open, a diagnostic may
report milder, and the rule's summary says when.
"""

from __future__ import annotations

from dataclasses import dataclass

from dlpk.validator.diagnostics import Severity


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: Severity
    summary: str
    fix: str | None = None  # "safe", "unsafe" or None when no automatic fix exists


E, W, N = Severity.ERROR, Severity.WARNING, Severity.INFO

_RULES = (
    # -- JSON text ---------------------------------------------------------------------------------
    Rule(
        "DL101", "invalid-json", E, "The file is not JSON; ArcGIS fails to load it (ERROR 002667)."
    ),
    Rule("DL102", "trailing-comma", E, "Trailing commas are rejected by Python's json.", "safe"),
    Rule(
        "DL103", "json-comment", E, "JSON has no comments; ArcGIS fails to load the file.", "unsafe"
    ),
    Rule("DL104", "utf8-bom", E, "A byte-order mark makes json.loads fail.", "safe"),
    Rule(
        "DL105",
        "invalid-escape",
        E,
        "A lone backslash (e.g. a Windows path) is invalid JSON.",
        "safe",
    ),
    Rule("DL106", "duplicate-key", E, "Readers silently keep only the last duplicate.", "safe"),
    Rule("DL107", "missing-comma", E, "Two items without a comma between them.", "safe"),
    Rule("DL108", "control-character", E, "Raw tabs or newlines inside a string.", "safe"),
    Rule("DL109", "not-utf8", E, "The file must be UTF-8 encoded."),
    Rule("DL110", "root-not-object", E, "An .emd must be one JSON object."),
    Rule(
        "DL111",
        "escape-in-path",
        W,
        'A path holds \\n, \\t, \\r, \\b or \\f: probably "C:\\new" meant as a backslash.',
        "unsafe",
    ),
    Rule("DL112", "non-finite-number", W, "NaN/Infinity are not JSON; most parsers reject them."),
    # -- keys and values ---------------------------------------------------------------------------
    Rule("DL201", "misspelt-key", E, "Keys are case-sensitive; PRFs index exact names.", "safe"),
    Rule("DL202", "unknown-model-type", E, "ModelType is not one ArcGIS knows.", "safe"),
    Rule(
        "DL203",
        "unknown-framework",
        W,
        "Framework names no module folder Esri ships nor a dlpk configuration.",
        "unsafe",
    ),
    Rule(
        "DL204",
        "unknown-configuration",
        W,
        "ModelConfiguration is not a known module of this Framework.",
        "unsafe",
    ),
    Rule("DL205", "unknown-image-space", E, "ImageSpaceUsed is MAP_SPACE or PIXEL_SPACE.", "safe"),
    Rule(
        "DL206",
        "wrong-type",
        E,
        "A key holds a value of the wrong JSON type (a warning where ArcGIS reads it anyway, "
        "e.g. an integer class Name).",
        "safe",
    ),
    Rule("DL207", "out-of-range", E, "A number is outside the range the key allows."),
    Rule("DL208", "padding-too-large", E, "Padding must be less than half the tile."),
    Rule("DL209", "missing-key", E, "A key the built-in raster functions require is missing."),
    Rule("DL210", "missing-model-type", W, "ModelType is missing; Esri's tools check it."),
    Rule("DL211", "non-square-tile", N, "arcgis.learn functions assume ImageHeight == ImageWidth."),
    Rule("DL212", "duplicate-band", W, "ExtractBands names the same band twice."),
    Rule("DL213", "bad-data-range", E, "DataRange must be [min, max] with min < max."),
    Rule(
        "DL214",
        "normalization-stats-short",
        E,
        "NormalizationStats lists are indexed by ExtractBands and must cover every index.",
    ),
    Rule("DL215", "batch-size-rounded", N, "arcgis.learn rounds batch_size down to a square."),
    Rule("DL216", "schema-violation", E, "The value does not match the .emd schema."),
    Rule(
        "DL217",
        "framework-case",
        E,
        "Framework differs from a module folder's name only in letter case; Python imports "
        "modules by exact name (a warning when a custom InferenceFunction decides).",
        "safe",
    ),
    # -- Classes -----------------------------------------------------------------------------------
    Rule("DL301", "missing-classes", E, "This ModelType maps outputs to Classes; none are given."),
    Rule("DL302", "duplicate-class-value", E, "Two classes share a Value."),
    Rule(
        "DL303",
        "duplicate-class-name",
        W,
        "Two classes share a Name, so their outputs carry the same label (valid in ArcGIS).",
    ),
    Rule(
        "DL304",
        "class-value-start",
        N,
        "Where class values start: detectors name classes by position in Classes, pixel "
        "classifiers map channels to ([0] + values).",
    ),
    Rule("DL305", "misspelt-class-key", E, "Class entries use exactly Value, Name, Color.", "safe"),
    Rule("DL306", "missing-class-color", W, "Without Color there is no colour map for outputs."),
    Rule("DL307", "no-color-marker", N, "[-1,-1,-1] means no colour; a random one will be used."),
    Rule("DL308", "invalid-color", E, "Color must be three integers 0-255 (or [-1,-1,-1])."),
    Rule("DL309", "negative-class-value", E, "Class values are non-negative pixel values."),
    # -- consistency -------------------------------------------------------------------------------
    Rule("DL401", "model-type-mismatch", E, "ModelType does not match the ModelConfiguration."),
    Rule(
        "DL402",
        "inference-function-mismatch",
        E,
        "The arcgis.learn InferenceFunction serves a different ModelType.",
    ),
    Rule("DL403", "framework-not-runnable", W, "The framework lints but cannot run today (CNTK)."),
    Rule(
        "DL404",
        "incomplete-configuration",
        E,
        "Framework and ModelConfiguration select a module together; one is missing.",
    ),
    Rule(
        "DL405",
        "keras-maskrcnn-modules",
        E,
        "Keras MaskRCNN reads ModelConfiguration's Config and Architecture module paths.",
    ),
    # -- referenced files --------------------------------------------------------------------------
    Rule("DL501", "model-file-missing", E, "ModelFile is not beside the .emd / in the package."),
    Rule("DL502", "path-case-mismatch", E, "The file exists with other letter case.", "safe"),
    Rule(
        "DL503",
        "absolute-path",
        E,
        "An absolute path breaks once the package is unpacked elsewhere (a warning in a loose "
        ".emd, where Esri documents absolute paths).",
        "unsafe",
    ),
    Rule("DL504", "backslash-path", W, "ArcGIS resolves backslashes only on Windows.", "safe"),
    Rule("DL505", "unexpected-extension", N, "The model file extension is unusual for Framework."),
    Rule("DL506", "arcgis-function", W, "[Functions] paths need an ArcGIS installation."),
    Rule("DL507", "inference-function-missing", E, "InferenceFunction .py is not in the package."),
    Rule(
        "DL508", "configuration-module-missing", E, "A ModelConfiguration module path is missing."
    ),
    Rule("DL509", "path-escapes-package", E, "A '..' path points outside the model folder."),
    Rule("DL510", "inference-function-not-python", E, "InferenceFunction must name a .py file."),
    Rule(
        "DL511",
        "unshipped-arcgis-function",
        E,
        "A [Functions] path outside System\\DeepLearning\\ names no function Pro ships (a "
        "warning in a loose .emd, whose machine may have it).",
    ),
    Rule(
        "DL512",
        "inference-class-missing",
        W,
        "The InferenceFunction file defines no class named like the file, which dlpk's runner "
        "instantiates (ArcGIS's own rule is undocumented).",
    ),
    # -- data manifests ----------------------------------------------------------------------------
    Rule(
        "DL601",
        "training-data-manifest",
        E,
        "This is the Export Training Data metadata file, not a model definition (a warning "
        "on its own, an error inside a package).",
    ),
    # -- package archive ---------------------------------------------------------------------------
    Rule("DL701", "unreadable-package", E, "The package is not a readable zip archive."),
    Rule("DL702", "no-emd", E, "The package holds no .emd at its root."),
    Rule("DL703", "multiple-emd", E, "The package holds several .emd files at its root."),
    Rule("DL704", "emd-in-folder", E, "The .emd is under a top-level folder.", "unsafe"),
    Rule("DL705", "unsafe-member-path", E, "Absolute or '..' member names escape extraction."),
    Rule("DL706", "link-member", E, "Symbolic links inside a package are refused."),
    Rule("DL707", "encrypted-member", E, "Encrypted members cannot be read by ArcGIS."),
    Rule("DL708", "duplicate-member", E, "Two members share a name; which one wins is undefined."),
    Rule("DL709", "zip-bomb", E, "Sizes or compression ratios are beyond safe bounds."),
    Rule("DL710", "unreferenced-file", N, "A file the .emd never references."),
    Rule("DL711", "backslash-member", E, "Member names use backslashes; unzip tools disagree."),
    Rule("DL712", "emd-too-large", E, "The .emd member is implausibly large for a JSON file."),
    Rule(
        "DL713",
        "unreadable-member",
        E,
        "A member's data cannot be read as the directory says: a compression dlpk cannot "
        "decompress (Deflate64), a local header naming another file, data failing its CRC.",
    ),
    # -- deep model checks -------------------------------------------------------------------------
    Rule("DL801", "framework-unavailable", N, "The framework needed for --deep is not installed."),
    Rule("DL802", "model-unloadable", E, "The model file could not be opened."),
    Rule("DL803", "input-channels-mismatch", E, "Model input channels != len(ExtractBands)."),
    Rule("DL804", "input-size-mismatch", W, "Model input size != ImageHeight x ImageWidth."),
    Rule("DL805", "class-count-mismatch", E, "Model output classes do not match Classes."),
    Rule("DL806", "deep-unsupported", N, "No deep check exists for this model format."),
    Rule("DL807", "pickle-refused", N, "The file needs unpickling; pass --trust-code to allow it."),
    Rule(
        "DL808",
        "side-effect-op",
        E,
        "The model graph holds ops with side effects (files, processes, network, Python, custom "
        "ops, external data); it runs only with --trust-code or in a container.",
    ),
)

RULES: dict[str, Rule] = {rule.code: rule for rule in _RULES}


def rule(code: str) -> Rule:
    return RULES[code]
