"""The page in a real browser against a real `dlpk serve`: headless Chromium (Debian's package,
driven by Playwright) opens the page, submits a classify-pixels job from the tool form, waits
for it to succeed and finds the classified tiles drawn on the map in the class colours, where
the classes are (pixels of a screenshot); and a detect-objects job's detections drawn in their
class colours, with the class and confidence of the one under the pointer.

The pixel model is a 1x1 convolution whose class scores are the raster's bands: the red left
half of the scene is Water (blue), the green right half Forest (green). The detector finds
squares of 1 (Water) and 2 (Forest) with a score of 0.9. In CI (DLPK_REQUIRE_DOCKER=1 or
CI set) a missing Chromium or Playwright fails the tests; elsewhere they are skipped with the
reason.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from tests.serve.page_data import (
    decode_png,
    write_band_model,
    write_red_green_scene,
    write_square_detector,
    write_squares_scene,
)
from tests.serve.service import TOKEN, Service, upload_model

WATER = (0, 0, 255)
FOREST = (0, 128, 0)
#: Debian's package names its browser `chromium`; others call it chromium-browser.
BROWSERS = ("chromium", "chromium-browser")


def chromium() -> str:
    """The system Chromium's path; a failure in CI, a skip elsewhere, when there is none."""
    found = os.environ.get("DLPK_CHROMIUM") or next(filter(None, map(shutil.which, BROWSERS)), None)
    reason = None
    if found is None or not Path(found).is_file():
        reason = "no Chromium: install Debian's `chromium` package (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "Playwright is not installed: pip install playwright (no browser download)"
    if reason is None and found is not None:
        return found
    if os.environ.get("DLPK_REQUIRE_DOCKER") or os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@dataclass(frozen=True)
class Server:
    url: str
    root: Path
    pixel_model: str
    detector: str


@pytest.fixture(scope="module")
def browser_path() -> str:
    return chromium()


@pytest.fixture(scope="module")
def server(browser_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`dlpk serve` in its own process on a loopback port, with the two models uploaded (a
    missing browser is reported before anything starts)."""
    folder = tmp_path_factory.mktemp("serve")
    root = folder / "root"
    root.mkdir()
    write_red_green_scene(root / "scene.tif")
    write_squares_scene(root / "squares.tif")
    running = Service(folder / "data", [root]).start()
    try:
        with running.client() as http:
            ids = [
                upload_model(http, write_band_model(folder / "bands"))["id"],
                upload_model(http, write_square_detector(folder / "squares"))["id"],
            ]
        yield Server(running.url, root, *ids)
    finally:
        running.stop()


@dataclass
class Browser:
    """A page of the system Chromium, and what it asked of servers other than ours."""

    page: Any
    elsewhere: list[str]
    errors: list[str]


@pytest.fixture
def browser(browser_path: str, server: Server) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        chrome = driver.chromium.launch(executable_path=browser_path)
        try:
            page = chrome.new_page(viewport={"width": 1200, "height": 800})
            found = Browser(page, [], [])
            page.on("pageerror", lambda error: found.errors.append(str(error)))
            page.on("request", lambda request: found.elsewhere.append(request.url))
            page.goto(server.url + "/")
            page.wait_for_selector("body[data-ready=true]", timeout=30_000)
            yield found
            assert found.errors == []
            # every request went to this server (the page fetches nothing from the internet)
            assert [u for u in found.elsewhere if not u.startswith(server.url)] == []
        finally:
            chrome.close()


def run_from_form(page: Any, server: Server, model: str, raster: str) -> str:
    """Choose the model (its item selects the task), fill the form, submit, wait for success
    and for the map to have drawn the results; the job id."""
    page.fill("[data-testid=token]", TOKEN)
    page.click(f"[data-testid=model-item][data-model-id='{model}']")
    assert page.input_value("[data-testid=field-model]") == model
    page.fill("[data-testid=field-inputRaster]", str(server.root / raster))
    page.click("[data-testid=submit]")
    page.locator("[data-testid=job-status]").wait_for(state="visible", timeout=30_000)
    page.wait_for_selector(
        "[data-testid=job-status][data-status=esriJobSucceeded]", timeout=120_000
    )
    job_id = str(page.inner_text("[data-testid=job-id]"))
    page.wait_for_selector(f"[data-testid=map][data-loaded='{job_id}']", timeout=60_000)
    return job_id


def colour_mask(screenshot: NDArray[np.uint8], colour: tuple[int, int, int]) -> NDArray[np.bool_]:
    return np.all(screenshot[:3] == np.array(colour, np.uint8)[:, None, None], axis=0)


def test_a_job_submitted_from_the_form_is_drawn_in_its_class_colours(
    server: Server, browser: Browser
) -> None:
    page = browser.page
    # the models panel: the model, its lint status, its classes in their colours
    item = page.locator(f"[data-testid=model-item][data-model-id='{server.pixel_model}']")
    assert item.locator("[data-testid=model-lint]").get_attribute("data-lint") == "ok"
    swatches = item.locator("[data-testid=model-classes] [data-testid=swatch]")
    colours = swatches.evaluate_all("nodes => nodes.map(n => n.dataset.color)")
    assert colours == ["0,0,255", "0,128,0"]
    blank = decode_png(page.locator("[data-testid=map]").screenshot())
    assert not colour_mask(blank, WATER).any() and not colour_mask(blank, FOREST).any()

    # the form: the task's fields, and the model's arguments from its item
    page.select_option("[data-testid=task]", "ClassifyPixelsUsingDeepLearning")
    page.select_option("[data-testid=field-model]", server.pixel_model)
    assert page.input_value("[data-testid=arg-tile_size]") == "32"
    run_from_form(page, server, server.pixel_model, "scene.tif")
    legend = page.locator("[data-testid=legend-entry]").all_inner_texts()
    assert "Water (1)" in legend and "Forest (5)" in legend
    shot = decode_png(page.locator("[data-testid=map]").screenshot())

    water, forest = colour_mask(shot, WATER), colour_mask(shot, FOREST)
    area = shot.shape[1] * shot.shape[2]
    # the raster fills the map's view (fitted to it): half Water, half Forest
    assert water.sum() > 0.1 * area and forest.sum() > 0.1 * area
    assert 0.8 < water.sum() / forest.sum() < 1.25
    water_cols, forest_cols = np.nonzero(water)[1], np.nonzero(forest)[1]
    assert np.percentile(water_cols, 99) <= np.percentile(forest_cols, 1) + 2  # Water is west


def test_detections_are_drawn_with_their_class_and_confidence(
    server: Server, browser: Browser
) -> None:
    page = browser.page
    run_from_form(page, server, server.detector, "squares.tif")
    assert page.input_value("[data-testid=task]") == "DetectObjectsUsingDeepLearning"
    shot = decode_png(page.locator("[data-testid=map]").screenshot())
    # outlines in the class colours: two Water squares, one Forest
    assert colour_mask(shot, WATER).sum() > colour_mask(shot, FOREST).sum() > 0

    # the pointer over the Forest square (its outline's centre) names its class and confidence
    rows, cols = np.nonzero(colour_mask(shot, FOREST))
    box = page.locator("[data-testid=map]").bounding_box()
    page.mouse.move(box["x"] + cols.mean(), box["y"] + rows.mean())
    info = page.locator("[data-testid=feature-info]")
    info.wait_for(state="visible", timeout=10_000)
    assert page.inner_text("[data-testid=feature-class]") == "Forest (5)"
    assert page.inner_text("[data-testid=feature-confidence]") == "confidence 90"
