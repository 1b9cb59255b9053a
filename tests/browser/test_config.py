"""The configuration form in Chromium, at 1024×768 and 1400×900: new sizes, the initial weights' spread, a
mistyped name, the page's own minus sign, wrong weights, and the iteration a permalink carries.

What is checked is what a person sees: the network drawn, the notice and the error beside its field, the
summary line of the configuration (always the network on screen), the label of the iteration. Screenshots
go to artifacts/screenshots/config-*.png.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import OpenPage, shot_path

pytestmark = pytest.mark.browser

SCREENS = [(1024, 768), (1400, 900)]
WORKED_SUMMARY = "2-2-2 · sigmoid · quadratic · η 0.5 · pasted weights"
MINUS = "\u2212"


@pytest.fixture(params=SCREENS, ids=[f"{w}x{h}" for w, h in SCREENS])
def tab(request: pytest.FixtureRequest, open_page: OpenPage) -> Page:
    width, height = request.param
    return open_page(width, height, expected={422})  # a 422 is the form's answer to a mistake


def screen(page: Page) -> str:
    size = page.viewport_size
    assert size is not None
    return f"{size['width']}x{size['height']}"


def open_config(page: Page) -> None:
    if page.get_attribute("#config-panel", "open") is None:
        page.click("#config-panel summary")
    expect(page.locator("#f-sizes")).to_be_visible()


def submit(page: Page, fields: dict[str, str]) -> None:
    open_config(page)
    for name, value in fields.items():
        if name in ("cost", "init"):
            page.select_option(f"#f-{name}", value)
        else:
            page.fill(f"#f-{name}", value)
    page.click("#btn-apply")


def shoot(page: Page, name: str) -> None:
    # caret="initial": Playwright hides the caret with an injected style, which the page's CSP refuses
    page.screenshot(path=shot_path(f"config-{name}-{screen(page)}.png"), full_page=True, caret="initial")


def no_sideways_scrolling(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    size = page.viewport_size
    assert size is not None and width <= size["width"], "the page scrolls sideways"


def test_new_sizes_draw_fresh_weights_and_say_so(tab: Page) -> None:
    page = tab
    page.goto("/")
    expect(page.locator("#config-summary")).to_have_text(WORKED_SUMMARY)
    first = page.get_attribute("#run", "data-run-id")
    submit(page, {"sizes": "2, 3, 2"})  # the worked example's 2×2 weights stay in their box
    expect(page.locator("#run")).not_to_have_attribute("data-run-id", first or "")
    expect(page.locator("#diagram .neuron")).to_have_count(7)
    expect(page.locator("#config-notice")).to_have_text("New sizes 2-3-2: fresh weights drawn from seed 0 (N(0, 1))")
    expect(page.locator("#config-summary")).to_have_text("2-3-2 · sigmoid · quadratic · η 0.5 · seed 0, N(0, 1)")
    expect(page.locator("#f-weights")).to_have_value("")
    expect(page.locator(".error")).to_have_count(0)
    no_sideways_scrolling(page)
    shoot(page, "new-sizes")

    # a wide hidden layer with N(0, 1/n_in) weights: the weights box is empty, so nothing is replaced to say so
    submit(page, {"sizes": "2, 500, 2", "init": "scaled"})
    expect(page.locator("#config-summary")).to_have_text("2-500-2 · sigmoid · quadratic · η 0.5 · seed 0, N(0, 1/n_in)")
    expect(page.locator("#config-notice")).to_have_count(0)
    link = page.get_attribute("#permalink", "href") or ""
    assert "init=scaled" in link and "weights=" not in link
    page.goto(link)
    expect(page.locator("#f-init")).to_have_value("scaled")
    expect(page.locator("#config-summary")).to_contain_text("2-500-2")


def test_a_mistyped_activation_is_named_and_the_network_on_screen_stays(tab: Page) -> None:
    page = tab
    page.goto("/")
    first = page.get_attribute("#run", "data-run-id")
    submit(page, {"sizes": "2, 3, 2", "activation": "sigmod", "eta": "-1"})
    expect(page.locator("#e-activation")).to_have_text(
        "activation: unknown activation 'sigmod'; choose sigmoid, tanh, relu or linear"
    )
    expect(page.locator("#e-eta")).to_have_text("eta: Input should be greater than 0")  # both at once
    expect(page.locator("#f-activation")).to_have_attribute("aria-invalid", "true")
    # the summary still describes the 2-2-2 network drawn below it, not the rejected texts
    expect(page.locator("#config-summary")).to_have_text(WORKED_SUMMARY)
    assert page.get_attribute("#run", "data-run-id") == first
    expect(page.locator("#diagram .neuron")).to_have_count(6)
    expect(page.locator("#f-activation")).to_have_value("sigmod")  # what was typed stays, to be corrected
    no_sideways_scrolling(page)
    shoot(page, "error")

    submit(page, {"activation": "tanh", "eta": "0.5"})
    expect(page.locator("#diagram .neuron")).to_have_count(7)
    expect(page.locator(".error")).to_have_count(0)
    expect(page.locator("#config-summary")).to_have_text("2-3-2 · tanh · quadratic · η 0.5 · seed 0, N(0, 1)")
    expect(page.locator("#config-notice")).to_contain_text("New sizes 2-3-2")


def test_weights_of_the_wrong_shape_are_named_beside_the_weights(tab: Page) -> None:
    page = tab
    page.goto("/")
    submit(page, {"weights": "[[[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], [[0.4, 0.45], [0.5, 0.55]]]"})
    expect(page.locator("#e-weights")).to_contain_text("network.weights[0]: w^2 must be 2×2")
    expect(page.locator("#config-notice")).to_have_count(0)
    expect(page.locator("#config-summary")).to_have_text(WORKED_SUMMARY)


def test_the_pages_own_minus_sign_is_read(tab: Page) -> None:
    page = tab
    page.goto("/")
    expect(page.locator("#n-1-2 text")).to_have_text("0.1")
    submit(page, {
        "x": f"0.05, {MINUS}0.10",
        "y": f"{MINUS}0.01, 0.99",
        "eta": "0.5",
        "weights": f"[[[0.15, {MINUS}0.20], [0.25, 0.30]], [[0.40, 0.45], [{MINUS}0.50, 0.55]]]",
        "biases": f"[[{MINUS}0.35, 0.35], [0.60, 0.60]]",
    })  # fmt: skip
    expect(page.locator("#n-1-2 text")).to_have_text(f"{MINUS}0.1")  # the page prints the same sign
    expect(page.locator(".error")).to_have_count(0)
    page.click("#btn-end")
    expect(page.locator("#run")).to_have_attribute("data-step", "7")
    # the cost shown is the API's for the same numbers written with ASCII minus signs
    body = {"network": {"sizes": [2, 2, 2], "weights": [[[0.15, -0.2], [0.25, 0.3]], [[0.4, 0.45], [-0.5, 0.55]]],
                        "biases": [[-0.35, 0.35], [0.6, 0.6]]},
            "inputs": [[0.05, -0.1]], "targets": [[-0.01, 0.99]]}  # fmt: skip
    r = page.request.post("/api/gradients", data=json.dumps(body), headers={"content-type": "application/json"})
    assert r.ok, r.text()
    shown = page.get_attribute('#numbers [data-q="cost_before"]', "data-value")
    assert float(shown or "nan") == pytest.approx(r.json()["cost"], rel=1e-12)


def test_a_permalink_with_iteration_50_is_labelled_iteration_50(tab: Page) -> None:
    page = tab
    page.goto("/")
    expect(page.locator("#iteration")).to_have_text("iteration 0")  # the initial weights' pass
    link = page.get_attribute("#permalink", "href") or ""
    page.goto(f"{link}&iteration=50")  # the pass after 50 updates
    expect(page.locator("#iteration")).to_have_text("iteration 50")
    page.goto("/")
    page.keyboard.press("End")
    expect(page.locator("#run")).to_have_attribute("data-step", "7")
    page.click("#btn-next")
    expect(page.locator("#iteration")).to_have_text("iteration 1")
    assert "iteration=1" in (page.get_attribute("#permalink", "href") or "")


def test_new_numbers_give_an_example_of_ones_own_that_the_address_keeps(open_page: OpenPage) -> None:
    page = open_page(1024, 768)
    page.goto("/")
    open_config(page)
    x_before = page.input_value("#f-x")
    page.click("#btn-new-numbers")
    expect(page.locator("#f-seed")).not_to_have_value("0")
    expect(page.locator("#f-weights")).to_have_value("")  # drawn from the new seed
    assert page.input_value("#f-sizes") == "2, 2, 2" and page.input_value("#f-x") != x_before
    address = page.url
    assert "seed=" in address and "x=" in address and "weights=" not in address
    shown = page.eval_on_selector_all("#numbers [data-q][data-value]", "els => els.map(e => e.dataset.value)")
    page.goto(address)  # the permalink holds it: the same numbers again
    assert page.eval_on_selector_all("#numbers [data-q][data-value]", "els => els.map(e => e.dataset.value)") == shown
    no_sideways_scrolling(page)
