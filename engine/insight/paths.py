"""∂C/∂w^l_jk as a sum over paths (chapter 2, "Backpropagation: the big picture", eq. 53).

A change Δw^l_jk moves z^l_j, then a^l_j, then every neuron of layer l+1, and so
on to the cost. Each path j = q_l → q_{l+1} → … → q_L through the later layers
contributes the product of its rates of change:

    a^{l−1}_k · σ'(z^l_j) · w^{l+1}_{q_{l+1} j} σ'(z^{l+1}_{q_{l+1}}) · …
        · w^L_{q_L q_{L−1}} σ'(z^L_{q_L}) · ∂C/∂a^L_{q_L}

(∂z^l_j/∂w^l_jk = a^{l−1}_k, ∂a/∂z = σ'(z), ∂z^{m}_q/∂a^{m−1}_p = w^m_qp), and the
sum of all of them is ∂C/∂w^l_jk = a^{l−1}_k δ^l_j (BP4). There are
n_{l+1} · … · n_L paths, too many to list in a wide network, so the strongest K
are found exactly by keeping, at each neuron, the K strongest path prefixes that
reach it (a path's strength is its prefix's times its suffix's, so a prefix
outside a neuron's top K cannot complete a path in the overall top K). The rest
of the sum is the BP4 total minus the listed paths.

C is the cost C_x of one example. Neuron indices are 0-based.

Left out: paths through several examples of a batch.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from backprop_lens.engine.backprop import Gradients, backprop
from backprop_lens.engine.costs import Cost, get_cost
from backprop_lens.engine.insight.forward import check_neuron, single_example
from backprop_lens.engine.network import Network

Array = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class Path:
    """Neurons q_l = j, q_{l+1}, …, q_L (0-based) and the path's rate factors in the order above."""

    neurons: tuple[int, ...]
    factors: tuple[float, ...]
    product: float


@dataclass(frozen=True)
class PathSum:
    layer: int
    j: int
    k: int
    example: int
    count: int
    paths: tuple[Path, ...]
    listed_sum: float
    rest_sum: float
    total: float


def path_count(sizes: Sequence[int], layer: int) -> int:
    """n_{l+1} · … · n_L paths from neuron (l, j) to the output layer."""
    return math.prod(sizes[layer:])


def path_factors(net: Network, g: Gradients, layer: int, k: int, neurons: Sequence[int]) -> tuple[float, ...]:
    """The rate factors of one path of eq. 53: a^{l−1}_k, σ'(z^l_j), then w σ' per later layer, ∂C/∂a^L."""
    factors = [float(g.forward.activations[layer - 2][0, k]), float(g.sigma_primes[layer - 2][0, neurons[0]])]
    for step, (p, q) in enumerate(itertools.pairwise(neurons)):
        i = layer - 1 + step  # index of w^{l+1+step}
        factors.append(float(net.weights[i][q, p]))
        factors.append(float(g.sigma_primes[i][0, q]))
    factors.append(float(g.nabla_a[0, neurons[-1]]))
    return tuple(factors)


def _strongest(net: Network, g: Gradients, layer: int, j: int, k: int, top: int) -> list[tuple[int, ...]]:
    """The ``top`` paths with the largest |product|, by the K-best prefix recursion."""
    start = g.forward.activations[layer - 2][0, k] * g.sigma_primes[layer - 2][0, j]
    # prefixes reaching each neuron of the current layer: products (n, K) and neuron sequences (n, K, depth)
    prods: Array = np.array([[start]])
    seqs: IntArray = np.array([[[j]]], dtype=np.int64)
    rows: IntArray = np.array([j], dtype=np.int64)  # the neuron each row of prods ends at
    for i in range(layer - 1, len(net.weights)):
        rate = (net.weights[i] * g.sigma_primes[i][0][:, None])[:, rows]  # w^{m}_{qp} σ'(z^m_q)
        n_next = rate.shape[0]
        cand = (rate[:, :, None] * prods[None, :, :]).reshape(n_next, -1)
        keep = min(top, cand.shape[1])
        order = np.argsort(-np.abs(cand), axis=1, kind="stable")[:, :keep]
        prev_idx, slot = np.divmod(order, prods.shape[1])
        prods = np.take_along_axis(cand, order, axis=1)
        rows = np.arange(n_next, dtype=np.int64)
        seqs = np.concatenate([seqs[prev_idx, slot], np.broadcast_to(rows[:, None, None], (n_next, keep, 1))], axis=2)
    final = (prods * g.nabla_a[0][rows][:, None]).reshape(-1)
    flat_seqs = seqs.reshape(-1, seqs.shape[2])
    order = np.argsort(-np.abs(final), kind="stable")[:top]
    return [tuple(int(q) for q in flat_seqs[o]) for o in order]


def path_sum(
    net: Network,
    x: Sequence[Sequence[float]] | Array,
    y: Sequence[Sequence[float]] | Array,
    cost: str | Cost,
    layer: int,
    j: int,
    k: int,
    top: int = 10,
    example: int = 0,
) -> PathSum:
    """Eq. 53 for w^l_jk: the ``top`` strongest paths, their sum, and the exact rest (BP4 total − listed)."""
    cost_fn = get_cost(cost)
    check_neuron(net, layer, j)
    if not 0 <= k < net.sizes[layer - 2]:
        raise ValueError(f"input: layer {layer - 1} has {net.sizes[layer - 2]} neurons, got index {k}")
    if top < 1:
        raise ValueError(f"top: expected at least 1 path, got {top}")
    X, Y = single_example(net, x, y, example)
    g = backprop(net, X, Y, cost_fn)
    paths = []
    for neurons in _strongest(net, g, layer, j, k, top):
        factors = path_factors(net, g, layer, k, neurons)
        paths.append(Path(neurons=neurons, factors=factors, product=math.prod(factors)))
    total = float(g.nabla_w[layer - 2][j, k])
    listed = math.fsum(p.product for p in paths)
    return PathSum(
        layer=layer,
        j=j,
        k=k,
        example=example,
        count=path_count(net.sizes, layer),
        paths=tuple(paths),
        listed_sum=listed,
        rest_sum=total - listed,
        total=total,
    )
