"""Text that fits: where a value goes (inside its circle or beside it) and layer labels that never collide.

The one estimate of a text's width (``text_width``) and the one label placer (``fit_lines``), which the page's
diagram, lecture mode's (``present``) and the exported SVG's legend all use.

Left out: measuring text. Widths are estimated from a font's advance widths, on the wide side.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from backprop_lens.app.stepper.view.colours import DIVERGING, text_colour
from backprop_lens.app.stepper.view.model import LayerLabel, RunView, ValueText

Array = NDArray[np.float64]

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
Segment = tuple[float, float, float, float]  # an edge, from (x1, y1) to (x2, y2)


def text_width(text: str, size: float) -> float:
    """The width of ``text`` at ``size`` px, estimated on the wide side (see _EM)."""
    return size * sum(_EM.get(c, 0.86 if c.isupper() else 0.72) for c in text)


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def crosses(box: Box, seg: Segment) -> bool:
    """Whether the segment passes through the box (Liang–Barsky clipping)."""
    x1, y1, x2, y2 = seg
    dx, dy = x2 - x1, y2 - y1
    lo, hi = 0.0, 1.0
    for p, q in ((-dx, x1 - box[0]), (dx, box[2] - x1), (-dy, y1 - box[1]), (dy, box[3] - y1)):
        if p == 0:
            if q < 0:
                return False
            continue
        t = q / p
        if p < 0:
            lo = max(lo, t)
        else:
            hi = min(hi, t)
        if lo > hi:
            return False
    return True


def _meets_circle(box: Box, cx: float, cy: float, r: float) -> bool:
    nx, ny = min(max(cx, box[0]), box[2]), min(max(cy, box[1]), box[3])
    return (nx - cx) ** 2 + (ny - cy) ** 2 < r * r


def inside_font(
    text: str, r: float, fonts: tuple[float, float] = INSIDE_FONT, share: float = 0.92, clearance: float = 2.0
) -> float | None:
    """The largest font in ``fonts`` (least, most), in half pixels and at most ``share`` of r, at which ``text``
    fits inside a circle of radius r with ``clearance`` to spare across its line; None if none does."""
    f = min(fonts[1], math.floor(r * share) / 2)
    while f >= fonts[0]:
        half = LINE * f / 2
        if half < r and text_width(text, f) <= 2 * math.sqrt(r * r - half * half) - clearance:
            return f
        f -= 0.5
    return None


@dataclass(frozen=True)
class Spot:
    """A neuron to label: its circle, its value as text and the fill behind it."""

    x: float
    y: float
    r: float
    text: str
    fill: str


def place_values(
    spots: list[Spot], obstacles: list[Box], bounds: Box, edges: Sequence[Segment] = ()
) -> list[ValueText | None]:
    """Each value inside its circle if it fits there, else beside it where it meets no circle, no
    other text and no edge (a stub of edge beside a number reads as a minus sign, and pulses arrive
    along edges): right, below, left or above. All values beside their circles share one font, the
    largest of BESIDE_FONTS at which every one finds room; at the smallest, a value with no room
    anywhere is left to the read-out and the tables (None)."""
    inside: list[ValueText | None] = []
    for s in spots:
        f = inside_font(s.text, s.r) if s.text else None
        inside.append(None if f is None else ValueText(s.text, s.x, s.y, "middle", f, text_colour(s.fill), True))
    todo = [n for n, s in enumerate(spots) if s.text and inside[n] is None]
    # the circles a value beside neuron n could reach: those of its own and the neighbouring columns
    reach = {n: text_width(spots[n].text, BESIDE_FONTS[0]) + 2 * spots[n].r + 40 for n in todo}
    near = {n: [o for o in spots if abs(o.x - spots[n].x) < reach[n]] for n in todo}
    placed = inside
    # clear of the edges at any font first; failing that (a dense layer, edges on every side), beside its
    # circle on a plate that reaches the circle, so that no stub of edge shows between circle and number
    for f, avoid in [*((f, edges) for f in BESIDE_FONTS), (BESIDE_FONTS[-1], ())]:
        placed = list(inside)
        taken: list[Box] = list(obstacles)
        for n in todo:
            placed[n] = _beside(spots[n], f, near[n], taken, bounds, avoid, touching=not avoid and bool(edges))
        if all(placed[n] is not None for n in todo):
            break
    return placed


def _beside(
    s: Spot, f: float, near: list[Spot], taken: list[Box], bounds: Box, edges: Sequence[Segment], touching: bool
) -> ValueText | None:
    """The first of right, below, left and above where the value fits at font f, clear of the circles
    ``near`` it (its own among them), of the ``edges`` and of the boxes ``taken``, which its box then joins."""
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
        clear = (box[0] - 2, box[1] - 2, box[2] + 2, box[3] + 2)
        if any(crosses(clear, e) for e in edges):
            continue
        taken.append(padded)
        # a white plate under the value hides the edges and pulses that pass behind it
        if touching:  # on edges: the plate reaches the circle, leaving no stub of edge before the number
            box = _reaching(box, s, anchor)
        plate = (round(box[0], 1), round(box[1], 1), round(box[2] - box[0], 1), round(box[3] - box[1], 1))
        return ValueText(s.text, round(tx, 1), round(ty, 1), anchor, f, INK, False, plate)
    return None


def _reaching(box: Box, s: Spot, anchor: str) -> Box:
    """The box grown on the circle's side until it meets the circle."""
    x0, y0, x1, y1 = box
    if anchor == "start":
        return (s.x + s.r - 1, y0, x1, y1)
    if anchor == "end":
        return (x0, y0, s.x - s.r + 1, y1)
    return (x0, y0, x1, s.y - s.r + 1) if y1 <= s.y else (x0, s.y + s.r - 1, x1, y1)


def label_forms(parts: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """A layer label's ways of breaking into lines, widest first, from its parts (role, activation if any,
    width): on one line ("hidden · sigmoid · 4"), on two ("hidden · 4" over "sigmoid"), one part a line."""
    two = (f"{parts[0]} · {parts[-1]}", *parts[1:-1]) if len(parts) > 2 else tuple(parts)
    return (" · ".join(parts),), two, tuple(parts)


def fit_lines(
    forms: Sequence[Sequence[str]], room: float, fonts: Sequence[Sequence[float]], fallback: int = 1, least: float = 0.0
) -> tuple[int, float]:
    """The label placer: the first of ``forms`` (each some lines of text) that fits ``room`` at one of its
    ``fonts`` (``fonts[i]`` for ``forms[i]``, largest first), and that font. If none does, form ``fallback``
    as large as its widest line allows, but not below ``least``."""
    for i, sizes in enumerate(fonts):
        widest = max(text_width(line, 1.0) for line in forms[i])
        for font in sizes:
            if font * widest <= room:
                return i, font
    widest = max(text_width(line, 1.0) for line in forms[fallback])
    return fallback, max(least, math.floor(2 * room / widest) / 2)


LABEL_FONTS = ((12.0, 11.0), (12.0, 11.0, 10.0, 9.0))
"""The page's layer labels: the fonts tried on one line, then on two."""


def layer_labels(r: RunView, xs: list[float], room: float) -> tuple[list[LayerLabel], float, float]:
    """Each layer's label, on one line or two, at the largest font that keeps it within ``room``
    (the space between neighbouring labels): the labels, the title font and the lines' font. Every label
    takes the same form and font."""
    forms: list[tuple[tuple[str, ...], ...]] = []
    for li, n in enumerate(r.sizes):
        layer = li + 1
        role = "input" if layer == 1 else ("output" if layer == r.L else "hidden")
        # the input layer's label ("input · 2") is short: one part, on one line in every form
        forms.append(label_forms((f"{role} · {n}",) if layer == 1 else (role, r.acts[li - 1], str(n))))
    title_font = max(8.0, min(14.0, math.floor(2 * room / text_width(f"layer {r.L}", 1.0)) / 2))
    # every label's lines together: the form and font that fit them all
    together = [[line for f in forms for line in f[form]] for form in range(len(LABEL_FONTS))]
    form, font = fit_lines(together, room, LABEL_FONTS)
    labels = [LayerLabel(xs[li], f"layer {li + 1}", f[form], font) for li, f in enumerate(forms)]
    return labels, title_font, font
