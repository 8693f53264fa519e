"""`dlpk conformance PKG`: each planted fault is caught by its own check, and clean packages
(examples/landcover.dlpk first) pass every check that applies to them.

The parity check (CF801) needs Docker and is left to tests/conformance/test_docker.py; the cost
check (CF901) starts two processes and runs only where it is the subject."""

from __future__ import annotations

from pathlib import Path

import pytest

import dlpk
from dlpk.spec.conformance import ConformanceReport
from tests.conformance import builders
from tests.conftest import REPO

pytest.importorskip("torch")

LANDCOVER = REPO / "examples" / "landcover.dlpk"
#: Checks that do not apply to a pixel classifier without SupportsVariableTileSize.
NOT_FOR_PIXELS = {"CF601", "CF701"}
DOCKER_AND_COST = ["CF801", "CF901"]


def statuses(report: ConformanceReport) -> dict[str, str]:
    return {c.id: c.status for c in report.checks}


def test_landcover_passes_every_check() -> None:
    report = dlpk.conformance(LANDCOVER, ignore=["CF801"])
    found = statuses(report)
    assert {i for i, s in found.items() if s != "pass"} == NOT_FOR_PIXELS, report.checks
    assert report.ok and report.exit_code == 0
    cost = report.check("CF901").evidence
    assert cost["task_mpx_per_s"] > 0 and cost["forward_mpx_per_s"] > 0
    assert cost["task_peak_rss_mb"] > 0 and cost["tiles"] > 1
    radius = report.check("CF302").evidence
    assert radius["receptive_radius"] == 0  # a 1x1 convolution
    assert radius["padding"] == 16


def test_a_clean_model_passes_what_the_faulty_ones_fail(tmp_path: Path) -> None:
    report = dlpk.conformance(builders.pixel_package(tmp_path / "clean"), ignore=DOCKER_AND_COST)
    found = statuses(report)
    assert {i for i, s in found.items() if s != "pass"} == NOT_FOR_PIXELS, report.checks
    assert report.check("CF302").evidence["receptive_radius"] == 2  # two 3x3 convolutions
    assert report.check("CF301").evidence["differing_pixels"] == 0


def test_receptive_field_wider_than_the_padding(tmp_path: Path) -> None:
    package = builders.pixel_package(tmp_path / "wide", "wide")
    report = dlpk.conformance(package, select=["CF3"], artifacts=tmp_path / "evidence")
    field = report.check("CF302")
    assert field.status == "fail"
    assert field.evidence["receptive_radius"] == 6 and field.evidence["padding"] == 2
    assert '"ModelPadding": 6' in (field.fix or "")
    seams = report.check("CF301")
    assert seams.status == "fail" and seams.evidence["differing_pixels"] > 0
    # differences lie within (radius - padding) of a seam: padding + that + 1 is the radius
    assert seams.evidence["needed_padding_at_least"] == 6
    assert seams.artifacts == ["CF301-seam.png"]
    assert (tmp_path / "evidence" / "CF301-seam.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_extra_output_channel(tmp_path: Path) -> None:
    package = builders.pixel_package(tmp_path / "extra", "extra_channel")
    check = dlpk.conformance(package, select=["CF203"]).check("CF203")
    assert check.status == "fail"
    assert check.evidence["channels"] == 3 and check.evidence["background_pixels"] > 0
    assert [m["Value"] for m in check.evidence["mapping"]] == [0, 1, 5]
    suppressed = dlpk.conformance(
        package, select=["CF203"], model_arguments={"predict_background": False}
    ).check("CF203")
    assert suppressed.status == "warn"


def test_a_non_deterministic_model(tmp_path: Path) -> None:
    report = dlpk.conformance(
        builders.pixel_package(tmp_path / "noisy", "noisy"), select=["CF3", "CF4"]
    )
    check = report.check("CF401")
    assert check.status == "fail"
    first, second = check.evidence["sha256"]
    assert first != second and check.evidence["differing_pixels"] > 0
    # the other comparisons say what is behind them rather than blaming the padding
    assert report.check("CF302").status == "skip"
    assert report.check("CF402").status == "skip"
    assert "CF401" in report.check("CF301").summary


def test_a_model_that_depends_on_the_batch(tmp_path: Path) -> None:
    package = builders.pixel_package(tmp_path / "batch", "batch")
    report = dlpk.conformance(package, select=["CF4"])
    assert report.check("CF401").status == "pass"
    check = report.check("CF402")
    assert check.status == "fail"
    assert check.evidence["batch_sizes"] == [4, 1]
    assert check.evidence["score_change"] > check.evidence["tolerance"]


def test_nan_on_zeros(tmp_path: Path) -> None:
    report = dlpk.conformance(builders.pixel_package(tmp_path / "nan", "nan"), select=["CF5"])
    check = report.check("CF502")
    assert check.status == "fail" and "all-zero tile" in check.summary
    assert report.check("CF501").status == "pass"  # nodata pixels are still nodata


def test_a_fixed_size_model_claiming_variable_tile_size(tmp_path: Path) -> None:
    package = builders.pixel_package(tmp_path / "fixed", "fixed_size")
    report = dlpk.conformance(package, select=["CF301", "CF701"])
    check = report.check("CF701")
    assert check.status == "fail" and "tile_size 24" in check.summary
    assert "SupportsVariableTileSize" in (check.fix or "")
    # one pass is impossible at one input size: the plan is moved instead, and agrees
    tiles = report.check("CF301")
    assert tiles.status == "pass" and "moved" in tiles.evidence["reference"]


def test_a_model_that_takes_any_tile_size(tmp_path: Path) -> None:
    report = dlpk.conformance(builders.variable_package(tmp_path / "any"), select=["CF701"])
    check = report.check("CF701")
    assert check.status == "pass" and check.evidence["tried"] == [24, 48]


def test_a_detector_keeps_an_object_on_a_seam_once(tmp_path: Path) -> None:
    sample = builders.squares_raster(tmp_path / "squares.tif")
    report = dlpk.conformance(
        builders.detector_package(tmp_path / "detector"), raster=sample, ignore=DOCKER_AND_COST
    )
    check = report.check("CF601")
    assert check.status == "pass", check
    assert check.evidence["iou"] == [1.0] and len(check.evidence["found_boxes"]) == 1
    assert report.ok, [c for c in report.checks if c.status in ("fail", "warn")]
    assert "float32" in report.check("CF201").summary  # the sample's pixels were used


def test_a_raster_function_without_seam_handling(tmp_path: Path) -> None:
    sample = builders.distinct_squares(tmp_path / "blobs.tif")
    package = builders.blob_package(tmp_path / "blobs", padding=0)
    check = dlpk.conformance(package, raster=sample, trust_code=True, select=["CF601"]).check(
        "CF601"
    )
    assert check.status == "fail" and "came back 4 times" in check.summary
    assert len(check.evidence["found_boxes"]) == 4
    assert "getConfiguration" in (check.fix or "")
    padded = builders.blob_package(tmp_path / "padded", padding=6)
    again = dlpk.conformance(padded, raster=sample, trust_code=True, select=["CF601"])
    assert again.check("CF601").status == "pass"


def test_an_object_classifier(tmp_path: Path) -> None:
    report = dlpk.conformance(builders.object_package(tmp_path / "objects"), ignore=DOCKER_AND_COST)
    found = statuses(report)
    assert {i for i, s in found.items() if s != "pass"} == {"CF301", "CF302", "CF601", "CF701"}
    assert report.check("CF501").summary == "the feature lying wholly on nodata got no label"


def test_a_model_that_cannot_load_fails_the_load_check_and_skips_the_rest(
    tmp_path: Path,
) -> None:
    report = dlpk.conformance(builders.corrupt_package(tmp_path / "corrupt"), ignore=["CF801"])
    assert report.check("CF103").status == "fail"
    assert "not a TorchScript archive" in report.check("CF103").summary
    later = [c for c in report.checks if c.group != "package"]
    assert later and all(c.status == "skip" and "CF103" in c.summary for c in later)
    assert report.exit_code == 1


def test_a_package_with_lint_errors_fails_the_lint_check() -> None:
    report = dlpk.conformance(REPO / "examples" / "esri-doc-example.dlpk")
    lint = report.check("CF101")
    assert lint.status == "fail" and "DL202" in lint.summary
    assert {c.status for c in report.checks if c.id != "CF101"} == {"skip"}
