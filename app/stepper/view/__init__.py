"""Presentation of a trace: numbers as text, colour scales, the diagram's layout, equations as MathML.

``step_view(run, k)`` gathers everything the templates need to show step k of
a run: which quantities the algorithm has produced by then, the shading of
every drawn neuron and edge, the equation with its numbers substituted and the
numbers tables. It only reads the engine's arrays; every number shown was
computed by the engine.

Left out: HTML. The templates under ``templates/`` turn these views into markup.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from latex2mathml.converter import convert
from markupsafe import Markup, escape
from numpy.typing import NDArray

from engine import Step, Trace

Array = NDArray[np.float64]

# --- numbers as text -------------------------------------------------------------

_SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def sup(n: int | str) -> str:
    return str(n).translate(_SUP)


def sub(*indices: int) -> str:
    sep = "," if any(i > 9 for i in indices) else ""
    return sep.join(str(i).translate(_SUB) for i in indices)


def pretty(text: str) -> str:
    """The engine's plain titles ("δ^2") with real superscripts ("δ²")."""
    return re.sub(r"\^(\d+)", lambda m: sup(m.group(1)), text)


# One rule for every number a person reads: the diagram prints SIG_DIAGRAM significant
# digits, the read-outs (and the tables and sentences) SIG_DETAIL; fmt writes them as
# text, tex as LaTeX, both from _digits, so they agree on rounding, exponents and −0.
SIG_DIAGRAM = 4
SIG_DETAIL = 6


def _digits(v: float, sig: int) -> tuple[str, int | None]:
    """The mantissa of v to ``sig`` significant digits ("-" for minus) and its power of ten, if any.

    Zero has no sign: −0.0 (a ReLU's δ, a product with 0) prints as 0.
    """
    v = float(v)
    text = f"{(v if v != 0 else 0.0):.{sig}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return mantissa, int(exponent)
    return text, None


def fmt(v: float, sig: int = SIG_DIAGRAM) -> str:
    """``sig`` significant digits, a true minus sign, ×10ⁿ instead of e-notation, never "−0"."""
    if not math.isfinite(v):
        return "∞" if v > 0 else ("−∞" if v < 0 else "NaN")
    mantissa, exponent = _digits(v, sig)
    text = mantissa if exponent is None else f"{mantissa}×10{sup(exponent)}"
    return text.replace("-", "−")


def full(v: float) -> str:
    """The number as the engine holds it (round-trips exactly): for data attributes machines read, never for people."""
    return repr(float(v))


def tex(v: float, sig: int = 4) -> str:
    """A number for LaTeX by fmt's rules; negative numbers in parentheses so ``a · (−b)`` reads right."""
    if not math.isfinite(v):
        return "\\text{NaN}" if math.isnan(v) else ("\\infty" if v > 0 else "(-\\infty)")
    mantissa, exponent = _digits(v, sig)
    text = mantissa if exponent is None else f"{mantissa} \\times 10^{{{exponent}}}"
    return f"({text})" if mantissa.startswith("-") else text


# A minus right after "(" is a sign, not a subtraction: latex2mathml leaves it infix, which
# Chromium spaces as a binary operator, "( − 0.04)". Marking it prefix prints "(−0.04)".
_SIGN = re.compile(r'(<mo stretchy="false">&#x00028;</mo>|<mtd>|<mrow>)<mo>&#x02212;</mo>')


def _signs(markup: str) -> str:
    return _SIGN.sub(r'\1<mo form="prefix">&#x02212;</mo>', markup)


@lru_cache(maxsize=256)
def mathml(latex: str) -> Markup:
    """LaTeX → MathML (Chromium lays it out natively; nothing for the browser to download)."""
    return Markup(_signs(convert(latex, display="block")))  # latex2mathml escapes its input


# A piece of a line ends at its operator: marked infix, it keeps its space on both sides
# (as the last child Chromium would lay it out as postfix, tight against its left operand).
_LAST_OPERATOR = re.compile(r"<mo>([^<]+)</mo></mrow></math>$")


@lru_cache(maxsize=4096)
def _inline(latex: str) -> str:
    return _LAST_OPERATOR.sub(r'<mo form="infix">\1</mo></mrow></math>', _signs(convert(latex)))


def mathml_line(pieces: Sequence[str]) -> Markup:
    """One equation as inline MathML pieces, each ending at an operator ("δ²₁ =", "0.4·0.1385 +", …).

    Chromium does not break a long ``<math>`` across lines, so a sum wider than its
    panel would be cut off. Separate pieces wrap like words between them: a line
    breaks after an operator and continues below, and the result is never clipped.
    """
    return Markup(" ".join(_inline(p) for p in pieces))


# The engine's sentences write their formulas in plain text ("δ^L_j = ∂C/∂a^L_j · σ'(z^L_j)").
# A word is part of a formula if it has a mark no English word has, or brackets or a slash
# around something that is not a word ("(a", "y)/(a(1" but not "(low-activation", "BP1/BP2"),
# or is a number right after a formula ("≈ 0").
_FORMULA_MARK = re.compile(r"[\^_=≈·δσ∂∇']")
_PLAIN_WORD = re.compile(r"\(?[A-Za-z][A-Za-z0-9/-]{2,}\)?")
_TO_TEX = {"−": "-", "≈": r"\approx ", "·": r"\cdot ", "∂": r"\partial ", "δ": r"\delta ", "σ": r"\sigma ",
           "∇": r"\nabla "}  # fmt: skip


def _formula_word(word: str, in_formula: bool) -> bool:
    if _FORMULA_MARK.search(word) or word == "−":
        return True
    if re.search(r"[()/−]", word):
        return not _PLAIN_WORD.fullmatch(word)
    return in_formula and bool(re.fullmatch(r"\d+(\.\d+)?", word))


def prose_math(text: str) -> Markup:
    """A sentence whose formulas are plain text, as HTML with each formula in MathML."""
    out: list[str] = []
    formula: list[str] = []

    def end_formula(tail: str = "") -> None:
        if formula:
            latex = " ".join(formula)
            for char, command in _TO_TEX.items():
                latex = latex.replace(char, command)
            out.append(_inline(latex) + str(escape(tail)))
            formula.clear()

    for word in text.split(" "):
        core, tail = (word[:-1], word[-1]) if word[-1:] in (",", ";", ":", ".") else (word, "")
        if core and _formula_word(core, bool(formula)):
            formula.append(core)
            if tail:
                end_formula(tail)
            continue
        end_formula()
        out.append(str(escape(word)))
    end_formula()
    return Markup(" ".join(out))


# --- colour scales ---------------------------------------------------------------

# Forward quantities: a sequential ramp (light → dark green). Backward quantities:
# a diverging ramp, blue for negative, orange for positive (safe for red-green
# colour blindness). Weights: colour and dash give the sign, width the magnitude.
SEQUENTIAL = ("#f7fcf5", "#c7e9c0", "#74c476", "#238b45", "#00441b")
DIVERGING = ("#2166ac", "#92c5de", "#f7f7f7", "#fdb863", "#b35806")
# Edges sit on white: their diverging ramp has a grey middle, so a small gradient stays visible.
DIVERGING_EDGE = ("#2166ac", "#6baed6", "#a8a8a8", "#fd8d3c", "#b35806")
W_POSITIVE = "#2d6a4f"
W_NEGATIVE = "#7b3294"
PENDING = "#ffffff"
NEUTRAL = "#e9ecef"


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


def ramp(stops: Sequence[str], t: float) -> str:
    """The colour at t ∈ [0, 1] along evenly spaced stops, interpolated in sRGB."""
    t = min(max(t, 0.0), 1.0) if math.isfinite(t) else 0.5
    pos = t * (len(stops) - 1)
    i = min(int(pos), len(stops) - 2)
    f = pos - i
    lo, hi = _rgb(stops[i]), _rgb(stops[i + 1])
    r, g, b = (round(lo[c] + (hi[c] - lo[c]) * f) for c in range(3))
    return f"#{r:02x}{g:02x}{b:02x}"


def text_colour(fill: str) -> str:
    """Black or white, whichever reads better on ``fill`` (relative luminance, WCAG)."""

    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in _rgb(fill))
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#000000" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "#ffffff"


@dataclass(frozen=True)
class Scale:
    """A colour scale with its numeric ends, for one quantity of one run (or of one layer: ``layer``)."""

    name: str
    symbol: str
    lo: float
    hi: float
    stops: tuple[str, ...]
    diverging: bool
    layer: int | None = None  # set for a per-layer scale: lo … hi is this layer's own range

    def colour(self, v: float) -> str:
        span = self.hi - self.lo
        # all zero (a dead ReLU layer): the middle of the ramp, "no error here"
        return ramp(self.stops, (v - self.lo) / span if span > 0 else 0.5)

    @property
    def ends(self) -> tuple[str, str]:
        return fmt(self.lo), fmt(self.hi)

    def gradient_stops(self) -> list[tuple[str, str]]:
        n = len(self.stops) - 1
        return [(f"{100 * i / n:g}%", c) for i, c in enumerate(self.stops)]


def _peak(arrays: Sequence[Array]) -> float:
    """The largest |value| of the arrays (0 for none)."""
    return max((float(np.max(np.abs(a))) for a in arrays if a.size), default=0.0)


def _max_abs(arrays: Sequence[Array]) -> float:
    m = _peak(arrays)
    return m if m > 0 and math.isfinite(m) else 1.0


def _symmetric(
    name: str, symbol: str, arrays: Sequence[Array], stops: tuple[str, ...] = DIVERGING, layer: int | None = None
) -> Scale:
    """−m … m for the arrays' largest |value| m: zero sits in the middle of a diverging ramp."""
    m = _peak(arrays)
    return Scale(name, symbol, -m, m, stops, True, layer)


def _per_layer(name: str, symbol: str, by_layer: dict[int, Array], stops: tuple[str, ...]) -> dict[int, Scale]:
    """One symmetric scale per layer, each from the layer's own largest |value|.

    A hidden layer's δ is often a tenth of the output's or less; on one scale for the
    whole network it would be drawn white. Each layer on its own scale is coloured at
    its own step, and the legend says so and gives the range of the layer in focus.
    """
    return {layer: _symmetric(name, symbol, [a], stops, layer) for layer, a in by_layer.items()}


# --- which step produced what ------------------------------------------------------

PHASES = {
    "input": "forward",
    "feedforward": "forward",
    "output_error": "backward",
    "backpropagate": "backward",
    "gradients": "gradient",
    "update": "update",
}


@dataclass(frozen=True)
class Timeline:
    """The step at which each quantity of each layer appears."""

    a: dict[int, int]
    delta: dict[int, int]
    grad: dict[int, int]
    update: int

    @classmethod
    def of(cls, steps: Sequence[Step]) -> Timeline:
        a: dict[int, int] = {}
        delta: dict[int, int] = {}
        grad: dict[int, int] = {}
        update = len(steps) - 1
        for s in steps:
            if s.kind in ("input", "feedforward") and s.layer is not None:
                a[s.layer] = s.index
            elif s.kind in ("output_error", "backpropagate") and s.layer is not None:
                delta[s.layer] = s.index
            elif s.kind == "gradients" and s.layer is not None:
                grad[s.layer] = s.index
            elif s.kind == "update":
                update = s.index
        return cls(a=a, delta=delta, grad=grad, update=update)


# --- the diagram -------------------------------------------------------------------

MAX_WIDTH, MAX_HEIGHT, MIN_HEIGHT = 760, 460, 250
MAX_DRAWN = 16  # a wider layer shows its first and last neurons and a count
EDGES_FOCUSABLE = 64  # above this many drawn edges, edges carry no read-out and take no focus


def drawn(n: int) -> list[int | None]:
    """0-based indices of the neurons drawn for a layer of n; None marks the gap."""
    if n <= MAX_DRAWN:
        return list(range(n))
    half = (MAX_DRAWN - 2) // 2
    return [*range(half), None, *range(n - half, n)]


@dataclass(frozen=True)
class ValueText:
    """A neuron's value as printed: inside its circle when it fits there, else beside it."""

    text: str
    x: float
    y: float
    anchor: str  # SVG text-anchor: "middle" inside or above/below, "start" on the right, "end" on the left
    font: float
    ink: str
    inside: bool
    plate: tuple[float, float, float, float] | None = None  # beside: x, y, width, height of its backing


@dataclass(frozen=True)
class NeuronView:
    id: str
    layer: int
    j: int
    x: float
    y: float
    r: float
    fill: str
    value: ValueText | None
    info: str  # the read-out, for people: numbers by fmt with SIG_DETAIL digits
    classes: str
    data: tuple[tuple[str, str], ...] = ()  # (name, full value) for data-* attributes that machines read


@dataclass(frozen=True)
class PulseView:
    """The dash that travels along an edge: forward (eq. 25) or back (BP2), carrying w·δ."""

    direction: str  # "forward" or "back"
    colour: str
    width: float
    sign: str  # a back pulse: "pos", "neg" or "zero", the sign of w^{l+1}_{kj} δ^{l+1}_k it carries
    carry: str = ""  # that product, full(), for machines


@dataclass(frozen=True)
class EdgeView:
    id: str
    x1: float
    y1: float
    x2: float
    y2: float
    colour: str
    width: float
    dashed: bool
    info: str
    classes: str
    focusable: bool
    pulse: PulseView | None
    data: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class GapView:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class LayerLabel:
    x: float
    text: str  # "layer 3"
    lines: tuple[str, ...]  # its role, activation and width, on one line or two
    font: float  # of the lines; chosen so that neighbouring labels never meet


@dataclass(frozen=True)
class Diagram:
    width: int
    height: int
    neurons: list[NeuronView]
    edges: list[EdgeView]
    gaps: list[GapView]
    labels: list[LayerLabel]
    title: str
    description: str
    label_font: float = 14.0  # of "layer l"
    line_step: float = 14.0  # between the lines of a layer's label


@dataclass(frozen=True)
class LegendEntry:
    """One scale of the legend: its swatch, whether the step uses it, and in words its kind and range."""

    scale: Scale
    active: bool
    kind: str  # "network": one scale for every layer; "layer": each layer on its own
    text: str
    layer: int | None = None  # a per-layer scale: the layer whose range the text gives


# --- the numbers tables ------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    text: str
    value: str  # full precision, "" when not yet computed
    q: str  # what it is, for tests and the inspector: "delta-3-1"
    current: bool


@dataclass(frozen=True)
class TableRow:
    head: str
    cells: list[Cell]


@dataclass(frozen=True)
class Table:
    id: str
    caption: str
    columns: list[str]
    rows: list[TableRow]
    current: bool
    corner: str = "neuron j"  # the head of the rows' column
    collapsed: bool = False  # a long table starts folded (<details>), its caption the summary
    note: str = ""  # under the table: what it leaves out


# --- the equation panel ------------------------------------------------------------


@dataclass(frozen=True)
class Equation:
    symbolic: list[Markup]
    numeric: list[tuple[Markup, str]]  # each line with the ids of the diagram's items it is about
    words: str
    more: str = ""


@dataclass(frozen=True)
class StepView:
    run_id: str
    k: int
    steps: int
    step: Step
    title: str
    phase: str
    diagram: Diagram
    equation: Equation
    tables: list[Table]
    costs: list[Cell]
    scales: list[LegendEntry]
    announce: str
    marks: list[tuple[int, str, str, str]] = field(default_factory=list)  # (index, short label, title, phase)


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


SHORT = {
    "input": "in",
    "feedforward": "25",
    "output_error": "BP1",
    "backpropagate": "BP2",
    "gradients": "BP3–4",
    "update": "upd",
}


class _Run:
    """Row 0 of every array of a trace (the page traces one example), read once per render."""

    def __init__(self, t: Trace) -> None:
        g = t.gradients
        self.t = t
        self.L = t.network.num_layers
        self.sizes = t.network.sizes
        self.acts = t.network.activation_names
        self.a = {i + 1: a[0] for i, a in enumerate(g.forward.activations)}
        self.z = {i + 2: z[0] for i, z in enumerate(g.forward.zs)}
        self.sp = {i + 2: s[0] for i, s in enumerate(g.sigma_primes)}
        self.delta = {i + 2: d[0] for i, d in enumerate(g.deltas)}
        self.nabla_a = g.nabla_a[0]
        self.nabla_w = {i + 2: w for i, w in enumerate(g.nabla_w)}
        self.nabla_b = {i + 2: b for i, b in enumerate(g.nabla_b)}
        self.w = {i + 2: w for i, w in enumerate(t.network.weights)}
        self.b = {i + 2: b for i, b in enumerate(t.network.biases)}
        self.w_new = {i + 2: w for i, w in enumerate(t.updated.weights)}
        self.b_new = {i + 2: b for i, b in enumerate(t.updated.biases)}
        self.timeline = Timeline.of(t.steps)
        a_all = list(self.a.values())
        lo = min(0.0, min(float(np.min(a)) for a in a_all))
        hi = max(1.0, max(float(np.max(a)) for a in a_all))
        finite = math.isfinite(lo) and math.isfinite(hi)
        self.scale_a = Scale("a", "a", lo if finite else 0.0, hi if finite else 1.0, SEQUENTIAL, False)
        self.scale_delta = _per_layer("delta", "δ", self.delta, DIVERGING)
        self.scale_nabla_w = _per_layer("nabla_w", "∂C/∂w", self.nabla_w, DIVERGING_EDGE)
        self.w_max = _max_abs([*self.w.values(), *self.w_new.values()])

    def seen(self, table: dict[int, int], layer: int, k: int) -> bool:
        return layer in table and table[layer] <= k


def detail(v: float) -> str:
    """A number for people reading closely (tables, read-outs, tooltips): SIG_DETAIL significant digits."""
    return fmt(float(v), SIG_DETAIL)


def _neuron_info(r: _Run, layer: int, j: int, k: int) -> str:
    """The read-out of a neuron (hover, focus, tap): what the algorithm has computed by step k."""
    name = f"Neuron {j + 1} of layer {layer}"
    if layer == 1:
        return f"{name} (input): a{sup(1)}{sub(j + 1)} = x{sub(j + 1)} = {detail(r.a[1][j])}"
    parts = []
    if r.seen(r.timeline.a, layer, k):
        parts += [f"z = {detail(r.z[layer][j])}", f"a = {detail(r.a[layer][j])}"]
    else:
        parts.append("z and a not yet computed")
    if r.seen(r.timeline.delta, layer, k):
        parts += [f"σ′(z) = {detail(r.sp[layer][j])}", f"δ = {detail(r.delta[layer][j])}"]
    else:
        parts.append("σ′(z) and δ not yet computed")
    if r.seen(r.timeline.grad, layer, k):
        parts.append(f"∂C/∂b = {detail(r.nabla_b[layer][j])}")
    return f"{name}: " + ", ".join(parts)


def _neuron_data(r: _Run, layer: int, j: int, k: int) -> tuple[tuple[str, str], ...]:
    """The neuron's numbers as the engine holds them, for machines (data-* attributes)."""
    tl = r.timeline
    data = [("a", full(r.a[layer][j]))] if layer == 1 or r.seen(tl.a, layer, k) else []
    if layer > 1 and r.seen(tl.a, layer, k):
        data.append(("z", full(r.z[layer][j])))
    if layer > 1 and r.seen(tl.delta, layer, k):
        data += [("sigma-prime", full(r.sp[layer][j])), ("delta", full(r.delta[layer][j]))]
    if layer > 1 and r.seen(tl.grad, layer, k):
        data.append(("nabla-b", full(r.nabla_b[layer][j])))
    return tuple(data)


def _edge_info(r: _Run, layer: int, j: int, i: int, k: int) -> str:
    """The read-out of an edge: its weight, and the a_in, δ_out and ∂C/∂w computed by step k."""
    w = r.w_new if k >= r.timeline.update else r.w
    text = (
        f"w{sup(layer)}{sub(j + 1, i + 1)}, from neuron {i + 1} of layer {layer - 1} "
        f"to neuron {j + 1} of layer {layer}: w = {detail(w[layer][j, i])}"
    )
    if r.seen(r.timeline.a, layer - 1, k):
        text += f", a_in = a{sup(layer - 1)}{sub(i + 1)} = {detail(r.a[layer - 1][i])}"
    if r.seen(r.timeline.delta, layer, k):
        text += f", δ_out = δ{sup(layer)}{sub(j + 1)} = {detail(r.delta[layer][j])}"
    if r.seen(r.timeline.grad, layer, k):
        text += f", ∂C/∂w = a_in δ_out = {detail(r.nabla_w[layer][j, i])}"
    return text


def _edge_data(r: _Run, layer: int, j: int, i: int, k: int) -> tuple[tuple[str, str], ...]:
    w = r.w_new if k >= r.timeline.update else r.w
    data = [("w", full(w[layer][j, i]))]
    if r.seen(r.timeline.grad, layer, k):
        data.append(("nabla-w", full(r.nabla_w[layer][j, i])))
    return tuple(data)


def _carried(r: _Run, layer: int) -> dict[tuple[int, int], float]:
    """BP2's terms w^{l}_{kj} δ^{l}_k along the drawn edges into layer ``layer``, by (k, j), 0-based."""
    rows = [q for q in drawn(r.sizes[layer - 1]) if q is not None]
    cols = [i for i in drawn(r.sizes[layer - 2]) if i is not None]
    return {(q, i): float(r.w[layer][q, i]) * float(r.delta[layer][q]) for q in rows for i in cols}


def _largest(values: Sequence[float]) -> float:
    return max((abs(v) for v in values if math.isfinite(v)), default=0.0)


# --- text that fits ----------------------------------------------------------------

# Advance widths in em of DejaVu Sans Bold: the widest of the usual UI fonts and the one
# Chromium falls back to on Linux. The estimate errs wide, so text placed by it fits in any.
_EM = {
    **dict.fromkeys("0123456789", 0.70),
    **dict.fromkeys("⁰¹²³⁴⁵⁶⁷⁸⁹", 0.44),
    ".": 0.38,
    ",": 0.38,
    "−": 0.84,
    "×": 0.84,
    "∞": 0.84,
    "⁻": 0.53,
    " ": 0.35,
    "·": 0.40,
    "m": 1.05,
    "w": 0.93,
    "M": 1.0,
    "W": 1.12,
}
LINE = 1.2  # the height of a line of text, in em (DejaVu's ascent and descent add up to 1.17)
INSIDE_FONT = (11.0, 14.0)  # a value printed inside its circle: at least, at most
BESIDE_FONTS = (12.0, 10.5, 9.0)  # a value beside its circle, tried in this order
PULSE_WIDTH = (1.5, 7.0)  # a back pulse's stroke width: carrying 0, carrying the layer's largest |w·δ|
PULSE_COLOUR = {"pos": DIVERGING[4], "neg": DIVERGING[0], "zero": "#8c959f"}
FORWARD_PULSE = "#00441b"
INK = "#1d2329"

Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def text_width(text: str, size: float) -> float:
    """The width of ``text`` at ``size`` px, estimated on the wide side (see _EM)."""
    return size * sum(_EM.get(c, 0.86 if c.isupper() else 0.72) for c in text)


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _meets_circle(box: Box, cx: float, cy: float, r: float) -> bool:
    nx, ny = min(max(cx, box[0]), box[2]), min(max(cy, box[1]), box[3])
    return (nx - cx) ** 2 + (ny - cy) ** 2 < r * r


def _inside_font(text: str, r: float) -> float | None:
    """The largest font (in half pixels) at which ``text`` fits inside a circle of radius r, if readable."""
    f = min(INSIDE_FONT[1], math.floor(r * 0.92) / 2)
    while f >= INSIDE_FONT[0]:
        half = LINE * f / 2
        if half < r and text_width(text, f) <= 2 * math.sqrt(r * r - half * half) - 2:
            return f
        f -= 0.5
    return None


@dataclass(frozen=True)
class _Spot:
    """A neuron to label: its circle, its value as text and the fill behind it."""

    x: float
    y: float
    r: float
    text: str
    fill: str


def _place_values(spots: list[_Spot], obstacles: list[Box], bounds: Box) -> list[ValueText | None]:
    """Each value inside its circle if it fits there, else beside it where it meets no circle and no
    other text: right, below, left or above. All values beside their circles share one font, the
    largest of BESIDE_FONTS at which every one finds room; at the smallest, a value with no room
    anywhere is left to the read-out and the tables (None)."""
    inside: list[ValueText | None] = []
    for s in spots:
        f = _inside_font(s.text, s.r) if s.text else None
        inside.append(None if f is None else ValueText(s.text, s.x, s.y, "middle", f, text_colour(s.fill), True))
    todo = [n for n, s in enumerate(spots) if s.text and inside[n] is None]
    # the circles a value beside neuron n could reach: those of its own and the neighbouring columns
    reach = {n: text_width(spots[n].text, BESIDE_FONTS[0]) + 2 * spots[n].r + 40 for n in todo}
    near = {n: [o for o in spots if abs(o.x - spots[n].x) < reach[n]] for n in todo}
    placed = inside
    for f in BESIDE_FONTS:
        placed = list(inside)
        taken: list[Box] = list(obstacles)
        for n in todo:
            placed[n] = _beside(spots[n], f, near[n], taken, bounds)
        if all(placed[n] is not None for n in todo):
            break
    return placed


def _beside(s: _Spot, f: float, near: list[_Spot], taken: list[Box], bounds: Box) -> ValueText | None:
    """The first of right, below, left and above where the value fits at font f, clear of the circles
    ``near`` it (its own among them) and of the boxes ``taken``, which its box then joins."""
    w, h, gap = text_width(s.text, f), LINE * f, 5.0  # clear of a current neuron's thick ring
    options = (
        ((s.x + s.r + gap, s.y - h / 2, s.x + s.r + gap + w, s.y + h / 2), s.x + s.r + gap, s.y, "start"),
        ((s.x - w / 2, s.y + s.r + 1, s.x + w / 2, s.y + s.r + 1 + h), s.x, s.y + s.r + 1 + h / 2, "middle"),
        ((s.x - s.r - gap - w, s.y - h / 2, s.x - s.r - gap, s.y + h / 2), s.x - s.r - gap, s.y, "end"),
        ((s.x - w / 2, s.y - s.r - 1 - h, s.x + w / 2, s.y - s.r - 1), s.x, s.y - s.r - 1 - h / 2, "middle"),
    )
    for box, tx, ty, anchor in options:
        if not (bounds[0] <= box[0] and bounds[1] <= box[1] and box[2] <= bounds[2] and box[3] <= bounds[3]):
            continue
        # 10 px between two values, 3 px from another neuron: a value reads as its own neuron's
        padded = (box[0] - 5, box[1] - 1, box[2] + 5, box[3] + 1)
        if any(_overlap(padded, t) for t in taken):
            continue
        if any(_meets_circle(box, o.x, o.y, o.r + (1.0 if o is s else 3.0)) for o in near):
            continue
        taken.append(padded)
        # a white plate under the value hides the edges and pulses that pass behind it
        plate = (round(box[0], 1), round(box[1], 1), round(box[2] - box[0], 1), round(box[3] - box[1], 1))
        return ValueText(s.text, round(tx, 1), round(ty, 1), anchor, f, INK, False, plate)
    return None


def _layer_labels(r: _Run, xs: list[float], room: float) -> tuple[list[LayerLabel], float, float]:
    """Each layer's label, on one line or two, at the largest font that keeps it within ``room``
    (the space between neighbouring labels): the labels, the title font and the lines' font."""
    forms: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    for li, n in enumerate(r.sizes):
        layer = li + 1
        role = "input" if layer == 1 else ("output" if layer == r.L else "hidden")
        if layer == 1:
            forms.append(((f"{role} · {n}",), (f"{role} · {n}",)))
        else:
            act = r.acts[li - 1]
            forms.append(((f"{role} · {act} · {n}",), (f"{role} · {n}", act)))
    title_font = max(8.0, min(14.0, math.floor(2 * room / text_width(f"layer {r.L}", 1.0)) / 2))
    fits = [
        (form, font)
        for form, fonts in ((0, (12.0, 11.0)), (1, (12.0, 11.0, 10.0, 9.0)))
        for font in fonts
        if all(text_width(line, font) <= room for f in forms for line in f[form])
    ]
    if fits:
        form, font = fits[0]
    else:  # nothing fits at 9 px: two lines, as large as the widest line allows
        form = 1
        font = math.floor(2 * room / max(text_width(line, 1.0) for f in forms for line in f[1])) / 2
    labels = [LayerLabel(xs[li], f"layer {li + 1}", f[form], font) for li, f in enumerate(forms)]
    return labels, title_font, font


def _diagram(r: _Run, step: Step, k: int) -> Diagram:
    phase = PHASES[step.kind]
    L = r.L
    mx, bottom = 80.0, 20.0
    svg_width = max(460, min(MAX_WIDTH, 230 * (L - 1) + 2 * int(mx)))
    xs = [round(mx + (svg_width - 2 * mx) * i / (L - 1), 1) for i in range(L)]
    room = min((svg_width - 2 * mx) / (L - 1) - 10, 2 * mx - 4)
    labels, title_font, line_font = _layer_labels(r, xs, room)
    line_step = math.ceil(line_font * 1.3)  # a line's box is 1.17 em high
    lines = max(len(lb.lines) for lb in labels)
    last_line = 36 + line_step * (lines - 1)  # baseline of the labels' last line
    top = last_line + 20
    tallest = max(len(drawn(n)) for n in r.sizes)
    height = int(min(MAX_HEIGHT, max(MIN_HEIGHT, 76 + 80 * tallest)) + top - 56)
    positions: dict[tuple[int, int], tuple[float, float, float]] = {}
    spots: list[_Spot] = []
    pending: list[tuple[str, int, int, float, float, float, str, str]] = []
    gaps: list[GapView] = []
    obstacles: list[Box] = []
    total_edges = sum(len(drawn(r.sizes[i])) * len(drawn(r.sizes[i + 1])) for i in range(L - 1))
    for li, n in enumerate(r.sizes):
        layer = li + 1
        slots = drawn(n)
        spacing = min(80.0, (height - top - bottom) / len(slots))
        y0 = top + (height - top - bottom - spacing * len(slots)) / 2 + spacing / 2
        radius = round(max(5.0, min(29.0, spacing * 0.37)), 1)
        for s, j in enumerate(slots):
            y = round(y0 + s * spacing, 1)
            if j is None:
                gap = GapView(xs[li], y, f"⋮ {n - (MAX_DRAWN - 2)} more")
                gaps.append(gap)
                half = text_width(gap.text, 13) / 2
                obstacles.append((gap.x - half, y - 8, gap.x + half, y + 8))
                continue
            positions[(layer, j)] = (xs[li], y, radius)
            fill, label, classes = PENDING, "", ["neuron"]
            show_delta = phase != "forward" and r.seen(r.timeline.delta, layer, k)
            if show_delta:
                v = float(r.delta[layer][j])
                fill, label = r.scale_delta[layer].colour(v), fmt(v)
                classes.append("shows-delta")
            elif phase == "forward" and r.seen(r.timeline.a, layer, k):
                v = float(r.a[layer][j])
                fill, label = r.scale_a.colour(v), fmt(v)
                classes.append("shows-a")
            elif layer == 1:
                fill, label = NEUTRAL, fmt(float(r.a[1][j]))
            else:
                classes.append("pending")
            if step.layer == layer and phase != "update":
                classes.append("current")
            spots.append(_Spot(xs[li], y, radius, label, fill))
            pending.append((f"n-{layer}-{j + 1}", layer, j, xs[li], y, radius, fill, " ".join(classes)))
    # Values beside the output layer may use a wider right margin: the viewBox grows to hold them.
    values = _place_values(spots, obstacles, (2.0, last_line + 6, svg_width + 120.0, height - 2.0))
    right = max((v.x + text_width(v.text, v.font) + 4 for v in values if v and v.anchor == "start"), default=0)
    svg_width = max(svg_width, math.ceil(right))
    neurons = [
        NeuronView(
            id=nid,
            layer=layer,
            j=j + 1,
            x=x,
            y=y,
            r=radius,
            fill=fill,
            value=value,
            info=_neuron_info(r, layer, j, k),
            classes=classes,
            data=_neuron_data(r, layer, j, k),
        )
        for (nid, layer, j, x, y, radius, fill, classes), value in zip(pending, values, strict=True)
    ]

    edges: list[EdgeView] = []
    # Many edges: drawn only. Their numbers are in the ∂C/∂w tables, and a page of a
    # thousand read-outs would weigh a megabyte per step.
    focusable = total_edges <= EDGES_FOCUSABLE
    for layer in range(2, L + 1):
        grads_shown = phase == "gradient" and r.seen(r.timeline.grad, layer, k)
        grad_scale = r.scale_nabla_w[layer]
        w = r.w_new if phase == "update" else r.w
        direction: str | None = None
        if step.layer == layer and step.kind == "feedforward":
            direction = "forward"
        elif step.layer == layer - 1 and step.kind == "backpropagate":
            direction = "back"
        carried = _carried(r, layer) if direction == "back" else {}
        peak = _largest(list(carried.values()))
        for j in drawn(r.sizes[layer - 1]):
            if j is None:
                continue
            x2, y2, _ = positions[(layer, j)]
            for i in drawn(r.sizes[layer - 2]):
                if i is None:
                    continue
                x1, y1, _ = positions[(layer - 1, i)]
                classes = ["edge"]
                if grads_shown:
                    v = float(r.nabla_w[layer][j, i])
                    colour = grad_scale.colour(v)
                    width = 1.5 + 6.5 * (abs(v) / grad_scale.hi if grad_scale.hi > 0 else 0.0)
                    dashed = False
                    classes.append("shows-grad")
                else:
                    v = float(w[layer][j, i])
                    colour = W_POSITIVE if v >= 0 else W_NEGATIVE
                    width = 0.75 + 5.25 * abs(v) / r.w_max
                    dashed = v < 0
                    if phase == "gradient":
                        classes.append("dim")
                pulse: PulseView | None = None
                if direction == "forward":
                    pulse = PulseView("forward", FORWARD_PULSE, 5.0, "")
                elif direction == "back":
                    c = carried[(j, i)]
                    sign = "pos" if c > 0 else ("neg" if c < 0 else "zero")
                    rel = abs(c) / peak if peak > 0 and math.isfinite(c) else 0.0
                    size = PULSE_WIDTH[0] + (PULSE_WIDTH[1] - PULSE_WIDTH[0]) * rel
                    pulse = PulseView("back", PULSE_COLOUR[sign], round(size, 2), sign, full(c))
                if pulse is not None or (step.kind == "gradients" and step.layer == layer):
                    classes.append("active")
                edges.append(
                    EdgeView(
                        id=f"e-{layer}-{j + 1}-{i + 1}",
                        x1=x1,
                        y1=y1,
                        x2=x2,
                        y2=y2,
                        colour=colour,
                        width=round(width, 2),
                        dashed=dashed,
                        info=_edge_info(r, layer, j, i, k) if focusable else "",
                        classes=" ".join(classes),
                        focusable=focusable,
                        pulse=pulse,
                        data=_edge_data(r, layer, j, i, k) if focusable else (),
                    )
                )
    shading = {
        "forward": "neurons shaded by their activation a, edges by their weight w",
        "backward": "neurons shaded by their error δ, each layer on its own scale; edges by their weight w",
        "gradient": "neurons shaded by δ = ∂C/∂b, edges of finished layers by ∂C/∂w, each layer on its own scale",
        "update": "neurons shaded by δ, each layer on its own scale; edges by the updated weights",
    }[phase]
    if step.kind == "backpropagate":
        shading += "; a dash carries w·δ back along each edge, orange for +, blue for −, wider for more"
    title = f"A {'-'.join(map(str, r.sizes))} network at step {k + 1}: {pretty(step.title)}"
    return Diagram(
        svg_width, height, neurons, edges, gaps, labels, title, f"{title}; {shading}.", title_font, line_step
    )


def _layer_entry(
    scales: dict[int, Scale], appeared: dict[int, int], k: int, focus: int | None, active: bool, what: str, note: str
) -> LegendEntry:
    """A per-layer scale in the legend: its kind, and the range of the layer in focus (or of each layer)."""
    known = [layer for layer in sorted(scales) if appeared.get(layer, k + 1) <= k]
    text = f"per layer, ±its own largest |{what}|{note}"
    shown = next(iter(scales.values()))
    layer: int | None = None
    if focus in known and focus is not None:
        shown, layer = scales[focus], focus
        lo, hi = shown.ends
        text += f" · layer {focus}: {lo} … {hi}"
    elif known:
        text += " · " + ", ".join(f"layer {q}: ±{fmt(scales[q].hi)}" for q in known)
    else:
        text += " · not yet computed"
    return LegendEntry(shown, active, "layer", text, layer)


def _legend(r: _Run, step: Step, k: int) -> list[LegendEntry]:
    """The legend: every scale, which ones this step uses, their kind and the numbers at their ends."""
    phase = PHASES[step.kind]
    active = {
        "forward": {"a", "w"},
        "backward": {"delta", "w"},
        "gradient": {"delta", "nabla_w"},
        "update": {"delta", "w"},
    }[phase]
    scale_w = Scale("w", "w", -r.w_max, r.w_max, (W_NEGATIVE, W_POSITIVE), True)
    lo, hi = r.scale_a.ends
    focus = step.layer if phase in ("backward", "gradient") else None
    into = step.layer + 1 if step.kind == "backpropagate" and step.layer is not None else None
    peak = _largest(list(_carried(r, into).values())) if into is not None else 0.0
    pulse = Scale("pulse", "w·δ", -peak, peak, (PULSE_COLOUR["neg"], PULSE_COLOUR["pos"]), True, into)
    pulse_text = "BP2's dash: orange +, blue −, width ∝ |w·δ|"
    if into is not None:
        pulse_text += f" · layer {into} → {into - 1}: up to {fmt(peak)}"
    w_text = f"green +, dashed purple −, width ∝ |w| up to {scale_w.ends[1]} · one scale for the network"
    delta_note = " (= ∂C/∂b)" if phase == "gradient" else ""
    grad_focus = focus if phase == "gradient" else None
    return [
        LegendEntry(r.scale_a, "a" in active, "network", f"{lo} … {hi} · one scale for the network"),
        LegendEntry(scale_w, "w" in active, "network", w_text),
        _layer_entry(r.scale_delta, r.timeline.delta, k, focus, "delta" in active, "δ", delta_note),
        _layer_entry(r.scale_nabla_w, r.timeline.grad, k, grad_focus, "nabla_w" in active, "∂C/∂w", ", width too"),
        LegendEntry(pulse, into is not None, "layer", pulse_text, into),
    ]


def _cell(value: float | None, q: str, current: bool, sig: int = SIG_DETAIL) -> Cell:
    if value is None:
        return Cell("—", "", q, False)
    return Cell(fmt(value, sig), full(value), q, current)


def _tables(r: _Run, k: int) -> list[Table]:
    tl = r.timeline
    tables: list[Table] = []
    for layer in range(1, r.L + 1):
        rows: list[TableRow] = []
        idx = drawn(r.sizes[layer - 1])
        if layer == 1:
            columns = ["a = x"]
            for j in idx:
                if j is None:
                    rows.append(TableRow("⋮", [Cell("⋮", "", "", False)]))
                    continue
                rows.append(TableRow(str(j + 1), [_cell(float(r.a[1][j]), f"a-1-{j + 1}", k == 0)]))
            tables.append(Table("numbers-1", "Layer 1 (input)", columns, rows, k == 0))
            continue
        fa, fd, fg = r.seen(tl.a, layer, k), r.seen(tl.delta, layer, k), r.seen(tl.grad, layer, k)
        ca, cd, cg = tl.a.get(layer) == k, tl.delta.get(layer) == k, tl.grad.get(layer) == k
        columns = ["z", "a", "σ′(z)", "δ", "∂C/∂b"]
        for j in idx:
            if j is None:
                rows.append(TableRow("⋮", [Cell("⋮", "", "", False) for _ in columns]))
                continue
            rows.append(
                TableRow(
                    str(j + 1),
                    [
                        _cell(float(r.z[layer][j]) if fa else None, f"z-{layer}-{j + 1}", ca),
                        _cell(float(r.a[layer][j]) if fa else None, f"a-{layer}-{j + 1}", ca),
                        _cell(float(r.sp[layer][j]) if fd else None, f"sigma_prime-{layer}-{j + 1}", cd),
                        _cell(float(r.delta[layer][j]) if fd else None, f"delta-{layer}-{j + 1}", cd),
                        _cell(float(r.nabla_b[layer][j]) if fg else None, f"nabla_b-{layer}-{j + 1}", cg),
                    ],
                )
            )
        role = "output" if layer == r.L else "hidden"
        tables.append(Table(f"numbers-{layer}", f"Layer {layer} ({role})", columns, rows, ca or cd or cg))
    for layer in range(2, r.L + 1):
        fg, cg = r.seen(tl.grad, layer, k), tl.grad.get(layer) == k
        cols = drawn(r.sizes[layer - 2])
        rows = []
        for j in drawn(r.sizes[layer - 1]):
            if j is None:
                rows.append(TableRow("⋮", [Cell("⋮", "", "", False) for _ in cols]))
                continue
            cells = [
                Cell("⋯", "", "", False)
                if i is None
                else _cell(float(r.nabla_w[layer][j, i]) if fg else None, f"nabla_w-{layer}-{j + 1}-{i + 1}", cg)
                for i in cols
            ]
            rows.append(TableRow(f"j = {j + 1}", cells))
        columns = ["⋯" if i is None else f"k = {i + 1}" for i in cols]
        tables.append(
            Table(f"gradient-{layer}", f"∂C/∂w{sup(layer)} (row j, column k)", columns, rows, cg, corner="∂C/∂w")
        )
    if k >= tl.update:
        tables += [_update_table(r, layer) for layer in range(2, r.L + 1)]
    return tables


UPDATE_OPEN = 24  # a layer with more updated parameters than this starts folded
UPDATE_WEIGHTS_LISTED = 256  # per layer; the trace JSON has them all
UPDATE_BIASES_LISTED = 64


def _update_table(r: _Run, layer: int) -> Table:
    """Eqs. 20–21 for every weight and bias of one layer: before, gradient, after."""
    rows_out, cols_in = r.w[layer].shape
    rows: list[TableRow] = []

    def row(head: str, q: str, before: float, grad: float, after: float) -> None:
        """q: "w-2-1-1" for the weight before, "w_new-2-1-1" after."""
        name, index = q.split("-", 1)
        rows.append(
            TableRow(
                head,
                [
                    _cell(before, q, False, SIG_DETAIL),
                    _cell(grad, "", False),
                    _cell(after, f"{name}_new-{index}", True, SIG_DETAIL),
                ],
            )
        )

    def gap(n: int, what: str) -> None:
        rows.append(TableRow("⋮", [Cell(f"{n} more {what}", "", "", False), Cell("", "", "", False),
                                   Cell("", "", "", False)]))  # fmt: skip

    listed = 0
    for j in range(rows_out):
        for i in range(cols_in):
            if listed == UPDATE_WEIGHTS_LISTED:
                break
            row(f"w{sup(layer)}{sub(j + 1, i + 1)}", f"w-{layer}-{j + 1}-{i + 1}", float(r.w[layer][j, i]),
                float(r.nabla_w[layer][j, i]), float(r.w_new[layer][j, i]))  # fmt: skip
            listed += 1
    if rows_out * cols_in > listed:
        gap(rows_out * cols_in - listed, "weights")
    for j in range(min(rows_out, UPDATE_BIASES_LISTED)):
        row(f"b{sup(layer)}{sub(j + 1)}", f"b-{layer}-{j + 1}", float(r.b[layer][j]), float(r.nabla_b[layer][j]),
            float(r.b_new[layer][j]))  # fmt: skip
    if rows_out > UPDATE_BIASES_LISTED:
        gap(rows_out - UPDATE_BIASES_LISTED, "biases")
    count = rows_out * cols_in + rows_out
    shown = min(rows_out * cols_in, UPDATE_WEIGHTS_LISTED) + min(rows_out, UPDATE_BIASES_LISTED)
    return Table(
        f"update-{layer}",
        f"Layer {layer}: w{sup(layer)} → w{sup(layer)} − η ∂C/∂w{sup(layer)}, b{sup(layer)} → "
        f"b{sup(layer)} − η ∂C/∂b{sup(layer)} ({count} parameters, η = {fmt(r.t.eta, SIG_DETAIL)})",
        ["before", "∂C/∂w or ∂C/∂b", "after"],
        rows,
        True,
        corner="parameter",
        collapsed=count > UPDATE_OPEN,
        note=f"{shown} of {count} listed; the trace JSON has every one." if shown < count else "",
    )


def _value(v: float, sig: int = 4) -> str:
    """A number standing alone (a result, a function's argument): tex without the parentheses."""
    text = tex(v, sig)
    return text[1:-1] if text.startswith("(") and text.endswith(")") else text


def _equation(r: _Run, step: Step, k: int, limit: int = 4) -> Equation:
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


def step_view(run_id: str, t: Trace, k: int) -> StepView:
    """Everything the page shows at step k of a run."""
    r = _Run(t)
    step = t.steps[k]
    phase = PHASES[step.kind]
    tl = r.timeline
    costs = [
        _cell(t.cost_before if k >= tl.delta.get(r.L, 0) else None, "cost_before", tl.delta.get(r.L) == k, 6),
        _cell(t.cost_after if k >= tl.update else None, "cost_after", tl.update == k, 6),
    ]
    scales = _legend(r, step, k)
    marks = [
        (s.index, SHORT[s.kind], f"Step {s.index + 1}: {pretty(s.title)} ({s.equation})", PHASES[s.kind])
        for s in t.steps
    ]
    announce = f"Step {k + 1} of {len(t.steps)}: {pretty(step.title)} ({step.equation})"
    return StepView(
        run_id=run_id,
        k=k,
        steps=len(t.steps),
        step=step,
        title=pretty(step.title),
        phase=phase,
        diagram=_diagram(r, step, k),
        equation=_equation(r, step, k),
        tables=_tables(r, k),
        costs=costs,
        scales=scales,
        announce=announce,
        marks=marks,
    )
