"""Inside a mini-batch: each example's δ and ∂C_x/∂w before they are averaged.

The chapter's algorithm for a mini-batch of m examples runs BP1–BP4 for every
example x, giving δ^{x,l} and ∂C_x/∂w^l = δ^{x,l} (a^{x,l−1})^T, and then takes
one gradient-descent step with their mean (1/m) Σ_x (eqs. 20–21 with ∇C the mean).
Examples can pull a weight in opposite directions; the mean is what survives.
To show how much each example agrees with the step taken, each example's whole
gradient is compared with the mean by cosine similarity, and each weight by
the share of examples whose ∂C_x/∂w has the sign of the mean.

Left out: the update itself (``engine.sgd``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from backprop_lens.engine.backprop import as_examples, backprop
from backprop_lens.engine.costs import Cost, get_cost
from backprop_lens.engine.network import Network

Array = NDArray[np.float64]


@dataclass(frozen=True)
class MiniBatch:
    """``deltas[i]``, ``nabla_w_x[i]`` and ``nabla_b_x[i]`` belong to layer i + 2; first axis is the example."""

    costs: Array
    deltas: list[Array]
    nabla_w_x: list[Array]
    nabla_b_x: list[Array]
    nabla_w: list[Array]
    nabla_b: list[Array]
    cosine: Array
    agreement_w: list[Array]


def _unit(v: Array) -> Array:
    """v / ‖v‖ along the last axis (zero rows stay zero), scaled by max |v| first.

    Without the scaling ‖v‖ overflows for entries near 10^154 and underflows
    for entries near 10^−154, and the cosine would read 0 or NaN.
    """
    top = np.max(np.abs(v), axis=-1, keepdims=True)
    scaled = np.divide(v, top, out=np.zeros_like(v), where=top > 0)
    norm = np.linalg.norm(scaled, axis=-1, keepdims=True)
    return np.asarray(np.divide(scaled, norm, out=np.zeros_like(v), where=norm > 0))


def cosines(rows: Array, v: Array) -> Array:
    """cos θ between each row and v: (row · v) / (‖row‖ ‖v‖), 0 where either is zero; exact at any scale."""
    return np.clip(_unit(rows) @ _unit(v), -1.0, 1.0)


def per_example_nabla_w(delta: Array, a_prev: Array) -> Array:
    """BP4 for each example x separately: ∂C_x/∂w^l = δ^{x,l} (a^{x,l−1})^T, shape (m, n_l, n_{l−1})."""
    return np.asarray(np.einsum("xj,xk->xjk", delta, a_prev))


def example_batch(x: Sequence[float] | Array, y: Sequence[float] | Array, m: int, seed: int = 0) -> tuple[Array, Array]:
    """A mini-batch of m examples: the given (x, y) first, then m − 1 drawn from a seeded generator.

    The extra inputs are uniform on [−1, 1] and the extra targets uniform on [0, 1], so they
    suit every cost the engine has; they are rounded to two decimals, short enough for a
    person to read and edit.
    """
    X = np.asarray(x, dtype=np.float64).reshape(1, -1)
    Y = np.asarray(y, dtype=np.float64).reshape(1, -1)
    if m < 1:
        raise ValueError(f"m: expected at least 1 example, got {m}")
    rng = np.random.default_rng(seed)
    extra_x = np.round(rng.uniform(-1.0, 1.0, (m - 1, X.shape[1])), 2)
    extra_y = np.round(rng.uniform(0.0, 1.0, (m - 1, Y.shape[1])), 2)
    return np.vstack([X, extra_x]), np.vstack([Y, extra_y])


def inside_minibatch(
    net: Network,
    x: Sequence[Sequence[float]] | Array,
    y: Sequence[Sequence[float]] | Array,
    cost: str | Cost = "quadratic",
) -> MiniBatch:
    """Every example's δ^l, ∂C_x/∂w^l and ∂C_x/∂b^l, their means, and how far each agrees with the mean."""
    cost_fn = get_cost(cost)
    X, Y = as_examples(net, x, y)
    g = backprop(net, X, Y, cost_fn)
    nabla_w_x = [per_example_nabla_w(d, a) for d, a in zip(g.deltas, g.forward.activations[:-1], strict=True)]
    nabla_b_x = [np.array(d) for d in g.deltas]  # BP3 for each example
    nabla_w = [nw.mean(axis=0) for nw in nabla_w_x]
    nabla_b = [nb.mean(axis=0) for nb in nabla_b_x]

    m = X.shape[0]
    flat_x = np.concatenate([a.reshape(m, -1) for a in (*nabla_w_x, *nabla_b_x)], axis=1)
    flat_mean = flat_x.mean(axis=0)
    cosine = cosines(flat_x, flat_mean)
    agreement_w = [
        (np.sign(nw) == np.sign(mean)[None]).mean(axis=0) for nw, mean in zip(nabla_w_x, nabla_w, strict=True)
    ]
    return MiniBatch(
        costs=cost_fn.per_example(g.forward.zs[-1], g.forward.activations[-1], Y, net.activations[-1]),
        deltas=[np.array(d) for d in g.deltas],
        nabla_w_x=nabla_w_x,
        nabla_b_x=nabla_b_x,
        nabla_w=nabla_w,
        nabla_b=nabla_b,
        cosine=cosine,
        agreement_w=agreement_w,
    )
