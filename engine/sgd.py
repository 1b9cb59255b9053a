"""Gradient descent: the update rule, one mini-batch, and stochastic gradient descent.

The update is eqs. 20–21 of chapter 1 with the gradient from backpropagation:
w^l → w^l − η ∂C/∂w^l and b^l → b^l − η ∂C/∂b^l, where C is the mean cost of
the mini-batch (so η is not divided by m again).

Left out: momentum, regularisation and learning-rate schedules (chapter 3).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from engine.backprop import as_batch, backprop, cost_of
from engine.costs import Cost, get_cost
from engine.network import Network

Array = NDArray[np.float64]


def gradient_descent(param: Array, nabla: Array, eta: float) -> Array:
    """Eqs. 20–21: v → v' = v − η ∇C, returned as a new array."""
    return param - eta * nabla


def update_mini_batch(
    net: Network,
    x: Sequence[Sequence[float]] | Array,
    y: Sequence[Sequence[float]] | Array,
    eta: float,
    cost: str | Cost = "quadratic",
) -> Network:
    """One gradient-descent step on the mean cost of the batch; ``net`` is left unchanged."""
    g = backprop(net, x, y, cost)
    return net.with_parameters(
        [gradient_descent(w, nw, eta) for w, nw in zip(net.weights, g.nabla_w, strict=True)],
        [gradient_descent(b, nb, eta) for b, nb in zip(net.biases, g.nabla_b, strict=True)],
    )


@dataclass(frozen=True)
class Progress:
    """Where training is, handed to the per-mini-batch callback."""

    epoch: int
    batch: int
    batches_per_epoch: int
    cost: float


def SGD(  # noqa: N802 - the book's name
    net: Network,
    x: Sequence[Sequence[float]] | Array,
    y: Sequence[Sequence[float]] | Array,
    epochs: int,
    mini_batch_size: int,
    eta: float,
    cost: str | Cost = "quadratic",
    seed: int | None = 0,
    callback: Callable[[Network, Progress], bool | None] | None = None,
) -> Network:
    """Stochastic gradient descent, as in the book's ``network.py``.

    Each epoch shuffles the examples with a generator seeded once from
    ``seed`` and steps through mini-batches of ``mini_batch_size``. The
    callback sees the current network after every mini-batch; returning True
    stops training early. Returns the trained network.
    """
    cost_fn = get_cost(cost) if isinstance(cost, str) else cost
    X = as_batch(x, net.sizes[0], "inputs")
    Y = as_batch(y, net.sizes[-1], "targets")
    n = X.shape[0]
    rng = np.random.default_rng(seed)
    batches = (n + mini_batch_size - 1) // mini_batch_size
    for epoch in range(1, epochs + 1):
        order = rng.permutation(n)
        for k in range(batches):
            idx = order[k * mini_batch_size : (k + 1) * mini_batch_size]
            net = update_mini_batch(net, X[idx], Y[idx], eta, cost_fn)
            if callback is not None:
                progress = Progress(epoch, k + 1, batches, cost_of(net, X[idx], Y[idx], cost_fn))
                if callback(net, progress):
                    return net
    return net
