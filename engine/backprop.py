"""Feedforward and the four equations of backpropagation, chapter 2: ``backprop``, the engine's one gradient.

``backprop(net, x, y, cost)`` is the engine's one implementation of BP1–BP4: the step-through's trace,
SGD, the API, the instruments, the book's faces and the notebook all call it. Examples are rows, here
and in the whole engine: x is (m, n_1), and every per-example value (z^l, a^l, σ'(z^l), δ^l, ∇_aC) has
one row per example, so eq. 25 reads Z^l = A^{l−1} (w^l)^T + b^l and BP2 reads
Δ^l = (Δ^{l+1} w^{l+1}) ⊙ σ'(Z^l). It returns the gradient of the mean cost C = (1/m) Σ_x C_x.

It is fused for speed: on the step-through's small networks NumPy's cost is the number of calls, so
it makes few. The network keeps [w | b] per layer (``Network.packed``); every hidden activation gets a
column of ones, so z = [a, 1] [w | b]^T is one product and δ^T [a, 1] gives ∂C/∂w and ∂C/∂b at once
(BP3 and BP4 in one call); the input layer takes its bias separately, sparing a copy of x. Everything
it returns is made by that call and belongs to the caller (fresh arrays were measured cheaper than
buffers kept per batch shape and copied out, and need no lock between threads).

Exact where a sigmoid saturates, |z| to 800 (tests/engine/test_extremes.py): σ(z) and σ'(z) from
e = e^{−|z|}, which never overflows (σ(z) = 1 − σ(−|z|) for z ≥ 0 and σ(−|z|) below, σ' = e/(1 + e)²);
tanh' = 4e/(1 + e)² with e = e^{−2|z|}; for a sigmoid output a − y is (1 − y) − σ(−z) where z ≥ 0, and
cross-entropy's C_x and δ^L = a − y come from z (``engine.costs``). Activations and costs other than
the built-in ones go through their registry methods (``fn``, ``prime``, ``delta``) inside the same function.

The single equations (``weighted_input``, ``output_error``, ``backpropagate``, ``nabla_w_of``, …) stay
as one function each, for the exercises that change one neuron (``engine.insight.exercises``).

Left out: regularisation and momentum (the update lives in ``sgd``), and the book's per-example loop
(the bench's baseline, ``bench.baseline``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from backprop_lens.engine import display
from backprop_lens.engine.activations import Activation
from backprop_lens.engine.costs import Cost, CrossEntropyCost, QuadraticCost, get_cost
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


class _OutputGradient:
    """∇_aC of a batch, computed by the cost from z^L, a^L and y when first asked for."""

    __slots__ = ("cost_fn", "output", "value", "y")

    def __init__(self, value: Array | None, cost_fn: Cost, output: Activation, y: Array) -> None:
        self.value, self.cost_fn, self.output, self.y = value, cost_fn, output, y

    def of(self, fwd: ForwardPass) -> Array:
        if self.value is None:
            self.value = self.cost_fn.nabla_a(fwd.zs[-1], fwd.activations[-1], self.y, self.output)
        return self.value


@dataclass(frozen=True)
class Gradients:
    """∇C of the mean cost over a batch, with the intermediate values; every array is the caller's own.

    ``nabla_w[i]`` has the shape of ``net.weights[i]``; ``deltas[i]`` is δ of
    layer i + 2 with one row per example; ``sigma_primes[i]`` is σ'(z) there.
    ``nabla_a`` (∇_aC, BP1 written out, one row per example) is taken from z^L
    when first asked for: the gradient itself does not need it.
    """

    cost: float
    nabla_w: list[Array]
    nabla_b: list[Array]
    forward: ForwardPass
    sigma_primes: list[Array]
    deltas: list[Array]
    output_gradient: _OutputGradient = field(repr=False, compare=False)

    @property
    def nabla_a(self) -> Array:
        """∇_aC_x = ∂C_x/∂a^L for every example (row)."""
        return self.output_gradient.of(self.forward)

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


# Constants as 0-d arrays: a Python float costs each ufunc call a conversion, a third of its time on small arrays.
ZERO, ONE, TWO, FOUR, MINUS_ONE = (np.array(v) for v in (0.0, 1.0, 2.0, 4.0, -1.0))


def _sigmoid_parts(z: Array, a: Array) -> tuple[Array, Array, Array, Array, Array]:
    """σ(z) into ``a``, exact at any z; returns e = e^{−|z|}, 1 + e, σ(−|z|), H(z) and ±σ(−|z|) with z's sign.

    σ(−|z|) = e/(1 + e) never overflows; σ(z) is 1 − σ(−|z|) for z ≥ 0 and σ(−|z|) below, that is
    H(z) − copysign(σ(−|z|), z), where H(z) is 1 for z ≥ +0 and 0 for z ≤ −0 (the sign bit decides,
    as it does for copysign, so that z = −0 gives ½ too).
    """
    e = np.copysign(z, MINUS_ONE)
    np.exp(e, e)
    d = np.add(e, ONE)
    s = np.divide(e, d)
    h = np.subtract(ONE, np.signbit(z))
    signed = np.copysign(s, z)
    np.subtract(h, signed, a)
    return e, d, s, h, signed


def _activate(act: Activation, z: Array, a: Array) -> Array:
    """a = σ(z) into ``a`` (a view of a^l beside its column of ones); returns σ'(z), exact where σ has saturated."""
    name = act.name
    if name == "sigmoid":
        _, d, s, _, _ = _sigmoid_parts(z, a)
        return np.divide(s, d, s)  # σ'(z) = σ(−|z|)/(1 + e^{−|z|})
    if name == "tanh":
        np.tanh(z, a)
        e = np.copysign(z, MINUS_ONE)  # tanh'(z) = 4e/(1 + e)² with e = e^{−2|z|}
        np.multiply(e, TWO, e)
        np.exp(e, e)
        d = np.add(e, ONE)
        np.multiply(d, d, d)
        np.divide(e, d, e)
        tanh_prime: Array = np.multiply(e, FOUR, e)
        return tanh_prime
    if name == "relu":
        np.maximum(z, ZERO, out=a)
        relu_prime: Array = np.heaviside(z, ZERO)  # 1 where z > 0, 0 elsewhere (σ'(0) = 0)
        return relu_prime
    if name == "linear":
        np.copyto(a, z)
        return np.ones_like(z)
    np.copyto(a, act.fn(z))
    return np.asarray(act.prime(z, a), dtype=np.float64)


def _output_error(
    cost_fn: Cost, output: Activation, z: Array, y: Array, m: int
) -> tuple[Array, Array, Array, float, Array | None]:
    """a^L, σ'(z^L), BP1's δ^L, C and (for the quadratic cost) ∇_aC, from z^L and y."""
    kind = type(cost_fn)
    if output.name == "sigmoid" and kind in (QuadraticCost, CrossEntropyCost):
        a = np.empty_like(z)
        e, d, s, h, signed = _sigmoid_parts(z, a)
        hy = np.subtract(h, y, h)
        # a − y as (1 − y) − σ(−z) for z ≥ 0 and σ(z) − y for z < 0 (``engine.costs.residual``)
        r = np.subtract(hy, signed, signed)
        sp = np.divide(s, d, s)
        if kind is CrossEntropyCost:
            # C_x = Σ_j [y softplus(−z) + (1 − y) softplus(z)] = Σ_j [(H(z) − y) z + ln(1 + e^{−|z|})]
            c = (float(np.vdot(hy, z)) + float(np.add.reduce(np.log1p(e, e), None))) / m
            return a, sp, r, c, None
        return a, sp, np.multiply(r, sp), 0.5 * float(np.vdot(r, r)) / m, r
    if kind is QuadraticCost:
        a = np.empty_like(z)
        sp = _activate(output, z, a)
        r = np.subtract(a, y)
        return a, sp, np.multiply(r, sp), 0.5 * float(np.vdot(r, r)) / m, r
    a = np.asarray(output.fn(z), dtype=np.float64)
    sp = np.asarray(output.prime(z, a), dtype=np.float64)
    return a, sp, cost_fn.delta(z, a, y, output), cost_fn.fn(z, a, y, output), None


@np.errstate(over="ignore", invalid="ignore")
def backprop(
    net: Network,
    x: Sequence[Sequence[float]] | Array,
    y: Sequence[Sequence[float]] | Array,
    cost: str | Cost = "quadratic",
) -> Gradients:
    """The gradient of C = (1/m) Σ_x C_x by BP1–BP4, all examples at once; x is (m, n_1), y (m, n_L).

    Returns ``Gradients``: C, ∂C/∂w and ∂C/∂b of every layer, and the values the trace shows (z^l,
    a^l, σ'(z^l), δ^l, ∇_aC), all of them new arrays that no later call touches. Overflow is not
    raised as a warning: ``Gradients.finite`` reports it, and callers decide (the API answers 422).
    """
    cost_fn = get_cost(cost)
    output = net.activations[-1]
    cost_fn.check_output(output)
    X, Y = as_examples(net, x, y)
    m = X.shape[0]
    packed, acts, n_layers = net.packed, net.activations, len(net.packed)

    # eq. 25, layer by layer. a^1 = x keeps its bias apart (no copy of x); every later a^l is written
    # beside a column of ones, so z^{l+1} = [a^l, 1] [w | b]^T is one product.
    z = np.dot(X, net.weights[0].T)
    z += net.biases[0]
    zs, activations, extended, sigma_primes = [z], [X], [X], []
    for i in range(1, n_layers):
        a_ext = np.empty((m, packed[i].shape[1]))
        a_ext[:, -1] = 1.0
        a = a_ext[:, :-1]
        sigma_primes.append(_activate(acts[i - 1], z, a))
        activations.append(a)
        extended.append(a_ext)
        z = np.dot(a_ext, packed[i].T)
        zs.append(z)
    a_L, sp_L, delta, c, nabla_a = _output_error(cost_fn, output, z, Y, m)
    activations.append(a_L)
    sigma_primes.append(sp_L)

    # BP2 down the layers; BP3 and BP4 together through the column of ones; 1/m for the mean
    deltas: list[Array] = [delta] * n_layers  # every slot is set below, from L down
    nabla_w: list[Array] = [delta] * n_layers
    nabla_b: list[Array] = [delta] * n_layers
    inv_m = np.array(1.0 / m)
    for i in range(n_layers - 1, -1, -1):
        deltas[i] = delta
        scaled = np.multiply(delta, inv_m) if m > 1 else delta
        if i:
            g = np.dot(scaled.T, extended[i])
            nabla_w[i], nabla_b[i] = g[:, :-1], g[:, -1]
            delta = np.dot(delta, net.weights[i])
            delta *= sigma_primes[i - 1]
        else:
            nabla_w[0] = np.dot(scaled.T, X)
            nabla_b[0] = np.add.reduce(scaled, axis=0)
    return Gradients(
        c,
        nabla_w,
        nabla_b,
        ForwardPass(zs, activations),
        sigma_primes,
        deltas,
        _OutputGradient(nabla_a, cost_fn, output, Y),
    )


def cost_of(net: Network, x: Array, y: Array, cost: str | Cost = "quadratic") -> float:
    """C = (1/m) Σ_x C_x after a plain forward pass."""
    return output_cost(net, get_cost(cost), feedforward(net, x), y)
