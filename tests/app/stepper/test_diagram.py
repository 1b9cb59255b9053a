"""The diagram's view model and the page's text, without a browser: colours, pulses, numbers, notation.

References are independent of ``app.stepper.view``: δ^l of one example is the scalar autograd's ∂C/∂b^l
(``tests/autograd.py``, which knows nothing of δ or BP2), the products w·δ a pulse carries are
multiplied here in plain Python, and contrast is the WCAG formula applied to the rendered colours.
"""

from __future__ import annotations

import html as htmlmod
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.core.format import fmt, tex
from backprop_lens.app.stepper.view import step_view
from backprop_lens.app.stepper.view.model import EdgeView, NeuronView, StepView
from backprop_lens.engine import Network, trace
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
        assert entries["a"].kind == "network" and "one scale for the network" in entries["a"].text
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
    assert not n.value.inside and n.value.x > n.x + n.r and n.value.anchor == "start"
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
