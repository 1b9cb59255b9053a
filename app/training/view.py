"""What the /train page shows of a training, written on the server: read-outs, charts, pictures, edges.

Each event of the training stream carries a ``TrainingView`` (``app.training.schemas``): the texts of the
status line and the read-outs (every number written by ``app.core.format``), the charts per epoch as SVG
(placed by ``app.core.charts``, written by ``templates/train/_chart.html``) from the whole history so
far, the heat maps as PNG pictures coloured on ``app.core.palette``'s diverging ramp, and, for a network
drawn edge by edge, each edge's width, class and read-out. ``static/js/train.js`` only puts them in place.

Left out: the network figure's layout (where each neuron sits: ``train.js`` draws it once per run) and
the training itself (``engine.training``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cache
from itertools import pairwise

from jinja2 import Environment, FileSystemLoader, select_autoescape

from backprop_lens.app.core.charts import Axis, Tick, fit_left, linear_axis, log_axis, png_data_url, polyline
from backprop_lens.app.core.format import SIG_DETAIL, exact, fmt, sub, sup
from backprop_lens.app.core.palette import diverging, rgb
from backprop_lens.app.core.settings import current_settings
from backprop_lens.app.training.schemas import NetworkView, TrainingView
from backprop_lens.engine.network import Network
from backprop_lens.engine.training import EpochRecord, Report

VIEW_SECONDS = 0.5
"""How often a stream redraws the charts and pictures: the texts go with every event, the drawings this often."""

WIDTH, HEIGHT = 320.0, 174.0
LEFT, RIGHT, TOP, BOTTOM = 40.0, 310.0, 10.0, 140.0  # the plot area of every chart
MAX_POINTS = 600  # points per line: a longer history is drawn every k-th epoch (and its last), ~2 per unit
NET_DRAWN_WIDTH = 16  # networks whose layers are all this narrow are drawn on the page, edge by edge
HEAT_ALPHA = 200  # the decision boundary under the data points: they stay visible through it


@dataclass(frozen=True)
class Line:
    id: str
    cls: str
    points: str
    epochs: str  # the epoch of each point, space-separated
    layer: int | None = None


@dataclass(frozen=True)
class Mark:
    x: float
    epoch: int
    title: str


@dataclass(frozen=True)
class EpochChart:
    """One chart per epoch: its SVG's id, the prefix of its parts' ids, its plot's left edge, its y ticks."""

    id: str
    prefix: str
    label: str
    scale: str
    epochs: int
    left: float
    ticks: list[Tick]
    lines: list[Line]
    marks: list[Mark]
    now: str = ""  # a read-out written inside the plot (the accuracy chart's)
    grouped: bool = False  # the lines sit in one group (the speed chart's, one line per layer)
    width: float = WIDTH
    right: float = RIGHT
    top: float = TOP
    bottom: float = BOTTOM


def _thin(rows: Sequence[EpochRecord]) -> list[EpochRecord]:
    every = max(1, -(-len(rows) // MAX_POINTS))
    return [r for i, r in enumerate(rows) if i % every == 0 or i == len(rows) - 1]


def _chart(
    id_: str,
    prefix: str,
    label: str,
    scale: str,
    epochs: int,
    axis: Axis,
    series: list[tuple[str, str, list[float | None], int | None]],
    rows: Sequence[EpochRecord],
    left: float | None = None,
) -> EpochChart:
    """A chart of ``series`` (id, class, the value of each row, layer) over the rows' epochs on ``axis``;
    its plot starts right of its widest tick label unless ``left`` is given."""
    if left is None:
        left = fit_left(LEFT, (text for _, text in axis.ticks))
    xs = [float(r.epoch) for r in rows]
    lines = []
    for line_id, cls, values, layer in series:
        ts = [None if v is None else axis.t(v) for v in values]
        points, drawn = polyline(xs, ts, left, RIGHT, TOP, BOTTOM, float(epochs))
        lines.append(Line(line_id, cls, points, " ".join(str(rows[i].epoch) for i in drawn), layer))
    ticks = [Tick(round(BOTTOM - (BOTTOM - TOP) * t, 1), text) for t, text in axis.ticks]
    return EpochChart(id_, prefix, label, scale, epochs, left, ticks, lines, [])


def cost_chart(rows: Sequence[EpochRecord], epochs: int, scale: str) -> EpochChart:
    """The cost on the training and the test set on one axis, and a dashed mark where η changed."""
    shown = _thin(rows)
    costs: list[float | None] = [r.cost for r in shown]
    tests: list[float | None] = [r.test_cost for r in shown]
    axis = (log_axis if scale == "log" else linear_axis)([r.cost for r in rows] + [r.test_cost for r in rows])
    chart = _chart(
        "train-cost-chart", "train-cost", "cost curve", scale, epochs, axis,
        [("train-cost-line", "curve cost", costs, None), ("train-cost-test", "curve cost-test", tests, None)], shown,
    )  # fmt: skip
    marks = [
        Mark(
            round(chart.left + (RIGHT - chart.left) * r.epoch / epochs, 1),
            r.epoch,
            f"η = {fmt(r.eta)} from epoch {r.epoch}",
        )
        for before, r in pairwise(rows)
        if r.eta != before.eta
    ]
    return replace(chart, marks=marks)


def accuracy_chart(rows: Sequence[EpochRecord], epochs: int, now: str) -> EpochChart:
    shown = _thin(rows)
    axis = Axis([(0.0, "0%"), (1.0, "100%")], lambda v: v)
    chart = _chart(
        "train-acc-chart", "train-acc", "accuracy curves", "linear", epochs, axis,
        [("train-acc-train", "curve acc-train", [r.train_accuracy for r in shown], None),
         ("train-acc-test", "curve acc-test", [r.test_accuracy for r in shown], None)],
        shown,
        left=LEFT,
    )  # fmt: skip
    return replace(chart, now=now)


def speed_chart(rows: Sequence[EpochRecord], epochs: int, layers: int) -> EpochChart:
    """Each layer's speed of learning per epoch (layers 2 … ``layers`` + 1), on one log axis over all of them."""
    shown = _thin(rows)
    axis = log_axis([v for r in rows for v in r.speeds])
    series: list[tuple[str, str, list[float | None], int | None]] = [
        ("", f"curve speed l{i + 2}", [r.speeds[i] if len(r.speeds) > i else None for r in shown], i + 2)
        for i in range(layers)
    ]
    chart = _chart(
        "train-speed-chart", "train-speed", "speed of learning of each layer", "log", epochs, axis, series, shown
    )
    return replace(chart, grouped=True)


@cache
def _environment() -> Environment:
    """The charts' template, rendered without a request (a worker writes the events too): it has no URL."""
    loader = FileSystemLoader(str(current_settings().templates_dir))
    return Environment(loader=loader, autoescape=select_autoescape(default=True), trim_blocks=True)


def svg(chart: EpochChart) -> str:
    return _environment().get_template("train/_chart.html").render(c=chart)


# --- texts ----------------------------------------------------------------------------------


def _round(v: float) -> int:
    return math.floor(v + 0.5)  # halves up, as people round


def duration(seconds: float) -> str:
    if seconds < 1:
        return "under a second"
    if seconds < 90:
        return f"{_round(seconds)} s"
    return f"{math.floor(seconds / 60)} min {_round(seconds % 60)} s"


def percent(share: float) -> str:
    """A share as a percentage to one decimal: accuracies differ by one example in a thousand."""
    return f"{100 * share:.1f}%"


def eta_history(rows: Sequence[EpochRecord]) -> str | None:
    """η as the history recorded it: the first epoch's and every change after; None while it has not changed."""
    parts = [f"{fmt(r.eta)} from epoch {r.epoch}" for i, r in enumerate(rows) if i == 0 or r.eta != rows[i - 1].eta]
    return f"η in the history: {' → '.join(parts)}" if len(parts) > 1 else None


def texts(report: Report, rows: Sequence[EpochRecord]) -> dict[str, str]:
    """The status line's and the read-outs' texts."""
    last = rows[-1] if rows else None
    timing = (
        f"{duration(report.seconds)} of training"
        if report.seconds_left is None or report.final
        else f"about {duration(report.seconds_left)} left"
    )
    out = {
        "progress": f"{_round(100 * report.fraction)}%",
        "epoch": f"epoch {report.epoch} / {report.epochs}",
        "batch": f"mini-batch {report.batch} / {report.batches_per_epoch}",
        "time": timing,
    }
    if last is not None:
        test = "" if last.test_cost is None else f", test {fmt(last.test_cost)}"
        out["cost"] = f"C = {fmt(last.cost)}{test}"
        if last.train_accuracy is not None:
            acc = "" if last.test_accuracy is None else f", test {percent(last.test_accuracy)}"
            out["accuracy"] = f"training {percent(last.train_accuracy)}{acc}"
    return out


# --- pictures -------------------------------------------------------------------------------


def picture(grid: Sequence[Sequence[float]], t: Callable[[float], float], alpha: int = 255) -> str:
    """A grid of values as a PNG, each value at t(v) ∈ [−1, 1] on the diverging ramp, with the given opacity."""
    return png_data_url([[(*rgb(diverging(t(v), 1.0)), alpha) for v in row] for row in grid])


def _scale(activation: str, maps: Sequence[Sequence[Sequence[float]]]) -> Callable[[float], float]:
    """Where a hidden layer's activations fall on the ramp: σ's (0, 1) and tanh's (−1, 1) by their range,
    the others' by the largest |a| of the layer over the plane."""
    if activation == "sigmoid":
        return lambda v: 2 * v - 1
    if activation == "tanh":
        return lambda v: v
    m = max((abs(v) for g in maps for row in g for v in row), default=0.0)
    return lambda v: v / m if m > 0 else 0.0


def _over(scale: float) -> Callable[[float], float]:
    return lambda v: v / scale


def weight_pictures(net: Network, side: int = 8) -> list[str]:
    """Each hidden neuron's incoming weights as a side × side picture, scaled to its own largest |w|."""
    out = []
    for row in net.weights[0].tolist()[:64]:
        if len(row) != side * side:
            return []
        scale: float = max(abs(v) for v in row) or 1.0
        out.append(picture([row[i : i + side] for i in range(0, side * side, side)], _over(scale)))
    return out


def network_view(
    net: Network,
    mean_nabla_w: list[list[list[float]]] | None,
    grid: list[list[float]] | None,
    neurons: list[list[list[list[float]]]] | None,
    activation: str,
    epoch: str,
) -> dict[str, object]:
    """The drawn network's edges (per layer, neuron j, input k), neurons (per layer) and legends."""
    weights = [w.tolist() for w in net.weights]
    biases = [b.reshape(-1).tolist() for b in net.biases]
    largest = max((abs(v) for m in weights for row in m for v in row), default=0.0) or 1.0
    g_largest = max((abs(v) for m in mean_nabla_w or [] for row in m for v in row), default=0.0) or 1.0

    def width(v: float | None, scale: float) -> str:
        return "0.50" if v is None else f"{0.4 + 4.6 * abs(v) / scale:.2f}"

    edges = []
    for i, layer in enumerate(weights):
        rows = []
        for j, row in enumerate(layer):
            cells = []
            for k, w in enumerate(row):
                g = mean_nabla_w[i][j][k] if mean_nabla_w is not None else None
                name = f"{sup(i + 2)}{sub(j + 1)}{sub(k + 1)}"
                read = f"w{name} = {fmt(w, SIG_DETAIL)}" + (
                    "" if g is None else f" · mean ∂C/∂w{name} over epoch {epoch} = {fmt(g, SIG_DETAIL)}"
                )
                g_class = "gnone" if g is None else "gpos" if g >= 0 else "gneg"
                cells.append(
                    ["wpos" if w >= 0 else "wneg", width(w, largest), g_class, width(g, g_largest), exact(w),
                     "" if g is None else exact(g), read]
                )  # fmt: skip
            rows.append(cells)
        edges.append(rows)
    last = len(net.sizes) - 1
    nodes: list[list[list[str | None]]] = [[[f"input x{sub(j + 1)}", None] for j in range(net.sizes[0])]]
    for i in range(1, last + 1):
        layer_maps = neurons[i - 1] if neurons is not None and i < last else None
        t = (lambda v: 2 * v - 1) if i == last else _scale(activation, layer_maps or [])
        shown = []
        for j in range(net.sizes[i]):
            read = f"neuron {j + 1} of layer {i + 1}: b = {fmt(biases[i - 1][j], SIG_DETAIL)}"
            plane = grid if i == last else layer_maps[j] if layer_maps is not None else None
            image = None
            if plane is not None:
                flat = [v for row in plane for v in row]
                read += f" · a over the plane from {fmt(min(flat))} to {fmt(max(flat))}"
                image = picture(plane, t)
            shown.append([read, image])
        nodes.append(shown)
    legend = {
        "w": f"width |w| up to {fmt(largest)}, ",
        "grad": f"width |∂C/∂w| up to {fmt(g_largest)} (epoch {epoch}), "
        if mean_nabla_w is not None
        else "no epoch measured yet ",
    }
    return {"edges": edges, "nodes": nodes, "legend": legend}


def training_view(
    report: Report,
    rows: Sequence[EpochRecord],
    grid: list[list[float]] | None,
    neurons: list[list[list[list[float]]]] | None,
    mean_nabla_w: list[list[list[float]]] | None,
    activation: str,
    digits: bool,
    drawings: bool = True,
) -> TrainingView:
    """What the page shows after ``report``, with ``rows`` the history of every epoch so far.

    ``drawings=False`` leaves out the charts and pictures (the costly part, redrawn from the whole history):
    the stream draws them at most every ``VIEW_SECONDS`` and in its last event, and the page keeps the last.
    """
    net = report.network
    epochs = report.epochs
    said = texts(report, rows)
    if not drawings:
        return TrainingView(texts=said, eta_history=eta_history(rows))
    epoch = str(rows[-1].epoch) if rows else "–"
    drawn = max(net.sizes) <= NET_DRAWN_WIDTH
    return TrainingView(
        texts=said,
        eta_history=eta_history(rows),
        charts={
            "cost_log": svg(cost_chart(rows, epochs, "log")),
            "cost_linear": svg(cost_chart(rows, epochs, "linear")),
            "accuracy": svg(accuracy_chart(rows, epochs, said.get("accuracy", ""))),
            "speed": svg(speed_chart(rows, epochs, len(net.sizes) - 1)),
        },
        heat=None if grid is None else picture(grid, lambda v: 2 * v - 1, HEAT_ALPHA),
        weights=weight_pictures(net) if digits and len(net.sizes) > 2 else [],
        network=NetworkView.model_validate(network_view(net, mean_nabla_w, grid, neurons, activation, epoch))
        if drawn
        else None,
    )


def empty_charts(epochs: int, layers: int) -> dict[str, EpochChart]:
    """The charts of a run before its first epoch: axes, no lines (the run's panel starts with them)."""
    return {
        "cost": cost_chart([], epochs, "log"),
        "accuracy": accuracy_chart([], epochs, ""),
        "speed": speed_chart([], epochs, layers),
    }
