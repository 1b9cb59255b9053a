"""The diagram in Chromium, as people see it: every layer coloured at its own step, pulses that carry the sign
and size of w·δ, numbers and labels that fit and never collide, read-outs with few digits, one notation.

Every expectation is computed here from the numbers themselves (``tests/networks.py``: δ from the scalar
autograd, w·δ multiplied in plain Python, WCAG contrast from the colours the browser computed), at
1024×768 and 1400×900 and on a phone (390×844). Screenshots go to artifacts/screenshots/diagram-*.png.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import OpenPage, shot_path
from tests.networks import (
    CASES,
    DEEP,
    MIN_CONTRAST,
    MINUS_ZERO,
    NUMBER,
    RELU,
    WIDE,
    WORKED,
    Case,
    as_number,
    contrast,
    rgb,
    seeded,
    sig_digits,
)

pytestmark = pytest.mark.browser

SCREENS = [(1024, 768), (1400, 900)]
TALL = seeded("3-20-16-2", [3, 20, 16, 2], "sigmoid", 5)  # wider than 16: drawn with its ends and a count

Box = list[float]  # x0, y0, x1, y1 in the SVG's units


def url(case: Case) -> str:
    return "/?" + urlencode(case.form())


def go(page: Page, k: int) -> None:
    page.wait_for_function("() => window.lens !== undefined")  # the page's script is in place: a click counts
    page.click(f"#mark-{k}")
    expect(page.locator("#run")).to_have_attribute("data-step", str(k))
    expect(page.locator("#step-meta")).to_have_attribute("data-step", str(k))


def still(open_page: OpenPage, width: int, height: int) -> Page:
    """A page without motion: fills take their final colour at once, and screenshots are stable."""
    page = open_page(width, height)
    page.emulate_media(reduced_motion="reduce")
    return page


# Fills ease into their colour (a transition that reduced motion turns off): wait for any still running.
COLOURS = """async (layer) => {
  await Promise.all(document.getAnimations().filter(a => a instanceof CSSTransition).map(a => a.finished));
  const wires = `#net .edge[id^="e-${layer}-"] .wire, #net .wire[id^="e-${layer}-"]`;
  return {
    background: getComputedStyle(document.getElementById('diagram')).backgroundColor,
    fills: [...document.querySelectorAll(`#net .neuron[id^="n-${layer}-"] circle`)].map(c => getComputedStyle(c).fill),
    strokes: [...document.querySelectorAll(wires)].map(l => getComputedStyle(l).stroke),
  };
}"""


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_backward_step_colours_its_own_layer_clearly(
    open_page: OpenPage, case: Case, screen: tuple[int, int]
) -> None:
    """At BP1, every BP2 and every BP3/BP4 the layer the step is about has a neuron (and at BP3/BP4 an edge)
    whose computed colour has at least 3:1 contrast with the panel behind it (WCAG 2.1, 1.4.11)."""
    page = still(open_page, *screen)
    page.goto(url(case))
    checked = []
    for k in range(case.steps()):
        kind, layer = case.step(k)
        if kind not in ("output_error", "backpropagate", "gradients"):
            continue
        go(page, k)
        seen: dict[str, Any] = page.evaluate(COLOURS, layer)
        best = max(contrast(f, seen["background"]) for f in seen["fills"])
        assert best >= MIN_CONTRAST, f"step {k + 1} ({kind}, layer {layer}): neurons reach {best:.2f}:1"
        if kind == "gradients":
            best = max(contrast(s, seen["background"]) for s in seen["strokes"])
            assert best >= MIN_CONTRAST, f"step {k + 1}: edges of layer {layer} reach {best:.2f}:1"
        if (kind, layer) in (("backpropagate", 2), ("gradients", 2)):
            page.locator("#diagram").screenshot(path=shot_path(f"diagram-{case.name.replace(' ', '')}-{kind}-2-"
                                                                 f"{screen[0]}.png"))  # fmt: skip
        checked.append(k)
    assert len(checked) == 2 * len(case.sizes) - 2


def test_the_legend_says_per_layer_and_gives_the_range_of_the_layer_in_focus(open_page: OpenPage) -> None:
    page = still(open_page, 1024, 768)
    page.goto("/")
    go(page, 4)  # BP2 of the worked example: δ²
    peak = max(abs(d) for d in WORKED.deltas()[2])
    entry = page.locator("#legend .scale-delta")
    text = entry.inner_text()
    assert "per layer" in text and "layer 2:" in text, text
    assert [as_number(n) for n in NUMBER.findall(text.split("layer 2:")[1])] == [
        pytest.approx(-peak, rel=5e-4), pytest.approx(peak, rel=5e-4)
    ]  # fmt: skip
    expect(entry).to_have_attribute("data-kind", "layer")
    expect(entry).to_have_attribute("data-layer", "2")
    assert float(entry.get_attribute("data-hi") or "nan") == pytest.approx(peak, rel=1e-12)
    pulse = page.locator("#legend .scale-pulse")
    expect(pulse).to_contain_text("orange +, blue −")
    widest = max(abs(c) for c in WORKED.carried(3).values())
    assert as_number(NUMBER.findall(pulse.inner_text().split("up to")[1])[0]) == pytest.approx(widest, rel=5e-4)
    expect(page.locator("#legend .scale-a")).to_contain_text("sigmoid 0 … 1 · one scale per activation")


# Each pulse runs back along its edge: it is matched to the edge whose wire has the same ends.
PULSES = """() => {
  const ends = (l) => ['x1', 'y1', 'x2', 'y2'].map(a => Math.round(+l.getAttribute(a)));
  const wires = [...document.querySelectorAll('#net .wire')].map(w => [w.closest('[id^="e-"]').id, ends(w).join()]);
  return [...document.querySelectorAll('#net .pulse-back')].map(p => {
    const [x1, y1, x2, y2] = ends(p);
    const edge = wires.find(([, e]) => e === [x2, y2, x1, y1].join());
    const style = getComputedStyle(p);
    return {
      id: edge ? edge[0].replace('e-', 'p-') : null, classes: [...p.classList], stroke: style.stroke,
      width: parseFloat(style.strokeWidth), display: style.display, moving: p.getAnimations().length > 0,
    };
  });
}"""


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_each_pulse_has_the_sign_and_relative_size_of_the_w_delta_it_carries(open_page: OpenPage, case: Case) -> None:
    page = open_page(1024, 768)
    page.goto(url(case))
    for k in range(case.steps()):
        kind, layer = case.step(k)
        if kind != "backpropagate" or layer is None:
            continue
        go(page, k)
        carried = {eid.replace("e-", "p-", 1): c for eid, c in case.carried(layer + 1).items()}
        pulses: list[dict[str, Any]] = page.evaluate(PULSES)
        assert {p["id"] for p in pulses} == set(carried), f"step {k + 1}: one pulse per edge into layer {layer + 1}"
        for p in pulses:  # orange (red over blue) for +, blue for −
            c = carried[p["id"]]
            r, _, b = rgb(p["stroke"])
            assert (r > b) == (c > 0) and (b > r) == (c < 0), f"{p['id']} carries {c:+.4g}, drawn {p['stroke']}"
        for p in pulses:
            assert f"pulse-{'pos' if carried[p['id']] > 0 else 'neg'}" in p["classes"], p
            assert p["display"] != "none" and p["moving"], p
        widths = [p["width"] for p in pulses]
        lo, hi = min(widths), max(widths)
        assert hi > lo, f"step {k + 1}: every pulse is {hi} wide, whatever it carries"
        smallest, largest = min(abs(c) for c in carried.values()), max(abs(c) for c in carried.values())
        for p in pulses:
            c = carried[p["id"]]
            # its width: the same affine map of |w·δ| for every pulse, widest for the largest
            assert (p["width"] - lo) / (hi - lo) == pytest.approx((abs(c) - smallest) / (largest - smallest), abs=0.02)


GEOMETRY = """() => {
  const box = (el) => { const b = el.getBBox(); return [b.x, b.y, b.x + b.width, b.y + b.height]; };
  const svg = document.getElementById('net');
  const vb = svg.viewBox.baseVal;
  return {
    view: [vb.x, vb.y, vb.x + vb.width, vb.y + vb.height],
    labels: [...svg.querySelectorAll('.layer-label, .layer-sub')].map(t => ({text: t.textContent, box: box(t)})),
    gaps: [...svg.querySelectorAll('.gap')].map(t => ({text: t.textContent, box: box(t)})),
    neurons: [...svg.querySelectorAll('.neuron')].map(g => {
      const c = g.querySelector('circle'), t = g.querySelector('text');
      return {id: g.id, pending: g.classList.contains('pending'),
              cx: +c.getAttribute('cx'), cy: +c.getAttribute('cy'), r: +c.getAttribute('r'),
              text: t && t.textContent, box: t && box(t)};
    }),
  };
}"""


def overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def meets_circle(box: Box, cx: float, cy: float, r: float) -> bool:
    nx, ny = min(max(cx, box[0]), box[2]), min(max(cy, box[1]), box[3])
    return (nx - cx) ** 2 + (ny - cy) ** 2 < r * r


def assert_fits(seen: dict[str, Any], where: str) -> None:
    """Labels never meet; a value inside its circle fits in it; a value beside its circle meets no circle
    and no other text; every computed value is shown."""
    labels: list[dict[str, Any]] = seen["labels"]
    for i, a in enumerate(labels):
        assert seen["view"][0] <= a["box"][0] and a["box"][2] <= seen["view"][2], f"{where}: {a} leaves the SVG"
        for b in labels[i + 1 :]:
            assert not overlap(a["box"], b["box"]), f"{where}: labels {a['text']!r} and {b['text']!r} overlap"
    texts = [(lb["text"], lb["box"]) for lb in labels] + [(g["text"], g["box"]) for g in seen["gaps"]]
    neurons: list[dict[str, Any]] = seen["neurons"]
    for n in neurons:
        if n["text"] is None:
            assert n["pending"], f"{where}: {n['id']} has a value but does not show it"
            continue
        x0, y0, x1, y1 = n["box"]
        # a text centred in its circle is inside it, any other is beside it
        if (n["cx"] - (x0 + x1) / 2) ** 2 + (n["cy"] - (y0 + y1) / 2) ** 2 < n["r"] ** 2:
            far = max((x - n["cx"]) ** 2 + (y - n["cy"]) ** 2 for x in (x0, x1) for y in (y0, y1))
            assert far <= (n["r"] + 0.5) ** 2, f"{where}: {n['text']!r} spills out of {n['id']} (r = {n['r']})"
        else:
            for o in neurons:
                on = meets_circle(n["box"], o["cx"], o["cy"], o["r"] - 0.5)
                assert not on, f"{where}: {n['text']!r} on {o['id']}"
            for text, box in texts:
                assert not overlap(n["box"], box), f"{where}: {n['text']!r} of {n['id']} over {text!r}"
            v = seen["view"]
            assert v[0] <= x0 and x1 <= v[2] and v[1] <= y0 and y1 <= v[3], f"{where}: {n['text']!r} leaves the SVG"
        texts.append((n["text"], n["box"]))
    for i, (a, box_a) in enumerate(texts):
        for b, box_b in texts[i + 1 :]:
            assert not overlap(box_a, box_b), f"{where}: {a!r} and {b!r} overlap"


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("case", [DEEP, TALL, WIDE, WORKED], ids=lambda c: c.name)
def test_numbers_and_labels_fit_and_never_collide(open_page: OpenPage, case: Case, screen: tuple[int, int]) -> None:
    page = still(open_page, *screen)
    page.goto(url(case))
    for k in range(case.steps()):
        if k:
            go(page, k)
        assert_fits(page.evaluate(GEOMETRY), f"{case.name}, step {k + 1}")
        if k == case.steps() - 1:  # the update: every layer shows its δ
            page.locator("#diagram").screenshot(path=shot_path(f"diagram-fit-{case.name.replace(' ', '')}-"
                                                                 f"{screen[0]}.png"))  # fmt: skip


def assert_read_out(page: Page, selector: str, name: str) -> None:
    """The inspector shows the item's read-out: few digits, and the number called ``name`` equals data-*."""
    text = page.locator("#inspect").inner_text()
    assert text == page.get_attribute(selector, "data-info")
    for number in NUMBER.findall(text.split(":", 1)[1]):
        assert sig_digits(number) <= 6, f"{number} in {text!r}"
    exact = float(page.get_attribute(selector, f"data-{name}") or "nan")
    symbol = {"delta": "δ", "w": "w", "nabla-w": "∂C/∂w = a_in δ_out"}[name]
    shown = text.split(f"{symbol} = ")[1].split(",")[0]
    assert as_number(shown) == pytest.approx(exact, rel=5e-6)


def test_hover_and_focus_read_outs_are_formatted_by_the_server(open_page: OpenPage) -> None:
    page = open_page(1024, 768)
    page.goto("/")
    go(page, 5)  # BP3/BP4 of layer 3: the edges into the output show ∂C/∂w
    page.focus("#n-2-1")
    expect(page.locator("#inspect")).to_contain_text("Neuron 1 of layer 2")
    assert_read_out(page, "#n-2-1", "delta")
    assert "0.39249999999999996" not in page.content().split('id="inspect"')[1].split("</p>")[0]
    box = page.locator("#e-3-1-2 .wire").bounding_box()
    assert box is not None
    page.hover("#e-3-1-2 .hit", position={"x": 0.2 * box["width"], "y": 0.8 * box["height"]}, force=True)
    expect(page.locator("#inspect")).to_contain_text("w³₁₂")
    assert_read_out(page, "#e-3-1-2", "nabla-w")


def test_a_phone_shows_the_deep_network_and_a_tap_reads_a_neuron(chromium: Browser, live_server: str) -> None:
    context = chromium.new_context(base_url=live_server, viewport={"width": 390, "height": 844}, device_scale_factor=1,
                                   is_mobile=True, has_touch=True, reduced_motion="reduce")  # fmt: skip
    try:
        page = context.new_page()
        for case, k in ((WORKED, 4), (DEEP, 9)):  # BP2 of layer 2, of layer 7
            kind, layer = case.step(k)
            assert kind == "backpropagate"
            page.goto(url(case))
            go(page, k)
            assert page.evaluate("document.documentElement.scrollWidth") <= 391, "no sideways scrolling"
            # the drawing keeps its own size (its numbers readable) and scrolls sideways inside its panel
            box = page.locator("#net-scroll").bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
            assert_fits(page.evaluate(GEOMETRY), f"phone, {case.name}")
            page.locator(f"#n-{layer}-1 circle").tap()
            expect(page.locator("#inspect")).to_contain_text(f"Neuron 1 of layer {layer}")
            assert_read_out(page, f"#n-{layer}-1", "delta")
            page.locator("#diagram").screenshot(path=shot_path(f"diagram-phone-{case.name.replace(' ', '')}.png"))
    finally:
        context.close()


VISIBLE = """() => [document.body.innerText,
  ...[...document.querySelectorAll('[title], [aria-label]')].flatMap(e => [e.getAttribute('title') || '',
                                                                        e.getAttribute('aria-label') || ''])]"""


def test_no_minus_zero_and_no_caret_notation_on_any_step(open_page: OpenPage) -> None:
    """A ReLU network has δ = −0.0 where a neuron is off: it reads 0. Titles read δ³ like a¹ everywhere."""
    page = open_page(1024, 768)
    page.goto(url(RELU))
    zeros = 0
    for k in range(RELU.steps()):
        if k:
            go(page, k)
        zeros += page.locator('#net .neuron[data-delta="-0.0"]').count()
        for text in page.evaluate(VISIBLE):
            assert not MINUS_ZERO.search(text), f"step {k + 1}: {MINUS_ZERO.search(text)} in {text[:200]!r}"
            assert "^" not in text, f"step {k + 1}: caret notation in {text[:200]!r}"
    assert zeros, "the network has no δ = −0.0 to show; pick another seed"


# --- colours that teach; keyboard, screen readers, phone ---------------------------------------------

NET_3442 = seeded("3-4-4-2", [3, 4, 4, 2], "sigmoid", 11)
NET_24442 = seeded("2-4-4-4-2", [2, 4, 4, 4, 2], "sigmoid", 4)
DIVERGING_STOPS = ("#2166ac", "#92c5de", "#f7f7f7", "#fdb863", "#b35806")  # the palette's, as documented
WEIGHTS = {"w+": "#2d6a4f", "w−": "#7b3294"}


def to(page: Page, k: int) -> None:
    """Step k through the player's API (lecture mode hides the scrubber)."""
    page.evaluate("k => window.lens.goto(k)", k)
    expect(page.locator("#step-meta")).to_have_attribute("data-step", str(k))


def on_ramp(stops: tuple[str, ...], t: float) -> tuple[float, float, float]:
    """The colour at t ∈ [0, 1] along evenly spaced stops, per channel, written here."""
    t = min(max(t, 0.0), 1.0)
    pos = t * (len(stops) - 1)
    i = min(int(pos), len(stops) - 2)
    a, b = rgb(stops[i]), rgb(stops[i + 1])
    return (a[0] + (b[0] - a[0]) * (pos - i), a[1] + (b[1] - a[1]) * (pos - i), a[2] + (b[2] - a[2]) * (pos - i))


def css_rgb(text: str) -> tuple[float, float, float]:
    parts = [float(p) for p in text[text.index("(") + 1 : text.index(")")].split(",")[:3]]
    return parts[0], parts[1], parts[2]


def bp2(case: Case) -> list[int]:
    return [k for k in range(case.steps()) if case.step(k)[0] == "backpropagate"]


@pytest.mark.parametrize("scale", ["layer", "network"])
def test_the_one_scale_switch_colours_delta_by_its_value(open_page: OpenPage, scale: str) -> None:
    """At the last BP2 every δ is known: each neuron's fill (as Chromium computed it) is δ's place on −M … M, M the
    network's largest |δ| (one scale) or the layer's (per layer); δ from the scalar autograd."""
    page = still(open_page, 1400, 900)
    page.goto("/?" + urlencode({**DEEP.form(), "scale": scale}))
    k = bp2(DEEP)[-1]
    go(page, k)
    deltas = DEEP.deltas()
    whole = max(abs(v) for d in deltas.values() for v in d)
    fills = page.evaluate("() => [...document.querySelectorAll('#net .neuron.shows-delta')].map(n => "
                          "[n.id, getComputedStyle(n.querySelector('circle')).fill])")  # fmt: skip
    assert len(fills) == sum(DEEP.sizes[1:])
    for nid, fill in fills:
        layer, j = map(int, nid[2:].split("-"))
        m = whole if scale == "network" else max(abs(v) for v in deltas[layer])
        want = on_ramp(DIVERGING_STOPS, 0.5 + 0.5 * deltas[layer][j - 1] / m)
        got = css_rgb(fill)
        assert all(abs(g - w) <= 0.51 for g, w in zip(got, want, strict=True)), (nid, fill, want)
    legend = page.locator("#legend .scale-delta .scale-text").inner_text()
    assert ("one scale for the whole network" if scale == "network" else "per layer") in legend
    page.locator("#diagram").screenshot(path=shot_path(f"diagram-scale-{scale}.png"))


def test_the_vanishing_gradients_example_opens_on_one_scale(open_page: OpenPage) -> None:
    page = still(open_page, 1024, 768)
    page.goto("/")
    page.click("#config-panel summary")
    page.click("#example-vanishing")
    expect(page.locator("#f-scale")).to_have_value("network")
    assert "scale=network" in (page.locator("#permalink").get_attribute("href") or "")
    go(page, 12)  # BP2 of layer 2 in 2-3-3-3-3-3-2
    expect(page.locator("#legend")).to_have_attribute("data-scale", "network")
    page.screenshot(path=shot_path("diagram-vanishing-1024.png"))


def test_reduced_motion_stands_each_pulse_still_as_an_arrow(chromium: Browser, live_server: str) -> None:
    """With reduced motion no dash moves: on every edge that carries w·δ at BP2 an arrowhead points back, as wide as
    the pulse (its width, sign and the arrow's direction checked against w·δ multiplied here), and the legend
    says so."""
    context = chromium.new_context(base_url=live_server, viewport={"width": 1024, "height": 768},
                                   reduced_motion="reduce")  # fmt: skip
    try:
        page = context.new_page()
        for case in (WORKED, NET_3442):
            page.goto(url(case))
            for k in bp2(case):
                go(page, k)
                layer = case.step(k)[1]
                assert layer is not None
                carried = case.carried(layer + 1)
                peak = max(abs(v) for v in carried.values())
                seen = page.evaluate("""() => [...document.querySelectorAll('#net .pulse.cue')].map(c => {
                  const s = getComputedStyle(c), p = document.getElementById(c.id.replace('pc-', 'p-'));
                  const b = c.getBoundingClientRect();
                  return [c.id, s.display, s.markerEnd, parseFloat(s.strokeWidth), getComputedStyle(p).display,
                          parseFloat(c.getAttribute('x2')) - parseFloat(c.getAttribute('x1')), b.width, b.height];
                })""")
                assert len(seen) == len(carried), (case.name, k)
                for cid, display, marker, width, pulse_display, dx, bw, bh in seen:
                    v = carried["e" + cid[2:]]
                    sign = "pos" if v > 0 else "neg" if v < 0 else "zero"
                    assert display != "none" and pulse_display == "none"
                    assert f"cue-head-{sign}" in marker
                    assert width == pytest.approx(1.5 + 5.5 * abs(v) / peak, abs=0.011)  # PULSE_WIDTH 1.5 … 7
                    assert dx < 0 and bw > 0 and bh >= 0  # from layer l+1 back towards layer l
                text = page.locator("#legend .scale-pulse").inner_text()
                assert "arrowheads" in text and "dash" not in text.replace("arrowheads", "")
                assert page.locator("#legend .scale-pulse").get_attribute("class") == "scale scale-pulse active"
            page.locator("#diagram").screenshot(path=shot_path(f"diagram-still-arrows-{case.name}.png"))
    finally:
        context.close()


def focused(page: Page) -> str:
    return str(page.evaluate("() => document.activeElement?.id ?? ''"))


def test_the_diagram_is_one_tab_stop_and_the_arrows_walk_it(open_page: OpenPage) -> None:
    page = still(open_page, 1024, 768)
    page.goto(url(NET_3442))
    go(page, 0)
    net = page.locator("#net")
    assert net.get_attribute("role") == "group" and net.get_attribute("aria-roledescription") == "network diagram"
    assert "arrow keys" in page.locator("#net-keys").inner_text()
    # one tab stop: from the skip link, Tab enters the diagram once and the next Tab leaves it
    page.focus(".skip-diagram")
    inside = []
    for _ in range(3):
        page.keyboard.press("Tab")
        inside.append(page.evaluate("() => !!document.activeElement.closest('#net')"))
    assert inside[0] and not inside[1] and not inside[2]
    # arrows: ↓ within a layer, → across (to the neuron at the same height), ↑; the player does not move
    page.focus("#n-1-1")
    # ← → go to the neighbouring layer's neuron nearest in height (the upper of two as near)
    moves = [("ArrowDown", "n-1-2"), ("ArrowRight", "n-2-2"), ("ArrowDown", "n-2-3"), ("ArrowRight", "n-3-3"),
             ("ArrowUp", "n-3-2"), ("End", "n-3-4"), ("ArrowRight", "n-4-2"), ("ArrowLeft", "n-3-3"),
             ("ArrowDown", "n-3-4")]  # fmt: skip
    for key, want in moves:
        page.keyboard.press(key)
        assert focused(page) == want, key
    assert page.locator("#run").get_attribute("data-step") == "0"
    assert page.evaluate("() => document.querySelectorAll('#net [tabindex=\"0\"]').length") == 1
    assert page.locator("#n-3-4").get_attribute("tabindex") == "0"
    expect(page.locator("#inspect")).to_contain_text("Neuron 4 of layer 3")
    # E goes through the neuron's edges, in (from layer 2) then out (to layer 4), and Esc returns
    edges = []
    for _ in range(4 + 2 + 1):
        page.keyboard.press("e")
        edges.append(focused(page))
    assert edges == ["e-3-4-1", "e-3-4-2", "e-3-4-3", "e-3-4-4", "e-4-1-4", "e-4-2-4", "e-3-4-1"]
    assert page.locator("#e-3-4-1").get_attribute("aria-label") == page.locator("#e-3-4-1").get_attribute("data-info")
    expect(page.locator("#inspect")).to_contain_text("w³₄₁")
    page.keyboard.press("Shift+E")
    assert focused(page) == "e-4-2-4"
    page.keyboard.press("Escape")
    assert focused(page) == "n-3-4"
    # the focus colour: neither weight colour
    ring = css_rgb(page.evaluate("() => getComputedStyle(document.querySelector('#n-3-4 circle')).stroke"))
    page.keyboard.press("e")
    wire = css_rgb(page.evaluate("() => getComputedStyle(document.querySelector('#e-3-4-1 .wire')).stroke"))
    for name, colour in WEIGHTS.items():
        for got in (ring, wire):
            assert sum((a - b) ** 2 for a, b in zip(got, rgb(colour), strict=True)) ** 0.5 > 100, name
    page.locator("#diagram").screenshot(path=shot_path("diagram-keyboard-focus.png"))
    # the skip link passes the drawing
    page.focus(".skip-diagram")
    page.keyboard.press("Enter")
    assert focused(page) == "inspect"


def test_the_speed_slider_announces_seconds_per_step(open_page: OpenPage) -> None:
    page = open_page(1024, 768)
    page.goto("/")
    expect(page.locator("#speed")).to_have_attribute("aria-valuetext", "0.7 s per step")
    page.locator("#speed").fill("1500")
    expect(page.locator("#speed")).to_have_attribute("aria-valuetext", "1.5 s per step")


@pytest.mark.parametrize("case", [WORKED, NET_24442, DEEP], ids=lambda c: c.name)
def test_a_phone_keeps_the_layers_a_step_reads_and_writes_in_view(
    chromium: Browser, live_server: str, case: Case
) -> None:
    """At 390×844, at every step but the update (every layer), the neurons of the layers the step reads from and
    writes to are inside the scrolled panel, and the equation starts within one screen of the diagram's end."""
    context = chromium.new_context(base_url=live_server, viewport={"width": 390, "height": 844}, is_mobile=True,
                                   has_touch=True, reduced_motion="reduce")  # fmt: skip
    try:
        page = context.new_page()
        page.goto(url(case))
        for k in range(case.steps()):
            go(page, k)
            kind, layer = case.step(k)
            want = {"feedforward": {layer, (layer or 0) - 1}, "backpropagate": {layer, (layer or 0) + 1},
                    "gradients": {layer, (layer or 0) - 1}}.get(kind, {layer})  # fmt: skip
            if kind == "update":
                want = {len(case.sizes)}
            geo = page.evaluate("""(layers) => {
              const box = document.getElementById('net-scroll').getBoundingClientRect();
              const parts = layers.flatMap(l => [...document.querySelectorAll(`#net-neurons [id^="n-${l}-"] circle`)]);
              return {box: [box.left, box.right], parts: parts.map(p => { const b = p.getBoundingClientRect();
                      return [b.left, b.right]; }), net: document.getElementById('net').getBoundingClientRect().bottom,
                      eq: document.getElementById('equation').getBoundingClientRect().top};
            }""", sorted(want))  # fmt: skip
            assert geo["parts"], (case.name, k)
            for left, right in geo["parts"]:
                assert geo["box"][0] - 0.5 <= left and right <= geo["box"][1] + 0.5, (case.name, k, kind, layer, geo)
            assert geo["eq"] - geo["net"] <= 844, (case.name, k)
            if kind == "backpropagate" and layer == 2:
                page.screenshot(path=shot_path(f"diagram-phone-bp2-{case.name.replace(' ', '')}.png"), full_page=False)
    finally:
        context.close()


@pytest.mark.parametrize("scale", ["layer", "network"])
def test_lecture_mode_has_a_compact_legend_naming_the_scale(open_page: OpenPage, scale: str) -> None:
    page = still(open_page, 1024, 768)
    page.goto("/?" + urlencode({**NET_3442.form(), "scale": scale, "present": "1"}))
    k = bp2(NET_3442)[0]
    to(page, k)
    legend = page.locator("#legend")
    expect(legend).to_be_visible()
    texts = "[...document.querySelectorAll('#legend .scale.active .scale-short')].filter(t => t.offsetParent)"
    sizes = page.evaluate(f"() => {texts}.map(t => parseFloat(getComputedStyle(t).fontSize))")
    assert sizes and min(sizes) >= 16
    text = legend.inner_text()
    assert ("one scale for the network: ±" if scale == "network" else "a scale per layer · layer 3: ±") in text
    box = legend.bounding_box()
    assert box is not None and box["height"] <= 2 * 16 * 1.6, box  # two lines at most
    page.screenshot(path=shot_path(f"lecture-legend-{scale}.png"))
