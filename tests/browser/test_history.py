"""The cost-per-iteration chart, Run 10 / Run 100 and the exports for slides, in Chromium.

At 1024×768, 1400×900 and 390×844: the chart and its buttons are on screen and inside the page's
width, its labels readable (at least 9 CSS px); each button adds the points it says, and the chart's
costs equal an independent replay of the book's SGD (tests/app/stepper/test_history.py); a point's
read-out is its title; the export links follow the step and download an SVG and a .tex of that step.
Screenshots: artifacts/screenshots/history-*.png.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.app.stepper.test_history import expected, form
from tests.browser.conftest import OpenPage, shot_path
from tests.browser.test_step_page import at_step

pytestmark = pytest.mark.browser

SIZES = {"projector": (1024, 768), "desk": (1400, 900), "phone": (390, 844)}


def costs(page: Page) -> list[float]:
    text = page.get_attribute("#history-line", "data-costs") or ""
    return [float(c) for c in text.split()]


def on_screen(page: Page, selector: str, width: int) -> None:
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, (selector, box)


@pytest.mark.parametrize("size", list(SIZES))
def test_run_10_and_100_add_their_points_and_the_chart_reads_out(open_page: OpenPage, size: str) -> None:
    width, height = SIZES[size]
    page = open_page(width, height)
    page.goto("/?" + "&".join(f"{k}={v}" for k, v in form("3-4-2, large η").items()).replace(" ", "+"))
    expect(page.locator("#iteration")).to_have_text("iteration 0")
    # one point is a sentence; the chart comes with the second
    expect(page.locator("#history .history-first")).to_contain_text("C at iteration 0 is 0.0275")
    expect(page.locator("#history-chart")).to_be_hidden()
    page.click("#btn-run-1")
    expect(page.locator("#iteration")).to_have_text("iteration 1")
    for selector in ("#history-chart", "#btn-run-1", "#btn-run-10", "#btn-run-100"):
        expect(page.locator(selector)).to_be_visible()
        on_screen(page, selector, width)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.click("#btn-run-10")
    expect(page.locator("#iteration")).to_have_text("iteration 11")
    page.click("#btn-run-100")
    expect(page.locator("#iteration")).to_have_text("iteration 111")
    at_step(page, 0)
    assert costs(page) == pytest.approx(expected("3-4-2, large η", 111), rel=1e-12, abs=1e-15)
    # every tick label readable: its drawn height at least 9 CSS px
    heights = page.eval_on_selector_all("#history-chart text", "els => els.map(e => e.getBoundingClientRect().height)")
    assert heights and min(heights) >= 9, heights
    last = page.locator("#history-111")
    assert (last.locator("title").text_content() or "").startswith("iteration 111: C = ")
    page.locator("#history").scroll_into_view_if_needed()
    # the pointer reads every iteration 0 … 111, dotted or not (a dot every 2nd past 100)
    reference = expected("3-4-2, large η", 111)
    at = page.evaluate(
        """() => { const line = document.getElementById("history-line");
                   const m = document.getElementById("history-chart").getScreenCTM();
                   return Array.from(line.points, p => { const q = new DOMPoint(p.x, p.y).matrixTransform(m);
                                                         return [q.x, q.y]; }); }"""
    )
    assert len(at) == 112
    for i, (x, y) in enumerate(at):
        page.mouse.move(x, y)
        text = page.text_content("#history-readout") or ""
        assert text.startswith(f"iteration {i}: C = "), (i, text)
        assert float(text.split("= ")[1].replace("−", "-")) == pytest.approx(reference[i], rel=6e-6), (i, text)
        assert page.get_attribute("#history-hover", "data-i") == str(i)
    page.mouse.move(at[55][0], at[55][1])
    page.screenshot(path=shot_path(f"history-hover-{size}.png"))
    page.mouse.move(1, 1)
    expect(page.locator("#history-readout")).to_contain_text("iteration 111: C = ")
    page.screenshot(path=shot_path(f"history-{size}.png"))
    # the permalink restores the chart
    page.goto(page.get_attribute("#permalink", "href") or "/")
    expect(page.locator("#iteration")).to_have_text("iteration 111")
    assert costs(page) == pytest.approx(expected("3-4-2, large η", 111), rel=1e-12, abs=1e-15)


def test_the_export_links_follow_the_step_and_download_it(open_page: OpenPage) -> None:
    page = open_page(1400, 900)
    page.goto("/")
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    at_step(page, 4)
    expect(page.locator("#export-svg")).to_have_attribute("href", re.compile(r"/steps/4/diagram\.svg$"))
    with page.expect_download() as svg:
        page.click("#export-svg")
    assert svg.value.suggested_filename.endswith("-step5.svg")
    body = Path(svg.value.path()).read_text(encoding="utf-8")
    assert body.startswith("<?xml") and "0.008771" in body  # δ²₁ of the BP2 step
    with page.expect_download() as tex:
        page.click("#export-tex")
    assert "\\delta^{2}_{1}" in Path(tex.value.path()).read_text(encoding="utf-8")
