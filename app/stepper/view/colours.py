"""Colour scales: which number maps to which colour, for one run.

Activations: a sigmoid layer's a on the sequential ramp over 0 … 1; a tanh, ReLU or linear layer's on a
diverging ramp symmetric about 0 (tanh over −1 … 1, the others over ± the largest |a| of their kind), so a
saturated −0.976 is as strong as +0.976. Backward quantities (δ, ∂C/∂w): a diverging ramp, either one scale
per layer (each layer readable at its own step) or one scale for the whole network (δ fading layer by
layer, the start of vanishing gradients, visible at a glance): ``backward_scales`` gives either.

Left out: the colours themselves (``app.core.palette``) and where the scales are drawn (``diagram``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from backprop_lens.app.core.format import fmt

# The colours are the app's palette (app.core.palette), named here as the step-through's modules import them.
from backprop_lens.app.core.palette import DIVERGING as DIVERGING
from backprop_lens.app.core.palette import DIVERGING_EDGE as DIVERGING_EDGE
from backprop_lens.app.core.palette import FORWARD_DIVERGING as FORWARD_DIVERGING
from backprop_lens.app.core.palette import NEUTRAL as NEUTRAL
from backprop_lens.app.core.palette import PENDING as PENDING
from backprop_lens.app.core.palette import SEQUENTIAL as SEQUENTIAL
from backprop_lens.app.core.palette import W_NEGATIVE as W_NEGATIVE
from backprop_lens.app.core.palette import W_POSITIVE as W_POSITIVE
from backprop_lens.app.core.palette import ramp as ramp
from backprop_lens.app.core.palette import rgb

Array = NDArray[np.float64]


def text_colour(fill: str) -> str:
    """Black or white, whichever reads better on ``fill`` (relative luminance, WCAG)."""

    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb(fill))
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
    scope: str = "layer"  # "layer": each layer on its own scale; "network": one scale for every layer

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


def max_abs(arrays: Sequence[Array]) -> float:
    m = _peak(arrays)
    return m if m > 0 and math.isfinite(m) else 1.0


def _symmetric(
    name: str, symbol: str, arrays: Sequence[Array], stops: tuple[str, ...] = DIVERGING, layer: int | None = None
) -> Scale:
    """−m … m for the arrays' largest |value| m: zero sits in the middle of a diverging ramp."""
    m = _peak(arrays)
    return Scale(name, symbol, -m, m, stops, True, layer)


def per_layer(name: str, symbol: str, by_layer: dict[int, Array], stops: tuple[str, ...]) -> dict[int, Scale]:
    """One symmetric scale per layer, each from the layer's own largest |value|.

    A hidden layer's δ is often a tenth of the output's or less; on one scale for the
    whole network it would be drawn white. Each layer on its own scale is coloured at
    its own step, and the legend says so and gives the range of the layer in focus.
    """
    return {layer: _symmetric(name, symbol, [a], stops, layer) for layer, a in by_layer.items()}


def one_scale(name: str, symbol: str, by_layer: dict[int, Array], stops: tuple[str, ...]) -> dict[int, Scale]:
    """The same symmetric scale for every layer, from the network's largest |value|: a layer whose values are
    a tenth of the output's is drawn a tenth as strong."""
    scale = dataclasses.replace(_symmetric(name, symbol, list(by_layer.values()), stops), scope="network")
    return dict.fromkeys(by_layer, scale)


SCOPES = ("layer", "network")
"""The backward scales' two scopes, as the form's ``scale`` field names them."""


def backward_scales(
    name: str, symbol: str, by_layer: dict[int, Array], stops: tuple[str, ...], scope: str
) -> dict[int, Scale]:
    """δ's or ∂C/∂w's scale of each layer: per layer, or one for the network (``scope`` of SCOPES)."""
    return (one_scale if scope == "network" else per_layer)(name, symbol, by_layer, stops)


SIGNED = ("tanh", "relu", "linear")
"""Activations whose a (and z) have a sign worth seeing: drawn on a diverging scale about 0."""


def activation_scales(acts: Sequence[str], a: dict[int, Array]) -> dict[int, Scale]:
    """The a scale of each computed layer (2 … L) by its activation: sigmoid 0 … 1 on the sequential ramp;
    tanh −1 … 1 and ReLU or linear ± their layers' largest |a|, on the diverging forward ramp.

    Layers of one activation share one scale, so the same a is the same colour in every such layer."""
    scales: dict[int, Scale] = {}
    for act in dict.fromkeys(acts):
        layers = [li + 2 for li, name in enumerate(acts) if name == act]
        if act not in SIGNED:
            scale = Scale("a", "a", 0.0, 1.0, SEQUENTIAL, False, scope="network")
        else:
            m = 1.0 if act == "tanh" else max_abs([a[q] for q in layers])
            scale = Scale("a", "a", -m, m, FORWARD_DIVERGING, True, scope="network")
        scales.update(dict.fromkeys(layers, scale))
    return scales
