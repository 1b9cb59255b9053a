"""Lecture mode's diagram: the step's diagram laid out again for a projector, numbers at least 21 px.

The page's diagram (``app.stepper.view.diagram``) sizes its text for a reader at a desk: values of 9 to
14 units in a drawing of up to 780 units, so at 1024 px they are 11 to 18 px. On a projector every number
must read from the back of the room (the issue asks for 20 CSS px at 1024×768). This module takes that
diagram and draws it again in a viewBox ``WIDTH`` units wide, which the lecture layout shows at about one
CSS px per unit: the columns spread over the whole width, the neurons of a layer over the height, the
circles grow where there is room, and every value is placed again by the page's own rule
(``app.stepper.view.layout.place_values``: inside its circle if it fits, else beside it where it meets
nothing) at fonts from ``MIN_FONT`` up. Ids, colours, classes, read-outs and pulses are the diagram's own,
so the inspector, the equation's highlights and the instruments' marks work unchanged.

Left out: numbers. Every text shown is the diagram's text; only positions and sizes change. A value that
finds no room at ``MIN_FONT`` is left to the read-out, as on the page.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict

from app.stepper.view.layout import BESIDE_FONTS, Spot, place_values, text_width
from app.stepper.view.model import Diagram, EdgeView, GapView, LayerLabel, NeuronView, StepView, ValueText

WIDTH = 1000.0  # the viewBox's width: the lecture layout draws it the width of a 1024 px screen
MAX_HEIGHT = 420.0  # what 1024×768 leaves the diagram beside the title bar and the equation
MIN_FONT = 21.0  # a value's smallest font, in units (≈ CSS px at 1024 px wide, where 1 unit ≈ 0.97 px)
TITLE_FONT = 18.0  # "layer l"
MARGIN_X = 80.0
BOTTOM = 14.0
RADII = (64.0, 56.0, 48.0, 38.0, 30.0, 24.0, 18.0, 13.0)  # tried largest first
GAP_FONT = 13.0  # the page's CSS size of "⋮ n more" (.gap), in units

# place_values works in the page's units, where its smallest font is BESIDE_FONTS[-1]: lay out in a
# drawing scaled by Q, so that font is MIN_FONT here, then scale back.
Q = BESIDE_FONTS[-1] / MIN_FONT


def _label_lines(label: LayerLabel, room: float) -> tuple[tuple[str, ...], float]:
    """The label's lines at the largest font up to 16 that fits ``room``: on one line ("hidden · sigmoid · 4"),
    else on two ("hidden · 4", "sigmoid"), as the page's labels do."""
    parts = tuple(part for line in label.lines for part in line.split(" · "))
    forms = [(" · ".join(parts),), (f"{parts[0]} · {parts[-1]}", *parts[1:-1]) if len(parts) > 2 else parts]
    for lines in forms:
        font = min(16.0, math.floor(2 * room / max(text_width(s, 1.0) for s in lines)) / 2)
        if font >= 12.0 or lines is forms[-1]:
            return lines, max(8.0, font)
    raise AssertionError("unreachable")  # pragma: no cover


def present_diagram(d: Diagram) -> Diagram:
    """``d`` drawn again for a projector (see the module's docstring)."""
    layers = sorted({n.layer for n in d.neurons})
    old_x = {n.layer: n.x for n in d.neurons}
    count = len(layers)
    step_x = (WIDTH - 2 * MARGIN_X) / max(1, count - 1)
    xs = {layer: MARGIN_X + step_x * i for i, layer in enumerate(layers)}
    room = min(step_x - 12.0, 2 * MARGIN_X - 8.0) if count > 1 else WIDTH

    fitted = [_label_lines(lb, room) for lb in d.labels]
    line_font = min(f for _, f in fitted) if fitted else 12.0
    title_font = min(TITLE_FONT, math.floor(2 * room / text_width(f"layer {count}", 1.0)) / 2)
    line_step = math.ceil(line_font * 1.3)
    most_lines = max((len(lines) for lines, _ in fitted), default=1)
    first_line = 36.0  # _diagram.html draws "layer l" at y = 18 and its lines from y = 36
    top = first_line + line_step * (most_lines - 1) + 22.0
    labels = [
        LayerLabel(xs.get(layers[i], lb.x) if i < count else lb.x, lb.text, lines, line_font)
        for i, (lb, (lines, _)) in enumerate(zip(d.labels, fitted, strict=True))
    ]

    # Each layer's slots (neurons and the gap of a wide layer) top to bottom, spread over the height.
    column_of_x = {round(x, 1): layer for layer, x in old_x.items()}
    slots: dict[int, list[tuple[float, NeuronView | GapView]]] = defaultdict(list)
    for n in d.neurons:
        slots[n.layer].append((n.y, n))
    for g in d.gaps:
        layer = column_of_x.get(round(g.x, 1))
        if layer is not None:
            slots[layer].append((g.y, g))
    tallest = max((len(s) for s in slots.values()), default=1)
    height = min(MAX_HEIGHT, top + BOTTOM + 130.0 * tallest)
    spacing = {layer: min(130.0, (height - top - BOTTOM) / len(s)) for layer, s in slots.items()}

    centre: dict[str, tuple[float, float]] = {}
    gaps: list[GapView] = []
    obstacles: list[tuple[float, float, float, float]] = []
    for layer, items in slots.items():
        sp = spacing[layer]
        y0 = top + (height - top - BOTTOM - sp * len(items)) / 2 + sp / 2
        for s, (_, item) in enumerate(sorted(items, key=lambda t: t[0])):
            y = round(y0 + s * sp, 1)
            if isinstance(item, GapView):
                gaps.append(GapView(xs[layer], y, item.text))
                half = text_width(item.text, GAP_FONT) / 2
                obstacles.append(((xs[layer] - half) * Q, (y - 8) * Q, (xs[layer] + half) * Q, (y + 8) * Q))
            else:
                centre[item.id] = (xs[layer], y)

    # Big circles hold their values inside; where they would crowd the values out, smaller ones leave room
    # beside. The largest radius that places the most values wins. The neurons of the step go first: when
    # not every value finds room (a deep network's tiny δ, 1.5×10⁻⁵, is wide), theirs do.
    order = sorted(range(len(d.neurons)), key=lambda i: "current" not in d.neurons[i].classes.split())
    bounds = (2.0 * Q, (top - 18.0) * Q, (WIDTH - 2.0) * Q, (height - 2.0) * Q)
    best: tuple[int, dict[int, float], list[ValueText | None]] | None = None
    wanted = sum(1 for n in d.neurons if n.value is not None)
    tried: list[dict[int, float]] = []
    for candidate in RADII:
        radii = {layer: round(min(candidate, 0.24 * step_x, 0.45 * sp), 1) for layer, sp in spacing.items()}
        if radii in tried:  # capped by the room alike: the same drawing
            continue
        tried.append(radii)
        spots = []
        for i in order:
            n = d.neurons[i]
            x, y = centre[n.id]
            spots.append(Spot(x * Q, y * Q, radii[n.layer] * Q, n.value.text if n.value else "", n.fill))
        placed = place_values(spots, obstacles, bounds)
        values: list[ValueText | None] = [None] * len(order)
        for i, v in zip(order, placed, strict=True):
            values[i] = v
        count = sum(v is not None for v in values)
        if best is None or count > best[0]:
            best = (count, radii, values)
        if count == wanted:  # every value placed: no smaller circle does better
            break
    assert best is not None
    _, radii, values = best

    def back(v: ValueText | None) -> ValueText | None:
        if v is None:
            return None
        p = v.plate
        plate = None if p is None else (round(p[0] / Q, 1), round(p[1] / Q, 1), round(p[2] / Q, 1), round(p[3] / Q, 1))
        return dataclasses.replace(v, x=round(v.x / Q, 1), y=round(v.y / Q, 1), font=round(v.font / Q, 1), plate=plate)

    neurons = [
        dataclasses.replace(n, x=centre[n.id][0], y=centre[n.id][1], r=radii[n.layer], value=back(v))
        for n, v in zip(d.neurons, values, strict=True)
    ]
    edges = [_moved(e, centre) for e in d.edges]
    return dataclasses.replace(
        d,
        width=int(WIDTH),
        height=math.ceil(height),
        neurons=neurons,
        edges=edges,
        gaps=gaps,
        labels=labels,
        label_font=title_font,
        line_step=line_step,
    )


def _moved(e: EdgeView, centre: dict[str, tuple[float, float]]) -> EdgeView:
    """The edge between its neurons' new centres (its id is e-{l}-{j}-{i}: from n-{l-1}-{i} to n-{l}-{j})."""
    _, layer, j, i = e.id.split("-")
    x1, y1 = centre[f"n-{int(layer) - 1}-{i}"]
    x2, y2 = centre[f"n-{layer}-{j}"]
    return dataclasses.replace(e, x1=x1, y1=y1, x2=x2, y2=y2)


def present_view(view: StepView) -> StepView:
    """Step k as lecture mode shows it: the diagram drawn for a projector (static/js/present.js then shows as
    many lines of the equation as the screen holds)."""
    return dataclasses.replace(view, diagram=present_diagram(view.diagram))
