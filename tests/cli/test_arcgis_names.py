"""ArcGIS's parameter names on the command line: every row of the table parses, and means on its
command what dlpk's own spelling means; docs/arcgis-names.md is the table; the value-table form
of model arguments."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from dlpk.cli.arcgis_names import NAMES, TOOLS, Name
from dlpk.cli.inference import parse_pairs
from dlpk.cli.main import build_parser
from dlpk.cli.names_doc import MARKER, name_table, with_table
from dlpk.errors import UsageError
from tests.conftest import REPO

DOC = Path(__file__).parents[2] / "docs" / "arcgis-names.md"
PARSER = build_parser()

#: The tools' signatures as ArcGIS Pro's tool reference gives them (pro.arcgis.com, Image
#: Analyst toolbox): every parameter is in the table, with or without a dlpk equivalent.
SIGNATURES = {
    "export-chips": (
        "in_raster out_folder in_class_data image_chip_format tile_size_x tile_size_y stride_x "
        "stride_y output_nofeature_tiles metadata_format start_index class_value_field "
        "buffer_radius in_mask_polygons rotation_angle reference_system processing_mode "
        "blacken_around_feature crop_mode in_raster2 in_instance_data "
        "instance_class_value_field min_polygon_overlap_ratio"
    ),
    "classify-pixels": (
        "in_raster out_classified_raster in_model_definition arguments processing_mode "
        "out_classified_folder out_featureclass overwrite_attachments use_pixelspace"
    ),
    "detect-objects": (
        "in_raster out_detected_objects in_model_definition arguments run_nms "
        "confidence_score_field class_value_field max_overlap_ratio processing_mode "
        "use_pixelspace in_objects_of_interest"
    ),
    "classify-objects": (
        "in_raster out_feature_class in_model_definition in_features class_label_field "
        "processing_mode model_arguments caption_field"
    ),
}

#: Each command's required options, in dlpk's spelling.
REQUIRED = {
    "export-chips": {"--raster": "examples/scene.tif", "--out": "chips"},
    **{
        command: {"--model": "m.dlpk", "--raster": "scene.tif", "--output": "out"}
        for command in ("classify-pixels", "detect-objects", "classify-objects")
    },
}


def _subparser(command: str) -> argparse.ArgumentParser:
    for action in PARSER._actions:
        if isinstance(action, argparse._SubParsersAction):
            chosen = action.choices[command]
            assert isinstance(chosen, argparse.ArgumentParser)
            return chosen
    raise AssertionError(command)


def _resolved(parsed: argparse.Namespace) -> dict[str, object]:
    """The namespace, with model arguments as the command hands them on."""
    values = vars(parsed).copy()
    if "model_arguments" in values:
        values["model_arguments"] = parse_pairs(values["model_arguments"])
    return values


def _cases() -> list[tuple[str, Name]]:
    return [(command, name) for name in NAMES if name.mapped for command in name.commands]


@pytest.mark.parametrize(("command", "name"), _cases(), ids=lambda v: getattr(v, "arcgis", v))
def test_an_arcgis_name_means_what_dlpk_s_does(command: str, name: Name) -> None:
    actions = _subparser(command)._option_string_actions
    target = actions[name.dlpk[0]].dest
    base = [
        word
        for option, value in REQUIRED[command].items()
        if actions[option].dest != target
        for word in (option, value)
    ]
    dlpk_form = PARSER.parse_args([command, *base, *name.dlpk])
    arcgis_form = PARSER.parse_args([command, *base, name.option, *name.values])
    assert _resolved(arcgis_form) == _resolved(dlpk_form)
    if len(base) == 2 * len(REQUIRED[command]):  # an optional option: it changed something
        assert _resolved(dlpk_form) != _resolved(PARSER.parse_args([command, *base]))


def test_every_parameter_of_the_four_tools_is_in_the_table() -> None:
    for command, signature in SIGNATURES.items():
        listed = {name.arcgis for name in NAMES if command in name.commands}
        assert set(signature.split()) <= listed, command
        # both spellings of model arguments on every inference command (arcgis.learn's too)
        assert listed - set(signature.split()) <= {"arguments", "model_arguments"}, command
    assert set(TOOLS) == set(SIGNATURES)
    assert all(name.note for name in NAMES if not name.mapped)


def test_arcgis_keywords_of_dlpk_flags() -> None:
    base = ["export-chips", "--raster", "r.tif", "-o", "out"]
    assert PARSER.parse_args([*base, "--output-nofeature-tiles", "ALL_TILES"]).all_tiles is True
    only = PARSER.parse_args([*base, "--all-tiles", "--output-nofeature-tiles",
                              "ONLY_TILES_WITH_FEATURES"])  # fmt: skip
    assert only.all_tiles is False  # the later wins, as for any option
    assert PARSER.parse_args([*base, "--blacken-around-feature"]).blacken_around_feature is True
    no = PARSER.parse_args([*base, "--blacken-around-feature", "NO_BLACKEN"])
    assert no.blacken_around_feature is False
    assert PARSER.parse_args(base).blacken_around_feature is False


def test_help_shows_the_arcgis_names_beside_dlpk_s() -> None:
    text = _subparser("export-chips").format_help()
    assert "--tile-size, --tile-size-x TILE_SIZE" in text
    assert "-o, --out, --out-folder OUT" in text
    assert "--arguments, --model-arguments" in _subparser("detect-objects").format_help()


def test_the_doc_is_the_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert MARKER in text
    assert text == with_table(text), (
        "docs/arcgis-names.md is stale: run `python -m dlpk.cli.names_doc docs/arcgis-names.md`"
    )
    assert "| `tile_size_x` | `export-chips` | `--tile-size-x 128` | `--tile-size 128` |" in (
        name_table()
    )


def test_value_tables_and_arg_mix_in_command_line_order() -> None:
    pairs = [
        ("--arguments", "padding 32; batch_size 4;"),
        ("--arg", "padding=8"),
        ("--arguments", "prompt 'a roof; or a shed'"),
    ]
    assert parse_pairs(pairs) == {"padding": "8", "batch_size": "4", "prompt": "a roof; or a shed"}
    assert parse_pairs([("--arg", "padding=8"), ("--arguments", "padding 32")]) == {"padding": "32"}
    assert parse_pairs([("--arguments", '{"padding": 32, "tta": true}')]) == {
        "padding": "32",
        "tta": "True",
    }
    parsed = PARSER.parse_args(["detect-objects", "--model", "m", "--raster", "r", "-o", "o",
                                "--arguments", "threshold 0.4;batch_size 16",
                                "--arg", "threshold=0.6"])  # fmt: skip
    assert parse_pairs(parsed.model_arguments) == {"threshold": "0.6", "batch_size": "16"}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("padding", "value table"),
        ("padding=32", "or --arg padding=32"),
        ('{"padding": 32', "not a JSON object"),
        ("padding 32;;batch_size", "'batch_size': expected"),
    ],
)
def test_a_bad_value_table_is_a_usage_error(text: str, words: str) -> None:
    with pytest.raises(UsageError, match=words):
        parse_pairs([("--arguments", text)])


def test_the_doc_s_commands_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from dlpk.cli.main import main

    blocks = re.findall(r"```sh\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    commands = [
        shlex.split(line, comments=True)
        for block in blocks
        for line in block.replace("\\\n", " ").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert len(commands) >= 3
    (tmp_path / "examples").symlink_to(REPO / "examples")
    monkeypatch.chdir(tmp_path)
    for argv in commands:
        assert argv[0] == "dlpk"
        assert main(argv[1:]) == 0, capsys.readouterr().err
    for written in ("chips/map.txt", "classes.tif", "batch8.tif"):
        assert (tmp_path / written).is_file(), written
