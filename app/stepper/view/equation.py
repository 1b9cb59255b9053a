"""The equation panel: the step's equation, then the same equation with this example's numbers, then words."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from app.core.format import SIG_DETAIL, fmt, pretty, sup, tex
from app.core.mathml import mathml, mathml_line
from app.stepper.view.model import Equation, RunView
from engine import Step

Array = NDArray[np.float64]

def _activation_tex(name: str, z: str) -> str:
    return {
        "sigmoid": f"\\sigma({z})",
        "tanh": f"\\tanh({z})",
        "relu": f"\\max(0, {z})",
        "linear": z,
    }.get(name, f"\\sigma({z})")


def _sum_tex(terms: list[str], limit: int = 6, keep: int = 3) -> list[str]:
    """A sum as pieces for ``mathml_line``, each term but the last ending at its "+".

    More than ``limit`` terms: the first ``keep`` and the last, and between them how many
    are left out, so a line from a wide layer stays a few lines long.
    """
    if len(terms) > limit:
        terms = [*terms[:keep], f"\\text{{ … {len(terms) - keep - 1} more terms … }}", terms[-1]]
    return [f"{t} +" for t in terms[:-1]] + terms[-1:]



def _value(v: float, sig: int = 4) -> str:
    """A number standing alone (a result, a function's argument): tex without the parentheses."""
    text = tex(v, sig)
    return text[1:-1] if text.startswith("(") and text.endswith(")") else text


def equation_at(r: RunView, step: Step, k: int, limit: int = 4) -> Equation:
    layer = step.layer or r.L
    L = r.L
    lines: list[tuple[list[str], str]] = []
    more = ""

    def add(pieces: list[str], *ids: str) -> None:
        """One line of numbers: pieces that each end at an operator, the result last."""
        lines.append((pieces, " ".join(ids)))

    def neurons(n: int) -> range:
        nonlocal more
        if n > limit:
            more = f"The other {n - limit} neurons of the layer are in the numbers table below."
        return range(min(n, limit))

    if step.kind == "input":
        symbolic = ["a^{1} = x"]
        for j in neurons(r.sizes[0]):
            add([f"a^{{1}}_{{{j + 1}}} = x_{{{j + 1}}} =", _value(float(r.a[1][j]))], f"n-1-{j + 1}")
        words = "The input layer simply holds the example x: its activations are the input."
    elif step.kind == "feedforward":
        act = r.acts[layer - 2]
        symbolic = [
            f"z^{{{layer}}} = w^{{{layer}}} a^{{{layer - 1}}} + b^{{{layer}}}",
            f"a^{{{layer}}} = " + _activation_tex(act, f"z^{{{layer}}}"),
        ]
        for j in neurons(r.sizes[layer - 1]):
            terms = [
                f"{tex(float(r.w[layer][j, i]))} \\cdot {tex(float(r.a[layer - 1][i]))}"
                for i in range(r.sizes[layer - 2])
            ]
            z = float(r.z[layer][j])
            into = [f"e-{layer}-{j + 1}-{i + 1}" for i in range(r.sizes[layer - 2])]
            *head, last = _sum_tex(terms)
            add(
                [f"z^{{{layer}}}_{{{j + 1}}} =", *head, f"{last} +", f"{tex(float(r.b[layer][j]))} =", _value(z)],
                f"n-{layer}-{j + 1}",
                *into,
            )
            add(
                [f"a^{{{layer}}}_{{{j + 1}}} =", f"{_activation_tex(act, _value(z))} =", _value(float(r.a[layer][j]))],
                f"n-{layer}-{j + 1}",
            )
        words = (
            f"Eq. 25: each neuron of layer {layer} adds up its inputs a^{layer - 1} weighted by w^{layer}, "
            f"adds its bias, and passes the sum z through its activation ({act})."
        )
    elif step.kind == "output_error":
        y = step.values["y"]
        assert not isinstance(y, tuple)
        # Cross-entropy on sigmoid outputs: ∂C/∂a = (a − y)/(a(1 − a)) and σ'(z) = a(1 − a) cancel, and
        # the engine computes δ^L = a^L − y directly (network2.py); where a saturates the product
        # ∇_aC · σ'(z) would be ∞ · 0, so the panel shows what the engine computed.
        cancels = r.t.cost == "cross_entropy" and r.acts[-1] == "sigmoid"
        quadratic = r.t.cost == "quadratic"
        if cancels:
            symbolic = [f"\\delta^{{{L}}} = a^{{{L}}} - y"]
        else:
            symbolic = [f"\\delta^{{{L}}} = \\nabla_{{a}} C \\odot \\sigma'(z^{{{L}}})"]
        for j in neurons(r.sizes[-1]):
            a, target, result = tex(float(r.a[L][j])), tex(float(y[0, j])), _value(float(r.delta[L][j]))
            if cancels:
                lhs = f"\\delta^{{{L}}}_{{{j + 1}}} = a^{{{L}}}_{{{j + 1}}} - y_{{{j + 1}}} ="
                pieces = [lhs, f"{a} - {target} =", result]
            else:
                grad = f"({a} - {target})" if quadratic else tex(float(r.nabla_a[j]))
                pieces = [f"\\delta^{{{L}}}_{{{j + 1}}} =", f"{grad} \\times", f"{tex(float(r.sp[L][j]))} =", result]
            add(pieces, f"n-{L}-{j + 1}")
        cost_text = fmt(r.t.cost_before, 6)
        if cancels:
            words = (
                f"BP1 with the cross-entropy cost and sigmoid outputs: ∂C/∂a = (a − y)/(a(1 − a)) and "
                f"σ′(z) = a(1 − a), so the σ′ cancels (chapter 3) and δ^{L} = a^{L} − y: a saturated output neuron "
                f"that is wrong still has a large error and learns. The cost of this example is C = {cost_text}."
            )
        else:
            cost = "½‖y − a‖², so ∇aC = a − y" if quadratic else "the cross-entropy"
            words = (
                f"BP1: the output error δ^{L} is how fast the cost changes with each output neuron's weighted "
                f"input: the gradient of the cost ({cost}) times σ′(z). The cost of this example is C = {cost_text}."
            )
    elif step.kind == "backpropagate":
        symbolic = [
            f"\\delta^{{{layer}}} = \\left((w^{{{layer + 1}}})^{{T}} \\delta^{{{layer + 1}}}\\right) "
            f"\\odot \\sigma'(z^{{{layer}}})"
        ]
        for j in neurons(r.sizes[layer - 1]):
            terms = [
                f"{tex(float(r.w[layer + 1][q, j]))} \\cdot {tex(float(r.delta[layer + 1][q]))}"
                for q in range(r.sizes[layer])
            ]
            out = [f"e-{layer + 1}-{q + 1}-{j + 1}" for q in range(r.sizes[layer])]
            *head, last = _sum_tex(terms)
            add(
                [
                    f"\\delta^{{{layer}}}_{{{j + 1}}} =",
                    *(f"({p}" if i == 0 else p for i, p in enumerate(head)),
                    f"{last}) \\times" if head else f"({last}) \\times",
                    f"{tex(float(r.sp[layer][j]))} =",
                    _value(float(r.delta[layer][j])),
                ],
                f"n-{layer}-{j + 1}",
                *out,
                *(f"n-{layer + 1}-{q + 1}" for q in range(r.sizes[layer])),
            )
        words = (
            f"BP2: the error of layer {layer + 1} travels backward through the transposed weights, and each "
            f"neuron of layer {layer} scales what reaches it by its own sensitivity σ′(z) (the ⊙ is an "
            "element-by-element product)."
        )
    elif step.kind == "gradients":
        symbolic = [
            f"\\frac{{\\partial C}}{{\\partial b^{{{layer}}}_{{j}}}} = \\delta^{{{layer}}}_{{j}}",
            f"\\frac{{\\partial C}}{{\\partial w^{{{layer}}}_{{jk}}}} = "
            f"a^{{{layer - 1}}}_{{k}} \\delta^{{{layer}}}_{{j}}",
        ]
        inputs = min(r.sizes[layer - 2], 3)
        for j in neurons(r.sizes[layer - 1]):
            d = float(r.delta[layer][j])
            add([f"\\frac{{\\partial C}}{{\\partial b^{{{layer}}}_{{{j + 1}}}}} =", _value(d)], f"n-{layer}-{j + 1}")
            for i in range(inputs):
                add(
                    [
                        f"\\frac{{\\partial C}}{{\\partial w^{{{layer}}}_{{{j + 1}{i + 1}}}}} =",
                        f"{tex(float(r.a[layer - 1][i]))} \\times {tex(d)} =",
                        _value(float(r.nabla_w[layer][j, i])),
                    ],
                    f"e-{layer}-{j + 1}-{i + 1}",
                    f"n-{layer - 1}-{i + 1}",
                    f"n-{layer}-{j + 1}",
                )
        if inputs < r.sizes[layer - 2]:
            more = f"{more} Every ∂C/∂w{sup(layer)} is in its table below.".strip()
        words = (
            f"BP3 and BP4: the bias gradient is the error itself; a weight's gradient is the activation at its "
            f"input end times the error at its output end, a_in × δ_out (the edges of layer {layer} now show it)."
        )
    else:
        eta = r.t.eta
        symbolic = [
            "w^{l} \\rightarrow w^{l} - \\eta \\frac{\\partial C}{\\partial w^{l}}",
            "b^{l} \\rightarrow b^{l} - \\eta \\frac{\\partial C}{\\partial b^{l}}",
        ]
        # One weight and one bias of every layer, so the first layers are seen to learn too;
        # the tables below list every parameter before and after.
        for m in range(2, L + 1):
            add(
                [
                    f"w^{{{m}}}_{{11}} =",
                    f"{tex(float(r.w[m][0, 0]), SIG_DETAIL)} - {tex(eta)} \\times",
                    f"{tex(float(r.nabla_w[m][0, 0]))} =",
                    _value(float(r.w_new[m][0, 0]), SIG_DETAIL),
                ],
                f"e-{m}-1-1",
            )
            add(
                [
                    f"b^{{{m}}}_{{1}} =",
                    f"{tex(float(r.b[m][0]), SIG_DETAIL)} - {tex(eta)} \\times",
                    f"{tex(float(r.nabla_b[m][0]))} =",
                    _value(float(r.b_new[m][0]), SIG_DETAIL),
                ],
                f"n-{m}-1",
            )
        add([f"C\\text{{: }} {_value(r.t.cost_before, SIG_DETAIL)} \\rightarrow", _value(r.t.cost_after, SIG_DETAIL)])
        more = "Every weight and bias of every layer, before and after, is in the tables below."
        change = "lower" if r.t.cost_after < r.t.cost_before else "not lower"
        words = (
            f"Gradient descent (eqs. 20–21): every weight and bias moves a step η = {fmt(eta)} against its "
            f"gradient. On this example the cost is now {fmt(r.t.cost_after, 6)}, {change} than "
            f"{fmt(r.t.cost_before, 6)}."
        )
    return Equation([mathml(s) for s in symbolic], [(mathml_line(p), ids) for p, ids in lines], pretty(words), more)
