"""The equation panel: the step's equation, then the same equation with this example's numbers, then words."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from backprop_lens.app.core.format import SIG_DETAIL, fmt, pretty, sup, tex
from backprop_lens.app.core.mathml import mathml, mathml_line
from backprop_lens.app.stepper.view.model import Equation, RunView
from backprop_lens.engine import Step

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


class _Lines:
    """The lines of numbers of a step: pieces that each end at an operator, the result last."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.lines: list[tuple[list[str], str]] = []
        self.more = ""

    def add(self, pieces: list[str], *ids: str) -> None:
        """One line, and the ids of the neurons and edges it is about (pointing at it marks them)."""
        self.lines.append((pieces, " ".join(ids)))

    def neurons(self, n: int) -> range:
        """The first ``limit`` neurons of a layer of n; the rest are in the numbers table, and ``more`` says so."""
        if n > self.limit:
            self.more = f"The other {n - self.limit} neurons of the layer are in the numbers table below."
        return range(min(n, self.limit))


def _input(r: RunView, step: Step, layer: int, lines: _Lines) -> tuple[list[str], str]:
    """The input layer: a¹ = x."""
    symbolic = ["a^{1} = x"]
    for j in lines.neurons(r.sizes[0]):
        lines.add([f"a^{{1}}_{{{j + 1}}} = x_{{{j + 1}}} =", _value(float(r.a[1][j]))], f"n-1-{j + 1}")
    words = "The input layer simply holds the example x: its activations are the input."
    return symbolic, words


def _feedforward(r: RunView, step: Step, layer: int, lines: _Lines) -> tuple[list[str], str]:
    """Eq. 25 at a layer: z = w a + b, then a = σ(z), for each neuron."""
    act = r.acts[layer - 2]
    symbolic = [
        f"z^{{{layer}}} = w^{{{layer}}} a^{{{layer - 1}}} + b^{{{layer}}}",
        f"a^{{{layer}}} = " + _activation_tex(act, f"z^{{{layer}}}"),
    ]
    for j in lines.neurons(r.sizes[layer - 1]):
        terms = [
            f"{tex(float(r.w[layer][j, i]))} \\cdot {tex(float(r.a[layer - 1][i]))}" for i in range(r.sizes[layer - 2])
        ]
        z = float(r.z[layer][j])
        into = [f"e-{layer}-{j + 1}-{i + 1}" for i in range(r.sizes[layer - 2])]
        *head, last = _sum_tex(terms)
        lines.add(
            [f"z^{{{layer}}}_{{{j + 1}}} =", *head, f"{last} +", f"{tex(float(r.b[layer][j]))} =", _value(z)],
            f"n-{layer}-{j + 1}",
            *into,
        )
        lines.add(
            [f"a^{{{layer}}}_{{{j + 1}}} =", f"{_activation_tex(act, _value(z))} =", _value(float(r.a[layer][j]))],
            f"n-{layer}-{j + 1}",
        )
    words = (
        f"Eq. 25: each neuron of layer {layer} adds up its inputs a^{layer - 1} weighted by w^{layer}, "
        f"adds its bias, and passes the sum z through its activation ({act})."
    )
    return symbolic, words


def _output_error(r: RunView, step: Step, layer: int, lines: _Lines) -> tuple[list[str], str]:
    """BP1, in the form the cost gives: (a − y) ⊙ σ′(z) or, for cross-entropy on sigmoid outputs, a − y."""
    L = r.L
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
    for j in lines.neurons(r.sizes[-1]):
        a, target, result = tex(float(r.a[L][j])), tex(float(y[0, j])), _value(float(r.delta[L][j]))
        if cancels:
            lhs = f"\\delta^{{{L}}}_{{{j + 1}}} = a^{{{L}}}_{{{j + 1}}} - y_{{{j + 1}}} ="
            pieces = [lhs, f"{a} - {target} =", result]
        else:
            grad = f"({a} - {target})" if quadratic else tex(float(r.nabla_a[j]))
            pieces = [f"\\delta^{{{L}}}_{{{j + 1}}} =", f"{grad} \\times", f"{tex(float(r.sp[L][j]))} =", result]
        lines.add(pieces, f"n-{L}-{j + 1}")
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
    return symbolic, words


def _backpropagate(r: RunView, step: Step, layer: int, lines: _Lines) -> tuple[list[str], str]:
    """BP2 at a layer: δ^l = ((w^{l+1})^T δ^{l+1}) ⊙ σ′(z^l), each sum written out."""
    symbolic = [
        f"\\delta^{{{layer}}} = \\left((w^{{{layer + 1}}})^{{T}} \\delta^{{{layer + 1}}}\\right) "
        f"\\odot \\sigma'(z^{{{layer}}})"
    ]
    for j in lines.neurons(r.sizes[layer - 1]):
        terms = [
            f"{tex(float(r.w[layer + 1][q, j]))} \\cdot {tex(float(r.delta[layer + 1][q]))}"
            for q in range(r.sizes[layer])
        ]
        out = [f"e-{layer + 1}-{q + 1}-{j + 1}" for q in range(r.sizes[layer])]
        *head, last = _sum_tex(terms)
        lines.add(
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
    return symbolic, words


def _gradients(r: RunView, step: Step, layer: int, lines: _Lines) -> tuple[list[str], str]:
    """BP3 and BP4 at a layer: ∂C/∂b = δ and ∂C/∂w = a_in δ_out."""
    symbolic = [
        f"\\frac{{\\partial C}}{{\\partial b^{{{layer}}}_{{j}}}} = \\delta^{{{layer}}}_{{j}}",
        f"\\frac{{\\partial C}}{{\\partial w^{{{layer}}}_{{jk}}}} = a^{{{layer - 1}}}_{{k}} \\delta^{{{layer}}}_{{j}}",
    ]
    inputs = min(r.sizes[layer - 2], 3)
    for j in lines.neurons(r.sizes[layer - 1]):
        d = float(r.delta[layer][j])
        bias = f"\\frac{{\\partial C}}{{\\partial b^{{{layer}}}_{{{j + 1}}}}} ="
        lines.add([bias, _value(d)], f"n-{layer}-{j + 1}")
        for i in range(inputs):
            lines.add(
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
        lines.more = f"{lines.more} Every ∂C/∂w{sup(layer)} is in its table below.".strip()
    words = (
        f"BP3 and BP4: the bias gradient is the error itself; a weight's gradient is the activation at its "
        f"input end times the error at its output end, a_in × δ_out (the edges of layer {layer} now show it)."
    )
    return symbolic, words


def _update(r: RunView, step: Step, layer: int, lines: _Lines) -> tuple[list[str], str]:
    """Eqs. 20–21: one weight and one bias of every layer, before → after, and the cost."""
    L = r.L
    eta = r.t.eta
    symbolic = [
        "w^{l} \\rightarrow w^{l} - \\eta \\frac{\\partial C}{\\partial w^{l}}",
        "b^{l} \\rightarrow b^{l} - \\eta \\frac{\\partial C}{\\partial b^{l}}",
    ]
    # One weight and one bias of every layer, so the first layers are seen to learn too;
    # the tables below list every parameter before and after.
    for m in range(2, L + 1):
        lines.add(
            [
                f"w^{{{m}}}_{{11}} =",
                f"{tex(float(r.w[m][0, 0]), SIG_DETAIL)} - {tex(eta)} \\times",
                f"{tex(float(r.nabla_w[m][0, 0]))} =",
                _value(float(r.w_new[m][0, 0]), SIG_DETAIL),
            ],
            f"e-{m}-1-1",
        )
        lines.add(
            [
                f"b^{{{m}}}_{{1}} =",
                f"{tex(float(r.b[m][0]), SIG_DETAIL)} - {tex(eta)} \\times",
                f"{tex(float(r.nabla_b[m][0]))} =",
                _value(float(r.b_new[m][0]), SIG_DETAIL),
            ],
            f"n-{m}-1",
        )
    before, after = _value(r.t.cost_before, SIG_DETAIL), _value(r.t.cost_after, SIG_DETAIL)
    lines.add([f"C\\text{{: }} {before} \\rightarrow", after])
    lines.more = "Every weight and bias of every layer, before and after, is in the tables below."
    change = "lower" if r.t.cost_after < r.t.cost_before else "not lower"
    words = (
        f"Gradient descent (eqs. 20–21): every weight and bias moves a step η = {fmt(eta)} against its "
        f"gradient. On this example the cost is now {fmt(r.t.cost_after, 6)}, {change} than "
        f"{fmt(r.t.cost_before, 6)}."
    )
    return symbolic, words


_KINDS = {
    "input": _input,
    "feedforward": _feedforward,
    "output_error": _output_error,
    "backpropagate": _backpropagate,
    "gradients": _gradients,
    "update": _update,
}


def equation_at(r: RunView, step: Step, k: int, limit: int = 4) -> Equation:
    """The panel at step k: the equation, the lines with this example's numbers (``limit`` neurons), words."""
    lines = _Lines(limit)
    symbolic, words = _KINDS[step.kind](r, step, step.layer or r.L, lines)
    return Equation(
        [mathml(s) for s in symbolic], [(mathml_line(p), ids) for p, ids in lines.lines], pretty(words), lines.more
    )
