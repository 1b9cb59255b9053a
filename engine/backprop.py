"""Feedforward and the four equations of backpropagation, chapter 2.

Two implementations of the same gradient:

* ``backprop``: fully matrix-based over a mini-batch (the chapter's closing
  problem). Examples are rows: A^{l} is (m, n_l), so eq. 25 reads
  Z^l = A^{l−1} (w^l)^T + b^l and BP2 reads Δ^l = (Δ^{l+1} w^{l+1}) ⊙ σ'(Z^l).
* ``backprop_per_example``: the book's loop, one column vector at a time,
  kept as the reference that tests and benchmarks compare against.

Both return the gradient of the mean cost C = (1/m) Σ_x C_x.

Left out: regularisation and momentum; the update itself lives in ``sgd``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from backprop_lens.engine import display
from backprop_lens.engine.activations import Activation
from backprop_lens.engine.costs import Cost, get_cost
from backprop_lens.engine.network import Network, check_batch

Array = NDArray[np.float64]


# --- one function per equation -------------------------------------------------


def weighted_input(w: Array, a_prev: Array, b: Array) -> Array:
    """Eq. 25: z^l = w^l a^{l−1} + b^l, for every example (row) of a_prev."""
    # np.dot dispatches faster than the @ gufunc on small matrices (same BLAS
    # call, same numbers); the bias is added in place, sparing a temporary.
    z: Array = np.dot(a_prev, w.T)
    z += b
    return z


def output_error(cost_fn: Cost, z_L: Array, a_L: Array, y: Array, output: Activation) -> Array:
    """BP1: δ^L = ∇_aC ⊙ σ'(z^L), in the form the cost gives (network2.py's ``delta``).

    For the quadratic cost that is (a^L − y) ⊙ σ'(z^L); for cross-entropy on
    sigmoid outputs the σ'(z^L) cancels and δ^L = a^L − y.
    """
    return cost_fn.delta(z_L, a_L, y, output)


def backpropagate_error(w_next: Array, delta_next: Array, sigma_prime_l: Array) -> Array:
    """BP2: δ^l = ((w^{l+1})^T δ^{l+1}) ⊙ σ'(z^l), for every example (row)."""
    delta: Array = np.dot(delta_next, w_next)
    delta *= sigma_prime_l
    return delta


def backpropagate(weights: Sequence[Array], sigma_primes: Sequence[Array], delta_L: Array) -> list[Array]:
    """BP2 from layer L − 1 down to layer 2, starting from BP1's δ^L; returns δ of layers 2..L in order.

    ``weights[i]`` and ``sigma_primes[i]`` belong to layer i + 2. The one loop
    that every gradient of the engine runs (``backprop``, ``sgd_step``, the
    modified-neuron exercise), whatever σ'(z) each neuron has.
    """
    n = len(weights)
    deltas: list[Array] = [delta_L] * n  # every slot is overwritten below, from L − 1 down
    for i in range(n - 2, -1, -1):
        deltas[i] = backpropagate_error(weights[i + 1], deltas[i + 1], sigma_primes[i])
    return deltas


def nabla_b_of(delta: Array) -> Array:
    """BP3: ∂C/∂b^l_j = δ^l_j, averaged over the examples of the batch."""
    # The sum and division of ndarray.mean, without its Python-level overhead.
    nabla_b: Array = np.add.reduce(delta, axis=0)
    if delta.shape[0] > 1:
        nabla_b /= delta.shape[0]
    return nabla_b


def nabla_w_of(delta: Array, a_prev: Array) -> Array:
    """BP4: ∂C/∂w^l_jk = a^{l−1}_k δ^l_j, averaged over the batch: (1/m) Δ^T A^{l−1}."""
    m = delta.shape[0]
    # Dividing the m × n_l matrix Δ before the product costs m·n_l divisions
    # instead of n_l·n_{l−1} (a 30 × 784 gradient from a batch of 10: 300
    # against 23,520); the result differs from dividing afterwards by rounding only.
    nabla_w: Array = np.dot((delta / m).T if m > 1 else delta.T, a_prev)
    return nabla_w


# --- the passes ----------------------------------------------------------------


@dataclass(frozen=True)
class ForwardPass:
    """What the backward pass needs: z^l and a^l for every layer.

    ``activations[0]`` is a^1 = x; ``zs[i]`` and ``activations[i + 1]`` belong
    to layer i + 2.
    """

    zs: list[Array]
    activations: list[Array]


@dataclass(frozen=True)
class Gradients:
    """∇C of the mean cost over a batch, with the intermediate values.

    ``nabla_w[i]`` has the shape of ``net.weights[i]``; ``deltas[i]`` is δ of
    layer i + 2 with one row per example; ``sigma_primes[i]`` is σ'(z) there.
    """

    cost: float
    nabla_w: list[Array]
    nabla_b: list[Array]
    forward: ForwardPass
    nabla_a: Array
    sigma_primes: list[Array]
    deltas: list[Array]

    def __repr__(self) -> str:
        sizes = "-".join(str(n) for n in [self.nabla_w[0].shape[1], *(b.shape[0] for b in self.nabla_b)])
        m = self.deltas[0].shape[0]
        return f"Gradients({sizes}, C = {self.cost:.6g}, mean over {m} example{'s' if m != 1 else ''})"

    def _repr_html_(self) -> str | None:
        """In a notebook: δ, ∂C/∂b and ∂C/∂w per layer as tables, once ``backprop_lens.display`` is installed."""
        return display.render("gradients", "text/html", self)

    @property
    def finite(self) -> bool:
        """True when no number overflowed to ±inf or became NaN."""
        arrays = [*self.nabla_w, *self.nabla_b, *self.forward.zs, *self.forward.activations, *self.deltas]
        # On the small networks of the step-through the calls are the cost: the
        # small arrays are joined and summed in two calls, since a NaN or ±inf
        # anywhere makes the sum non-finite. Huge finite entries can overflow
        # the sum too, so only a non-finite sum sends us entry by entry.
        small = [a.ravel() for a in arrays if a.size <= 4096]
        large = [a for a in arrays if a.size > 4096]
        if small:
            with np.errstate(over="ignore", invalid="ignore"):
                total = float(np.add.reduce(np.concatenate(small))) + self.cost
            if not math.isfinite(total):
                large = arrays
        return bool(np.isfinite(self.cost)) and all(bool(np.isfinite(a).all()) for a in large)


def as_batch(x: Sequence[Sequence[float]] | Array, width: int, name: str) -> Array:
    """A 2-D float64 array of m rows of ``width``; a single example may be 1-D.

    A float64 array is used as it is, not copied: nothing here writes into
    its inputs, and a batch of 1000 MNIST images is 6 MB to copy.
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1 and arr.shape[0] == width:
        arr = arr.reshape(1, -1)
    return check_batch(arr, width, name)


def as_examples(
    net: Network, x: Sequence[Sequence[float]] | Array, y: Sequence[Sequence[float]] | Array
) -> tuple[Array, Array]:
    """Inputs (m, n_1) and targets (m, n_L) for ``net``, one example per row; ValueError names the argument."""
    X = as_batch(x, net.sizes[0], "inputs")
    Y = as_batch(y, net.sizes[-1], "targets")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"targets: expected {X.shape[0]} rows, one per input, got {Y.shape[0]}")
    return X, Y


def output_cost(net: Network, cost_fn: Cost, fwd: ForwardPass, y: Array) -> float:
    """C = (1/m) Σ_x C_x of a forward pass, from z^L and a^L (the cost needs z^L to stay exact in saturation)."""
    return cost_fn.fn(fwd.zs[-1], fwd.activations[-1], y, net.activations[-1])


def feedforward(net: Network, x: Array) -> ForwardPass:
    """Eq. 25 layer by layer, keeping every z^l and a^l."""
    a = x
    zs: list[Array] = []
    activations: list[Array] = [x]
    for w, b, act in zip(net.weights, net.biases, net.activations, strict=True):
        z = weighted_input(w, a, b)
        a = act.fn(z)
        zs.append(z)
        activations.append(a)
    return ForwardPass(zs=zs, activations=activations)


@np.errstate(over="ignore", invalid="ignore")
def backprop(
    net: Network,
    x: Sequence[Sequence[float]] | Array,
    y: Sequence[Sequence[float]] | Array,
    cost: str | Cost = "quadratic",
) -> Gradients:
    """The gradient of C = (1/m) Σ_x C_x by BP1–BP4, all examples at once.

    Overflow is not raised as a warning: ``Gradients.finite`` reports it, and
    callers decide (the API answers 422).
    """
    cost_fn = get_cost(cost)
    output = net.activations[-1]
    cost_fn.check_output(output)
    X, Y = as_examples(net, x, y)

    fwd = feedforward(net, X)
    z_L, a_L = fwd.zs[-1], fwd.activations[-1]
    sigma_primes = [act.prime(z, a) for act, z, a in zip(net.activations, fwd.zs, fwd.activations[1:], strict=True)]
    deltas = backpropagate(net.weights, sigma_primes, output_error(cost_fn, z_L, a_L, Y, output))

    nabla_b = [nabla_b_of(d) for d in deltas]
    nabla_w = [nabla_w_of(d, a_prev) for d, a_prev in zip(deltas, fwd.activations, strict=False)]
    return Gradients(
        cost=cost_fn.fn(z_L, a_L, Y, output),
        nabla_w=nabla_w,
        nabla_b=nabla_b,
        forward=fwd,
        nabla_a=cost_fn.nabla_a(z_L, a_L, Y, output),
        sigma_primes=sigma_primes,
        deltas=deltas,
    )


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


def cost_of(net: Network, x: Array, y: Array, cost: str | Cost = "quadratic") -> float:
    """C = (1/m) Σ_x C_x after a plain forward pass."""
    return output_cost(net, get_cost(cost), feedforward(net, x), y)
