"""Equations in Chromium: nothing clipped at the sizes people use, every layer's update, brackets that stretch.

At 1024×768 (a projector), 1400×900 and 390×844 (a phone), on the worked example, a wide
4-12-3 network and a deep 8-layer one, every step's equation panel is measured: no
``<math>`` reaches past the panel, nothing in it scrolls sideways, and the last piece of
every line (its result) is a number the browser actually paints (the topmost element at
its centre). Expected numbers are Matt Mazur's hand-worked figures or a line of arithmetic
here. Screenshots go to artifacts/screenshots/equations-*.png.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from backprop_lens.app.core.schemas import WORKED_EXAMPLE
from tests.browser.conftest import OpenPage, shot_path

pytestmark = pytest.mark.browser

SIZES = {"projector": (1024, 768), "desktop": (1400, 900), "phone": (390, 844)}
NETWORKS = {  # name: (query, steps, index of the first BP2 step)
    "worked": ("/", 8, 4),
    "wide": ("/?sizes=4,12,3&x=0.1,0.2,0.3,0.4&y=0,1,0", 8, 4),
    "deep": ("/?sizes=4,12,8,8,8,8,8,3&x=0.1,0.2,0.3,0.4&y=0,1,0", 23, 10),
}
MAZUR_DELTA_2 = ("0.008771", "0.009954")  # ∂E/∂net_h1 = 0.00877135, ∂E/∂net_h2 = 0.00995425
MAZUR_W2_11_AFTER = 0.149780716
RESULT = re.compile(r"^−?\d+(\.\d+)?(×10−?\d+)?$")

# Every way an equation can be cut off, measured in the page. The result of a line is its
# last <math>; scrolled to the middle of the screen, the element painted at its centre must
# be inside it (not hidden by an overflow, not covered, not off the panel).
MEASURE = """() => {
  const panel = document.querySelector('#equation');
  const cs = getComputedStyle(panel);
  const box = panel.getBoundingClientRect();
  const left = box.left + panel.clientLeft + parseFloat(cs.paddingLeft) - 0.5;
  const right = box.left + panel.clientLeft + panel.clientWidth - parseFloat(cs.paddingRight) + 0.5;
  const problems = [];
  const name = el => (el.closest('.eq-line') || el).textContent.slice(0, 40);
  for (const el of [panel, ...panel.querySelectorAll('.symbolic, .numeric, .eq-line, math')]) {
    if (el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0) problems.push('scrolls: ' + name(el));
  }
  for (const m of panel.querySelectorAll('math')) {
    const r = m.getBoundingClientRect();
    if (r.left < left || r.right > right)
      problems.push(`past the edge (${r.left}–${r.right} of ${left}–${right}): ` + name(m));
  }
  const results = [];
  for (const line of panel.querySelectorAll('.eq-line')) {
    const pieces = line.querySelectorAll('math');
    const last = pieces[pieces.length - 1];
    last.scrollIntoView({block: 'center', inline: 'nearest'});
    const r = last.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    if (!hit || !last.contains(hit)) problems.push('result not painted: ' + name(line));
    results.push(last.textContent);
  }
  if (document.documentElement.scrollWidth > window.innerWidth) problems.push('the page scrolls sideways');
  return {problems, results};
}"""


def at_step(page: Page, k: int) -> None:
    expect(page.locator("#run")).to_have_attribute("data-step", str(k))
    expect(page.locator("#step-meta")).to_have_attribute("data-step", str(k))


def go(page: Page, k: int) -> None:
    page.click(f"#mark-{k}")
    at_step(page, k)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("network", NETWORKS)
def test_no_equation_line_is_clipped_at_any_step(open_page: OpenPage, size: str, network: str) -> None:
    width, height = SIZES[size]
    query, steps, bp2 = NETWORKS[network]
    page = open_page(width, height)
    page.goto(query)
    for k in range(steps):
        if k:
            go(page, k)
        measured: dict[str, Any] = page.evaluate(MEASURE)
        assert measured["problems"] == [], f"step {k + 1}: {measured['problems']}"
        assert measured["results"], f"step {k + 1} has no line of numbers"
        for text in measured["results"]:
            assert RESULT.match(text), f"step {k + 1}: a line ends in {text!r}, not its result"
        if network == "worked" and k == bp2:
            assert tuple(measured["results"]) == MAZUR_DELTA_2  # δ²₁ no longer reads "= 0"
        if k in (bp2, steps - 1):
            page.evaluate("window.scrollTo(0, 0)")
            page.locator("#equation").screenshot(path=str(shot_path(f"equations-{network}-{size}-step{k + 1}.png")))
    if network == "worked" and size == "projector":
        go(page, bp2)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(shot_path("equations-worked-projector-page.png")))


def test_the_update_step_lists_every_layer(open_page: OpenPage) -> None:
    page = open_page(1024, 768)
    r = page.request.post("/api/gradients", data=json.dumps(WORKED_EXAMPLE),
                          headers={"content-type": "application/json"})  # fmt: skip
    assert r.ok
    nabla_w = r.json()["nabla_w"]
    page.goto("/")
    go(page, 7)
    weights = WORKED_EXAMPLE["network"]["weights"]
    for layer in (2, 3):
        table = page.locator(f"#update-{layer}")
        table.scroll_into_view_if_needed()
        expect(table).to_be_visible()
        for j in range(2):
            for k in range(2):
                q = f"{layer}-{j + 1}-{k + 1}"
                before, after = page.locator(f'td[data-q="w-{q}"]'), page.locator(f'td[data-q="w_new-{q}"]')
                expect(after).to_be_visible()
                assert float(before.get_attribute("data-value") or "nan") == weights[layer - 2][j][k]
                expected = weights[layer - 2][j][k] - 0.5 * nabla_w[layer - 2][j][k]
                assert float(after.get_attribute("data-value") or "nan") == pytest.approx(expected, rel=1e-12)
    expect(page.locator('td[data-q="w-2-1-1"]')).to_have_text("0.15")
    expect(page.locator('td[data-q="w_new-2-1-1"]')).to_have_text("0.149781")
    assert float(page.get_attribute('td[data-q="w_new-2-1-1"]', "data-value") or "nan") == pytest.approx(
        MAZUR_W2_11_AFTER, abs=1e-9
    )
    expect(page.locator("#equation .eq-line").last).to_have_text(re.compile(r"^C:\s0\.298371\s?→\s?0\.2"))
    page.locator("#numbers").screenshot(path=str(shot_path("equations-update-tables.png")))

    # a wide layer's table starts folded, and opens
    page.goto(NETWORKS["wide"][0])
    go(page, 7)
    expect(page.locator("#update-2")).to_be_hidden()
    page.click("#update-2-details summary")
    expect(page.locator("#update-2")).to_be_visible()
    expect(page.locator("#update-2 tbody tr")).to_have_count(12 * 4 + 12)


def open_tab(page: Page, name: str) -> None:
    page.click(f"#tab-{name}")
    expect(page.locator(f"#{name}-result")).to_be_visible()


# Each matrix's brackets as tall as the matrix; a one-column matrix stacked as a column; the line in its box.
BRACKETS = """sel => {
  const line = document.querySelector(sel);
  const out = {fences: [], columns: 0, scrolls: line.scrollWidth > line.clientWidth + 1};
  for (const t of line.querySelectorAll('mtable')) {
    const h = t.getBoundingClientRect().height;
    const open = t.previousElementSibling, close = t.nextElementSibling;
    out.fences.push([open.textContent, close.textContent, open.getBoundingClientRect().height / h,
                     close.getBoundingClientRect().height / h]);
    const cells = [...t.querySelectorAll('mtd')];
    if (t.querySelectorAll('mtr').length === cells.length && cells.length > 1) {
      const r = cells.map(c => c.getBoundingClientRect());
      if (r.every(x => Math.abs(x.left + x.width / 2 - r[0].left - r[0].width / 2) < 2)
          && r.every((x, i) => i === 0 || x.top >= r[i - 1].bottom - 1)) out.columns += 1;
    }
  }
  return out;
}"""


def assert_brackets(page: Page, selector: str, columns: int) -> None:
    got: dict[str, Any] = page.evaluate(BRACKETS, selector)
    assert got["fences"], f"no matrix in {selector}"
    for open_, close, open_ratio, close_ratio in got["fences"]:
        assert (open_, close) == ("[", "]")
        assert open_ratio >= 0.95 and close_ratio >= 0.95, f"brackets do not stretch: {got['fences']}"
    assert got["columns"] >= columns, "vectors are columns, one number under another"
    assert not got["scrolls"], f"{selector} runs past its box"


@pytest.mark.parametrize("size", ["projector", "phone"])
def test_matrices_in_brackets_that_stretch_and_the_saturation_why_in_mathml(open_page: OpenPage, size: str) -> None:
    width, height = SIZES[size]
    page = open_page(width, height)
    page.goto("/")
    expect(page.locator("#speed-result")).to_be_visible()
    open_tab(page, "matrix-form")
    assert_brackets(page, "#matrix-product", 2)  # ∇aC and δ²
    page.locator("#instruments").screenshot(path=str(shot_path(f"equations-matrix-form-{size}.png")))
    open_tab(page, "linear-network")
    for layer in (2, 3):
        assert_brackets(page, f"#linear-layer-{layer}", 2)
    page.locator("#instruments").screenshot(path=str(shot_path(f"equations-linear-network-{size}.png")))
    open_tab(page, "saturation")
    page.fill("#form-saturation input[name=sigma_prime_threshold]", "0.2")
    page.press("#form-saturation input[name=sigma_prime_threshold]", "Enter")
    expect(page.locator("#saturated tbody tr")).to_have_count(2)
    why = page.locator("#saturation-result td.why")
    assert why.count() >= 2
    for i in range(why.count()):
        expect(why.nth(i).locator("math").first).to_be_visible()
        assert not re.search(r"[\^_{}\\]", why.nth(i).inner_text()), why.nth(i).inner_text()
    page.locator("#instruments").screenshot(path=str(shot_path(f"equations-saturation-{size}.png")))
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "the page scrolls sideways"


def test_a_wide_networks_matrix_product_stays_in_its_box(open_page: OpenPage) -> None:
    page = open_page(1024, 768)
    page.goto(NETWORKS["wide"][0])
    expect(page.locator("#speed-result")).to_be_visible()
    open_tab(page, "matrix-form")  # layer 2: 12×12 matrices
    assert_brackets(page, "#matrix-product", 2)
    page.locator("#instruments").screenshot(path=str(shot_path("equations-matrix-form-wide.png")))


def test_bp1_with_cross_entropy_reads_a_minus_y(open_page: OpenPage) -> None:
    page = open_page(1024, 768)
    form = {"sizes": "2, 2, 2", "activation": "sigmoid", "cost": "cross_entropy", "x": "0.05, 0.1", "y": "0.01, 0.99",
            "eta": "0.5", "weights": json.dumps(WORKED_EXAMPLE["network"]["weights"]),
            "biases": json.dumps(WORKED_EXAMPLE["network"]["biases"])}  # fmt: skip
    page.goto("/?" + "&".join(f"{k}={v}" for k, v in form.items()))
    go(page, 3)
    expect(page.locator("#equation .symbolic")).to_have_text(re.compile(r"^\s*δ3=a3−y\s*$"))
    # Mazur's outputs: a³ = 0.75136507, 0.772928465; δ³ = a³ − y
    lines = page.locator("#equation .eq-line")
    expect(lines).to_have_text([re.compile(r"δ13=a13−y1=\s*0\.7514−0\.01=\s*0\.7414"),
                                re.compile(r"δ23=a23−y2=\s*0\.7729−0\.99=\s*−0\.2171")])  # fmt: skip
    expect(page.locator("#equation .words")).to_contain_text("the σ′ cancels (chapter 3)")
    measured: dict[str, Any] = page.evaluate(MEASURE)
    assert measured["problems"] == [] and measured["results"] == ["0.7414", "−0.2171"]
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shot_path("equations-bp1-cross-entropy.png")))
