"""The demon: what δ^l_j means (chapter 2, "The four fundamental equations").

A demon sits at neuron j of layer l and adds Δz to its weighted input, so the
neuron outputs σ(z^l_j + Δz) and the rest of the network runs on from there.
The cost then changes by about ∂C/∂z^l_j Δz = δ^l_j Δz (eq. 29 defines
δ^l_j ≡ ∂C/∂z^l_j). The linear estimate holds for small Δz and breaks for large
ones; this module computes both numbers so the person can see where.

C here is the cost C_x of one example, as δ is defined per example.

Left out: nudging several neurons at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from backprop_lens.engine.backprop import backprop, output_cost
from backprop_lens.engine.costs import Cost, get_cost
from backprop_lens.engine.insight.forward import check_neuron, feedforward_tweaked, single_example
from backprop_lens.engine.network import Network

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Nudge:
    """One nudge Δz of z^l_j, the predicted and the actual change of the cost."""

    dz: float
    predicted: float
    actual: float

    @property
    def ratio(self) -> float | None:
        """actual / predicted; None when the prediction is 0 or so small that the ratio passes 10^308."""
        if self.predicted == 0.0 or abs(self.actual) > abs(self.predicted) * 1e308:
            return None
        return self.actual / self.predicted

    @property
    def linear_error(self) -> float:
        """|actual − predicted| / max(|actual|, |predicted|): 0 where the linear estimate is exact."""
        scale = max(abs(self.actual), abs(self.predicted))
        return 0.0 if scale == 0.0 else abs(self.actual - self.predicted) / scale


@dataclass(frozen=True)
class Demon:
    layer: int
    j: int
    example: int
    z: float
    delta: float
    cost: float
    nudges: tuple[Nudge, ...]


def predicted_change(delta: float, dz: float) -> float:
    """ΔC ≈ (∂C/∂z^l_j) Δz^l_j = δ^l_j Δz, the demon's linear estimate (eq. 29)."""
    return delta * dz


def demon(
    net: Network,
    x: Sequence[Sequence[float]] | Array,
    y: Sequence[Sequence[float]] | Array,
    cost: str | Cost,
    layer: int,
    j: int,
    dzs: Sequence[float],
    example: int = 0,
) -> Demon:
    """For each Δz: δ^l_j Δz against C_x(z^l_j + Δz) − C_x(z^l_j) from a nudged forward pass.

    ``layer`` is the book's l (2..L); ``j`` is the 0-based index of the neuron in it.
    """
    cost_fn = get_cost(cost)
    check_neuron(net, layer, j)
    X, Y = single_example(net, x, y, example)
    g = backprop(net, X, Y, cost_fn)
    delta = float(g.deltas[layer - 2][0, j])
    nudges = []
    for dz in dzs:
        fwd = feedforward_tweaked(net, X, layer, j, dz=float(dz))
        actual = output_cost(net, cost_fn, fwd, Y) - g.cost
        nudges.append(Nudge(dz=float(dz), predicted=predicted_change(delta, float(dz)), actual=actual))
    return Demon(
        layer=layer,
        j=j,
        example=example,
        z=float(g.forward.zs[layer - 2][0, j]),
        delta=delta,
        cost=g.cost,
        nudges=tuple(nudges),
    )
