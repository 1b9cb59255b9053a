"""The book's algorithm, one example at a time: the bench's baseline for the engine's ``backprop``.

``backprop_per_example`` is chapter 2's loop as network.py writes it (column vectors, one example per
pass, gradients summed and divided by m). It is what ``backprop-lens bench`` times as "the book's loop",
and what tests compare the engine's batched rows against: it shares the activations' σ' and the costs'
δ^L with the engine (so it checks the batching: rows against columns, the 1/m), not its arithmetic.

Left out: speed; it is the baseline.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from backprop_lens.engine.backprop import as_examples, output_error
from backprop_lens.engine.costs import Cost, get_cost
from backprop_lens.engine.network import Network

Array = NDArray[np.float64]


def backprop_per_example(
    net: Network,
    x: Sequence[Sequence[float]] | Array,
    y: Sequence[Sequence[float]] | Array,
    cost: str | Cost = "quadratic",
) -> tuple[float, list[Array], list[Array]]:
    """The book's algorithm (network.py): one example at a time, column vectors.

    Returns (cost, nabla_w, nabla_b) of the mean cost. Deliberately plain: it
    is what the matrix form is checked and benchmarked against. It shares the
    activations' σ' and the costs' δ^L with ``backprop``, so it checks the
    batching (rows against columns, the 1/m), not the derivatives: those are
    checked against the scalar autograd and mpmath finite differences.
    """
    cost_fn = get_cost(cost)
    X, Y = as_examples(net, x, y)
    m = X.shape[0]
    nabla_b = [np.zeros((b.shape[0], 1)) for b in net.biases]
    nabla_w = [np.zeros(w.shape) for w in net.weights]
    total = 0.0
    for xi, yi in zip(X, Y, strict=True):
        activation = xi.reshape(-1, 1)
        activations = [activation]
        zs = []
        for w, b, act in zip(net.weights, net.biases, net.activations, strict=True):
            z = np.dot(w, activation) + b.reshape(-1, 1)
            zs.append(z)
            activation = act.fn(z)
            activations.append(activation)
        z_L, a_L, y_row = zs[-1].T, activations[-1].T, yi.reshape(1, -1)
        total += cost_fn.fn(z_L, a_L, y_row, net.activations[-1])
        delta = output_error(cost_fn, z_L, a_L, y_row, net.activations[-1]).T
        nabla_b[-1] += delta
        nabla_w[-1] += np.dot(delta, activations[-2].T)
        for back in range(2, net.num_layers):
            sp = net.activations[-back].prime(zs[-back], activations[-back])
            delta = np.dot(net.weights[-back + 1].T, delta) * sp
            nabla_b[-back] += delta
            nabla_w[-back] += np.dot(delta, activations[-back - 1].T)
    return (
        total / m,
        [nw / m for nw in nabla_w],
        [nb.reshape(-1) / m for nb in nabla_b],
    )
