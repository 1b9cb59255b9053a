"""The colours of every page, defined once, and the one way to move along a ramp of them.

Forward quantities (a) take a sequential ramp, light to dark green, where they run 0 to 1 (sigmoid), and a
diverging one, purple below zero, green above, where they have a sign (tanh, ReLU, linear). Backward ones (δ, ∂C/∂w) and
anything signed (a class 0 or 1, an output over the plane) take the diverging ramp: blue for
negative, orange for positive, light grey at zero (safe for red–green colour blindness). Weights
have a pair of their own, so they never read as gradients.

The stylesheets need the diverging ramp too (legends and keys; the pictures are coloured here):
``static/css/lens.css`` declares it as the custom properties that ``CSS_PROPERTIES`` names, and
``tests/app/core/test_palette.py`` checks that the two agree. Left out: which numbers map to which
end of a ramp (the step-through's per-layer scales are ``app.stepper.view.colours``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

NEGATIVE = "#2166ac"
NEGATIVE_LIGHT = "#92c5de"
ZERO = "#f7f7f7"
POSITIVE_LIGHT = "#fdb863"
POSITIVE = "#b35806"
DIVERGING = (NEGATIVE, NEGATIVE_LIGHT, ZERO, POSITIVE_LIGHT, POSITIVE)
# Edges sit on white: their diverging ramp has a grey middle, so a small gradient stays visible.
DIVERGING_EDGE = (NEGATIVE, "#6baed6", "#a8a8a8", "#fd8d3c", POSITIVE)
SEQUENTIAL = ("#f7fcf5", "#c7e9c0", "#74c476", "#238b45", "#00441b")
FORWARD = SEQUENTIAL[3]  # the forward phase where one colour stands for it (the scrubber's dots)
# a and z of tanh, ReLU and linear layers: purple below 0, green above, each end as far from white as the other
# (contrast with white 8.6 and 8.5, 2.2 and 2.2), so that −0.976 reads as strong as +0.976.
FORWARD_DIVERGING = ("#762a83", "#c2a5cf", "#f7f7f7", "#7fbf7b", "#0d5927")
W_POSITIVE = "#2d6a4f"
W_NEGATIVE = "#7b3294"
PENDING = "#ffffff"  # a neuron the pass has not reached yet
NEUTRAL = "#e9ecef"  # an input neuron: given, not computed
# The keyboard focus on the diagram: black, apart from both weight colours and every ramp's dark end.
FOCUS = "#000000"

# The custom properties of lens.css's :root, each with the constant it repeats.
CSS_PROPERTIES = {
    "--neg": NEGATIVE,
    "--neg-light": NEGATIVE_LIGHT,
    "--zero": ZERO,
    "--pos-light": POSITIVE_LIGHT,
    "--pos": POSITIVE,
    "--forward": FORWARD,
    "--focus-svg": FOCUS,
}


def rgb(hex_colour: str) -> tuple[int, int, int]:
    """``#rrggbb`` as its three channels, 0–255."""
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


def ramp(stops: Sequence[str], t: float) -> str:
    """The colour at t ∈ [0, 1] along evenly spaced stops, interpolated in sRGB."""
    t = min(max(t, 0.0), 1.0) if math.isfinite(t) else 0.5
    pos = t * (len(stops) - 1)
    i = min(int(pos), len(stops) - 2)
    f = pos - i
    lo, hi = rgb(stops[i]), rgb(stops[i + 1])
    r, g, b = (round(lo[c] + (hi[c] - lo[c]) * f) for c in range(3))
    return f"#{r:02x}{g:02x}{b:02x}"


def diverging(v: float, scale: float) -> str:
    """``v`` on the diverging ramp over −scale … scale: zero in the middle, beyond ±scale the ends."""
    t = min(max(v / scale, -1.0), 1.0) if scale > 0 and math.isfinite(v) else 0.0  # v / scale may overflow to ±inf
    return ramp(DIVERGING, 0.5 + 0.5 * t)
