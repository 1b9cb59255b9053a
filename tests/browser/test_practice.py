"""Practice in Chromium: one person works each kind of equation line by hand and the page checks it.

On the worked example (Mazur's 2-2-2, quadratic cost, η = 0.5) *Practice* hides the result of every line that
computes a quantity, and the same value in the tables and on the diagram. On each kind of line (z and a of eq. 25,
BP1's and BP2's δ, BP3's ∂C/∂b, BP4's ∂C/∂w, the updated w and b) a usual mistake is typed first: the verdict
names it and its first wrong factor, with that factor's value. Then the right value: the verdict says so, and the
line's result, its table cell and its neuron or edge come back. A malformed number gets a sentence and is never
sent. *Show* gives a line's result without an answer; practice stays on across steps and a reload, and finds what
was answered; lecture mode has none. Every number expected is computed here, in plain Python, from the example's
weights, x, y and η. Screenshots: artifacts/screenshots/practice-*.png.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import OpenPage, shot_path
from tests.browser.test_step_page import set_speed
from tests.worked import A2, A3, B3, D2, D3, ETA, SP2, SP3, W2, W3, Z2, X, Y, four

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Line:
    step: int  # from 0: in, 25, 25, BP1, BP2, BP3–4 (layer 3), BP3–4 (layer 2), update
    key: str
    symbol: str
    value: float
    mistake: float  # a usual mistake's number on this line
    words: tuple[str, ...]  # what its verdict says, each in it


LINES = [
    Line(1, "z-2-1", "z²₁", Z2[0], W2[0][0] * X[0] + W2[0][1] * X[1],
         ("b²₁ = 0.35 is missing", "you left it out")),
    Line(1, "a-2-1", "a²₁", A2[0], Z2[0], (f"z²₁ = {four(Z2[0])} is right", "pass it through the activation")),
    Line(3, "delta-3-1", "δ³₁", D3[0], (Y[0] - A3[0]) * SP3[0],
         (f"σ′(z³₁) = {four(SP3[0])} is right", "you used y₁ − a³₁")),
    Line(4, "delta-2-1", "δ²₁", D2[0], (W3[0][0] * D3[0] + W3[0][1] * D3[1]) * SP2[0],
         (f"σ′(z²₁) = {four(SP2[0])} is right", "you used row 1 of w³")),
    Line(5, "nabla_w-3-1-1", "∂C/∂w³₁₁", A2[0] * D3[0], Z2[0] * D3[0],
         (f"δ³₁ = {four(D3[0])} is right", f"you used z²₁ = {four(Z2[0])} where a²₁ = {four(A2[0])} belongs")),
    Line(6, "nabla_b-2-1", "∂C/∂b²₁", D2[0], D3[0], ("∂C/∂b²₁ is this layer's δ²₁", "not δ³₁")),
    Line(6, "nabla_w-2-1-2", "∂C/∂w²₁₂", X[1] * D2[0], X[0] * D2[1], ("as if w² were transposed",)),
    Line(7, "w_new-3-1-1", "w³₁₁ after the update", W3[0][0] - ETA * A2[0] * D3[0], W3[0][0] - A2[0] * D3[0],
         ("η = 0.5 is missing",)),
    Line(7, "b_new-3-1", "b³₁ after the update", B3[0] - ETA * D3[0], B3[0] + ETA * D3[0],
         ("its sign is not", "against the gradient")),
]  # fmt: skip


def go_to(page: Page, step: int) -> None:
    page.click(f"#mark-{step}")
    expect(page.locator("#step-meta")).to_have_attribute("data-step", str(step))


def still_hidden(page: Page, key: str) -> None:
    expect(page.locator(f'#numbers td[data-q="{key}"]').first).to_have_text("?")
    expect(page.locator(f'#equation .eq-line[data-q="{key}"] .eq-result')).to_be_hidden()


def work(page: Page, line: Line, checks: list[str]) -> None:
    """The mistake first, then a malformed number, then the right value; each verdict read."""
    form = page.locator(f'.practice-form[data-q="{line.key}"]')
    field = form.locator("input")
    verdict = form.locator(".practice-verdict")
    expect(page.locator(f"label[for='practice-{line.key}']")).to_have_text(f"Your {line.symbol}")
    still_hidden(page, line.key)

    field.fill(f"{line.mistake:.6g}".replace("-", "\u2212"))
    form.locator("button[type=submit]").click()
    for words in line.words:
        expect(verdict).to_contain_text(words)
    expect(verdict).to_contain_text("Not quite")
    expect(form).to_have_class(re.compile(r"\bwrong\b"))
    expect(form.locator("button[type=submit]")).to_be_focused()  # the place a keyboard or a screen reader was at
    still_hidden(page, line.key)

    sent = len(checks)
    field.fill("0,1,2")
    field.press("Enter")
    expect(verdict).to_contain_text("is not a number")
    assert len(checks) == sent, "a malformed number was sent"

    field.fill(f"{line.value:.5g}")
    field.press("Enter")
    expect(verdict).to_have_text(f"Right: {line.symbol} = {four(line.value)}.")
    expect(form).to_have_class(re.compile(r"\bright\b"))
    expect(page.locator(f'#equation .eq-line[data-q="{line.key}"] .eq-result')).to_be_visible()
    expect(page.locator(f'#numbers td[data-q="{line.key}"]').first).not_to_have_text("?")


def test_every_kind_of_line_is_checked_and_its_mistake_named(open_page: OpenPage) -> None:
    page = open_page(1024, 768)
    checks: list[str] = []
    page.on("request", lambda r: checks.append(r.url) if r.url.split("?")[0].endswith("/check") else None)
    page.goto("/")
    expect(page.locator("#btn-practice")).to_have_attribute("aria-pressed", "false")
    page.click("#btn-practice")
    expect(page.locator("#btn-practice")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#practice-count")).to_have_text("nothing to work out on this step")  # a¹ = x is given
    expect(page.locator("#instruments-slot")).to_be_hidden()  # they list every step's gradients
    expect(page.locator("#concealed-note")).to_be_visible()

    for step in sorted({line.step for line in LINES}):
        go_to(page, step)
        keys = page.locator("#equation .eq-line[data-q]").evaluate_all("els => els.map(e => e.dataset.q)")
        assert keys and page.locator(".practice-form").count() == len(keys)
        for key in keys:  # every line's result is hidden, and its value on the diagram: an edge's or a neuron's
            still_hidden(page, key)
            _, *index = key.split("-")
            item = page.locator(f"#{'e' if len(index) == 3 else 'n'}-{'-'.join(index)}")
            expect(item).to_have_class(re.compile(r"\bconcealed\b"))
        if step == 1:  # a²₁ = σ(z²₁) shows z²₁: its line waits, whole, until z²₁ is worked out
            locked = page.locator('#equation .eq-line[data-q="a-2-1"]')
            expect(locked.locator(".practice-locked")).to_have_text("a²₁: work out z²₁ first, this line uses it.")
            expect(locked.locator(".practice-form")).to_be_hidden()
            expect(locked.locator("math").first).to_be_hidden()
            expect(page.locator('#numbers td[data-q="a-2-1"]').first).to_have_text("?")
        if step == 3:  # an edge's read-out names δ at its end: not while δ³₁ is hidden
            assert "hidden" in (page.get_attribute("#e-3-1-1", "aria-label") or "")
            assert f"{D3[0]:.4f}"[:6] not in (page.get_attribute("#e-3-1-1", "data-info") or "")
        if step == 5:  # Show gives ∂C/∂b³₁ (= δ³₁, BP3) and moves on to the next line
            page.locator('.practice-form[data-q="nabla_b-3-1"] .practice-show').click()
            expect(page.locator('.practice-form[data-q="nabla_b-3-1"] .practice-verdict')).to_have_text(
                f"Shown: ∂C/∂b³₁ = {four(D3[0])}. Work the line through with it."
            )
            expect(page.locator('.practice-form[data-q="nabla_w-3-1-1"] input')).to_be_focused()
        # The instruments and the legend's ranges would give values away: hidden, and the page says so.
        expect(page.locator("#instruments-slot")).to_be_hidden()
        expect(page.locator("#concealed-note")).to_be_visible()
        for line in (line for line in LINES if line.step == step):
            work(page, line, checks)
        done = sum(1 for line in LINES if line.step == step)
        expect(page.locator("#practice-count")).to_have_text(f"{done} of {len(keys)} right on this step")
        if step == 4:
            page.screenshot(path=shot_path("practice-1024.png"))

    # Show gives a line its result without an answer; the count does not take it as right.
    go_to(page, 4)
    expect(page.locator('.practice-form[data-q="delta-2-1"]')).to_have_class(re.compile(r"\bright\b"))  # kept
    page.locator('.practice-form[data-q="delta-2-2"] .practice-show').click()
    expect(page.locator('#equation .eq-line[data-q="delta-2-2"] .eq-result')).to_be_visible()
    expect(page.locator("#practice-count")).to_have_text("1 of 2 right on this step")
    # A right line stays shown whatever is checked after it.
    field = page.locator('.practice-form[data-q="delta-2-1"] input')
    field.fill("abc")
    field.press("Enter")
    expect(page.locator('.practice-form[data-q="delta-2-1"] .practice-verdict')).to_contain_text("is not a number")
    expect(page.locator('#equation .eq-line[data-q="delta-2-1"] .eq-result')).to_be_visible()

    # A reload keeps practice on, and what was worked; turning it off gives every value back.
    page.reload()
    expect(page.locator("#btn-practice")).to_have_attribute("aria-pressed", "true")
    expect(page.locator('#equation .eq-line[data-q="delta-2-2"] .eq-result')).to_be_visible()  # shown before
    expect(page.locator("#practice-count")).to_have_text("1 of 2 right on this step")  # right once: it counts
    go_to(page, 3)
    still_hidden(page, "delta-3-2")
    page.click("#btn-practice")
    expect(page.locator(".practice-form")).to_have_count(0)
    expect(page.locator("[data-concealed]")).to_have_count(0)
    expect(page.locator('#equation .eq-line[data-q="delta-3-2"] .eq-result')).to_be_visible()
    expect(page.locator("#instruments-slot")).to_be_visible()
    expect(page.locator("#concealed-note")).to_be_hidden()


def test_a_phone_practises_without_scrolling_sideways(open_page: OpenPage) -> None:
    page = open_page(390, 844)
    page.goto("/?step=6")
    page.click("#btn-practice")
    bias = page.locator('.practice-form[data-q="nabla_b-2-1"]')
    bias.locator("input").fill(f"{D3[0]:.5g}")
    bias.locator("button[type=submit]").click()
    expect(bias.locator(".practice-verdict")).to_contain_text("not δ³₁")
    bias.locator("input").fill(f"{D2[0]:.5g}")
    bias.locator("button[type=submit]").click()
    expect(bias.locator(".practice-verdict")).to_have_text(f"Right: ∂C/∂b²₁ = {four(D2[0])}.")
    line = next(line for line in LINES if line.key == "nabla_w-2-1-2")
    form = page.locator(f'.practice-form[data-q="{line.key}"]')
    form.locator("input").fill(f"{line.value:.5g}")
    form.locator("button[type=submit]").click()
    expect(form.locator(".practice-verdict")).to_have_text(f"Right: {line.symbol} = {four(line.value)}.")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for el in page.locator(".practice-form:not([hidden]) :is(input, button:not([hidden]))").all():
        box = el.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["height"] >= 24
    bias.scroll_into_view_if_needed()
    page.screenshot(path=shot_path("practice-phone.png"))
    page.click("#config-panel summary")  # the configuration's buttons wrap too
    expect(page.locator("#btn-new-numbers")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_a_projector_sees_practice_nowhere_and_a_wide_screen_sees_it_beside_the_line(open_page: OpenPage) -> None:
    page = open_page(1400, 900)
    page.goto("/?step=4")
    page.click("#btn-practice")
    form = page.locator('.practice-form[data-q="delta-2-1"]')
    line = page.locator('#equation .eq-line[data-q="delta-2-1"]')
    form_box, line_box = form.bounding_box(), line.bounding_box()
    assert form_box and line_box and line_box["y"] <= form_box["y"] < line_box["y"] + line_box["height"]
    page.screenshot(path=shot_path("practice-1400.png"))
    page.click("#btn-present")
    expect(page.locator("#run.present")).to_be_visible()
    expect(page.locator("#btn-practice")).to_be_hidden()
    expect(page.locator(".practice-form")).to_have_count(0)
    expect(page.locator("[data-concealed]")).to_have_count(0)
    page.keyboard.press("Escape")
    expect(page.locator("#run.present")).to_have_count(0)
    expect(page.locator('.practice-form[data-q="delta-2-1"]')).to_have_count(1)  # back on the page, still on


def test_playing_with_practice_on_keeps_every_step_hidden(open_page: OpenPage) -> None:
    """Played, the steps after the first arrive as patches that rewrite elements in place (their text, class and
    read-out): each step's values are hidden again, with the new step's read-outs kept to put back after."""
    page = open_page(1024, 768)
    page.goto("/")
    page.click("#btn-practice")
    page.evaluate(
        """() => {
          window.leaks = [];
          window.seen = 0;
          const item = (key) => {
            const [, ...i] = key.split("-");
            return document.getElementById(`${i.length === 3 ? "e" : "n"}-${i.join("-")}`);
          };
          document.addEventListener("lens:step", (e) => {
            setTimeout(() => {  // after the observers that hide, before the next step
              window.seen += 1;
              for (const line of document.querySelectorAll("#equation .eq-line[data-q]")) {
                const key = line.dataset.q;
                for (const td of document.querySelectorAll(`td[data-q="${key}"]`))
                  if (td.textContent !== "?") window.leaks.push(`step ${e.detail.step}: ${key} cell ${td.textContent}`);
                const el = item(key);
                if (el && !(el.classList.contains("concealed") && el.dataset.info.includes("hidden")))
                  window.leaks.push(`${e.detail.step}: ${key} item ${el.getAttribute("class")} ${el.dataset.info}`);
              }
            }, 0);
          });
        }"""
    )
    set_speed(page, 100)
    page.click("#btn-play")
    page.wait_for_function("() => window.seen >= 7", timeout=60_000)
    expect(page.locator("#btn-play")).to_have_attribute("aria-pressed", "false")
    assert page.evaluate("window.leaks") == []
    page.click("#btn-practice")  # off: the last step's read-outs are its own, not an earlier step's
    info = page.get_attribute("#n-3-1", "data-info") or ""
    assert "hidden" not in info and "not yet computed" not in info, info
