"""Lecture mode in Chromium at 1024×768: the sizes a projector needs, nothing clipped, the keyboard.

For the worked example, a deep network (8 layers) and a wide one (14 neurons in a layer), at the first
step, a backward step and the last step: every number on the diagram is at least 20 CSS px (its font
size from getComputedStyle times the SVG's scale, and the height of its box on screen), every label of
the diagram and every line of the equation lies inside the viewport and inside its box (scrollWidth ≤
clientWidth), the page needs no scrolling, and the configuration, the tables and the instruments are
hidden. The keys: P and the button switch lecture mode on and off, F asks for full screen, Esc leaves,
space plays, → ← Home End step; pointing at a line of the equation marks its neurons and edges.
Screenshots: artifacts/screenshots/present-*.png.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import OpenPage, shot_path
from tests.browser.test_step_page import at_step, freeze, set_speed

SETTLED = """() => {
  const eq = document.querySelector('#equation'), box = eq.getBoundingClientRect();
  const now = `${box.width}x${box.height}:${eq.querySelectorAll('.eq-line:not([hidden])').length}`;
  const same = window.presentLayout === now;
  window.presentLayout = now;
  return same;
}"""
"""True once the equation's size and its lines shown are the same on two frames in a row."""


def settled(page: Page) -> None:
    """Wait until the swap's layout has settled (MathML, then present.js fitting the equation's lines)."""
    page.evaluate("window.presentLayout = null")
    page.wait_for_function(SETTLED, polling="raf")


pytestmark = pytest.mark.browser

DEEP = {
    "sizes": "2, 4, 4, 4, 4, 4, 4, 2", "activation": "sigmoid", "cost": "quadratic", "init": "standard",
    "x": "0.5, −0.3", "y": "0.2, 0.8", "eta": "0.5", "seed": "4",
}  # fmt: skip
WIDE = {
    "sizes": "3, 14, 3", "activation": "tanh, sigmoid", "cost": "quadratic", "init": "standard",
    "x": "0.5, −0.3, 0.1", "y": "0.2, 0.8, 0.4", "eta": "0.5", "seed": "7",
}  # fmt: skip
NETWORKS = {"example": "", "deep": urlencode(DEEP), "wide": urlencode(WIDE)}

# Every text of the diagram and every line of the equation, measured where the browser drew them.
MEASURE = """
() => {
  const svg = document.getElementById('net');
  const box = svg.getBoundingClientRect();
  const scale = box.width / svg.viewBox.baseVal.width;
  const rect = (el) => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  return {
    scale,
    svg: rect(svg),
    values: Array.from(svg.querySelectorAll('text.value'), (t) => ({
      text: t.textContent, font: parseFloat(getComputedStyle(t).fontSize), height: t.getBoundingClientRect().height,
      box: rect(t),
    })),
    labels: Array.from(svg.querySelectorAll('text'), (t) => ({ text: t.textContent, box: rect(t) })),
    lines: Array.from(document.querySelectorAll('#equation .eq-line, #equation .symbolic, #equation .numeric,'
      + ' #equation .words, #status'), (el) => ({
      text: el.textContent.slice(0, 40), box: rect(el), scroll: el.scrollWidth, client: el.clientWidth,
    })),
    layerTexts: Array.from(svg.querySelectorAll('text.layer-label, text.layer-sub'), (t) => ({
      text: t.textContent, title: t.classList.contains('layer-label'), font: parseFloat(getComputedStyle(t).fontSize),
      box: rect(t),
    })),
    neurons: Array.from(svg.querySelectorAll('.neuron'), (g) => {
      const c = g.querySelector('circle').getBoundingClientRect();
      const pill = g.querySelector('text.value.beside') ? g.querySelector('rect.plate') : null;
      return { id: g.id, c: [(c.left + c.right) / 2, (c.top + c.bottom) / 2, c.width / 2], pill: pill && rect(pill) };
    }),
    middles: Array.from(svg.querySelectorAll('.wire'), (l) => {
      const r = l.getBoundingClientRect();
      return [(r.left + r.right) / 2, (r.top + r.bottom) / 2];
    }),
    page: [document.documentElement.scrollWidth, document.documentElement.scrollHeight],
    hidden: document.querySelectorAll('#equation .eq-line[hidden]').length,
    shownLines: document.querySelectorAll('#equation .eq-line:not([hidden])').length,
    more: document.querySelector('#equation .numeric')?.dataset.more ?? '',
  };
}
"""


def overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def to_box(box: list[float], x: float, y: float) -> float:
    """From (x, y) to the nearest point of the box [left, top, right, bottom]."""
    dx = max(box[0] - x, 0.0, x - box[2])
    dy = max(box[1] - y, 0.0, y - box[3])
    return float((dx * dx + dy * dy) ** 0.5)


def check_screen(page: Page, width: int, height: int) -> int:
    """The lecture-mode sizes and clipping at the step shown; the number of values on the diagram."""
    m: dict[str, Any] = page.evaluate(MEASURE)
    assert m["values"], "the diagram shows no number"
    for v in m["values"]:
        assert v["font"] * m["scale"] >= 20, v  # the font size, scaled as the SVG is drawn
        assert v["height"] >= 20, v  # and the box the browser drew
    for item in m["labels"]:
        x0, y0, x1, y1 = item["box"]
        assert x0 >= 0 and x1 <= width and y0 >= 0 and y1 <= height, item  # on screen
        sx0, sy0, sx1, sy1 = m["svg"]
        assert sx0 - 0.5 <= x0 and x1 <= sx1 + 0.5 and sy0 - 0.5 <= y0 and y1 <= sy1 + 0.5, item  # in the drawing
    for line in m["lines"]:
        x0, y0, x1, y1 = line["box"]
        assert x0 >= 0 and x1 <= width and y0 >= 0 and y1 <= height, line
        assert line["scroll"] <= line["client"], line  # nothing overflows its box
    # The layers' names read from the back too: "layer l" at 20 px or more, its role and width at 16 or more,
    # and no two of them meet.
    for t in m["layerTexts"]:
        assert t["font"] * m["scale"] >= (20 if t["title"] else 16), t
    texts = m["layerTexts"]
    for i, a in enumerate(texts):
        for b in texts[i + 1 :]:
            assert not overlap(a["box"], b["box"]), (a, b)
    # A value outside its circle is on a pill that touches it, nearer its own neuron than any other, and
    # over no edge's middle (where it would read as the edge's number).
    for n in m["neurons"]:
        if n["pill"] is None:
            continue
        x, y, r = n["c"]
        own = to_box(n["pill"], x, y) - r
        assert own <= 3.0 * max(1.0, m["scale"]), n  # 3 units of the drawing
        for o in m["neurons"]:
            if o is not n:
                assert to_box(n["pill"], o["c"][0], o["c"][1]) - o["c"][2] > own + 2.0, (n, o)
        for mx, my in m["middles"]:
            assert to_box(n["pill"], mx, my) >= 4.0, (n, mx, my)
    assert m["page"][0] <= width and m["page"][1] <= height, m["page"]  # the page needs no scrolling
    assert m["shownLines"] >= 1  # at least one line with the numbers
    if m["hidden"]:  # the lines that did not fit are counted where they would be (with those the panel left out)
        assert int(m["more"].split(" ")[0]) >= m["hidden"], m["more"]
    return len(m["values"])


@pytest.mark.parametrize("name", list(NETWORKS))
def test_lecture_mode_at_1024x768_reads_from_the_back_and_clips_nothing(open_page: OpenPage, name: str) -> None:
    page = open_page(1024, 768)
    query = NETWORKS[name]
    page.goto(f"/?{query}&present=1" if query else "/?present=1")
    expect(page.locator("#run")).to_have_class("run present")
    for hidden in ("#config-panel", "#numbers", "#instruments-slot", "header.top"):
        expect(page.locator(hidden)).to_be_hidden()
    expect(page.locator("#legend")).to_be_visible()  # compact: the scales in use (tests/browser/test_diagram.py)
    steps = int(page.get_attribute("#run", "data-steps") or 0)
    backward = steps - 4  # BP2 of the first hidden layer: the last backward step before the gradients
    shown = []
    for k in (0, backward, steps - 1):
        # straight to step k: → walks a long equation line by line once present.js has laid the step out, so
        # how many presses reach step k depends on how soon each step was laid out (the keys have their own test)
        page.evaluate("k => window.lens.goto(k)", k)
        at_step(page, k)
        settled(page)  # MathML's layout settles after the swap
        shown.append(check_screen(page, 1024, 768))
        if k == backward:
            freeze(page)
            page.screenshot(path=shot_path(f"present-{name}-backward.png"))
    freeze(page)
    page.screenshot(path=shot_path(f"present-{name}-update.png"))
    assert shown[-1] >= 2


def test_keys_and_button_switch_lecture_mode_and_keep_the_step(open_page: OpenPage) -> None:
    page = open_page(1024, 768)
    page.goto("/")
    expect(page.locator("#run")).to_have_attribute("data-present", "0")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    at_step(page, 2)
    page.keyboard.press("p")
    expect(page.locator("#run")).to_have_attribute("data-present", "1")
    at_step(page, 2)  # the same step, now for the projector
    expect(page.locator("#config-panel")).to_be_hidden()
    expect(page.locator("#present-keys")).to_be_visible()  # the keys, P among them, on the screen
    hint = page.inner_text("#present-keys")
    assert all(k in hint for k in ("space play", "F full screen", "P or Esc leave", "a line at a time")), hint
    assert page.evaluate("location.search").endswith("&present=1")  # the URL bar holds the bookmark
    page.keyboard.press("ArrowRight")
    at_step(page, 3)
    page.keyboard.press("End")
    at_step(page, int(page.get_attribute("#run", "data-steps") or 0) - 1)
    page.keyboard.press("Home")
    at_step(page, 0)
    page.keyboard.press(" ")  # play
    expect(page.locator("#btn-play")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press(" ")
    expect(page.locator("#btn-play")).to_have_attribute("aria-pressed", "false")
    step = int(page.get_attribute("#run", "data-step") or 0)

    page.keyboard.press("f")
    page.wait_for_function("document.fullscreenElement !== null")
    page.keyboard.press("f")
    page.wait_for_function("document.fullscreenElement === null")
    page.keyboard.press("Escape")
    expect(page.locator("#run")).to_have_attribute("data-present", "0")
    at_step(page, step)
    expect(page.locator("#config-panel")).to_be_visible()
    assert "present" not in page.evaluate("location.search")

    page.click("#btn-present")
    expect(page.locator("#run")).to_have_attribute("data-present", "1")
    page.click("#btn-present")
    expect(page.locator("#run")).to_have_attribute("data-present", "0")
    page.keyboard.press("f")  # from the page: lecture mode and full screen at once
    expect(page.locator("#run")).to_have_attribute("data-present", "1")
    page.wait_for_function("document.fullscreenElement !== null")


def test_space_plays_after_the_button_switched_lecture_mode(open_page: OpenPage) -> None:
    """Clicked, the button would keep the focus and space would press it: the switch hands the focus on."""
    page = open_page(1024, 768)
    page.goto("/")
    play = page.locator("#btn-play")
    for on in ("1", "0"):
        page.click("#btn-present")
        expect(page.locator("#run")).to_have_attribute("data-present", on)
        expect(page.locator("#btn-present")).not_to_be_focused()
        page.keyboard.press(" ")
        expect(play).to_have_attribute("aria-pressed", "true")
        page.keyboard.press(" ")
        expect(play).to_have_attribute("aria-pressed", "false")
        expect(page.locator("#run")).to_have_attribute("data-present", on)  # space switched nothing
        page.keyboard.press("ArrowRight")  # and the other keys still step
        page.keyboard.press("Home")
        at_step(page, 0)


def test_playing_in_lecture_mode_streams_the_projectors_diagram(open_page: OpenPage) -> None:
    page = open_page(1024, 768)
    page.goto(f"/?{NETWORKS['deep']}&present=1")
    steps = int(page.get_attribute("#run", "data-steps") or 0)
    set_speed(page, 100)
    page.keyboard.press(" ")
    # every step arrives by the stream (patches of the lecture run's own renders), however busy the machine
    expect(page.locator("#run")).to_have_attribute("data-step", str(steps - 1), timeout=60_000)
    at_step(page, steps - 1)
    expect(page.locator("#btn-play")).to_have_attribute("aria-pressed", "false")
    assert (page.get_attribute("#net", "viewBox") or "").startswith("0 0 1000 ")
    settled(page)
    check_screen(page, 1024, 768)


def test_pointing_at_an_equation_line_marks_its_neurons_and_edges(open_page: OpenPage) -> None:
    page = open_page(1024, 768)
    page.goto("/?present=1")
    for _ in range(2):
        page.keyboard.press("ArrowRight")
    at_step(page, 2)  # eq. 25 for the output layer: each line names its neuron and the edges into it
    line = page.locator("#equation .eq-line[data-highlight]").first
    ids = (line.get_attribute("data-highlight") or "").split()
    assert any(i.startswith("n-") for i in ids) and any(i.startswith("e-") for i in ids)
    line.hover()
    for i in ids:
        expect(page.locator(f"[id='{i}']")).to_have_class(re.compile(r"\bhighlight\b"))
    marked = page.eval_on_selector_all("#net .highlight", "els => els.map(e => e.id).sort()")
    assert marked == sorted(ids)


def test_a_run_link_with_present_opens_lecture_mode(open_page: OpenPage) -> None:
    page = open_page(1024, 768)
    page.goto(f"/?{urlencode(WIDE)}")
    run_id = page.get_attribute("#run", "data-run-id")
    page.goto(f"/runs/{run_id}?present=1")
    expect(page.locator("#run")).to_have_attribute("data-present", "1")
    expect(page.locator("#permalink")).to_have_attribute("href", re.compile(r"present=1"))


@pytest.mark.parametrize(
    ("sizes", "k", "total"),
    [
        ("3, 14, 2", 1, 14 * 2),  # eq. 25 at the 14 neurons of layer 2: z and a for each, the panel shows 4 neurons
        ("2, 4, 4, 4, 4, 4, 4, 2", 19, 4 * (1 + 4)),  # BP3/4 at layer 4: a bias and 4 weights for each of 4 neurons
    ],
)
def test_no_line_of_a_long_step_is_left_to_the_tables(open_page: OpenPage, sizes: str, k: int, total: int) -> None:
    """A step with more lines than the screen holds is walked line by line: the toolbar counts every line of the
    step, one for each drawn neuron (and, at BP3/BP4, each input), and no note sends the lecturer to the tables."""
    page = open_page(1024, 768)
    form = {"sizes": sizes, "activation": "sigmoid", "cost": "quadratic", "init": "standard", "eta": "0.5",
            "x": ", ".join(["0.05", "0.1", "0.2"][: int(sizes.split(",")[0])]),
            "y": ", ".join(["0.01", "0.99"]), "seed": "0"}  # fmt: skip
    page.goto(f"/?{urlencode(form)}&present=1&step={k}")
    at_step(page, k)
    settled(page)
    expect(page.locator("#run")).to_have_attribute("data-walk", "1")
    lines = page.locator("#equation .eq-line").count()
    assert lines >= total // 2  # every drawn neuron's line is there (eq. 25: one line each for 14 neurons)
    expect(page.locator("#line-of")).to_have_text(f"line 1 of {lines}")
    assert "more lines in the tables" not in page.inner_text("#equation")
    check_screen(page, 1024, 768)
    freeze(page)
    page.screenshot(path=shot_path(f"present-more-{sizes.split(',')[0]}-{k}.png"))


REVIEW_DEEP = {
    "sizes": "2, 4, 4, 4, 4, 4, 4, 2", "activation": "sigmoid", "cost": "quadratic", "init": "standard",
    "x": "0.05, 0.1", "y": "0.01, 0.99", "eta": "0.5", "seed": "0",
}  # fmt: skip


@pytest.mark.parametrize(("width", "height"), [(1024, 768), (1400, 900)])
def test_every_value_of_the_steps_own_layer_is_drawn(open_page: OpenPage, width: int, height: int) -> None:
    """Eight columns leave 120 units between them, and this network's δ² of 1.586×10⁻⁵ is wider: the step's own
    layer gets every one of its values anyway, at every step (other layers' are left to the read-out first)."""
    page = open_page(width, height)
    page.goto(f"/?{urlencode(REVIEW_DEEP)}&present=1")
    steps = int(page.get_attribute("#run", "data-steps") or 0)
    assert steps == 23
    for k in range(steps):
        if k:
            page.evaluate("k => window.lens.goto(k)", k)  # → walks a long step's lines first: go by step
        at_step(page, k)
        own = page.locator("#net .neuron.current")
        drawn = page.locator("#net .neuron.current text.value")
        assert drawn.count() == own.count(), (k, drawn.all_inner_texts())
        if k == 14:  # BP2 at layer 2: δ²₁ to δ²₄, as the tables have them
            assert own.count() == 4
            settled(page)
            check_screen(page, width, height)
            freeze(page)
            page.screenshot(path=shot_path(f"present-deep-own-{width}-s{k + 1}.png"))


def test_a_phone_in_lecture_mode_never_scrolls_sideways(open_page: OpenPage) -> None:
    """Lecture mode is for a projector, but a student's phone may open a lecture link: at every step the page
    stays 390 px wide (the legend's scales wrap; the diagram scrolls inside its own box)."""
    page = open_page(390, 844)
    page.goto("/?present=1")
    steps = int(page.get_attribute("#run", "data-steps") or 0)
    for k in range(steps):
        page.goto(f"/?present=1&step={k}")
        expect(page.locator("#run")).to_have_attribute("data-step", str(k))
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, f"step {k + 1}"
