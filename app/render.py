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
from markupsafe import Markup
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


def fmt(v: float, sig: int = 4) -> str:
    """``sig`` significant digits, a true minus sign and ×10ⁿ instead of e-notation."""
    if not math.isfinite(v):
        return "∞" if v > 0 else ("−∞" if v < 0 else "NaN")
    text = f"{v:.{sig}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}×10{sup(int(exponent))}"
    return text.replace("-", "−")


def full(v: float) -> str:
    """The number as the engine holds it, for hover and for tests (round-trips exactly)."""
    return repr(float(v))


def tex(v: float, sig: int = 4) -> str:
    """A number for LaTeX; negative numbers in parentheses so ``a · (−b)`` reads right."""
    text = f"{v:.{sig}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa} \\times 10^{{{int(exponent)}}}"
    return f"({text})" if v < 0 else text


@lru_cache(maxsize=256)
def mathml(latex: str) -> Markup:
    """LaTeX → MathML (Chromium lays it out natively; nothing for the browser to download)."""
    return Markup(convert(latex, display="block"))  # latex2mathml escapes its input


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
    """A colour scale with its numeric ends, for one quantity of one run."""

    name: str
    symbol: str
    lo: float
    hi: float
    stops: tuple[str, ...]
    diverging: bool

    def colour(self, v: float) -> str:
        return ramp(self.stops, (v - self.lo) / (self.hi - self.lo))

    @property
    def ends(self) -> tuple[str, str]:
        return fmt(self.lo, 3), fmt(self.hi, 3)

    def gradient_stops(self) -> list[tuple[str, str]]:
        n = len(self.stops) - 1
        return [(f"{100 * i / n:g}%", c) for i, c in enumerate(self.stops)]


def _max_abs(arrays: Sequence[Array]) -> float:
    m = max((float(np.max(np.abs(a))) for a in arrays if a.size), default=0.0)
    return m if m > 0 and math.isfinite(m) else 1.0


def _symmetric(name: str, symbol: str, arrays: Sequence[Array], stops: tuple[str, ...] = DIVERGING) -> Scale:
    m = _max_abs(arrays)
    return Scale(name, symbol, -m, m, stops, True)


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
class NeuronView:
    id: str
    layer: int
    j: int
    x: float
    y: float
    r: float
    fill: str
    ink: str
    label: str
    font: float
    info: str
    classes: str


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
    pulse: str | None  # "forward" or "back": a dash travels along the edge


@dataclass(frozen=True)
class GapView:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class LayerLabel:
    x: float
    text: str
    sub: str


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
    scales: list[tuple[Scale, bool]]
    announce: str
    marks: list[tuple[int, str, str, str]] = field(default_factory=list)  # (index, short label, title, phase)


def _activation_tex(name: str, z: str) -> str:
    return {
        "sigmoid": f"\\sigma({z})",
        "tanh": f"\\tanh({z})",
        "relu": f"\\max(0, {z})",
        "linear": z,
    }.get(name, f"\\sigma({z})")


def _sum_tex(terms: list[str], limit: int = 6) -> str:
    if len(terms) > limit:
        terms = [*terms[: limit - 2], "\\cdots", terms[-1]]
    return " + ".join(terms)


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
        self.scale_delta = _symmetric("delta", "δ", list(self.delta.values()))
        self.scale_nabla_w = _symmetric("nabla_w", "∂C/∂w", list(self.nabla_w.values()), DIVERGING_EDGE)
        self.w_max = _max_abs([*self.w.values(), *self.w_new.values()])

    def seen(self, table: dict[int, int], layer: int, k: int) -> bool:
        return layer in table and table[layer] <= k


def _neuron_info(r: _Run, layer: int, j: int, k: int) -> str:
    name = f"Neuron {j + 1} of layer {layer}"
    if layer == 1:
        return f"{name} (input): a{sup(1)}{sub(j + 1)} = x{sub(j + 1)} = {full(r.a[1][j])}"
    parts = []
    if r.seen(r.timeline.a, layer, k):
        parts += [f"z = {full(r.z[layer][j])}", f"a = {full(r.a[layer][j])}"]
    else:
        parts.append("z and a not yet computed")
    if r.seen(r.timeline.delta, layer, k):
        parts += [f"σ′(z) = {full(r.sp[layer][j])}", f"δ = {full(r.delta[layer][j])}"]
    else:
        parts.append("σ′(z) and δ not yet computed")
    return f"{name}: " + ", ".join(parts)


def _edge_info(r: _Run, layer: int, j: int, i: int, k: int) -> str:
    w = r.w_new if k >= r.timeline.update else r.w
    text = (
        f"w{sup(layer)}{sub(j + 1, i + 1)}, from neuron {i + 1} of layer {layer - 1} "
        f"to neuron {j + 1} of layer {layer}: w = {full(w[layer][j, i])}"
    )
    if r.seen(r.timeline.a, layer - 1, k):
        text += f", a_in = a{sup(layer - 1)}{sub(i + 1)} = {full(r.a[layer - 1][i])}"
    if r.seen(r.timeline.delta, layer, k):
        text += f", δ_out = δ{sup(layer)}{sub(j + 1)} = {full(r.delta[layer][j])}"
    if r.seen(r.timeline.grad, layer, k):
        text += f", ∂C/∂w = a_in δ_out = {full(r.nabla_w[layer][j, i])}"
    return text


def _diagram(r: _Run, step: Step, k: int) -> Diagram:
    phase = PHASES[step.kind]
    L = r.L
    mx, top, bottom = 80.0, 56.0, 20.0
    svg_width = max(460, min(MAX_WIDTH, 230 * (L - 1) + 2 * int(mx)))
    tallest = max(len(drawn(n)) for n in r.sizes)
    height = int(min(MAX_HEIGHT, max(MIN_HEIGHT, top + bottom + 80 * tallest)))
    xs = [round(mx + (svg_width - 2 * mx) * i / (L - 1), 1) for i in range(L)]
    positions: dict[tuple[int, int], tuple[float, float, float]] = {}
    neurons: list[NeuronView] = []
    gaps: list[GapView] = []
    labels: list[LayerLabel] = []
    total_edges = sum(
        len([x for x in drawn(r.sizes[i])]) * len(drawn(r.sizes[i + 1])) for i in range(L - 1)
    )
    for li, n in enumerate(r.sizes):
        layer = li + 1
        slots = drawn(n)
        spacing = min(80.0, (height - top - bottom) / len(slots))
        y0 = top + (height - top - bottom - spacing * len(slots)) / 2 + spacing / 2
        radius = round(max(5.0, min(29.0, spacing * 0.37)), 1)
        role = "input" if layer == 1 else ("output" if layer == L else "hidden")
        act = "" if layer == 1 else f" · {r.acts[li - 1]}"
        labels.append(LayerLabel(xs[li], f"layer {layer}", f"{role}{act} · {n}"))
        for s, j in enumerate(slots):
            y = round(y0 + s * spacing, 1)
            if j is None:
                gaps.append(GapView(xs[li], y, f"⋮ {n - (MAX_DRAWN - 2)} more"))
                continue
            positions[(layer, j)] = (xs[li], y, radius)
            fill, label, classes = PENDING, "", ["neuron"]
            show_delta = phase != "forward" and r.seen(r.timeline.delta, layer, k)
            if show_delta:
                v = float(r.delta[layer][j])
                fill, label = r.scale_delta.colour(v), fmt(v, 3)
                classes.append("shows-delta")
            elif phase == "forward" and r.seen(r.timeline.a, layer, k):
                v = float(r.a[layer][j])
                fill, label = r.scale_a.colour(v), fmt(v, 3)
                classes.append("shows-a")
            elif layer == 1:
                fill, label = NEUTRAL, fmt(float(r.a[1][j]), 3)
            else:
                classes.append("pending")
            if step.layer == layer and phase != "update":
                classes.append("current")
            neurons.append(
                NeuronView(
                    id=f"n-{layer}-{j + 1}",
                    layer=layer,
                    j=j + 1,
                    x=xs[li],
                    y=y,
                    r=radius,
                    fill=fill,
                    ink=text_colour(fill),
                    label=label if radius >= 14 else "",
                    # the label fits inside the circle: a digit is about 0.58 em wide
                    font=round(min(radius * 0.46, 1.8 * radius / (0.58 * max(len(label), 1))), 1),
                    info=_neuron_info(r, layer, j, k),
                    classes=" ".join(classes),
                )
            )

    edges: list[EdgeView] = []
    # Many edges: drawn only. Their numbers are in the ∂C/∂w tables, and a page of a
    # thousand read-outs would weigh a megabyte per step.
    focusable = total_edges <= EDGES_FOCUSABLE
    for layer in range(2, L + 1):
        grads_shown = phase == "gradient" and r.seen(r.timeline.grad, layer, k)
        w = r.w_new if phase == "update" else r.w
        pulse: str | None = None
        if step.layer == layer and step.kind == "feedforward":
            pulse = "forward"
        elif step.layer == layer - 1 and step.kind == "backpropagate":
            pulse = "back"
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
                    colour = r.scale_nabla_w.colour(v)
                    width = 1.5 + 6.5 * abs(v) / -r.scale_nabla_w.lo
                    dashed = False
                    classes.append("shows-grad")
                else:
                    v = float(w[layer][j, i])
                    colour = W_POSITIVE if v >= 0 else W_NEGATIVE
                    width = 0.75 + 5.25 * abs(v) / r.w_max
                    dashed = v < 0
                    if phase == "gradient":
                        classes.append("dim")
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
                    )
                )
    shading = {
        "forward": "neurons shaded by their activation a, edges by their weight w",
        "backward": "neurons shaded by their error δ, edges by their weight w",
        "gradient": "neurons shaded by δ, edges of finished layers by ∂C/∂w",
        "update": "neurons shaded by δ, edges by the updated weights",
    }[phase]
    title = f"A {'-'.join(map(str, r.sizes))} network at step {k + 1}: {pretty(step.title)}"
    return Diagram(svg_width, height, neurons, edges, gaps, labels, title, f"{title}; {shading}.")


def _cell(value: float | None, q: str, current: bool, sig: int = 4) -> Cell:
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
        tables.append(Table(f"gradient-{layer}", f"∂C/∂w{sup(layer)} (row j, column k)", columns, rows, cg))
    return tables


def _equation(r: _Run, step: Step, k: int, limit: int = 4) -> Equation:
    layer = step.layer or r.L
    L = r.L
    lines: list[tuple[str, str]] = []
    more = ""

    def add(latex: str, *ids: str) -> None:
        lines.append((latex, " ".join(ids)))

    def neurons(n: int) -> range:
        nonlocal more
        if n > limit:
            more = f"The other {n - limit} neurons of the layer are in the numbers table below."
        return range(min(n, limit))

    if step.kind == "input":
        symbolic = ["a^{1} = x"]
        for j in neurons(r.sizes[0]):
            add(f"a^{{1}}_{{{j + 1}}} = x_{{{j + 1}}} = {tex(float(r.a[1][j]))}", f"n-1-{j + 1}")
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
            add(
                f"z^{{{layer}}}_{{{j + 1}}} = {_sum_tex(terms)} + {tex(float(r.b[layer][j]))} = {tex(z)}",
                f"n-{layer}-{j + 1}",
                *into,
            )
            add(
                f"a^{{{layer}}}_{{{j + 1}}} = {_activation_tex(act, tex(z))} = {tex(float(r.a[layer][j]))}",
                f"n-{layer}-{j + 1}",
            )
        words = (
            f"Eq. 25: each neuron of layer {layer} adds up its inputs a^{layer - 1} weighted by w^{layer}, "
            f"adds its bias, and passes the sum z through its activation ({act})."
        )
    elif step.kind == "output_error":
        symbolic = [f"\\delta^{{{L}}} = \\nabla_{{a}} C \\odot \\sigma'(z^{{{L}}})"]
        quadratic = r.t.cost == "quadratic"
        y = step.values["y"]
        assert not isinstance(y, tuple)
        for j in neurons(r.sizes[-1]):
            grad = (
                f"({tex(float(r.a[L][j]))} - {tex(float(y[0, j]))})"
                if quadratic
                else tex(float(r.nabla_a[j]))
            )
            add(
                f"\\delta^{{{L}}}_{{{j + 1}}} = {grad} \\times {tex(float(r.sp[L][j]))} "
                f"= {tex(float(r.delta[L][j]))}",
                f"n-{L}-{j + 1}",
            )
        cost = "½‖y − a‖², so ∇aC = a − y" if quadratic else "the cross-entropy"
        words = (
            f"BP1: the output error δ^{L} is how fast the cost changes with each output neuron's weighted input: "
            f"the gradient of the cost ({cost}) times σ′(z). The cost of this example is C = "
            f"{fmt(r.t.cost_before, 6)}."
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
            add(
                f"\\delta^{{{layer}}}_{{{j + 1}}} = \\left({_sum_tex(terms)}\\right) \\times "
                f"{tex(float(r.sp[layer][j]))} = {tex(float(r.delta[layer][j]))}",
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
        for j in neurons(r.sizes[layer - 1]):
            d = float(r.delta[layer][j])
            add(f"\\frac{{\\partial C}}{{\\partial b^{{{layer}}}_{{{j + 1}}}}} = {tex(d)}", f"n-{layer}-{j + 1}")
            for i in range(min(r.sizes[layer - 2], 3)):
                add(
                    f"\\frac{{\\partial C}}{{\\partial w^{{{layer}}}_{{{j + 1}{i + 1}}}}} = "
                    f"{tex(float(r.a[layer - 1][i]))} \\times {tex(d)} = {tex(float(r.nabla_w[layer][j, i]))}",
                    f"e-{layer}-{j + 1}-{i + 1}",
                    f"n-{layer - 1}-{i + 1}",
                    f"n-{layer}-{j + 1}",
                )
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
        for j in range(min(r.sizes[-1], 2)):
            for i in range(min(r.sizes[-2], 2)):
                add(
                    f"w^{{{L}}}_{{{j + 1}{i + 1}}} = {tex(float(r.w[L][j, i]))} - {tex(eta)} \\times "
                    f"{tex(float(r.nabla_w[L][j, i]))} = {tex(float(r.w_new[L][j, i]))}",
                    f"e-{L}-{j + 1}-{i + 1}",
                )
            add(
                f"b^{{{L}}}_{{{j + 1}}} = {tex(float(r.b[L][j]))} - {tex(eta)} \\times "
                f"{tex(float(r.nabla_b[L][j]))} = {tex(float(r.b_new[L][j]))}",
                f"n-{L}-{j + 1}",
            )
        add(f"C: {tex(r.t.cost_before, 6)} \\rightarrow {tex(r.t.cost_after, 6)}")
        change = "lower" if r.t.cost_after < r.t.cost_before else "not lower"
        words = (
            f"Gradient descent (eqs. 20–21): every weight and bias moves a step η = {fmt(eta)} against its "
            f"gradient. On this example the cost is now {fmt(r.t.cost_after, 6)}, {change} than "
            f"{fmt(r.t.cost_before, 6)}."
        )
    return Equation([mathml(s) for s in symbolic], [(mathml(s), ids) for s, ids in lines], pretty(words), more)


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
    scale_w = Scale("w", "w", -r.w_max, r.w_max, (W_NEGATIVE, W_POSITIVE), True)
    active = {
        "forward": {"a", "w"},
        "backward": {"delta", "w"},
        "gradient": {"delta", "nabla_w"},
        "update": {"delta", "w"},
    }[phase]
    scales = [(s, s.name in active) for s in (r.scale_a, scale_w, r.scale_delta, r.scale_nabla_w)]
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
