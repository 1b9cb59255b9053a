"""Rich display in a notebook (backprop_lens/display.py): short text reprs, and drawings and tables whose
numbers are Mazur's worked example, checked against a plain NumPy reference (tests/notebooks/mazur.py, which
shares no code with the engine) and against Mazur's own hand-worked numbers. Every output is self-contained:
no script, no URL, ids that no other output shares."""

from __future__ import annotations

import html
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import numpy as np
import pytest

from backprop_lens import Network, Trace, trace
from backprop_lens import display as faces
from backprop_lens.engine import display as hooks
from tests.notebooks.mazur import B2, B3, ETA, HAND, W2, W3, X, Y, reference

SVG = "{http://www.w3.org/2000/svg}"
NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1998/Math/MathML"}
BP2 = 4  # input, two feedforward steps, BP1, then BP2 for layer 2


@pytest.fixture
def installed() -> Iterator[None]:
    faces.install()
    yield
    hooks.unregister_all()


@pytest.fixture
def mazur() -> Trace:
    net = Network([2, 2, 2], weights=[W2, W3], biases=[B2, B3])
    return trace(net, [X], [Y], cost="quadratic", eta=ETA)


def cells(markup: str) -> dict[str, float]:
    """The table cells an output names for machines: data-q → data-value."""
    return {q: float(v) for q, v in re.findall(r'data-q="([^"]+)" data-value="([^"]+)"', markup)}


def text_of(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


def assert_self_contained(markup: str) -> None:
    assert "<script" not in markup.lower()
    assert not re.search(r"\b(src|href|xlink:href)=", markup)
    assert set(re.findall(r"https?://[^\s\"'<>)]+", markup)) <= NAMESPACES
    assert re.findall(r"url\(([^)]*)\)", markup) == [u for u in re.findall(r"url\(([^)]*)\)", markup) if u[0] == "#"]
    ids = re.findall(r'\bid="([^"]+)"', markup)
    assert len(ids) == len(set(ids)), "an id appears twice in one output"


def test_the_reference_is_mazurs() -> None:
    r = reference()
    assert abs(float(r["cost"]) - HAND["cost"]) < 1e-9
    assert abs(r["nabla_w3"][0, 0] - HAND["nabla_w3_11"]) < 1e-9
    assert abs(r["nabla_w2"][0, 0] - HAND["nabla_w2_11"]) < 1e-9


def test_reprs_are_one_short_line(mazur: Trace) -> None:
    big = trace(Network([64, 30, 10], seed=0), np.zeros((5, 64)), np.zeros((5, 10)))
    for obj in (mazur, mazur.network, mazur.gradients, *mazur.steps, big, big.gradients, *big.steps):
        text = repr(obj)
        assert "\n" not in text and len(text) <= 120, text
    assert repr(mazur.gradients) == "Gradients(2-2-2, C = 0.298371, mean over 1 example)"
    assert repr(mazur.steps[BP2]) == "Step(4, BP2: 'Backpropagate the error: δ²', layer 2)"
    assert repr(mazur).startswith("Trace(8 steps, 2-2-2, cost=quadratic, η=0.5, C 0.298371 → ")


def test_without_the_face_the_engine_draws_nothing(mazur: Trace) -> None:
    hooks.unregister_all()
    assert mazur._repr_html_() is None
    assert mazur.network._repr_html_() is None
    assert mazur.steps[BP2]._repr_svg_() is None
    assert mazur.gradients._repr_html_() is None


@pytest.mark.usefixtures("installed")
def test_the_network_shows_its_diagram_and_weights(mazur: Trace) -> None:
    out = mazur.network._repr_html_()
    assert out is not None
    assert_self_contained(out)
    svg = ET.fromstring(faces.network_svg(mazur.network).split("?>", 1)[1])
    drawn = sorted(float(e.attrib["data-w"]) for e in svg.iter() if "data-w" in e.attrib)
    assert drawn == sorted([*np.ravel(W2), *np.ravel(W3)])
    assert cells(out) == {
        **{f"w-2-{j + 1}-{k + 1}": W2[j][k] for j in range(2) for k in range(2)},
        **{f"w-3-{j + 1}-{k + 1}": W3[j][k] for j in range(2) for k in range(2)},
        **{f"b-2-{j + 1}": B2[j] for j in range(2)},
        **{f"b-3-{j + 1}": B3[j] for j in range(2)},
    }


@pytest.mark.usefixtures("installed")
def test_gradients_tables_hold_bp1_to_bp4(mazur: Trace) -> None:
    out = mazur.gradients._repr_html_()
    assert out is not None
    assert_self_contained(out)
    r, got = reference(), cells(out)
    for layer in (2, 3):
        for j in range(2):
            delta = r[f"delta{layer}"][j]
            assert got[f"delta-{layer}-{j + 1}"] == pytest.approx(delta, rel=1e-12)
            assert got[f"nabla-b-{layer}-{j + 1}"] == pytest.approx(delta, rel=1e-12)
            for k in range(2):
                assert got[f"nabla-w-{layer}-{j + 1}-{k + 1}"] == pytest.approx(r[f"nabla_w{layer}"][j, k], rel=1e-12)
    shown = text_of(out)
    assert "0.0821670" in shown or "0.082167" in shown  # Mazur's ∂E/∂w₅, as a person reads it
    assert "0.000438568" in shown  # ∂E/∂w₁


@pytest.mark.usefixtures("installed")
def test_a_step_shows_its_diagram_and_equation_with_the_numbers(mazur: Trace) -> None:
    step = mazur.steps[BP2]
    svg_text = step._repr_svg_()
    out = step._repr_html_()
    assert svg_text is not None and out is not None
    assert_self_contained(svg_text)
    assert_self_contained(out)
    svg = ET.fromstring(svg_text.split("?>", 1)[1])
    delta2 = reference()["delta2"]
    by_id = {e.attrib["id"].split("-", 1)[1]: e for e in svg.iter(f"{SVG}g") if "id" in e.attrib}
    for j in range(2):
        neuron = by_id[f"n-2-{j + 1}"]
        assert float(neuron.attrib["data-delta"]) == pytest.approx(delta2[j], rel=1e-12)
        value = next(t for t in neuron.iter(f"{SVG}text"))
        assert value.text == f"{delta2[j]:.4g}"  # the diagram prints 4 significant digits
    equation = out[out.index('<section class="bpl-equation"') :]
    assert "<math" in equation
    numbers = text_of(equation)
    assert "Backpropagate the error: δ²" in numbers
    for j in range(2):
        assert f"{delta2[j]:.4g}" in numbers


@pytest.mark.usefixtures("installed")
def test_outputs_share_no_id(mazur: Trace) -> None:
    outputs = [mazur.steps[k]._repr_html_() or "" for k in range(len(mazur.steps))]
    seen: set[str] = set()
    for out in outputs:
        ids = set(re.findall(r'\bid="([^"]+)"', out))
        assert not ids & seen
        seen |= ids
    assert mazur.steps[BP2]._repr_html_() == outputs[BP2]  # the same step, the same text: notebooks diff cleanly


@pytest.mark.usefixtures("installed")
def test_the_trace_lists_every_step(mazur: Trace) -> None:
    out = mazur._repr_html_()
    assert out is not None
    assert_self_contained(out)
    items = [" ".join(text_of(li).split()) for li in re.findall(r"<li[^>]*>(.*?)</li>", out)]
    assert items == [f"{s.equation} {s.title}" for s in mazur.steps]  # the equation's tag, then the title
    assert "0.298371" in text_of(out)


def test_the_widget_draws_every_step_and_falls_back_to_html(mazur: Trace) -> None:
    pytest.importorskip("anywidget")
    from backprop_lens.widget import StepThrough

    w = faces.show(mazur, start=BP2)
    assert isinstance(w, StepThrough) and w.index == BP2 and len(w.steps) == len(mazur.steps)
    assert 'class="pulse pulse-back' in w.steps[BP2]["diagram"]  # δ travels back along the edges
    bundle = w._repr_mimebundle_()
    assert bundle is not None
    data, _ = bundle
    assert {"application/vnd.jupyter.widget-view+json", "text/html", "text/plain"} <= data.keys()
    assert "Backpropagate the error: δ²" in text_of(data["text/html"])
    with pytest.raises(ValueError, match="give the input x and the target y"):
        faces.show(mazur.network)


def test_show_names_the_extra_without_anywidget(mazur: Trace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "anywidget", None)  # makes ``import anywidget`` fail
    monkeypatch.delitem(sys.modules, "backprop_lens.widget", raising=False)
    with pytest.raises(ImportError, match=r"pip install 'backprop-lens\[notebook\]'"):
        faces.show(mazur)


def test_the_face_imports_no_web_framework() -> None:
    code = (
        "import sys, backprop_lens, backprop_lens.display as d; d.install(); "
        "from backprop_lens import Network, trace; t = trace(Network([2, 2, 2]), [[0.1, 0.2]], [[0, 1]]); "
        "assert t.steps[4]._repr_html_() and t._repr_html_() and t.network._repr_html_(); "
        "bad = {'fastapi', 'starlette', 'uvicorn'} & {m.split('.')[0] for m in sys.modules}; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
