"""The cost-per-iteration chart beside the step-through, drawn on the server as SVG.

A run at iteration n is its configuration and n, so its history is too: ``app.core.compute.run_history``
replays the n gradient steps and gives C at iterations 0 … n. This module only places those numbers
on a chart (the line through every iteration, dots, axes, ticks, read-outs: past 100 iterations the dots are
thinned, and lens.js reads whichever iteration is nearest the pointer from ``readouts``); the template
``page/_history.html`` writes the SVG, which the run's region swaps with everything else, so *Run the next
iteration*, *Run 10* and *Run 100* and a permalink all show the chart of their own iteration.

Its ticks are ``app.core.charts``'s, as the training page's charts are.

Left out: arithmetic on the costs beyond placing them; a logarithmic axis.
"""

from __future__ import annotations

from dataclasses import dataclass

from backprop_lens.app.core.charts import Tick
from backprop_lens.app.core.format import SIG_DETAIL, exact, fmt

WIDTH, HEIGHT = 480.0, 120.0
LEFT, RIGHT, TOP, BOTTOM = 72.0, 16.0, 9.0, 33.0
MAX_POINTS = 101  # dots drawn; a longer history's dots are sampled evenly (its line and read-outs have every point)


@dataclass(frozen=True)
class Point:
    i: int
    x: float
    y: float
    cost: str  # exact, for machines
    info: str  # the read-out: "iteration 3: C = 0.242935"
    current: bool


@dataclass(frozen=True)
class Chart:
    width: float
    height: float
    left: float
    right: float  # x of the plot's right edge
    top: float
    bottom: float  # y of the plot's bottom edge (the x axis)
    line: str  # the polyline's points, every iteration
    costs: str  # every iteration's C, exact, space-separated (for machines and tests)
    readouts: str  # every iteration's C as the page prints it, space-separated: lens.js reads the one under the pointer
    every: int  # a dot every ``every`` iterations (1: every iteration has its dot)
    last: str  # the read-out of the run's own iteration, shown until the pointer reads another
    lo: float  # the value at the bottom edge
    hi: float  # the value at the top edge
    points: list[Point]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    summary: str  # in words, for the chart's description


def chart(costs: list[float]) -> Chart:
    """The chart of C at iterations 0 … len(costs) − 1; the last is the run's own iteration."""
    n = len(costs) - 1
    right, bottom = WIDTH - RIGHT, HEIGHT - BOTTOM
    lo, hi = 0.0, max(costs)
    if hi <= lo:
        hi = lo + 1.0

    def x_of(i: int) -> float:
        return round(LEFT + (right - LEFT) * (i / n if n else 0.5), 2)

    def y_of(c: float) -> float:
        return round(bottom - (bottom - TOP) * (c - lo) / (hi - lo), 2)

    line = " ".join(f"{x_of(i)},{y_of(c)}" for i, c in enumerate(costs))
    every = max(1, -(-n // (MAX_POINTS - 1)))  # ceil(n / 100)
    shown = sorted({*range(0, n + 1, every), n})
    points = [
        Point(i, x_of(i), y_of(costs[i]), exact(costs[i]), f"iteration {i}: C = {fmt(costs[i], SIG_DETAIL)}", i == n)
        for i in shown
    ]
    x_ticks = [Tick(x_of(i), str(i)) for i in sorted({0, n // 2, n})] if n else [Tick(x_of(0), "0")]
    y_ticks = [Tick(y_of(v), fmt(v)) for v in (lo, (lo + hi) / 2, hi)]
    summary = (
        f"C at iteration 0 is {fmt(costs[0], SIG_DETAIL)}"
        + (f", at iteration {n} {fmt(costs[-1], SIG_DETAIL)}" if n else "; each iteration you run adds a point")
        + "."
        + (f" A dot every {every} iterations; the line has every iteration." if every > 1 else "")
    )
    return Chart(
        WIDTH, HEIGHT, LEFT, right, TOP, bottom, line, " ".join(exact(c) for c in costs),
        " ".join(fmt(c, SIG_DETAIL) for c in costs), every, points[-1].info, lo, hi, points, x_ticks, y_ticks, summary,
    )  # fmt: skip
