"""The view model: what the templates draw at a step, and the run's arrays read once per render."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from markupsafe import Markup
from numpy.typing import NDArray

from backprop_lens.app.stepper.view.colours import (
    DIVERGING,
    DIVERGING_EDGE,
    Scale,
    activation_scales,
    backward_scales,
    max_abs,
)
from backprop_lens.engine import Step, Trace

Array = NDArray[np.float64]

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

    @property
    def cue(self) -> tuple[float, float, float, float]:
        """Where motion is reduced, the back pulse's still arrow: along the edge from 35% to 80% of the way
        from the neuron δ comes from (x2, y2) to the one it reaches (x1, y1), so its head stops short of
        that neuron's circle and value."""
        dx, dy = self.x1 - self.x2, self.y1 - self.y2
        return (
            round(self.x2 + 0.35 * dx, 1),
            round(self.y2 + 0.35 * dy, 1),
            round(self.x2 + 0.8 * dx, 1),
            round(self.y2 + 0.8 * dy, 1),
        )


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
    layers: tuple[int, ...] = ()  # the layers the step reads from and writes to (a phone keeps them in view)


@dataclass(frozen=True)
class LegendEntry:
    """One scale of the legend: its swatch, whether the step uses it, and in words its kind and range."""

    scale: Scale
    active: bool
    kind: str  # "network": one scale for every layer; "layer": each layer on its own
    text: str
    layer: int | None = None  # a per-layer scale: the layer whose range the text gives
    still: str = ""  # the words instead of ``text`` where motion is reduced (the pulse's arrowheads)
    short: str = ""  # lecture mode's compact legend: the scale in use in a few words


# --- the numbers tables ------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    text: str
    value: str  # full precision, "" when not yet computed
    quantity: str  # what it is, for tests and the inspector: "delta-3-1"
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
    quantities: list[str] = field(default_factory=list)  # each line's quantity (its key), "" where none
    symbols: list[str] = field(default_factory=list)  # each line's quantity's symbol ("δ³₁"), "" where none


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


SHORT = {
    "input": "in",
    "feedforward": "25",
    "output_error": "BP1",
    "backpropagate": "BP2",
    "gradients": "BP3–4",
    "update": "upd",
}


class RunView:
    """Row 0 of every array of a trace (the page traces one example), read once per render; ``scope`` is the
    backward scales' ("layer" or "network", the form's ``scale``)."""

    def __init__(self, t: Trace, scope: str = "layer") -> None:
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
        self.scope = scope
        self.scale_a = activation_scales(self.acts, self.a)
        self.scale_delta = backward_scales("delta", "δ", self.delta, DIVERGING, scope)
        self.scale_nabla_w = backward_scales("nabla_w", "∂C/∂w", self.nabla_w, DIVERGING_EDGE, scope)
        self.w_max = max_abs([*self.w.values(), *self.w_new.values()])

    def seen(self, table: dict[int, int], layer: int, k: int) -> bool:
        return layer in table and table[layer] <= k
