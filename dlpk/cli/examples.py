"""The examples at the end of each command's --help: real commands on the sample data in
examples/, run by tests/cli/test_help_examples.py in a fresh folder so they stay true.

`trees.dlpk` and `roofs.dlpk` stand for the user's own detector and object classifier, and
`job/` for a job folder (the test builds all three); every other path is bundled or written
by an example before it.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

WIDTH = 96


@dataclass(frozen=True)
class Example:
    command: str
    comment: str
    status: int = 0  # the exit status the command ends with
    needs: str = ""  # what running it takes beyond this machine: "docker", "root"

    def lines(self) -> list[str]:
        """The comment, then the command wrapped with shell continuations between options (an
        option stays on one line with its values)."""
        status = f" (exit status {self.status})" if self.status else ""
        needs = f" [needs {self.needs}]" if self.needs else ""
        chunks: list[str] = []
        for word in shlex.split(self.command):
            if chunks and not word.startswith("-"):
                chunks[-1] += " " + shlex.quote(word)
            else:
                chunks.append(shlex.quote(word))
        lines, line = [f"  # {self.comment}{status}{needs}"], " "
        for chunk in chunks:
            if len(line) + len(chunk) + 3 > WIDTH and line.strip():
                lines.append(line + " \\")
                line = "     "
            line += " " + chunk
        return [*lines, line]


EXAMPLES: dict[str, tuple[Example, ...]] = {
    "lint": (
        Example("dlpk lint examples/landcover.dlpk", "the bundled package is clean"),
        Example(
            "dlpk lint examples/esri-doc-example.dlpk",
            "Esri's documented .emd: a misspelt ModelType, a model file that is not there",
            status=1,
        ),
        Example(
            "dlpk lint --deep --format sarif -o lint.sarif examples",
            "every .emd and .dlpk under a folder, model files opened, a SARIF report",
            status=1,
        ),
    ),
    "fix": (
        Example(
            "dlpk fix examples/esri-doc-example.dlpk -o fixed.dlpk",
            "the safe fixes, into a new package; the missing model file remains an error",
            status=1,
        ),
        Example(
            "dlpk fix --unsafe examples/esri-doc-example/tree_detection.emd -o tree.emd",
            "an .emd, with the unsafe fixes too (the absolute ModelFile made relative)",
        ),
    ),
    "normalize": (
        Example(
            "dlpk normalize examples/landcover/landcover.emd -o landcover.emd",
            "the canonical form: key names, key order, indentation",
        ),
        Example(
            "dlpk normalize --check landcover.emd",
            "for CI: exit status 1 and a diff when a file is not canonical",
        ),
    ),
    "pack": (
        Example(
            "dlpk pack examples/landcover -o landcover.dlpk",
            "the same bytes as examples/landcover.dlpk, every time",
        ),
        Example(
            "dlpk pack examples/esri-doc-example -o tree.dlpk",
            "a folder whose .emd has lint errors is refused",
            status=1,
        ),
    ),
    "inspect": (
        Example("dlpk inspect examples/landcover.dlpk", "classes, bands, tile size, files"),
        Example("dlpk inspect --format json examples/esri-doc-example.dlpk", "as JSON"),
    ),
    "schema": (
        Example("dlpk schema emd", "the .emd's JSON Schema, for editors and other tools"),
        Example("dlpk schema job", "job.json's, for jobs written by hand"),
    ),
    "rules": (
        Example("dlpk rules", "every lint rule"),
        Example("dlpk rules DL202 DL501", "what two codes mean, and how they are fixed"),
    ),
    "export-chips": (
        Example(
            "dlpk export-chips --raster examples/scene.tif --labels examples/buildings.geojson"
            " --format Classified_Tiles --tile-size 128 --stride 64 -o chips",
            "class tiles for a pixel classifier (the footprints are reprojected on the fly)",
        ),
        Example(
            "dlpk export-chips --raster examples/scene.tif --labels examples/buildings.geojson"
            " --format PASCAL_VOC_rectangles --chip-format PNG --tile-size 128 -o voc",
            "boxes for an object detector, PNG chips",
        ),
        Example(
            "dlpk export-chips --in-raster examples/scene.tif --in-class-data"
            " examples/buildings.geojson --metadata-format KITTI_rectangles --tile-size-x 128"
            " --stride-x 128 --output-nofeature-tiles ALL_TILES --out-folder kitti",
            "the same with ArcGIS's parameter names and values",
        ),
    ),
    "classify-pixels": (
        Example(
            "dlpk classify-pixels --model examples/landcover.dlpk --raster examples/scene.tif"
            " -o classes.tif",
            "a COG of class Values with a colour map and a raster attribute table",
        ),
        Example(
            "dlpk classify-pixels --model examples/landcover.dlpk --raster examples/scene.tif"
            " -o classes-tta.tif --arg padding=32 --arg test_time_augmentation=True",
            "model arguments as in ArcGIS: more overlap, test-time augmentation",
        ),
        Example(
            "dlpk classify-pixels --in-model-definition examples/landcover.dlpk --in-raster"
            " examples/scene.tif --out-classified-raster part.tif"
            ' --arguments "padding 32;batch_size 8" --extent 500020 4999860 500150 4999980',
            "ArcGIS's names and value table, over a part of the scene",
        ),
    ),
    "detect-objects": (
        Example(
            "dlpk detect-objects --model trees.dlpk --raster examples/scene.tif -o trees.gpkg"
            " --arg threshold=0.6",
            "polygons with Class, ClassValue and Confidence (trees.dlpk: a detector package)",
        ),
        Example(
            "dlpk detect-objects --in-model-definition trees.dlpk --in-raster examples/scene.tif"
            ' --out-detected-objects trees.geojson --arguments "threshold 0.6;nms_overlap 0.3"',
            "ArcGIS's names and value table",
        ),
        Example(
            "dlpk detect-objects --model trees.dlpk --raster examples/scene.tif"
            " --aoi examples/buildings.geojson -o on-roofs.gpkg",
            "only inside these polygons",
        ),
    ),
    "classify-objects": (
        Example(
            "dlpk classify-objects --model roofs.dlpk --raster examples/scene.tif"
            " --features examples/buildings.geojson -o roofs.gpkg",
            "label each footprint from its chip (roofs.dlpk: an object classifier package)",
        ),
        Example(
            "dlpk classify-objects --in-model-definition roofs.dlpk --in-raster"
            " examples/scene.tif --in-features examples/buildings.geojson --out-feature-class"
            ' roofs.shp --model-arguments "batch_size 2"',
            "ArcGIS's names and value table",
        ),
        Example(
            "dlpk classify-objects --model roofs.dlpk --raster examples/scene.tif -o scene.gpkg",
            "without features the image is one object, its footprint labelled",
        ),
    ),
    "conformance": (
        Example("dlpk conformance --list", "every check, model kit (CF) and runner kit (RC)"),
        Example(
            "dlpk conformance --select CF1,CF2,CF3 examples/landcover.dlpk",
            "does the package load, keep its contract and tile seamlessly?",
        ),
        Example(
            "dlpk conformance --runner local --select RC1 --format junit -o runner.xml",
            "the runner kit against this dlpk's runner, as a JUnit report for CI",
        ),
    ),
    "configurations": (
        Example("dlpk configurations", "the Framework/ModelConfiguration pairs dlpk runs"),
        Example("dlpk configurations --format json", "with their input and output contracts"),
    ),
    "run": (
        Example("dlpk run job", "a job folder: job.json and in/ (see `dlpk schema job`)"),
        Example(
            "dlpk run job --timeout 600",
            "in a fresh interpreter, stopped after ten minutes",
        ),
    ),
    "serve": (
        Example(
            "dlpk serve --check --data service --root examples",
            "check the settings, create the SQLite database in service/, exit (without --check:"
            " serve)",
        ),
        Example(
            "dlpk serve --check --data service --root examples --max-jobs 4 --max-upload-mb 200"
            " --token s3cret-token",
            "four jobs at once, uploads up to 200 MiB, a token of your own",
        ),
    ),
    "images": (
        Example("dlpk images list", "which runner images exist", needs="docker"),
        Example(
            "dlpk images build --framework onnx --if-stale",
            "build one, unless built from these sources",
            needs="docker",
        ),
    ),
    "images build": (
        Example(
            "dlpk images build --if-stale",
            "every framework's image that is missing or stale",
            needs="docker",
        ),
        Example(
            "dlpk images build --framework pytorch --wheelhouse wheels",
            "torch from a folder of local wheels",
            needs="docker",
        ),
    ),
    "images list": (
        Example("dlpk images list", "current, stale or missing, with sizes", needs="docker"),
    ),
    "images bootstrap-base": (
        Example(
            "dlpk images bootstrap-base --if-missing",
            "a Debian base image where no registry is reachable",
            needs="root",
        ),
        Example(
            "dlpk images bootstrap-base --mirror http://deb.debian.org/debian --tag base:12",
            "from another mirror, under another tag",
            needs="root",
        ),
    ),
}


def examples_text(command: str) -> str:
    """The examples section of `command`'s --help ("" when it has none)."""
    chosen = EXAMPLES.get(command, ())
    if not chosen:
        return ""
    lines = ["", "examples (from a dlpk checkout, which holds examples/):"]
    for example in chosen:
        lines += example.lines()
    return "\n".join(lines) + "\n"
