"""The finite-difference estimate of the gradient (chapter 2, eq. 46), central form.

∂C/∂w_j ≈ (C(w + ε e_j) − C(w − ε e_j)) / 2ε for every parameter: two forward
passes per parameter, 2P + 1 in all with the unperturbed cost, against the
one forward and one backward pass of backpropagation. That count is the
chapter's answer to "why is backpropagation fast?".

Left out: one-sided differences (error O(ε) instead of O(ε²)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from backprop_lens.engine.backprop import as_examples, cost_of
from backprop_lens.engine.costs import Cost, get_cost
from backprop_lens.engine.network import Network

Array = NDArray[np.float64]


@dataclass(frozen=True)
class NumericalGradient:
    cost: float
    nabla_w: list[Array]
    nabla_b: list[Array]
    forward_passes: int


def numerical_gradient(
    net: Network,
    x: Sequence[Sequence[float]] | Array,
    y: Sequence[Sequence[float]] | Array,
    cost: str | Cost = "quadratic",
    epsilon: float = 1e-6,
) -> NumericalGradient:
    """Eq. 46 with central differences for every weight and bias."""
    cost_fn = get_cost(cost)
    X, Y = as_examples(net, x, y)
    probe = net.copy()
    passes = 1
    base = cost_of(probe, X, Y, cost_fn)

    def estimate(param: Array) -> Array:
        nonlocal passes
        grad = np.zeros_like(param)
        flat = param.reshape(-1, order="A")  # a view in memory order (packed is column-major)
        out = grad.reshape(-1, order="A")  # the same order: zeros_like keeps the layout
        for j in range(flat.size):
            saved = flat[j]
            flat[j] = saved + epsilon
            c_plus = cost_of(probe, X, Y, cost_fn)
            flat[j] = saved - epsilon
            c_minus = cost_of(probe, X, Y, cost_fn)
            flat[j] = saved
            out[j] = (c_plus - c_minus) / (2.0 * epsilon)
            passes += 2
        return grad

    # one parameter at a time through [w | b] (weights and biases are views of it, not contiguous)
    packed = [estimate(p) for p in probe.packed]
    nabla_w = [p[:, :-1].copy() for p in packed]
    nabla_b = [p[:, -1].copy() for p in packed]
    return NumericalGradient(cost=base, nabla_w=nabla_w, nabla_b=nabla_b, forward_passes=passes)


def relative_error(exact: Array, estimate: Array, floor: float = 1e-12) -> Array:
    """|exact − estimate| / max(|exact|, |estimate|, floor), elementwise."""
    scale = np.maximum(np.maximum(np.abs(exact), np.abs(estimate)), floor)
    return np.asarray(np.abs(exact - estimate) / scale)
