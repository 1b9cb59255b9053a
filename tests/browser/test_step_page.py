"""The step-through page in Chromium: play to the end, step, the keyboard, a new configuration, the next
iteration, the permalink, the download, a phone screen; the numbers shown against POST /api/gradients.

Screenshots of the forward pass, the backward pass and the gradient step (1280×800) and of a phone
(375 px) are written to artifacts/screenshots/ (or to $BACKPROP_LENS_SCREENSHOTS, e.g. docs/screenshots
to refresh the README's), with the animations paused at a fixed moment so they are the same from run
to run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from backprop_lens.app.core.schemas import WORKED_EXAMPLE
from tests.browser.conftest import OpenPage, shot_path

pytestmark = pytest.mark.browser

STEPS = 8


@pytest.fixture
def tab(open_page: OpenPage) -> Page:
    return open_page(1280, 800, expected={422})  # a 422 is the form's answer to a mistake


def step_of(page: Page) -> int:
    return int(page.get_attribute("#run", "data-step") or -1)


def at_step(page: Page, k: int) -> None:
    expect(page.locator("#run")).to_have_attribute("data-step", str(k))
    expect(page.locator("#step-meta")).to_have_attribute("data-step", str(k))


def shown(page: Page) -> dict[str, tuple[float, str]]:
    """Every number in the numbers tables: its full value and the rounded text on screen."""
    rows: list[list[str]] = page.eval_on_selector_all(
        "#numbers [data-q][data-value]", "els => els.map(e => [e.dataset.q, e.dataset.value, e.textContent])"
    )
    return {q: (float(v), text) for q, v, text in rows}


def as_number(text: str) -> float:
    text = text.replace("−", "-")
    if "×10" in text:
        mantissa, exponent = text.split("×10")
        sup = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
        return float(mantissa) * 10.0 ** int(exponent.translate(sup))
    return float(text)


def gradients(page: Page, body: dict[str, Any]) -> dict[str, Any]:
    r = page.request.post("/api/gradients", data=json.dumps({**body, "trace": True}),
                          headers={"content-type": "application/json"})  # fmt: skip
    assert r.ok, r.text()
    result: dict[str, Any] = r.json()
    return result


def assert_matches_api(page: Page, body: dict[str, Any]) -> None:
    """δ and ∂C/∂w on the page (last step) equal what the JSON API computes for the same network."""
    api = gradients(page, body)
    numbers = shown(page)
    for layer in api["layers"]:
        for j, d in enumerate(layer["delta"][0]):
            value, text = numbers[f"delta-{layer['layer']}-{j + 1}"]
            assert value == pytest.approx(d, rel=1e-12, abs=1e-300)
            assert as_number(text) == pytest.approx(d, rel=5e-4)  # 4 significant digits on screen
    for i, matrix in enumerate(api["nabla_w"]):
        for j, row in enumerate(matrix):
            for k, g in enumerate(row):
                value, text = numbers[f"nabla_w-{i + 2}-{j + 1}-{k + 1}"]
                assert value == pytest.approx(g, rel=1e-12, abs=1e-300)
                assert as_number(text) == pytest.approx(g, rel=5e-4)
    assert numbers["cost_before"][0] == pytest.approx(api["cost"], rel=1e-12)


def freeze(page: Page, ms: int = 420) -> None:
    """Settle the fills and stop every animation at the same moment, for a screenshot that is stable."""
    # the fills' transitions (at most 1 s) have ended: none is running any more
    page.wait_for_function("() => !document.getAnimations().some(a => a instanceof CSSTransition)")
    page.evaluate(
        "document.getAnimations().filter(a => a instanceof CSSAnimation)"
        f".forEach(a => {{ a.pause(); a.currentTime = {ms}; }})"
    )


def set_speed(page: Page, ms: int) -> None:
    page.eval_on_selector(
        "#speed", f"el => {{ el.value = '{ms}'; el.dispatchEvent(new Event('input', {{bubbles: true}})); }}"
    )


def test_play_streams_every_step_once_and_stops_at_the_end(tab: Page) -> None:
    page = tab
    streams: list[str] = []
    page.on("request", lambda r: streams.append(r.url) if "/stream" in r.url else None)
    page.goto("/")
    at_step(page, 0)
    expect(page.locator("#n-1-1 text")).to_have_text("0.05")
    page.evaluate(
        "window.seen = []; document.addEventListener('lens:step', e => window.seen.push(e.detail.step));"
        "window.sseClosed = 0; document.addEventListener('htmx:sse:close', () => window.sseClosed++)"
    )
    set_speed(page, 100)
    expect(page.locator("#speed-out")).to_have_text("0.1 s")
    page.keyboard.press("Space")
    expect(page.locator("#btn-play")).to_have_attribute("aria-pressed", "true")
    at_step(page, STEPS - 1)
    expect(page.locator("#btn-play")).to_have_attribute("aria-pressed", "false")
    # the finished stream is closed by htmx on its `done` (hx-sse:close), so it is never reopened and replayed
    page.wait_for_function("() => window.sseClosed === 1")
    assert page.evaluate("window.seen") == list(range(1, STEPS))
    assert len(streams) == 1 and "from=1" in streams[0] and "interval_ms=100" in streams[0]
    expect(page.locator("#status")).to_contain_text(f"step {STEPS} / {STEPS}")
    # playing again from the end starts over at step 1
    page.click("#btn-play")
    # the page already shows the last step: wait for the replay's events, not for the step
    page.wait_for_function(f"() => window.seen.length >= {2 * STEPS - 1}")
    at_step(page, STEPS - 1)
    assert page.evaluate("window.seen")[STEPS - 1 : STEPS + 1] == [0, 1]


def test_pause_stops_the_stream_where_it_is(tab: Page) -> None:
    page = tab
    page.goto("/")
    set_speed(page, 600)
    page.click("#btn-play")
    at_step(page, 2)
    page.click("#btn-play")
    expect(page.locator("#btn-play")).to_have_attribute("aria-pressed", "false")
    held = step_of(page)
    # stopped: the player that held the stream is replaced by a fresh one without it, so no later event of the
    # old stream reaches the stage
    page.wait_for_function("() => !document.getElementById('player').hasAttribute('hx-sse:connect')")
    assert not page.evaluate("window.lens.playing()")
    expect(page.locator("#btn-play")).to_have_attribute("aria-pressed", "false")
    assert step_of(page) == held


def test_a_lost_stream_says_so_and_resumes_from_the_current_step(tab: Page, problems: list[str]) -> None:
    page = tab
    page.goto("/")
    page.click("#mark-3")
    at_step(page, 3)
    cut = [True]

    def flaky(route: Route) -> None:
        if cut[0]:
            cut[0] = False
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(re.compile(r".*/runs/[^/]+/stream\b.*"), flaky)
    set_speed(page, 100)
    page.click("#btn-play")
    expect(page.locator("#stream-status")).to_be_visible()
    expect(page.locator("#stream-status")).to_contain_text("interrupted")
    at_step(page, 3)  # nothing was lost: the page is where it was
    page.click("#btn-resume")
    at_step(page, STEPS - 1)
    expected = [p for p in problems if "ERR_CONNECTION_RESET" in p or "Failed to fetch" in p]
    assert expected, "the cut connection should show in the console"
    problems[:] = [p for p in problems if p not in expected]


def test_the_numbers_shown_equal_the_json_api(tab: Page) -> None:
    page = tab
    page.goto("/")
    page.keyboard.press("End")
    at_step(page, STEPS - 1)
    assert_matches_api(page, WORKED_EXAMPLE)
    # hover an edge, focus a neuron: the inspector reads out their numbers
    api = gradients(page, WORKED_EXAMPLE)
    page.keyboard.press("Home")
    at_step(page, 0)
    page.keyboard.press("End")
    at_step(page, STEPS - 1)
    page.click("#mark-5")  # BP3/BP4 of layer 3: the edges into the output show ∂C/∂w
    at_step(page, 5)
    # a diagonal edge, from neuron 2 of layer 2 (lower left) to neuron 1 of layer 3 (upper right),
    # hovered a fifth of the way along, away from where it crosses its neighbour
    box = page.locator("#e-3-1-2 .wire").bounding_box()
    assert box is not None
    page.hover("#e-3-1-2 .hit", position={"x": 0.2 * box["width"], "y": 0.8 * box["height"]}, force=True)
    # the read-out prints 6 significant digits (Mazur's ∂C/∂w³₁₂ = 0.082667628); the exact value is data-*
    expect(page.locator("#inspect")).to_contain_text("∂C/∂w = a_in δ_out = 0.0826676")
    assert float(page.get_attribute("#e-3-1-2", "data-nabla-w") or "nan") == api["nabla_w"][1][0][1]
    page.focus("#n-2-1")
    expect(page.locator("#inspect")).to_contain_text("δ = 0.00877135")  # δ²₁ = 0.00877135468948…
    assert float(page.get_attribute("#n-2-1", "data-delta") or "nan") == api["layers"][0]["delta"][0][0]


def test_screenshots_of_the_forward_pass_the_backward_pass_and_the_gradient_step(tab: Page) -> None:
    page = tab
    page.goto("/")
    page.click("#mark-2")  # eq. 25 for the output layer
    at_step(page, 2)
    expect(page.locator(".pulse-forward")).to_have_count(4)
    freeze(page)
    page.screenshot(path=shot_path("forward.png"))
    page.click("#mark-4")  # BP2: δ travels back from layer 3 to layer 2
    at_step(page, 4)
    expect(page.locator(".pulse-back")).to_have_count(4)
    expect(page.locator("#equation")).to_contain_text("BP2")
    freeze(page)
    page.screenshot(path=shot_path("backward.png"))
    # pointing at δ²₁'s line marks neuron 1 of layer 2 and the edges its error came back along
    page.hover("#equation .eq-line >> nth=0")
    expect(page.locator("#n-2-1")).to_have_class("neuron shows-delta current changed highlight")
    expect(page.locator("#e-3-2-1")).to_have_class("edge active highlight")
    expect(page.locator("#n-2-2")).not_to_have_class("neuron shows-delta current changed highlight")
    page.mouse.move(5, 5)
    page.click("#mark-5")
    at_step(page, 5)
    expect(page.locator("#diagram .edge.shows-grad")).to_have_count(4)
    freeze(page)
    page.screenshot(path=shot_path("gradient.png"))
    for name in ("forward", "backward", "gradient"):
        assert shot_path(f"{name}.png").stat().st_size < 400_000


def test_step_back_and_forth_with_buttons_keys_and_the_scrubber(tab: Page) -> None:
    page = tab
    page.goto("/")
    expect(page.locator("#btn-back")).to_be_disabled()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    at_step(page, 3)
    page.keyboard.press("ArrowLeft")
    at_step(page, 2)
    page.click("#btn-forward")
    at_step(page, 3)
    page.click("#btn-back")
    at_step(page, 2)
    page.click("#btn-end")
    at_step(page, STEPS - 1)
    expect(page.locator("#btn-forward")).to_be_disabled()
    page.click("#btn-restart")
    at_step(page, 0)
    page.click("#mark-6")
    at_step(page, 6)
    expect(page.locator("#mark-6")).to_have_attribute("aria-current", "step")
    expect(page.locator("#status")).to_have_attribute("aria-live", "polite")
    # every control is reachable by keyboard: tab from the page's start reaches the player
    page.keyboard.press("Home")
    at_step(page, 0)
    page.focus("#btn-play")
    page.keyboard.press("Enter")
    expect(page.locator("#btn-play")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Enter")
    expect(page.locator("#btn-play")).to_have_attribute("aria-pressed", "false")
    labels = page.eval_on_selector_all("#numbers table th[scope=col]", "els => els.map(e => e.textContent)")
    assert {"z", "a", "σ′(z)", "δ"} <= set(labels)


def test_the_last_mark_clicked_wins_when_an_earlier_answer_comes_late(tab: Page) -> None:
    """Two steps picked on the scrubber in quick succession: the page ends at the second, even when the
    server answers the first one later (the first request is replaced, not swapped in after)."""
    page = tab
    page.goto("/")
    page.wait_for_function("() => window.lens !== undefined")

    def late(route: Route) -> None:
        page.wait_for_timeout(600)
        route.continue_()

    page.route(re.compile(r"/steps/2$"), late)
    page.click("#mark-2")
    page.click("#mark-4")
    at_step(page, 4)
    page.wait_for_timeout(900)  # past the slow answer's arrival: nothing swaps step 2 back in
    at_step(page, 4)
    page.unroute(re.compile(r"/steps/2$"))


def fill_config(page: Page, fields: dict[str, str]) -> None:
    if page.get_attribute("#config-panel", "open") is None:
        page.click("#config-panel summary")
    for name, value in fields.items():
        if name == "cost":
            page.select_option("#f-cost", value)
        else:
            page.fill(f"#f-{name}", value)
    page.click("#btn-apply")


def test_a_new_configuration_the_next_iteration_and_the_permalink(tab: Page) -> None:
    page = tab
    page.goto("/")
    first = page.get_attribute("#run", "data-run-id")
    # a mistake is named beside its field, and the network on screen stays
    fill_config(page, {"sizes": "3, 4, 2", "activation": "tanh", "x": "0.5, -0.2", "y": "0.3, -0.4",
                       "eta": "0.1", "seed": "7", "weights": "", "biases": ""})  # fmt: skip
    expect(page.locator("#e-x")).to_contain_text("inputs[0]: expected 3 numbers")
    assert page.get_attribute("#run", "data-run-id") == first
    fill_config(page, {"x": "0.5, -0.2, 0.1"})
    expect(page.locator("#run")).not_to_have_attribute("data-run-id", first or "")
    expect(page.locator("#e-x")).to_have_count(0)
    expect(page.locator("#diagram .neuron")).to_have_count(9)
    page.click("#btn-end")
    at_step(page, STEPS - 1)  # input, 2 × eq. 25, BP1, BP2, 2 × BP3/BP4, update
    body = {"network": {"sizes": [3, 4, 2], "activation": "tanh", "seed": 7}, "cost_function": "quadratic",
            "inputs": [[0.5, -0.2, 0.1]], "targets": [[0.3, -0.4]]}  # fmt: skip
    assert_matches_api(page, body)
    before = shown(page)

    page.click("#btn-next")
    expect(page.locator("#iteration")).to_have_text("iteration 1")  # iteration 0 is the initial weights' pass
    page.click("#btn-end")
    at_step(page, STEPS - 1)
    after = shown(page)
    assert after["cost_before"][0] == pytest.approx(before["cost_after"][0], rel=1e-12)
    assert after["cost_after"][0] < after["cost_before"][0] < before["cost_before"][0]

    link = page.get_attribute("#permalink", "href") or ""
    assert "iteration=1" in link and "sizes=3" in link
    assert f"step={STEPS - 1}" in link  # the permalink keeps the step on screen
    page.goto(link)
    expect(page.locator("#f-sizes")).to_have_value("3, 4, 2")
    expect(page.locator("#f-activation")).to_have_value("tanh")
    at_step(page, STEPS - 1)
    assert shown(page) == after


def query_of(page: Page) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(page.url).query))


def test_the_address_follows_the_run_so_a_reload_returns_to_it(tab: Page) -> None:
    page = tab
    page.goto("/")
    # the address says what is on screen: the run, its step and its configuration (which revives it anywhere)
    expect(page).to_have_url(re.compile(r"/runs/[^/?]+/steps/0\?"))
    assert query_of(page)["sizes"] == "2, 2, 2"
    page.click("#btn-run-1")
    expect(page.locator("#iteration")).to_have_text("iteration 1")
    expect(page).to_have_url(re.compile(r"[?&]iteration=1(&|$)"))
    assert query_of(page)["sizes"] == "2, 2, 2"
    page.click("#btn-run-10")
    expect(page).to_have_url(re.compile(r"[?&]iteration=11(&|$)"))
    page.reload()
    expect(page.locator("#iteration")).to_have_text("iteration 11")
    # a configuration: its own permalink, from iteration 0
    fill_config(page, {"eta": "2"})
    expect(page).to_have_url(re.compile(r"[?&]eta=2(&|$)"))
    assert "iteration" not in query_of(page)
    page.click("#btn-end")
    page.click("#btn-next")  # the last step's own button
    expect(page).to_have_url(re.compile(r"[?&]iteration=1(&|$)"))
    page.reload()
    expect(page.locator("#iteration")).to_have_text("iteration 1")
    expect(page.locator("#f-eta")).to_have_value("2")
    # lecture mode stays in the address
    page.goto("/?present=1")
    page.keyboard.press("End")
    at_step(page, STEPS - 1)
    page.click("#btn-next")
    expect(page).to_have_url(re.compile(r"[?&]iteration=1(&|$)"))
    assert query_of(page)["present"] == "1"
    page.reload()
    expect(page.locator("#run")).to_have_attribute("data-present", "1")
    expect(page.locator("#iteration")).to_have_text("iteration 1")


def test_a_student_pages_follow_code_stays_in_the_address(open_page: OpenPage) -> None:
    page = open_page(1280, 800, expected={404})  # no session ABCDEF: its events are a 404, the page carries on
    page.goto("/")
    page.goto(f"/runs/{page.get_attribute('#run', 'data-run-id')}/steps/0?follow=ABCDEF")  # as the join link does
    expect(page.locator("#follow-bar")).to_be_visible()
    page.click("#btn-run-1")  # an iteration of one's own detaches, and the page stays the class's
    expect(page.locator("#iteration")).to_have_text("iteration 1")
    expect(page).to_have_url(re.compile(r"[?&]iteration=1(&|$)"))
    assert query_of(page)["follow"] == "ABCDEF"
    page.reload()
    expect(page.locator("#iteration")).to_have_text("iteration 1")
    expect(page.locator("#follow-bar")).to_be_visible()


def test_download_the_trace_as_json(tab: Page) -> None:
    page = tab
    page.goto("/")
    with page.expect_download() as info:
        page.click("#download")
    download = info.value
    assert download.suggested_filename.endswith(".json")
    body = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    assert len(body["steps"]) == STEPS
    page.keyboard.press("End")
    at_step(page, STEPS - 1)
    assert shown(page)["cost_after"][0] == body["cost_after"]


def test_a_phone_screen_stacks_the_panels(chromium: Browser, live_server: str) -> None:
    context = chromium.new_context(base_url=live_server, viewport={"width": 375, "height": 800},
                                   device_scale_factor=1, is_mobile=True, has_touch=True)  # fmt: skip
    try:
        page = context.new_page()
        page.goto("/")
        page.click("#mark-4")
        at_step(page, 4)
        assert page.evaluate("document.documentElement.scrollWidth") <= 376, "no sideways scrolling"
        diagram = page.locator("#diagram").bounding_box()
        equation = page.locator("#equation").bounding_box()
        assert diagram and equation and equation["y"] >= diagram["y"] + diagram["height"] - 1
        # the drawing keeps its own size, so its numbers are as large as on a desk; it scrolls inside its panel
        sizes = page.eval_on_selector_all(
            "#net text.value", "els => els.map(t => t.getBoundingClientRect().height).filter(h => h > 0)"
        )
        assert sizes and min(sizes) >= 11, sizes
        scroll = page.eval_on_selector("#net-scroll", "e => [e.scrollWidth, e.clientWidth]")
        assert scroll[0] > scroll[1] and page.evaluate("document.documentElement.scrollWidth") <= 376
        # ... and brings the layer the step is about into view: BP1's, the output layer at the far right
        page.click("#mark-3")
        at_step(page, 3)
        page.wait_for_function("""() => {
          const box = document.getElementById('net-scroll').getBoundingClientRect();
          const cs = [...document.querySelectorAll('#net .neuron.current circle')];
          return cs.length > 0 && cs.every(c => { const r = c.getBoundingClientRect();
            return r.left >= box.left - 1 && r.right <= box.right + 1; });
        }""")
        page.click("#mark-4")
        at_step(page, 4)
        freeze(page)
        page.screenshot(path=shot_path("phone.png"))
    finally:
        context.close()
