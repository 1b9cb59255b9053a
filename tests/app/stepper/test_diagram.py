"""The diagram's view model and the page's text, without a browser: colours, pulses, numbers, notation.

References are independent of ``app.stepper.view``: δ^l of one example is the scalar autograd's ∂C/∂b^l
(``tests/autograd.py``, which knows nothing of δ or BP2), the products w·δ a pulse carries are
multiplied here in plain Python, and contrast is the WCAG formula applied to the rendered colours.
"""

from __future__ import annotations

import dataclasses
import html as htmlmod
import math
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.core.format import fmt, tex
from backprop_lens.app.stepper.form import FormError, parse_form
from backprop_lens.app.stepper.view import step_view
from backprop_lens.app.stepper.view.model import EdgeView, NeuronView, StepView
from backprop_lens.engine import Network, trace
from tests.autograd import reference_gradients
from tests.networks import (
    CASES,
    DEEP,
    MIN_CONTRAST,
    MINUS_ZERO,
    NUMBER,
    RELU,
    WORKED,
    Case,
    as_number,
    contrast,
    rgb,
    seeded,
    sig_digits,
)

HX = {"HX-Request": "true"}
WHITE = "#ffffff"  # the diagram's panel (--panel in lens.css)


def view_of(case: Case, k: int) -> StepView:
    net = Network(case.sizes, weights=case.weights, biases=case.biases, activation=case.activation)
    return step_view("test", trace(net, [case.x], [case.y], "quadratic", 0.5), k)


# --- one number format ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("v", "sig", "text"),
    [
        (-0.0, 4, "0"),
        (0.0, 4, "0"),
        (-0.0381, 4, "−0.0381"),
        (2.31e-9, 4, "2.31×10⁻⁹"),
        (-2.3126e-9, 4, "−2.313×10⁻⁹"),
        (0.39249999999999996, 4, "0.3925"),
        (0.39249999999999996, 6, "0.3925"),
        (0.298371108760, 6, "0.298371"),
        (123456.0, 4, "1.235×10⁵"),
        (float("inf"), 4, "∞"),
        (float("-inf"), 4, "−∞"),
    ],
)
def test_fmt_rounds_to_significant_digits_and_never_prints_minus_zero(v: float, sig: int, text: str) -> None:
    assert fmt(v, sig) == text


@pytest.mark.parametrize(
    ("v", "text"),
    [(-0.0, "0"), (0.0821670406, "0.08217"), (-0.0381, "(-0.0381)"), (-2.5e-7, "(-2.5 \\times 10^{-7})")],
)
def test_tex_follows_the_same_rules(v: float, text: str) -> None:
    assert tex(v) == text


# --- each layer readable at its own step (per-layer scales) --------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_layer_of_every_backward_step_is_clearly_coloured(case: Case) -> None:
    """At BP1, BP2 and BP3/BP4 the layer the step is about has a neuron (and at BP3/BP4 an edge) whose colour
    stands out from the white panel by at least WCAG's 3:1. One scale for the whole network drew a hidden
    layer's δ of 0.009 on the output's 0.14 almost white (contrast 1.1)."""
    checked = 0
    for k in range(case.steps()):
        view = view_of(case, k)
        layer = view.step.layer
        if view.step.kind not in ("output_error", "backpropagate", "gradients") or layer is None:
            continue
        fills = [n.fill for n in view.diagram.neurons if n.layer == layer]
        best = max(contrast(f, WHITE) for f in fills)
        assert best >= MIN_CONTRAST, f"{case.name}, step {k + 1} ({view.title}): best neuron contrast {best:.2f}"
        if view.step.kind == "gradients":
            strokes = [e.colour for e in view.diagram.edges if e.id.startswith(f"e-{layer}-")]
            best = max(contrast(c, WHITE) for c in strokes)
            assert best >= MIN_CONTRAST, f"{case.name}, step {k + 1}: best edge contrast {best:.2f}"
        checked += 1
    assert checked == 1 + (len(case.sizes) - 2) + (len(case.sizes) - 1)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_legend_names_the_per_layer_scale_and_the_range_of_the_layer_in_focus(case: Case) -> None:
    deltas = case.deltas()
    for k in range(case.steps()):
        view = view_of(case, k)
        entries = {e.scale.name: e for e in view.scales}
        assert entries["a"].kind == "network" and "one scale per activation" in entries["a"].text
        d = entries["delta"]
        assert d.kind == "layer" and "per layer" in d.text
        if view.phase == "forward":
            assert "not yet computed" in d.text and d.layer is None
            continue
        if view.step.kind == "update":
            continue
        layer = view.step.layer
        assert layer is not None and d.layer == layer
        peak = max(abs(v) for v in deltas[layer])
        assert d.scale.lo == pytest.approx(-peak, rel=1e-9) and d.scale.hi == pytest.approx(peak, rel=1e-9)
        shown = [as_number(t) for t in NUMBER.findall(d.text.split(f"layer {layer}:")[1])]
        assert shown == [pytest.approx(-peak, rel=5e-4), pytest.approx(peak, rel=5e-4)], d.text


# --- pulses that say what they carry -----------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_each_bp2_pulse_has_the_sign_and_relative_size_of_the_w_delta_it_carries(case: Case) -> None:
    seen = 0
    for k in range(case.steps()):
        view = view_of(case, k)
        if view.step.kind != "backpropagate" or view.step.layer is None:
            continue
        carried = case.carried(view.step.layer + 1)  # w·δ multiplied in plain Python
        peak = max(abs(c) for c in carried.values())
        pulses = {e.id: e.pulse for e in view.diagram.edges if e.pulse is not None}
        assert set(pulses) == set(carried), "one pulse on every edge from layer l+1 back to layer l"
        widths = [p.width for p in pulses.values()]
        lo, hi = min(widths), max(widths)
        assert hi > lo
        smallest = min(abs(c) for c in carried.values())
        for eid, pulse in pulses.items():
            c = carried[eid]
            assert pulse.direction == "back"
            assert pulse.sign == ("pos" if c > 0 else "neg" if c < 0 else "zero"), eid
            assert pulse.colour == {"pos": "#b35806", "neg": "#2166ac"}[pulse.sign]
            # the width grows in proportion to |w·δ|: an affine map from [smallest, largest] to [lo, hi]
            expected = (abs(c) - smallest) / (peak - smallest)
            assert (pulse.width - lo) / (hi - lo) == pytest.approx(expected, abs=0.01), eid
        seen += 1
    assert seen == len(case.sizes) - 2


def test_a_negative_contribution_is_blue_in_the_worked_example() -> None:
    """BP2 of the worked example: δ³₂ < 0, so the two edges out of output neuron 2 carry w·δ < 0."""
    view = view_of(WORKED, 4)
    pulses = {e.id: e.pulse for e in view.diagram.edges if e.pulse}
    assert {eid for eid, p in pulses.items() if p.sign == "neg"} == {"e-3-2-1", "e-3-2-2"}
    assert all(p.colour == "#2166ac" for eid, p in pulses.items() if eid.startswith("e-3-2-"))


# --- numbers that fit, read-outs that read ------------------------------------------------


@pytest.mark.parametrize("case", [*CASES, RELU], ids=lambda c: c.name)
def test_read_outs_print_few_digits_and_agree_with_the_full_values(case: Case) -> None:
    """Hover, focus and tap print data-info: at most 6 significant digits, never a float's 17, never −0;
    the exact values stay in data-* attributes for machines."""
    for k in range(case.steps()):
        view = view_of(case, k)
        items: list[NeuronView | EdgeView] = [*view.diagram.neurons, *view.diagram.edges]
        for item in items:
            if not item.info:
                continue
            data = dict(item.data)
            for number in NUMBER.findall(item.info.split(":", 1)[1]):
                assert sig_digits(number) <= 6, f"{number} in {item.info}"
                assert not re.fullmatch(r"[−-]0(\.0*)?", number), item.info
            if "delta" in data:
                text = re.search(r"δ = (\S+?)(?:,|$)", item.info)
                assert text, item.info
                assert as_number(text.group(1)) == pytest.approx(float(data["delta"]), rel=5e-6, abs=1e-300)
            assert not re.search(r"\de[-+]?\d", item.info), item.info


def test_relu_zeros_print_as_zero_everywhere() -> None:
    """A ReLU's δ is −0.0 where its input is negative and wᵀδ is negative: on the page it reads 0."""
    views = [view_of(RELU, k) for k in range(RELU.steps())]
    negative_zero = [n for v in views for n in v.diagram.neurons if dict(n.data).get("delta") == "-0.0"]
    assert negative_zero, "the case has no −0.0 to print; pick another seed"
    for v in views:
        texts = [n.value.text for n in v.diagram.neurons if n.value]
        texts += [n.info for n in v.diagram.neurons] + [e.text for e in v.scales]
        for text in texts:
            assert not MINUS_ZERO.search(text), text


def test_a_value_too_wide_for_its_circle_goes_beside_it() -> None:
    """BP2 of the worked example: δ²₁ = 0.008771 does not fit a circle of radius 29 at a readable size."""
    view = view_of(WORKED, 4)
    n = next(n for n in view.diagram.neurons if n.id == "n-2-1")
    assert n.value is not None and n.value.text == "0.008771"
    # beside it, but not on its right where its outgoing edge would put a stub of green before it, read as "−"
    assert not n.value.inside and n.value.y > n.y + n.r and n.value.anchor == "middle"
    out = next(n for n in view.diagram.neurons if n.id == "n-3-1")
    assert out.value is not None and out.value.inside and out.value.text == "0.1385"


# --- one notation -----------------------------------------------------------------------------


def test_no_caret_notation_reaches_people(client: TestClient) -> None:
    """Titles read δ³ like a¹: on every step's page, in scrubber titles and aria labels, and in the trace
    download. (MathML is left out: LaTeX source never reaches the page as text.)"""
    for case in (WORKED, DEEP):
        r = client.post("/runs", data=case.form(), headers=HX)
        assert r.status_code == 200, r.text[:300]
        rid = re.search(r'data-run-id="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]
        for k in range(case.steps()):
            page = client.get(f"/runs/{rid}/steps/{k}", headers=HX).text
            outside_math = re.sub(r"<math\b.*?</math>", "", page, flags=re.S)
            assert "^" not in htmlmod.unescape(outside_math), f"step {k + 1}"
        body: dict[str, Any] = client.get(f"/runs/{rid}/trace.json").json()
        titles = [s["title"] for s in body["steps"]]
        assert not [t for t in titles if "^" in t]
        assert "Backpropagate the error: δ²" in titles and f"Output error: δ{'⁸' if case is DEEP else '³'}" in titles


@pytest.mark.parametrize("case", [*CASES, RELU], ids=lambda c: c.name)
def test_the_cases_know_each_steps_kind_and_layer(case: Case) -> None:
    """The browser tests find a step by Case.step; it must agree with the trace the page shows."""
    for k in range(case.steps()):
        step = view_of(case, k).step
        assert case.step(k) == (step.kind, step.layer), k


# --- colours that teach: one scale or per layer, activations about 0 ---------------------------------
# The expected fill is computed here: the ramps' stops as the palette's documentation gives them, and a
# linear interpolation per channel in plain Python (the app's ramp is not called).

DIVERGING_STOPS = ("#2166ac", "#92c5de", "#f7f7f7", "#fdb863", "#b35806")
EDGE_STOPS = ("#2166ac", "#6baed6", "#a8a8a8", "#fd8d3c", "#b35806")
GREENS = ("#f7fcf5", "#c7e9c0", "#74c476", "#238b45", "#00441b")
PURPLE_GREEN = ("#762a83", "#c2a5cf", "#f7f7f7", "#7fbf7b", "#0d5927")
VANISHING = Case(
    "vanishing", [2, 3, 3, 3, 3, 3, 2], "sigmoid", [], [], [0.05, 0.1], [0.01, 0.99]
)  # weights from seed 0: the config form's "vanishing gradients" example


def expected_fill(stops: tuple[str, ...], v: float, lo: float, hi: float) -> tuple[float, float, float]:
    t = min(max((v - lo) / (hi - lo), 0.0), 1.0) if hi > lo else 0.5
    pos = t * (len(stops) - 1)
    i = min(int(pos), len(stops) - 2)
    a, b = rgb(stops[i]), rgb(stops[i + 1])
    return tuple(a[c] + (b[c] - a[c]) * (pos - i) for c in range(3))  # type: ignore[return-value]


def assert_colour(actual: str, expected: tuple[float, float, float], what: str) -> None:
    got = rgb(actual)
    assert all(abs(g - e) <= 0.51 for g, e in zip(got, expected, strict=True)), f"{what}: {actual} vs {expected}"


def traced(case: Case, scale: str, k: int) -> StepView:
    if case.weights:
        net = Network(case.sizes, weights=case.weights, biases=case.biases, activation=case.activation)
    else:
        net = Network(case.sizes, seed=0, activation=case.activation)
    return step_view("test", trace(net, [case.x], [case.y], "quadratic", 0.5), k, scale=scale)


def forward(case: Case, weights: list[list[list[float]]], biases: list[list[float]]) -> dict[int, list[float]]:
    """a^l by layer, by hand: a = act(w a + b)."""

    def sigmoid(z: float) -> float:
        return 1 / (1 + math.exp(-z))

    def relu(z: float) -> float:
        return max(z, 0.0)

    def linear(z: float) -> float:
        return z

    act: dict[str, Callable[[float], float]] = {"sigmoid": sigmoid, "tanh": math.tanh, "relu": relu, "linear": linear}
    a = {1: list(case.x)}
    for layer, (w, b) in enumerate(zip(weights, biases, strict=True), start=2):
        a[layer] = [act[case.activation](sum(wi * ai for wi, ai in zip(row, a[layer - 1], strict=True)) + bj)
                    for row, bj in zip(w, b, strict=True)]  # fmt: skip
    return a


@pytest.mark.parametrize("scale", ["layer", "network"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_delta_and_gradient_colours_follow_the_values_on_the_chosen_scale(case: Case, scale: str) -> None:
    """δ (from the scalar autograd) on −M … M, M the layer's largest |δ| or the network's; ∂C/∂w likewise."""
    deltas = case.deltas()
    acts = [case.activation] * (len(case.sizes) - 1)
    _, nabla_w, _ = reference_gradients(case.weights, case.biases, acts, "quadratic", [case.x], [case.y])
    grads = {i + 2: g for i, g in enumerate(nabla_w)}
    whole_d = max(abs(v) for d in deltas.values() for v in d)
    whole_g = max(abs(v) for g in grads.values() for row in g for v in row)
    checked = 0
    for k in range(case.steps()):
        view = traced(case, scale, k)
        if view.phase == "forward":
            continue
        for n in view.diagram.neurons:
            if "shows-delta" not in n.classes:
                continue
            d = deltas[n.layer][n.j - 1]
            m = whole_d if scale == "network" else max(abs(v) for v in deltas[n.layer])
            assert_colour(n.fill, expected_fill(DIVERGING_STOPS, d, -m, m), f"{case.name} step {k + 1} {n.id}")
            checked += 1
        for e in view.diagram.edges:
            if "shows-grad" not in e.classes:
                continue
            layer, j, i = map(int, e.id[2:].split("-"))
            g = grads[layer][j - 1][i - 1]
            m = whole_g if scale == "network" else max(abs(v) for row in grads[layer] for v in row)
            assert_colour(e.colour, expected_fill(EDGE_STOPS, g, -m, m), f"{case.name} step {k + 1} {e.id}")
        legend = {e.scale.name: e for e in view.scales}
        assert legend["delta"].kind == scale
        assert ("one scale for the whole network" if scale == "network" else "per layer") in legend["delta"].text
    assert checked > 0


def test_one_scale_shows_delta_fading_layer_by_layer() -> None:
    """The vanishing-gradients example: on one scale each layer's strongest δ stands out less from white than the
    next layer's; per layer, every layer has a neuron at the ramp's end (as strong as the output's)."""
    last = 2 * len(VANISHING.sizes) - 2  # BP2 of layer 2: every δ known
    assert traced(VANISHING, "network", last).step.kind == "backpropagate"
    for scale in ("network", "layer"):
        view = traced(VANISHING, scale, last)
        best = {
            layer: max(contrast(n.fill, WHITE) for n in view.diagram.neurons if n.layer == layer)
            for layer in range(2, len(VANISHING.sizes) + 1)
        }
        if scale == "network":
            # fading towards the input; layers 2 and 3 (|δ| below 3×10⁻⁴ of a 0.14 scale) both all but white
            assert all(best[q] <= best[q + 1] for q in range(2, len(VANISHING.sizes))), best
            assert all(best[q] < best[q + 1] for q in range(3, len(VANISHING.sizes))), best
            assert best[2] < 1.1 < MIN_CONTRAST <= best[len(VANISHING.sizes)], best
        else:
            assert min(best.values()) >= 4.8, best  # each layer's largest |δ| at an end of the ramp


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "linear"])
def test_activation_colours_sigmoid_on_0_to_1_the_others_about_0(activation: str) -> None:
    """a computed by hand; sigmoid's fill on 0 … 1 of the greens, tanh's on −1 … 1 and ReLU's and linear's on
    ± their largest |a| of the purple–green ramp: a saturated −0.976 as strong as +0.976."""
    case = dataclasses.replace(seeded("acts", [2, 4, 3], activation, 7), activation=activation)
    a = forward(case, case.weights, case.biases)
    peak = max(abs(v) for layer in (2, 3) for v in a[layer])
    for k in range(1, len(case.sizes)):
        view = traced(case, "layer", k)
        for n in view.diagram.neurons:
            if "shows-a" not in n.classes:
                continue
            v = a[n.layer][n.j - 1]
            if activation == "sigmoid":
                want = expected_fill(GREENS, v, 0.0, 1.0)
            else:
                m = 1.0 if activation == "tanh" else peak
                want = expected_fill(PURPLE_GREEN, v, -m, m)
            assert_colour(n.fill, want, f"{activation} {n.id} a = {v}")
    if activation == "tanh":  # the saturated pair: mirror images, equally far from white
        lo = expected_fill(PURPLE_GREEN, -0.976, -1, 1)
        hi = expected_fill(PURPLE_GREEN, 0.976, -1, 1)
        hexes = ["#" + "".join(f"{round(c):02x}" for c in col) for col in (lo, hi)]
        assert abs(contrast(hexes[0], WHITE) - contrast(hexes[1], WHITE)) < 0.3


def test_the_scale_is_a_form_field_and_part_of_the_permalink() -> None:
    form = {**WORKED.form(), "scale": "network"}
    page = parse_form(form, 8, 10)
    assert page.scale == "network" and "scale=network" in page.query()
    plain = parse_form(WORKED.form(), 8, 10)
    assert plain.scale == "layer" and "scale" not in plain.query()
    assert parse_form({**WORKED.form(), "scale": "layer"}, 8, 10).query() == plain.query()
    with pytest.raises(FormError) as e:
        parse_form({**WORKED.form(), "scale": "log"}, 8, 10)
    assert set(e.value.errors) == {"scale"}


def test_the_vanishing_gradients_example_opens_on_one_scale(client: TestClient) -> None:
    page = client.get("/")
    link = re.search(r'<a href="([^"]*)" id="example-vanishing"', page.text)
    assert link is not None
    target = client.get(htmlmod.unescape(link.group(1)).replace("/?", "/?", 1))
    assert target.status_code == 200
    assert 'data-scale="network"' in target.text and "sizes=2%2C+3%2C+3%2C+3%2C+3%2C+3%2C+2" in target.text
    assert re.search(r'<option value="network" selected>', target.text)


# --- labels, flashes, the backward cue, the keyboard's one tab stop -------------------------------------


def crosses_box(seg: tuple[float, float, float, float], box: tuple[float, float, float, float]) -> bool:
    """Whether the segment passes through the box: 400 points along it, tested one by one."""
    x1, y1, x2, y2 = seg
    return any(
        box[0] < x1 + (x2 - x1) * s / 400 < box[2] and box[1] < y1 + (y2 - y1) * s / 400 < box[3] for s in range(401)
    )


@pytest.mark.parametrize("case", [*CASES, RELU], ids=lambda c: c.name)
def test_a_value_beside_its_neuron_sits_on_no_edge_or_on_a_plate_joined_to_its_circle(case: Case) -> None:
    """Where there is room, no edge passes under a value printed beside its neuron. In a dense layer (edges on
    every side) the value's plate reaches its circle: no stub of edge shows between neuron and number."""
    clear = joined = 0
    for k in range(case.steps()):
        d = view_of(case, k).diagram
        for n in d.neurons:
            v = n.value
            if v is None or v.inside or v.plate is None:
                continue
            x, y, w, h = v.plate
            if not any(crosses_box((e.x1, e.y1, e.x2, e.y2), (x, y, x + w, y + h)) for e in d.edges):
                clear += 1
                continue
            nx, ny = min(max(n.x, x), x + w), min(max(n.y, y), y + h)  # the plate's point nearest the centre
            assert math.hypot(nx - n.x, ny - n.y) <= n.r, f"{case.name} step {k + 1}: {n.id}'s plate apart from it"
            joined += 1
    assert clear > 0
    if case is WORKED or case is RELU:
        assert joined == 0


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_only_the_layers_a_step_changes_may_flash(case: Case) -> None:
    for k in range(case.steps()):
        kind, layer = case.step(k)
        d = view_of(case, k).diagram
        flashing = {n.layer for n in d.neurons if "changed" in n.classes.split()}
        assert flashing == (set(range(2, len(case.sizes) + 1)) if kind == "update" else {layer}), (k, kind)
        if kind == "backpropagate" and layer is not None:
            assert set(d.layers) == {layer, layer + 1}
        elif kind in ("feedforward", "gradients") and layer is not None:
            assert set(d.layers) == {layer - 1, layer}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_each_bp2_pulse_has_a_still_arrow_as_wide_as_itself(case: Case, client: TestClient) -> None:
    """The page's HTML: beside each back pulse, its reduced-motion twin on the same edge, as wide, with the head
    of its sign, pointing from the layer δ comes from to the layer it reaches."""
    form = case.form()
    r = client.post("/runs", data=form, headers=HX)
    run = re.search(r'data-run-id="([^"]+)"', r.text)
    assert run is not None
    for k in range(case.steps()):
        if case.step(k)[0] != "backpropagate":
            continue
        html = client.get(f"/runs/{run.group(1)}/steps/{k}", headers=HX).text
        pulses = dict(re.findall(r'<line id="p(-[\d-]+)" class="pulse pulse-back[^>]*stroke-width="([\d.]+)"', html))
        cues = re.findall(
            r'<line id="pc(-[\d-]+)" class="pulse cue cue-(\w+)"[^>]*x1="([\d.]+)"[^>]*x2="([\d.]+)"[^>]*'
            r'stroke-width="([\d.]+)" marker-end="url\(#cue-head-(\w+)\)"',
            html,
        )
        assert pulses and len(cues) == len(pulses)
        carried = case.carried(case.step(k)[1] + 1)  # type: ignore[operator]
        for eid, sign, x1, x2, width, head in cues:
            assert width == pulses[eid] and sign == head
            v = carried["e" + eid]
            assert sign == ("pos" if v > 0 else "neg" if v < 0 else "zero")
            assert float(x2) < float(x1)  # backwards: towards the input side
        assert "arrowheads" in html and 'class="scale-text still"' in html


def test_the_diagram_is_one_tab_stop_with_a_skip_link(client: TestClient) -> None:
    html = client.get("/").text
    net = html[html.index('<svg id="net"') : html.index("</svg>", html.index('<svg id="net"'))]
    assert net.count('tabindex="0"') == 1 and 'id="n-1-1" class="neuron' in net
    assert re.search(r'id="n-1-1" class="[^"]*" tabindex="0"', net)
    assert 'aria-describedby="net-keys"' in html and 'id="net-keys"' in html
    skip = re.search(r'<a class="skip skip-diagram" href="#([\w-]+)"', html)
    assert skip is not None and html.index(f'id="{skip.group(1)}"') > html.index("</svg>")
    assert 'aria-valuetext="0.7 s per step"' in html
