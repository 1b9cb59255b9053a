"""Lecture mode's diagram: the step's diagram laid out again for a projector, numbers at least 21 px.

The page's diagram (``app.stepper.view.diagram``) sizes its text for a reader at a desk: values of 9 to
14 units in a drawing of up to 780 units, so at 1024 px they are 11 to 18 px. On a projector every number
must read from the back of the room (the issue asks for 20 CSS px at 1024×768). This module takes that
diagram and draws it again in a viewBox ``WIDTH`` units wide, which the lecture layout shows at about one
CSS px per unit: the columns spread over the whole width, the neurons of a layer over the height, and the
circles grow (the drawing taller, up to ``MAX_HEIGHT``) until the values fit inside them. A value goes
inside its circle whenever it fits there at ``MIN_FONT`` or more; one that does not is drawn on a framed
pill touching its circle, all of a layer's on the same side (below, above, or outward), never over an edge's
middle (where it would read as the edge's number) and its line of text at least 1.5 times nearer its own circle
than any other (else it reads as the neighbour's, or as no one's). The step's own layer is placed first and
gets every one of its values if it can: each pill wherever around its circle is clear, and, when even that is
not enough, the columns beside it moved away from it (the others closer together). Ids, colours, classes,
read-outs and pulses are the diagram's own, so the inspector, the equation's highlights and the instruments'
marks work unchanged.

Left out: numbers. Every text shown is the diagram's text; only positions and sizes change. A value that
finds no such place is left to the read-out, as on the page.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections import defaultdict

from backprop_lens.app.stepper.view.colours import text_colour
from backprop_lens.app.stepper.view.layout import INK, fit_lines, inside_font, label_forms, text_width
from backprop_lens.app.stepper.view.model import Diagram, EdgeView, GapView, LayerLabel, NeuronView, StepView, ValueText

WIDTH = 1000.0  # the viewBox's width: the lecture layout draws it the width of a 1024 px screen
MAX_HEIGHT = 420.0  # what 1024×768 leaves the diagram beside the title bar and the equation
MIN_FONT = 21.0  # a value's smallest font, in units (≈ CSS px at 1024 px wide, where 1 unit ≈ 0.97 px)
MAX_FONT = 30.0  # a value's largest, inside a big circle
PILL_FONTS = (24.0, MIN_FONT)  # a value on a pill beside its circle: all of a layer's at one of these
TITLE_FONT = 21.0  # "layer l": 21 CSS px at 1024 px wide, where the drawing is 1008 px wide
LINE_FONTS = (20.0, 18.0, 17.0)  # its role, activation and width: 17 CSS px and more at 1024 px
SUB_SHIFT = 9.0  # lens.css moves the title 3 units down in lecture mode (its ascent clear of the top), these lines 9
MARGIN_X = 80.0
MARGIN_MOVED = (
    60.0  # when the columns beside the step's layer move away from it: the first and last columns nearer the edge
)
TITLE_MIN = 20.0  # "layer l" no smaller, then (20.2 CSS px at 1024 px wide)
BOTTOM = 14.0
SPACING = 130.0  # between the neurons of a layer, at most, unless bigger circles need more
RADII = (84.0, 76.0, 70.0, 64.0, 56.0, 48.0, 38.0, 30.0, 24.0, 18.0, 13.0)  # tried largest first
GAP_FONT = 13.0  # the page's CSS size of "⋮ n more" (.gap), in units
GAP_FONT_PRESENT = 18.0  # and lecture mode's (#run.present .gap in lens.css)
PAD = 4.0  # a pill's margin around its text
TOUCH = 2.0  # between a circle and its pill: the ring (3.5 units on the step's neurons) meets the frame
PILL_LINE = 1.05  # a pill's height, in em: the digits' height (0.73 em) and room above and below
APART = 5.0  # a pill from another neuron's circle, at least (from its own: TOUCH)
APART_PILLS = 8.0  # a pill from a pill of another layer (those of one layer may touch, row under row)
MIDDLE = 6.0  # the radius of an edge's middle, which no pill covers
NEARER = 1.5  # a pill's line of text is this many times nearer its own circle than any other's, at least

Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def _label_lines(label: LayerLabel, room: float) -> tuple[tuple[str, ...], float]:
    """The label's lines at the largest font from LINE_FONTS that fits ``room``: on one line ("hidden · sigmoid
    · 4"), else on two ("hidden · 4", "sigmoid"), else one part a line; if none fits at the smallest, on two
    as large as they fit."""
    words = [part for line in label.lines for part in line.split(" · ")]
    # role · activation · width, whichever form the page's label took ("hidden · 4" over "sigmoid")
    forms = label_forms((*(w for w in words if not w.isdigit()), *(w for w in words if w.isdigit())))
    form, font = fit_lines(forms, room, [LINE_FONTS] * len(forms), fallback=1, least=8.0)
    return forms[form], font


def present_diagram(d: Diagram) -> Diagram:
    """``d`` drawn again for a projector (see the module's docstring).

    The columns are evenly spaced. When that leaves a value of the step's own layer without a place (eight
    layers leave 120 units between columns, and a δ of −8.498×10⁻⁵ is 152 wide at 21), the columns on either
    side of that layer move away from it, the others closer together, until its values all find room."""
    layers = sorted({n.layer for n in d.neurons})
    count = len(layers)
    span = WIDTH - 2 * MARGIN_X
    even = [span / max(1, count - 1)] * max(0, count - 1)
    drawn, own = _laid_out(d, layers, even, MARGIN_X)
    focus = sorted({n.layer for n in d.neurons if "current" in n.classes.split() and n.value is not None})
    wanted = sum("current" in n.classes.split() and n.value is not None for n in d.neurons)
    if own == wanted or len(focus) != 1 or count < 3:
        return drawn
    i = layers.index(focus[0])
    beside = [g for g in (i - 1, i) if 0 <= g < count - 1]
    if len(beside) == count - 1:  # no other gap to take the room from
        return drawn
    span = WIDTH - 2 * MARGIN_MOVED
    for wide in (even[0] * f for f in (1.15, 1.3, 1.45, 1.65, 1.9)):
        narrow = (span - wide * len(beside)) / (count - 1 - len(beside))
        room = narrow - 12.0  # the labels still at their sizes between the closer columns
        title = text_width(f"layer {count}", TITLE_MIN) <= room
        if narrow < 0.35 * even[0] or not title or any(_label_lines(lb, room)[1] < LINE_FONTS[-1] for lb in d.labels):
            break
        gaps = [wide if g in beside else narrow for g in range(count - 1)]
        again, more = _laid_out(d, layers, gaps, MARGIN_MOVED)
        if more > own:
            drawn, own = again, more
        if own == wanted:
            break
    return drawn


def _laid_out(d: Diagram, layers: list[int], gaps: list[float], margin: float) -> tuple[Diagram, int]:
    """``d`` with its columns ``gaps`` apart from ``margin`` on: the drawing, and how many of the step's own values
    it shows."""
    old_x = {n.layer: n.x for n in d.neurons}
    count = len(layers)
    xs = {layer: margin + sum(gaps[:i]) for i, layer in enumerate(layers)}
    # A column's room: its narrower gap (a layer label is centred on its column)
    near = {
        layer: min([gaps[g] for g in (i - 1, i) if 0 <= g < len(gaps)] or [WIDTH]) for i, layer in enumerate(layers)
    }
    step_x = min(gaps) if gaps else WIDTH
    ends = {layers[0]: margin - 6.0, layers[-1]: margin - 6.0}  # the outer columns' circles inside the drawing
    room = min(step_x - 12.0, 2 * margin - 8.0) if count > 1 else WIDTH

    fitted = [_label_lines(lb, room) for lb in d.labels]
    line_font = min(f for _, f in fitted) if fitted else LINE_FONTS[-1]
    title_font = min(TITLE_FONT, math.floor(2 * room / text_width(f"layer {count}", 1.0)) / 2)
    line_step = math.ceil(line_font * 1.2)
    most_lines = max((len(lines) for lines, _ in fitted), default=1)
    first_line = 36.0 + SUB_SHIFT  # _diagram.html draws "layer l" at y = 18 and its lines from y = 36
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
    for items in slots.values():
        items.sort(key=lambda t: t[0])
    tallest = max((len(s) for s in slots.values()), default=1)
    sides = {layer: _sides(i, count) for i, layer in enumerate(layers)}

    # Circles as big as the room allows hold their values inside; where the height allows, they grow until
    # they do (a taller drawing leaves fewer lines of the equation, so no taller than they need). The drawing that
    # places the most values, then the most inside, wins; of equals, the lowest.
    best: _Drawing | None = None
    tried: list[tuple[float, dict[int, float]]] = []
    for candidate in RADII:
        cap = max(SPACING, candidate / 0.45)
        height = min(MAX_HEIGHT, top + BOTTOM + cap * tallest)
        spacing = {layer: min(cap, (height - top - BOTTOM) / len(s)) for layer, s in slots.items()}
        radii = {
            layer: round(min(candidate, 0.24 * near[layer], 0.45 * sp, ends.get(layer, WIDTH)), 1)
            for layer, sp in spacing.items()
        }
        if (height, radii) in tried:  # capped by the room alike: the same drawing
            continue
        tried.append((height, radii))
        drawing = _draw(d, slots, spacing, radii, xs, sides, top, height)
        if best is None or drawing.score > best.score:
            best = drawing
    assert best is not None

    neurons = [
        dataclasses.replace(n, x=best.centre[n.id][0], y=best.centre[n.id][1], r=best.radii[n.layer], value=v)
        for n, v in zip(d.neurons, best.values, strict=True)
    ]
    edges = [_moved(e, best.centre) for e in d.edges]
    drawn = dataclasses.replace(
        d,
        width=int(WIDTH),
        height=math.ceil(best.height),
        neurons=neurons,
        edges=edges,
        gaps=best.gaps,
        labels=labels,
        label_font=title_font,
        line_step=line_step,
    )
    return drawn, best.score[0]


@dataclasses.dataclass(frozen=True)
class _Drawing:
    score: tuple[int, int, int, float]  # the step's own values placed, values placed, values inside, minus the height
    height: float
    radii: dict[int, float]
    centre: dict[str, tuple[float, float]]
    gaps: list[GapView]
    values: list[ValueText | None]


def _sides(i: int, count: int) -> tuple[str, ...]:
    """The sides a layer's pills may take, in order: outward for the first and last layers (no edge there),
    else below or above the circles, and left or right last."""
    if count > 1 and i == 0:
        return ("left", "below", "above", "right")
    if count > 1 and i == count - 1:
        return ("right", "below", "above", "left")
    return ("below", "above", "right", "left")


def _draw(
    d: Diagram,
    slots: dict[int, list[tuple[float, NeuronView | GapView]]],
    spacing: dict[int, float],
    radii: dict[int, float],
    xs: dict[int, float],
    sides: dict[int, tuple[str, ...]],
    top: float,
    height: float,
) -> _Drawing:
    """The diagram with these circles: where each neuron goes, then each value (inside, else on a pill)."""
    centre: dict[str, tuple[float, float]] = {}
    gaps: list[GapView] = []
    taken: list[Box] = []  # the gaps' texts and the pills placed
    texts: list[Box] = []  # the gaps' texts as lecture mode draws them
    for layer, items in slots.items():
        sp = spacing[layer]
        y0 = top + (height - top - BOTTOM - sp * len(items)) / 2 + sp / 2
        for s, (_, item) in enumerate(items):
            y = round(y0 + s * sp, 1)
            if isinstance(item, GapView):
                gaps.append(GapView(xs[layer], y, item.text))
                half = text_width(item.text, GAP_FONT) / 2
                taken.append((xs[layer] - half, y - 8, xs[layer] + half, y + 8))
                half = text_width(item.text, GAP_FONT_PRESENT) / 2
                texts.append((xs[layer] - half, y - GAP_FONT_PRESENT / 2, xs[layer] + half, y + GAP_FONT_PRESENT / 2))
            else:
                centre[item.id] = (xs[layer], y)
    circles = [(centre[n.id][0], centre[n.id][1], radii[n.layer]) for n in d.neurons]
    middles = []
    for e in d.edges:
        _, to, j, i = e.id.split("-")
        (x1, y1), (x2, y2) = centre[f"n-{int(to) - 1}-{i}"], centre[f"n-{to}-{j}"]
        middles.append(((x1 + x2) / 2, (y1 + y2) / 2))
    bounds = (2.0, top - 18.0, WIDTH - 2.0, height - 2.0)

    values: list[ValueText | None] = [None] * len(d.neurons)
    outside: dict[int, list[int]] = defaultdict(list)
    for k, n in enumerate(d.neurons):
        if n.value is None:
            continue
        x, y = centre[n.id]
        # MAX_FONT down to MIN_FONT, its line well clear of the (thicker) ring
        f = inside_font(n.value.text, radii[n.layer], (MIN_FONT, MAX_FONT), share=0.9, clearance=6.0)
        if f is None:
            outside[n.layer].append(k)
        else:
            values[k] = ValueText(n.value.text, x, y, "middle", f, text_colour(n.fill), True)
    # The layer of the step first: when not every value finds room (a deep network's δ of 1.5×10⁻⁵ is
    # wide), its values do.
    focus = {layer for layer, ks in outside.items() if any("current" in d.neurons[k].classes.split() for k in ks)}
    order = sorted(outside, key=lambda layer: layer not in focus)
    for layer in order:
        choice: list[tuple[int, ValueText, Box]] = []
        for font in PILL_FONTS:
            for side in sides[layer]:
                pills: list[tuple[int, ValueText, Box]] = []
                for k in outside[layer]:
                    pill = _pill(d.neurons[k], centre, radii, side, font)
                    if _clear(pill[1], k, circles, middles, taken, [b for _, _, b in pills], bounds):
                        pills.append((k, *pill))
                if len(pills) > len(choice):
                    choice = pills
            if len(choice) == len(outside[layer]):
                break
        if layer in focus and len(choice) < len(outside[layer]):
            # The step's own values all, if they can: each on the first place around its circle that is clear
            # (of a wide layer's "⋮ n more" too, though nearer it than other layers' pills come).
            free: list[tuple[int, ValueText, Box]] = []
            others = taken[len(texts) :]
            for k in outside[layer]:
                for v, box in _around(d.neurons[k], centre, radii, sides[layer], MIN_FONT):
                    if _clear(box, k, circles, middles, others, [*texts, *(b for _, _, b in free)], bounds):
                        free.append((k, v, box))
                        break
            if len(free) > len(choice):
                choice = free
        for k, v, box in choice:
            values[k] = v
            taken.append(box)
    placed = sum(v is not None for v in values)
    inside = sum(v is not None and v.inside for v in values)
    own = sum(v is not None for k, v in enumerate(values) if "current" in d.neurons[k].classes.split())
    return _Drawing((own, placed, inside, -height), height, radii, centre, gaps, values)


def _pill(
    n: NeuronView, centre: dict[str, tuple[float, float]], radii: dict[int, float], side: str, font: float
) -> tuple[ValueText, Box]:
    """n's value on a pill touching its circle on ``side``: the text and the pill's box."""
    assert n.value is not None
    x, y = centre[n.id]
    r = radii[n.layer]
    w, h = text_width(n.value.text, font) + 2 * PAD, PILL_LINE * font
    if side == "below":
        box = (x - w / 2, y + r + TOUCH, x + w / 2, y + r + TOUCH + h)
    elif side == "above":
        box = (x - w / 2, y - r - TOUCH - h, x + w / 2, y - r - TOUCH)
    elif side == "right":
        box = (x + r + TOUCH, y - h / 2, x + r + TOUCH + w, y + h / 2)
    else:
        box = (x - r - TOUCH - w, y - h / 2, x - r - TOUCH, y + h / 2)
    tx, anchor = {"right": (box[0] + PAD, "start"), "left": (box[2] - PAD, "end")}.get(side, (x, "middle"))
    plate = (round(box[0], 1), round(box[1], 1), round(box[2] - box[0], 1), round(box[3] - box[1], 1))
    ty = round((box[1] + box[3]) / 2, 1)
    return ValueText(n.value.text, round(tx, 1), ty, anchor, font, INK, False, plate), box


def _around(
    n: NeuronView, centre: dict[str, tuple[float, float]], radii: dict[int, float], sides: tuple[str, ...], font: float
) -> list[tuple[ValueText, Box]]:
    """Places for n's value on a pill touching its circle, in order: on each of ``sides``, centred, then slid
    along the circle (the circle's centre still facing the pill), then at a corner (diagonally off the circle)."""
    assert n.value is not None
    x, y = centre[n.id]
    w, h = text_width(n.value.text, font) + 2 * PAD, PILL_LINE * font
    boxes: list[Box] = []
    # a unit further out too, where a crowded column's neighbours leave the touching place a hair short
    for g, f in itertools.product((radii[n.layer] + TOUCH, radii[n.layer] + TOUCH + 0.9), (0.5, 0.3, 0.7, 0.12, 0.88)):
        for side in sides:
            if side in ("below", "above"):
                x0 = x - w * f
                boxes.append((x0, y + g, x0 + w, y + g + h) if side == "below" else (x0, y - g - h, x0 + w, y - g))
            else:
                y0 = y - h * f
                boxes.append((x + g, y0, x + g + w, y0 + h) if side == "right" else (x - g - w, y0, x - g, y0 + h))
    g = radii[n.layer] + TOUCH
    for degrees in (45.0, 30.0, 60.0):
        a = math.radians(degrees)
        for sx, sy in ((1, 1), (-1, 1), (1, -1), (-1, -1)):
            px, py = x + sx * g * math.cos(a), y + sy * g * math.sin(a)
            bx, by = (px, px + w) if sx > 0 else (px - w, px), (py, py + h) if sy > 0 else (py - h, py)
            boxes.append((bx[0], by[0], bx[1], by[1]))
    places = []
    for box in boxes:
        plate = (round(box[0], 1), round(box[1], 1), round(box[2] - box[0], 1), round(box[3] - box[1], 1))
        tx, ty = round((box[0] + box[2]) / 2, 1), round((box[1] + box[3]) / 2, 1)
        places.append((ValueText(n.value.text, tx, ty, "middle", font, INK, False, plate), box))
    return places


def _clear(
    box: Box,
    k: int,
    circles: list[tuple[float, float, float]],
    middles: list[tuple[float, float]],
    taken: list[Box],
    mates: list[Box],
    bounds: Box,
) -> bool:
    """Whether a pill for neuron k fits here: in the drawing, clear of the texts and pills ``taken`` (by
    APART_PILLS) and of its layer's pills ``mates``, of every edge's middle and, by APART, of every circle
    but its own."""
    if not (bounds[0] <= box[0] and bounds[1] <= box[1] and box[2] <= bounds[2] and box[3] <= bounds[3]):
        return False
    a = APART_PILLS
    if any(box[0] < t[2] + a and t[0] < box[2] + a and box[1] < t[3] + a and t[1] < box[3] + a for t in taken):
        return False
    if any(box[0] < t[2] and t[0] < box[2] and box[1] < t[3] and t[1] < box[3] for t in mates):
        return False
    if any(_distance(box, mx, my) < MIDDLE for mx, my in middles):
        return False
    if not all(_distance(box, cx, cy) >= r + APART for o, (cx, cy, r) in enumerate(circles) if o != k):
        return False
    # Read as its own neuron's: its line of text clearly nearer its circle than any other (a pill midway between
    # two reads as neither's).
    line = (box[0], (box[1] + box[3]) / 2, box[2], (box[1] + box[3]) / 2)
    own = _distance(line, circles[k][0], circles[k][1]) - circles[k][2]
    return all(_distance(line, cx, cy) - r >= NEARER * own for o, (cx, cy, r) in enumerate(circles) if o != k)


def _distance(box: Box, x: float, y: float) -> float:
    """From the point (x, y) to the nearest point of ``box``."""
    dx = max(box[0] - x, 0.0, x - box[2])
    dy = max(box[1] - y, 0.0, y - box[3])
    return math.hypot(dx, dy)


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
