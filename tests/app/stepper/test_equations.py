"""The equation panel and the instruments' equations as the server writes them (issue 10, points 7 and 8, BP1).

Every expected number is worked out here in plain Python from the inputs (a forward
pass with ``math.exp``, a − y, w − η ∂C/∂w) or is Matt Mazur's hand-worked figure;
none comes from ``app.stepper.view``. What the browser makes of the markup (nothing
clipped, brackets that stretch) is checked in ``tests/browser/test_equations.py``.
"""

from __future__ import annotations

import html
import math
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backprop_lens.app.core.schemas import WORKED_EXAMPLE
from backprop_lens.app.stepper.form import default_form
from backprop_lens.engine import Network

HX = {"HX-Request": "true"}
W = [[[0.15, 0.2], [0.25, 0.3]], [[0.4, 0.45], [0.5, 0.55]]]  # the worked example, by hand
B = [[0.35, 0.35], [0.6, 0.6]]
X, Y = [0.05, 0.1], [0.01, 0.99]
MAZUR_OUT = [0.75136507, 0.772928465]  # a³ (out_o1, out_o2)
MAZUR_DELTA_2 = [0.008771354, 0.009954254]  # δ² (∂E/∂net_h1, ∂E/∂net_h2)
MAZUR_W2_11_AFTER = 0.149780716  # w1 after one update with η = 0.5
WIDE = {"sizes": "4, 12, 3", "x": "0.1, 0.2, 0.3, 0.4", "y": "0, 1, 0", "weights": "", "biases": ""}


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def forward(weights: list[list[list[float]]], biases: list[list[float]], x: list[float]) -> list[list[float]]:
    """Every layer's activations, by the sums of eq. 25 written out."""
    layers = [x]
    for w, b in zip(weights, biases, strict=True):
        a = layers[-1]
        layers.append([sigmoid(sum(wjk * ak for wjk, ak in zip(row, a, strict=True)) + bj)
                       for row, bj in zip(w, b, strict=True)])  # fmt: skip
    return layers


def page(client: TestClient, **form: str) -> str:
    r = client.get("/", params={**default_form(), **form})
    assert r.status_code == 200, r.text[:300]
    return r.text


def step(client: TestClient, page_html: str, k: int) -> str:
    rid = re.search(r'id="run"[^>]*data-run-id="([^"]+)"', page_html)
    assert rid is not None
    r = client.get(f"/runs/{rid.group(1)}/steps/{k}", headers=HX)
    assert r.status_code == 200
    return r.text


def text(markup: str) -> str:
    """What a reader sees of some markup: tags gone, entities read, a no-break space a space."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup)).replace("\u00a0", " ")


def lines(step_html: str) -> list[list[str]]:
    """Each line of numbers in the equation panel, as the text of its MathML pieces."""
    numeric = step_html.split('<div class="numeric">', 1)[1].split("\n  </div>", 1)[0]
    return [
        [text(m) for m in re.findall(r"<math\b.*?</math>", line, re.S)]
        for line in re.findall(r'<div class="eq-line"[^>]*>(.*?)</div>', numeric, re.S)
    ]


def symbolic(step_html: str) -> str:
    return text(step_html.split('<div class="symbolic">', 1)[1].split("</div>", 1)[0])


def words(step_html: str) -> str:
    m = re.search(r'<p class="words">(.*?)</p>', step_html, re.S)
    assert m is not None
    return html.unescape(m.group(1))


def values(step_html: str) -> dict[str, float]:
    return {q: float(v) for q, v in re.findall(r'data-q="([^"]+)" data-value="([^"]+)"', step_html)}


def shown(step_html: str, q: str) -> str:
    m = re.search(rf'data-q="{q}"[^>]*>([^<]*)</td>', step_html)
    assert m is not None, q
    return m.group(1)


def number(piece: str) -> float:
    """A result as printed: "−0.5005", "(−0.5005)", "1.407×10−5"."""
    piece = piece.strip("()").replace("−", "-")
    mantissa, _, exponent = piece.partition("×10")
    return float(mantissa) * 10.0 ** int(exponent or "0")


def four(v: float) -> str:
    """v to 4 significant digits, as the panel prints a result (with the true minus sign)."""
    return f"{v:.4g}".replace("-", "−")


# --- point 7: long lines break after an operator, and the result stays the last piece -------


def test_bp2_lines_are_pieces_that_end_at_an_operator_and_end_with_the_result(client: TestClient) -> None:
    bp2 = step(client, page(client), 4)
    got = lines(bp2)
    assert len(got) == 2
    for j, pieces in enumerate(got):
        assert pieces[0] == f"δ{j + 1}2="  # δ²ⱼ, written sub then sup by MathML
        assert len(pieces) >= 4, "one <math> per piece, so the line can wrap"
        for piece in pieces[:-1]:
            assert piece[-1] in "+×=", f"{piece!r} should end at an operator"
        assert pieces[-1] == four(MAZUR_DELTA_2[j]), "the result is the last piece"
    assert "0.4·0.1385+" in got[0][1] and "(−0.0381)" in got[0][2], "a sign hugs its number: (−0.0381)"


def test_a_wide_layers_sum_names_how_many_terms_it_leaves_out(client: TestClient) -> None:
    html_page = page(client, **WIDE)
    net = Network([4, 12, 3], seed=0)  # the seeded weights; the sums below are plain Python
    weights = [w.tolist() for w in net.weights]
    biases = [b.tolist() for b in net.biases]
    a = forward(weights, biases, [0.1, 0.2, 0.3, 0.4])
    got = lines(step(client, html_page, 2))  # eq. 25 for layer 3: 12 terms each
    z_lines = got[0::2]
    assert len(z_lines) == 3
    for j, pieces in enumerate(z_lines):
        assert " … 8 more terms … +" in pieces, pieces
        assert len(pieces) == 1 + 3 + 1 + 1 + 1 + 1  # z =, 3 terms, the count, the last term, b, z
        z = sum(w * ak for w, ak in zip(weights[1][j], a[1], strict=True)) + biases[1][j]
        assert number(pieces[-1]) == pytest.approx(z, rel=5e-4)
        assert pieces[-2] == f"{four(biases[1][j]) if biases[1][j] >= 0 else '(' + four(biases[1][j]) + ')'}="


# --- point 8: the update step shows every layer -------------------------------------------------


def test_the_update_step_lists_every_weight_and_bias_before_and_after(client: TestClient) -> None:
    update = step(client, page(client), 7)
    api: dict[str, Any] = client.post("/api/gradients", json=WORKED_EXAMPLE).json()
    shown_values = values(update)
    eta = 0.5
    for i, (w, nw) in enumerate(zip(W, api["nabla_w"], strict=True)):
        layer = i + 2
        for j, row in enumerate(w):
            for k, before in enumerate(row):
                q = f"{layer}-{j + 1}-{k + 1}"
                assert shown_values[f"w-{q}"] == before
                assert shown_values[f"w_new-{q}"] == pytest.approx(before - eta * nw[j][k], rel=1e-12)
            assert shown_values[f"b-{layer}-{j + 1}"] == B[i][j]
            after = B[i][j] - eta * api["nabla_b"][i][j]
            assert shown_values[f"b_new-{layer}-{j + 1}"] == pytest.approx(after, rel=1e-12)
    assert shown_values["w_new-2-1-1"] == pytest.approx(MAZUR_W2_11_AFTER, abs=1e-9)
    assert shown(update, "w-2-1-1") == "0.15" and shown(update, "w_new-2-1-1") == "0.149781"
    for layer in (2, 3):  # six parameters each: open, not folded
        assert f'<table id="update-{layer}">' in update and f'id="update-{layer}-details"' not in update
    # the panel writes out a weight and a bias of layer 2 too, not only of the output layer
    got = lines(update)
    w2 = next(p for p in got if p[0] == "w112=")
    assert w2 == ["w112=", "0.15−0.5×", "0.0004386=", "0.149781"]
    assert any(p[0] == "b12=" for p in got) and any(p[0] == "w113=" for p in got)


def test_the_cost_after_the_update_has_a_space_after_its_colon(client: TestClient) -> None:
    got = lines(step(client, page(client), 7))
    cost = " ".join(got[-1])
    assert cost.startswith("C: 0.298371→"), cost
    assert "C:0" not in cost


def test_a_wide_layers_update_table_starts_folded(client: TestClient) -> None:
    update = step(client, page(client, **WIDE), 7)
    for layer, count in ((2, 12 * 4 + 12), (3, 3 * 12 + 3)):
        folded = re.search(rf'<details class="folded" id="update-{layer}-details"[^>]*>', update)
        assert folded is not None and "open" not in folded.group(0)
        assert len(re.findall(rf'<td data-q="[wb]_new-{layer}-', update)) == count


def test_a_huge_layers_update_table_lists_a_bounded_number(client: TestClient) -> None:
    update = step(client, page(client, sizes="30, 300, 2", x=", ".join(["0.1"] * 30), y="0, 1", weights="",
                                biases=""), 7)  # fmt: skip
    assert len(re.findall(r'<td data-q="w_new-2-', update)) == 256
    assert len(re.findall(r'<td data-q="b_new-2-', update)) == 64
    assert "320 of 9300 listed; the trace JSON has every one." in update
    assert len(update) < 600_000


# --- BP1 for cross-entropy on sigmoid outputs: δ^L = a^L − y ------------------------------------


def test_bp1_with_cross_entropy_shows_a_minus_y_and_says_the_sigma_prime_cancels(client: TestClient) -> None:
    bp1 = step(client, page(client, cost="cross_entropy"), 3)
    a = forward(W, B, X)[2]
    assert a == pytest.approx(MAZUR_OUT, abs=1e-8)
    assert symbolic(bp1).startswith("δ3=a3−y")
    got = lines(bp1)
    assert len(got) == 2
    for j, pieces in enumerate(got):
        assert pieces == [f"δ{j + 1}3=a{j + 1}3−y{j + 1}=", f"{four(a[j])}−{four(Y[j])}=", four(a[j] - Y[j])]
        assert values(bp1)[f"delta-3-{j + 1}"] == pytest.approx(a[j] - Y[j], rel=1e-12)
    assert "σ′" not in "".join(p for line in got for p in line)
    assert "σ′ cancels (chapter 3)" in words(bp1)


def test_bp1_with_cross_entropy_on_a_saturated_output_is_one_minus_y_not_infinity_times_zero(
    client: TestClient,
) -> None:
    # z = 100: a = σ(100) rounds to 1, so ∇aC = (a − y)/(a(1 − a)) is enormous and σ'(z) = e^-100
    # tiny; their product is what the old panel wrote. δ = a − y = 1 − 0 = 1.
    form = {"sizes": "1, 1", "cost": "cross_entropy", "x": "1", "y": "0", "weights": "[[[100]]]",
            "biases": "[[0]]"}  # fmt: skip
    bp1 = step(client, page(client, **form), 2)
    assert sigmoid(100.0) == 1.0
    assert lines(bp1) == [["δ12=a12−y1=", "1−0=", "1"]]
    assert values(bp1)["delta-2-1"] == 1.0


def test_bp1_with_the_quadratic_cost_keeps_sigma_prime(client: TestClient) -> None:
    bp1 = step(client, page(client), 3)
    a = forward(W, B, X)[2]
    got = lines(bp1)
    for j, pieces in enumerate(got):
        sp = a[j] * (1 - a[j])
        assert pieces == [f"δ{j + 1}3=", f"({four(a[j])}−{four(Y[j])})×", f"{four(sp)}=", four((a[j] - Y[j]) * sp)]
    assert symbolic(bp1).startswith("δ3=∇aC⊙σ′(z3)")


# --- the instruments: brackets that stretch, columns, the saturation "why" in MathML -------------


def instrument(client: TestClient, name: str, **params: str) -> str:
    rid = re.search(r'data-run-id="([^"]+)"', client.get("/").text)
    assert rid is not None
    r = client.get(f"/instruments/{rid.group(1)}/{name}", params=params)
    assert r.status_code == 200, r.text
    return r.text


FENCED = re.compile(
    r'<mo stretchy="true" fence="true" form="prefix">\[</mo>(<mtable>.*?</mtable>)'
    r'<mo stretchy="true" fence="true" form="postfix">\]</mo>'
)


@pytest.mark.parametrize("name", ["matrix-form", "linear-network"])
def test_matrices_have_stretchy_brackets_and_vectors_are_columns(client: TestClient, name: str) -> None:
    fragment = instrument(client, name)
    tables = re.findall(r"<mtable>", fragment)
    fenced = FENCED.findall(fragment)
    assert tables and len(fenced) == len(tables), "every matrix between brackets that stretch"
    columns = [t for t in fenced if all(row.count("<mtd>") == 1 for row in re.findall(r"<mtr>.*?</mtr>", t))]
    assert columns, "∇aC and δ as columns"
    for column in columns:
        assert column.count("<mtr>") == 2  # one number a row: the two neurons of the worked example's layers


def test_the_matrix_product_is_one_piece_per_factor(client: TestClient) -> None:
    fragment = instrument(client, "matrix-form")
    product = fragment.split('id="matrix-product">', 1)[1].split("</div>", 1)[0]
    pieces = [text(m) for m in re.findall(r"<math\b.*?</math>", product, re.S)]
    # δ² =, Σ'(z²), (w³)ᵀ, Σ'(z³), ∇aC =, δ²: it wraps between the factors instead of running off
    assert len(pieces) == 6 and pieces[0] == "δ2="
    assert pieces[-1] == f"[{four(MAZUR_DELTA_2[0])}{four(MAZUR_DELTA_2[1])}]"


def test_the_saturation_why_column_is_mathml_not_raw_latex(client: TestClient) -> None:
    # σ'(z³) ≈ 0.19 and |a¹| ≤ 0.1 fall under these thresholds: saturated outputs, quiet inputs, slow weights
    fragment = instrument(client, "saturation", sigma_prime_threshold="0.2", activation_threshold="0.2")
    why = re.findall(r'<td class="why">(.*?)</td>', fragment, re.S)
    assert len(why) >= 2 + 2 + 8
    for cell in why:
        assert "<math" in cell
        prose = text(re.sub(r"<math\b.*?</math>", " ", cell, flags=re.S))
        assert not re.search(r"[\^_{}\\]", prose), prose
    first = text(why[0])
    assert first.startswith("BP1: δjL=∂C/∂ajL·σ′(zjL);"), first  # δ^L_j = ∂C/∂a^L_j · σ'(z^L_j)
