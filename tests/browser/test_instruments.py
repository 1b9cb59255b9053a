"""The instruments panel in Chromium: every tab once, its numbers against independent values.

The worked example is Matt Mazur's hand-worked 2-2-2 network, so most numbers are
checked against his figures or against a few lines of arithmetic here; the rest
against the engine's reference loop. The last test changes the configuration and
checks that the panel follows the new run. The server and the browser come from
tests/browser/conftest.py.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from backprop_lens.bench.baseline import backprop_per_example
from backprop_lens.engine import Network, backprop
from tests.browser.conftest import OpenPage, shot_path

pytestmark = pytest.mark.browser

MAZUR_DELTA_3_1 = 0.138498562  # ∂E/∂net_o1
MAZUR_W2_11 = 0.000438568  # ∂E/∂w1 = a¹₁ δ²₁ with a¹₁ = 0.05
MAZUR_OUT_O1 = 0.75136507


@pytest.fixture
def panel(open_page: OpenPage) -> Page:
    pg = open_page(1280, 900)
    pg.goto("/")
    return pg


def shot(page: Page, name: str) -> None:
    page.locator("#instruments").screenshot(path=str(shot_path(name)))


def value(page: Page, selector: str) -> float:
    """The engine's full value of a shown number (its data-value), not the rounded text."""
    title = page.locator(selector).first.get_attribute("data-value")
    assert title is not None, selector
    return float(title.split()[0])


def has_class(name: str) -> re.Pattern[str]:
    return re.compile(rf"(^|\s){name}(\s|$)")


def open_tab(page: Page, name: str) -> None:
    page.click(f"#tab-{name}")
    expect(page.locator(f"#instrument-{name}")).to_be_visible()
    expect(page.locator(f"#{name}-result")).to_be_visible()


def test_every_instrument_on_the_worked_example(panel: Page) -> None:
    page = panel
    # 1. why backprop is fast: loads with the page
    expect(page.locator("#speed-result")).to_be_visible()
    expect(page.locator("#passes-backprop")).to_have_text("2")
    expect(page.locator("#passes-fd")).to_contain_text("25")  # 2P + 1, P = 12
    assert value(page, "#max-rel-error .num") < 1e-5
    expect(page.locator("#growth tbody tr")).to_have_count(6)
    shot(page, "instruments-speed.png")

    # 2. the demon: δ³₁ is Mazur's ∂E/∂net_o1
    open_tab(page, "demon")
    page.select_option("#form-demon select[name=layer]", "3")
    expect(page.locator("#demon-result")).to_contain_text("layer l = 3")
    delta = value(page, "#demon-result strong .num")
    assert delta == pytest.approx(MAZUR_DELTA_3_1, abs=1e-9)
    row = page.locator("#demon-table tbody tr").nth(3)  # Δz = −0.01
    assert value(page, "#demon-table tbody tr:nth-child(4) td:nth-child(2) .num") == pytest.approx(-0.01 * delta)
    expect(row).to_have_class("holds")
    expect(page.locator("#demon-table tbody tr").first).to_have_class("breaks")  # Δz = −2
    shot(page, "instruments-demon.png")

    # 3. saturation: σ'(z³) = 0.1868 and 0.1755 fall under a threshold of 0.2, and are marked on the diagram
    open_tab(page, "saturation")
    expect(page.locator("#no-saturated")).to_be_visible()
    page.fill("#form-saturation input[name=sigma_prime_threshold]", "0.2")
    page.press("#form-saturation input[name=sigma_prime_threshold]", "Enter")
    expect(page.locator("#saturated tbody tr")).to_have_count(2)
    out = 0.75136507
    assert value(page, "#saturated tbody tr:first-child td:nth-child(4) .num") == pytest.approx(out * (1 - out))
    expect(page.locator("#n-3-1")).to_have_class(has_class("instrument-saturated"))
    shot(page, "instruments-saturation.png")

    # 4. sum over paths: two paths whose sum is Mazur's ∂E/∂w1; the strongest is marked on the diagram
    open_tab(page, "paths")
    expect(page.locator("#path-count")).to_have_text("2")
    assert value(page, "#bp4-total .num") == pytest.approx(MAZUR_W2_11, abs=1e-9)
    assert value(page, "#listed-sum .num") == pytest.approx(MAZUR_W2_11, abs=1e-9)
    expect(page.locator("#e-2-1-1")).to_have_class(has_class("instrument-path"))
    expect(page.locator("#n-3-1")).not_to_have_class(has_class("instrument-saturated"))
    page.locator("#diagram").screenshot(path=str(shot_path("instruments-paths-diagram.png")))
    shot(page, "instruments-paths.png")

    # 5. matrix form: the product equals the layer-by-layer δ², which is Mazur's ∂E/∂w1 / a¹₁
    open_tab(page, "matrix-form")
    expect(page.locator("#matrix-product math").last).to_be_visible()  # one <math> per factor
    product = value(page, "#delta-compare tbody tr:first-child td:nth-child(2) .num")
    layerwise = value(page, "#delta-compare tbody tr:first-child td:nth-child(3) .num")
    assert product == pytest.approx(layerwise, rel=1e-12)
    assert product * 0.05 == pytest.approx(MAZUR_W2_11, abs=1e-9)
    shot(page, "instruments-matrix-form.png")

    # 6. inside a mini-batch: each example against the reference loop, the mean against backprop
    open_tab(page, "minibatch")
    rows, targets = (
        [[float(v) for v in line.split(",")] for line in page.input_value(f"#form-minibatch [name={n}]").splitlines()]
        for n in ("inputs", "targets")
    )
    net = Network(
        [2, 2, 2],
        weights=[[[0.15, 0.20], [0.25, 0.30]], [[0.40, 0.45], [0.50, 0.55]]],
        biases=[[0.35, 0.35], [0.60, 0.60]],
    )
    table = "#minibatch-layer-3 tbody tr:nth-child(2)"  # ∂C/∂w³₁₁
    for x in range(3):
        _, nabla_w, _ = backprop_per_example(net, rows[x : x + 1], targets[x : x + 1])
        assert value(page, f"{table} td:nth-child({x + 2}) .num") == pytest.approx(nabla_w[1][0, 0], rel=1e-12)
    mean = backprop(net, rows, targets).nabla_w[1][0, 0]
    assert value(page, f"{table} td.mean .num") == pytest.approx(mean, rel=1e-12)
    shot(page, "instruments-minibatch.png")

    # 7a. a modified neuron: tanh at neuron 1 of layer 2, whose z is Mazur's net_h1 = 0.3775
    open_tab(page, "modified-neuron")
    f_prime = value(page, "#modified-table tbody tr:first-child td:nth-child(2) .num")
    assert f_prime == pytest.approx(1 - math.tanh(0.3775) ** 2, rel=1e-12)
    shot(page, "instruments-modified-neuron.png")

    # 7b. linear neurons: δ³ = ∇_aC = z³ − y with z³₁ = 0.4·0.3775 + 0.45·0.3925 + 0.6
    open_tab(page, "linear-network")
    expect(page.locator("#linear-layer-2 math").last).to_be_visible()
    z3 = 0.4 * 0.3775 + 0.45 * 0.3925 + 0.6
    last = page.locator("#linear-network-result .check").nth(1)
    title = last.locator(".num").first.get_attribute("data-value")
    assert title is not None and float(title) == pytest.approx(z3 - 0.01, rel=1e-12)
    shot(page, "instruments-linear-network.png")

    # 7c. cross-entropy: δ^L = a − y, without σ'(z^L)
    open_tab(page, "cost-comparison")
    ce = value(page, "#cost-table tbody tr:first-child td:nth-child(6) .num")
    quad = value(page, "#cost-table tbody tr:first-child td:nth-child(5) .num")
    assert ce == pytest.approx(MAZUR_OUT_O1 - 0.01, abs=1e-8)
    assert quad == pytest.approx(MAZUR_DELTA_3_1, abs=1e-9)
    shot(page, "instruments-cost-comparison.png")


def test_the_panel_follows_a_new_run(panel: Page) -> None:
    page = panel
    expect(page.locator("#speed-result")).to_be_visible()
    first = page.locator("#instruments").get_attribute("data-run-id")
    open_tab(page, "paths")
    page.click("#config-panel summary")
    page.fill("#f-sizes", "2, 3, 4, 2")
    page.fill("#f-weights", "")
    page.fill("#f-biases", "")
    page.click("#btn-apply")
    expect(page.locator("#instruments")).not_to_have_attribute("data-run-id", first or "")
    # the open tab is kept, and its numbers are the new network's
    expect(page.locator("#instrument-paths")).to_be_visible()
    expect(page.locator("#path-count")).to_have_text("8")
    net = Network([2, 3, 4, 2], seed=0)
    g = backprop(net, np.array([[0.05, 0.10]]), np.array([[0.01, 0.99]]))
    assert value(page, "#bp4-total .num") == pytest.approx(g.nabla_w[0][0, 0], rel=1e-12)
    shot(page, "instruments-new-run.png")
