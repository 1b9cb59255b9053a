"""The equation panel: the step's equation, then the same equation with this example's numbers, then words.

The lines of numbers are built once for the panel and for the LaTeX export (``app.stepper.view.export``). The
panel shows a screen's worth (``limit`` neurons, BP4's first three inputs, one weight and one bias per layer
of the update, long sums shortened) at the digits the diagram prints; lecture mode's (``lecture``) has a line
for every neuron drawn and every input of BP4, which static/js/present.js walks one by one. The export asks for
``every`` line, up to its limit, and for lines that add up: each line of arithmetic carries its operands, how
they combine and its result, and its operands get as many more significant digits as it takes for the arithmetic
on the printed operands, rounded to the result's printed digits, to give the engine's result (see ``_Lines.calc``).

Left out: MathML (``app.core.mathml``) and the page's markup; the tables hold every number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from functools import partial

import numpy as np
from markupsafe import Markup
from numpy.typing import NDArray

from backprop_lens.app.core.format import SIG_DETAIL, fmt, pretty, sup, tex
from backprop_lens.app.core.mathml import mathml, mathml_line
from backprop_lens.app.stepper.view.model import MAX_DRAWN, Equation, RunView
from backprop_lens.app.stepper.view.quantities import symbol_of
from backprop_lens.engine import Step

Array = NDArray[np.float64]

MAX_SIG = 17
"""Significant digits that print any float exactly enough (repr needs at most 17)."""


def _activation_tex(name: str, z: str) -> str:
    return {
        "sigmoid": f"\\sigma({z})",
        "tanh": f"\\tanh({z})",
        "relu": f"\\max(0, {z})",
        "linear": z,
    }.get(name, f"\\sigma({z})")


def _activation_decimal(name: str, z: Decimal) -> Decimal:
    """The activation of a printed z, exactly enough to round: what a reader's calculator gives."""
    if name == "tanh":
        e = (2 * z).exp() if z < 0 else (-2 * z).exp()
        return (e - 1) / (e + 1) if z < 0 else (1 - e) / (1 + e)
    if name == "relu":
        return max(Decimal(0), z)
    if name == "linear":
        return z
    return 1 / (1 + (-z).exp())


def _sum_tex(terms: list[str], limit: int = 6, keep: int = 3) -> list[str]:
    """A sum as pieces for ``mathml_line``, each term but the last ending at its "+".

    More than ``limit`` terms: the first ``keep`` and the last, and between them how many
    are left out, so a line from a wide layer stays a few lines long.
    """
    if len(terms) > limit:
        terms = [*terms[:keep], f"\\text{{ … {len(terms) - keep - 1} more terms … }}", terms[-1]]
    return [f"{t} +" for t in terms[:-1]] + terms[-1:]


def _bare(text: str) -> str:
    """A number standing alone (a result, a function's argument): its TeX without the parentheses."""
    return text[1:-1] if text.startswith("(") and text.endswith(")") else text


def _value(v: float, sig: int = 4) -> str:
    """A number standing alone: tex without the parentheses."""
    return _bare(tex(v, sig))


def _printed(v: float, sig: int) -> Decimal:
    """The value a reader sees when v is printed to ``sig`` significant digits (as ``tex`` prints it)."""
    return Decimal(f"{(v if v != 0 else 0.0):.{sig}g}")


def _rounded(d: Decimal, sig: int) -> Decimal:
    """d rounded to ``sig`` significant digits, half to even (as Python prints a float)."""
    if d == 0:
        return Decimal(0)
    r = d.quantize(Decimal(1).scaleb(d.adjusted() - sig + 1), rounding=ROUND_HALF_EVEN)
    return r if r.adjusted() == d.adjusted() else _rounded(r, sig)  # 9.9996 → 10.00: one digit fewer after the point


def _fill(template: Sequence[str], texts: list[str], result: str) -> list[str]:
    """A line's pieces from a template: §0, §1 … are the operands' TeX (§b0: without parentheses), §r the result."""
    slot = re.compile(r"§(b?)(\d+|r)")

    def one(m: re.Match[str]) -> str:
        text = result if m.group(2) == "r" else texts[int(m.group(2))]
        return _bare(text) if m.group(1) else text

    return [slot.sub(one, piece) for piece in template]


Shape = Callable[[list[str], str], list[str]]
"""A line's pieces from its operands' TeX and its result's."""
Combine = Callable[[Sequence[Decimal]], Decimal]
"""A line's arithmetic on its operands as printed."""


class _Lines:
    """The lines of numbers of a step: pieces that each end at an operator, the result last.

    ``every``: the export's lines, every one up to ``limit`` (neurons, inputs, parameters of the update), sums
    written out, each line of arithmetic with digits that add up; what is still left out goes to ``left_out``.
    """

    def __init__(self, limit: int, *, every: bool = False, inputs: int | None = None) -> None:
        self.limit = limit
        self.every = every
        self.inputs = inputs if inputs is not None else limit if every else 3  # BP4's inputs k written per neuron
        self.lines: list[tuple[list[str], str, str]] = []  # pieces, the ids of its items, the quantity's key
        self.more = ""
        self.left_out: list[tuple[str, str]] = []  # (TeX, words): what ``every`` lines still leave out

    def add(self, pieces: list[str], *ids: str, q: str = "") -> None:
        """One line, the ids of the neurons and edges it is about (pointing at it marks them), and the key of the
        quantity it computes (``app.stepper.view.quantities``; a question hides its result)."""
        self.lines.append((pieces, " ".join(ids), q))

    def calc(
        self,
        shape: Shape,
        operands: Sequence[tuple[float, int]],
        combine: Combine,
        result: tuple[float, int],
        *ids: str,
        q: str = "",
    ) -> None:
        """One line of arithmetic: ``operands`` (value, digits on the panel) combine into ``result``.

        The panel prints each number to its digits. The export's rule, so that the line adds up to its last
        printed digit: the result keeps its digits and is the engine's value rounded; the operands get
        0, 1, 2 … more significant digits, all alike, until ``combine`` of the operands as printed, rounded half
        to even to the result's digits, is the printed result. Rounding the operands is what breaks a line
        (0.113091 − 0.5 × 0.0006753 is 0.1127534, not the engine's 0.112754), and a few more digits mend it.
        Past 17 digits (the operands print as the engine holds them; only a result on a rounding boundary or a
        sum that cancels to float noise gets here) the result is printed from the printed operands instead.
        """
        value, sig = result
        texts = [tex(v, s) for v, s in operands]
        finite = all(math.isfinite(v) for v, _ in [*operands, result])
        if not self.every or not finite:
            self.add(shape(texts, _value(value, sig)), *ids, q=q)
            return
        want = _printed(value, sig)
        try:
            with localcontext() as ctx:
                ctx.prec = 80
                for extra in range(MAX_SIG):
                    digits = [min(s + extra, MAX_SIG) for _, s in operands]
                    got = _rounded(combine([_printed(v, d) for (v, _), d in zip(operands, digits, strict=True)]), sig)
                    if got == want or all(d == MAX_SIG for d in digits):
                        break
        except ArithmeticError:  # an exp past Decimal's range (|z| in the millions): as the panel prints it
            self.add(shape(texts, _value(value, sig)), *ids, q=q)
            return
        texts = [tex(v, d) for (v, _), d in zip(operands, digits, strict=True)]
        self.add(shape(texts, _value(value if got == want else float(got), sig)), *ids, q=q)

    def neurons(self, n: int, layer: int = 0) -> range:
        """The first ``limit`` neurons of a layer of n; the rest are in the numbers table, and ``more`` says so."""
        if n > self.limit:
            self.more = f"The other {n - self.limit} neurons of the layer are in the numbers table below."
            if self.every:
                words = f"the other {n - self.limit} neurons of layer {layer} are in the page's tables"
                self.left_out.append((f"\\text{{… {words}}}", words))
        return range(min(n, self.limit))

    def terms(self, n: int) -> int:
        """How many terms of a sum of n the export writes one by one; the rest it folds into one number."""
        return min(n, self.limit) if self.every else n


def _sum(
    lines: _Lines, pairs: list[tuple[float, float]], first: int
) -> tuple[list[tuple[float, int]], Callable[[list[str]], list[str]], Combine]:
    """A sum of products Σ u·v as operands, pieces (the last without its "+") and arithmetic.

    Panel: every term, the middle ones of a long sum elided (``_sum_tex``). Export: every term up to the limit,
    the others folded into one number under a brace that says which k it sums (``first`` is the first
    operand's index in the line)."""
    shown = lines.terms(len(pairs))
    operands = [(v, 4) for pair in pairs[:shown] for v in pair]
    fold = shown < len(pairs)
    if fold:  # the exact sum of the products the line does not write (the engine's own floats)
        with localcontext() as ctx:
            ctx.prec = 80
            rest = sum((Decimal(u) * Decimal(v) for u, v in pairs[shown:]), Decimal(0))
        operands.append((float(rest), 4))

    def pieces(texts: list[str]) -> list[str]:
        mine = texts[first : first + len(operands)]
        terms = [f"{mine[2 * i]} \\cdot {mine[2 * i + 1]}" for i in range(shown)]
        if fold:
            terms.append(f"\\underbrace{{{_bare(mine[-1])}}}_{{k={shown + 1}\\dots{len(pairs)}}}")
        return _sum_tex(terms) if not lines.every else [f"{t} +" for t in terms[:-1]] + terms[-1:]

    def combine(ops: Sequence[Decimal]) -> Decimal:
        mine = ops[first : first + len(operands)]
        total = sum((mine[2 * i] * mine[2 * i + 1] for i in range(shown)), Decimal(0))
        return total + (mine[-1] if fold else 0)

    return operands, pieces, combine


def _input(r: RunView, step: Step, layer: int, lines: _Lines) -> tuple[list[str], str]:
    """The input layer: a¹ = x."""
    symbolic = ["a^{1} = x"]
    for j in lines.neurons(r.sizes[0], 1):
        x = _value(float(r.a[1][j]))
        lines.add([f"a^{{1}}_{{{j + 1}}} = x_{{{j + 1}}} =", x], f"n-1-{j + 1}")  # given, not computed: no q
    words = "The input layer simply holds the example x: its activations are the input."
    return symbolic, words


def _feedforward(r: RunView, step: Step, layer: int, lines: _Lines) -> tuple[list[str], str]:
    """Eq. 25 at a layer: z = w a + b, then a = σ(z), for each neuron."""
    act = r.acts[layer - 2]
    symbolic = [
        f"z^{{{layer}}} = w^{{{layer}}} a^{{{layer - 1}}} + b^{{{layer}}}",
        f"a^{{{layer}}} = " + _activation_tex(act, f"z^{{{layer}}}"),
    ]
    for j in lines.neurons(r.sizes[layer - 1], layer):
        pairs = [(float(r.w[layer][j, i]), float(r.a[layer - 1][i])) for i in range(r.sizes[layer - 2])]
        operands, pieces, combine = _sum(lines, pairs, 0)
        z = float(r.z[layer][j])
        into = [f"e-{layer}-{j + 1}-{i + 1}" for i in range(r.sizes[layer - 2])]

        def z_shape(
            texts: list[str], result: str, pieces: Callable[[list[str]], list[str]] = pieces, j: int = j
        ) -> list[str]:
            *head, last = pieces(texts)
            return [f"z^{{{layer}}}_{{{j + 1}}} =", *head, f"{last} +", f"{texts[-1]} =", result]

        def z_sum(ops: Sequence[Decimal], combine: Combine = combine) -> Decimal:
            return combine(ops) + ops[-1]

        lines.calc(
            z_shape, [*operands, (float(r.b[layer][j]), 4)], z_sum, (z, 4), f"n-{layer}-{j + 1}", *into,
            q=f"z-{layer}-{j + 1}",
        )  # fmt: skip
        lhs = f"a^{{{layer}}}_{{{j + 1}}} ="
        lines.calc(
            partial(_fill, [lhs, _activation_tex(act, "§b0") + " =", "§r"]),
            [(z, 4)],
            lambda ops: _activation_decimal(act, ops[0]),
            (float(r.a[layer][j]), 4),
            f"n-{layer}-{j + 1}",
            q=f"a-{layer}-{j + 1}",
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
    for j in lines.neurons(r.sizes[-1], L):
        a, target, result = float(r.a[L][j]), float(y[0, j]), (float(r.delta[L][j]), 4)
        sp = float(r.sp[L][j])
        lhs = f"\\delta^{{{L}}}_{{{j + 1}}} ="
        if cancels:
            lhs = f"\\delta^{{{L}}}_{{{j + 1}}} = a^{{{L}}}_{{{j + 1}}} - y_{{{j + 1}}} ="
            lines.calc(
                partial(_fill, [lhs, "§0 - §1 =", "§r"]),
                [(a, 4), (target, 4)],
                lambda ops: ops[0] - ops[1],
                result,
                f"n-{L}-{j + 1}",
                q=f"delta-{L}-{j + 1}",
            )
        elif quadratic:
            lines.calc(
                partial(_fill, [lhs, "(§0 - §1) \\times", "§2 =", "§r"]),
                [(a, 4), (target, 4), (sp, 4)],
                lambda ops: (ops[0] - ops[1]) * ops[2],
                result,
                f"n-{L}-{j + 1}",
                q=f"delta-{L}-{j + 1}",
            )
        else:
            lines.calc(
                partial(_fill, [lhs, "§0 \\times", "§1 =", "§r"]),
                [(float(r.nabla_a[j]), 4), (sp, 4)],
                lambda ops: ops[0] * ops[1],
                result,
                f"n-{L}-{j + 1}",
                q=f"delta-{L}-{j + 1}",
            )
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
    for j in lines.neurons(r.sizes[layer - 1], layer):
        pairs = [(float(r.w[layer + 1][q, j]), float(r.delta[layer + 1][q])) for q in range(r.sizes[layer])]
        operands, pieces, combine = _sum(lines, pairs, 0)
        out = [f"e-{layer + 1}-{q + 1}-{j + 1}" for q in range(r.sizes[layer])]

        def shape(
            texts: list[str], result: str, pieces: Callable[[list[str]], list[str]] = pieces, j: int = j
        ) -> list[str]:
            *head, last = pieces(texts)
            return [
                f"\\delta^{{{layer}}}_{{{j + 1}}} =",
                *(f"({p}" if i == 0 else p for i, p in enumerate(head)),
                f"{last}) \\times" if head else f"({last}) \\times",
                f"{texts[-1]} =",
                result,
            ]

        def bp2(ops: Sequence[Decimal], combine: Combine = combine) -> Decimal:
            return combine(ops) * ops[-1]

        lines.calc(
            shape,
            [*operands, (float(r.sp[layer][j]), 4)],
            bp2,
            (float(r.delta[layer][j]), 4),
            f"n-{layer}-{j + 1}",
            *out,
            *(f"n-{layer + 1}-{q + 1}" for q in range(r.sizes[layer])),
            q=f"delta-{layer}-{j + 1}",
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
    n_in = r.sizes[layer - 2]
    inputs = min(n_in, lines.inputs)
    shown = lines.neurons(r.sizes[layer - 1], layer)
    for j in shown:
        d = float(r.delta[layer][j])
        bias = f"\\frac{{\\partial C}}{{\\partial b^{{{layer}}}_{{{j + 1}}}}} ="
        lines.add([bias, _value(d)], f"n-{layer}-{j + 1}", q=f"nabla_b-{layer}-{j + 1}")
        for i in range(inputs):
            weight = f"\\frac{{\\partial C}}{{\\partial w^{{{layer}}}_{{{j + 1}{i + 1}}}}} ="
            lines.calc(
                partial(_fill, [weight, "§0 \\times §1 =", "§r"]),
                [(float(r.a[layer - 1][i]), 4), (d, 4)],
                lambda ops: ops[0] * ops[1],
                (float(r.nabla_w[layer][j, i]), 4),
                f"e-{layer}-{j + 1}-{i + 1}",
                f"n-{layer - 1}-{i + 1}",
                f"n-{layer}-{j + 1}",
                q=f"nabla_w-{layer}-{j + 1}-{i + 1}",
            )
    if inputs < n_in:
        lines.more = f"{lines.more} Every ∂C/∂w{sup(layer)} is in its table below.".strip()
        if lines.every:
            count = len(shown) * (n_in - inputs)
            lines.left_out.append(
                (
                    f"\\text{{… the other {count} }} \\partial C/\\partial w^{{{layer}}}_{{jk}}\\ (k > {inputs}) \\\\\n"
                    "\\text{are in the page's tables}",  # two rows, each short enough for a slide
                    f"the other {count} ∂C/∂w{sup(layer)}_jk (k > {inputs}) are in the page's tables",
                )
            )
    words = (
        f"BP3 and BP4: the bias gradient is the error itself; a weight's gradient is the activation at its "
        f"input end times the error at its output end, a_in × δ_out (the edges of layer {layer} now show it)."
    )
    return symbolic, words


def _update(r: RunView, step: Step, layer: int, lines: _Lines) -> tuple[list[str], str]:
    """Eqs. 20–21: before → after, one weight and one bias of every layer (the export: every one), and the cost."""
    L = r.L
    eta = r.t.eta
    symbolic = [
        "w^{l} \\rightarrow w^{l} - \\eta \\frac{\\partial C}{\\partial w^{l}}",
        "b^{l} \\rightarrow b^{l} - \\eta \\frac{\\partial C}{\\partial b^{l}}",
    ]

    def step_line(name: str, old: float, grad: float, new: float, *ids: str, q: str) -> None:
        lines.calc(
            partial(_fill, [f"{name} =", "§0 - §1 \\times", "§2 =", "§r"]),
            [(old, SIG_DETAIL), (eta, 4), (grad, 4)],
            lambda ops: ops[0] - ops[1] * ops[2],
            (new, SIG_DETAIL),
            *ids,
            q=q,
        )

    # The panel: one weight and one bias of every layer, so the first layers are seen to learn too;
    # the tables below list every parameter before and after. The export: every one, up to its limit.
    left = 0
    for m in range(2, L + 1):
        n_out, n_in = r.sizes[m - 1], r.sizes[m - 2]
        rows = range(min(n_out, lines.limit)) if lines.every else range(1)
        cols = min(n_in, lines.limit) if lines.every else 1
        for j in rows:
            for i in range(cols):
                w = (float(r.w[m][j, i]), float(r.nabla_w[m][j, i]), float(r.w_new[m][j, i]))
                step_line(f"w^{{{m}}}_{{{j + 1}{i + 1}}}", *w, f"e-{m}-{j + 1}-{i + 1}", q=f"w_new-{m}-{j + 1}-{i + 1}")
            b = (float(r.b[m][j]), float(r.nabla_b[m][j]), float(r.b_new[m][j]))
            step_line(f"b^{{{m}}}_{{{j + 1}}}", *b, f"n-{m}-{j + 1}", q=f"b_new-{m}-{j + 1}")
        left += (n_out * n_in + n_out) - len(rows) * (cols + 1)
    if lines.every and left:
        words = f"the other {left} weights and biases are in the page's tables"
        lines.left_out.append((f"\\text{{… {words}}}", words))
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


LECTURE_NEURONS = MAX_DRAWN
"""Lecture mode's lines: those of every neuron the diagram draws (and of each of its inputs, for BP4)."""


def equation_at(r: RunView, step: Step, k: int, limit: int = 4, *, lecture: bool = False) -> Equation:
    """The panel at step k: the equation, the lines with this example's numbers (``limit`` neurons), words.

    ``lecture``: lecture mode's panel, which walks a long equation line by line instead of leaving lines to the
    tables (hidden there): a line for every neuron the diagram draws, and for BP4 for every one of its inputs."""
    lines = _Lines(LECTURE_NEURONS, inputs=LECTURE_NEURONS) if lecture else _Lines(limit)
    symbolic, words = _KINDS[step.kind](r, step, step.layer or r.L, lines)
    more = lines.more
    if lecture and more and "tables below" in more:  # lecture mode hides the tables: say where they are
        more = more.replace("in the tables below", "in the page's tables (Esc leaves lecture mode)")
    numeric = [(_with_result(p) if q else mathml_line(p), ids) for p, ids, q in lines.lines]
    keys = [q for _, _, q in lines.lines]
    symbols = [symbol_of(q) if q else "" for q in keys]
    return Equation([mathml(s) for s in symbolic], numeric, pretty(words), more, keys, symbols)


def _with_result(pieces: list[str]) -> Markup:
    """A line whose result a question or practice hides: the result in its own ``.eq-result``."""
    return Markup('{} <span class="eq-result">{}</span>').format(mathml_line(pieces[:-1]), mathml_line(pieces[-1:]))
