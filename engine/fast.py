"""The same gradient as ``engine.backprop.backprop``, fused for small networks.

On the networks of the step-through (a few neurons, a few examples) NumPy's
cost is the number of calls, not the arithmetic, so this path makes as few as
it can and allocates nothing per call:

* each layer's weights and bias are packed as one matrix [w | b], and each
  activation carries a row of ones, so z = [w | b][a; 1] is one product and
  δ [a; 1]^T gives ∂C/∂w and ∂C/∂b together (BP3 and BP4 in one call);
* examples are columns, the book's layout, in buffers made once;
* all hidden layers' z sit in one buffer, so σ'(z) of every hidden layer
  sharing an activation takes one series of calls;
* the 1/m of the mean is folded into δ^L once.

It keeps the teaching path's exactness where a sigmoid saturates: σ(z) is
taken as ½ tanh(z/2) + ½, which never overflows; σ'(z) of sigmoid and tanh
from z; the output's a − y, the cross-entropy δ^L = a − y and its cost from z
(``engine.costs``). tests/engine/test_fast.py proves it equal to ``backprop``
to 1e-12 and tests/engine/test_extremes.py to 800-digit differences.

Left out: the intermediate values the trace shows (``backprop`` keeps them),
and activations other than the four built in (``supports`` says so).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from itertools import accumulate

import numpy as np
from numpy.typing import NDArray

from backprop_lens.engine.backprop import as_examples
from backprop_lens.engine.costs import Cost, get_cost
from backprop_lens.engine.network import Network

Array = NDArray[np.float64]

KNOWN = frozenset({"sigmoid", "tanh", "relu", "linear"})
# Constants as 0-d arrays: a Python float costs each ufunc call a conversion, a third of its time here.
ZERO, HALF, ONE, TWO, FOUR, MINUS_ONE, MINUS_TWO = (np.array(v) for v in (0.0, 0.5, 1.0, 2.0, 4.0, -1.0, -2.0))


def supports(net: Network) -> bool:
    """True when every layer's activation is one this path implements."""
    return all(act.name in KNOWN for act in net.activations)


def _activate(name: str, z: Array, a: Array) -> None:
    """a = σ(z), into ``a``."""
    if name == "sigmoid":
        # σ(z) = ½ tanh(z/2) + ½: no exponential, so nothing overflows at any z.
        np.multiply(z, HALF, a)
        np.tanh(a, a)
        np.multiply(a, HALF, a)
        np.add(a, HALF, a)
    elif name == "tanh":
        np.tanh(z, a)
    elif name == "relu":
        np.maximum(z, ZERO, out=a)
    else:
        np.copyto(a, z)


def _prime(name: str, z: Array, out: Array, tmp: Array) -> None:
    """σ'(z) into ``out``, from z as ``engine.activations`` takes it (exact where σ has saturated)."""
    if name == "sigmoid":
        # σ'(z) = e/(1 + e)² with e = e^{−|z|}: no overflow, no 1 − a rounded to 0.
        np.copysign(z, MINUS_ONE, out)
        np.exp(out, out)
        np.add(out, ONE, tmp)
        np.multiply(tmp, tmp, tmp)
        np.divide(out, tmp, out)
    elif name == "tanh":
        # tanh'(z) = 4e/(1 + e)² with e = e^{−2|z|}.
        np.copysign(z, MINUS_ONE, out)
        np.multiply(out, TWO, out)
        np.exp(out, out)
        np.add(out, ONE, tmp)
        np.multiply(tmp, tmp, tmp)
        np.divide(out, tmp, out)
        np.multiply(out, FOUR, out)
    elif name == "relu":
        np.heaviside(z, ZERO, out)  # 1 where z > 0, 0 elsewhere (σ'(0) = 0)
    else:
        out.fill(1.0)


class FastNetwork:
    """A network packed for ``gradient`` on batches of ``m`` examples; the buffers are reused by every call.

    The arrays ``gradient`` returns are views of those buffers: the next call overwrites them.
    """

    def __init__(self, sizes: Sequence[int], packed: Sequence[Array], activations: Sequence[str], m: int) -> None:
        """``packed[i]`` is [w | b] of layer i + 2, shape (n_{i+2}, n_{i+1} + 1); ``activations[i]`` its σ."""
        if any(name not in KNOWN for name in activations):
            raise ValueError(f"activations: the fast path implements {sorted(KNOWN)}, got {list(activations)}")
        self.sizes = [int(n) for n in sizes]
        self.m = m
        self.packed = list(packed)
        self.packed_T = [p.T for p in self.packed]
        self.names = list(activations)
        n = self.sizes
        L = len(n)
        # a^1..a^{L−1}, each followed by its row of ones, stacked in one buffer
        offsets = list(accumulate((k + 1 for k in n[:-1]), initial=0))
        self.acts = np.ones((offsets[-1], m))
        self.a_ext = [self.acts[offsets[i] : offsets[i + 1]] for i in range(L - 1)]
        self.a = [v[:-1] for v in self.a_ext]
        self.a_ext_T = [v.T for v in self.a_ext]
        # z^2..z^L in one buffer; the hidden layers' come first, for σ' in one go
        z_off = list(accumulate(n[1:], initial=0))
        self.zbuf = np.empty((z_off[-1], m))
        self.z = [self.zbuf[z_off[i] : z_off[i + 1]] for i in range(L - 1)]
        hidden = z_off[-2]
        self.sp = np.empty((hidden, m))
        self.tmp = np.empty((hidden, m))
        # runs of consecutive hidden layers with the same σ: (name, rows)
        self.runs: list[tuple[str, slice]] = []
        for i, name in enumerate(self.names[:-1]):
            if self.runs and self.runs[-1][0] == name:
                self.runs[-1] = (name, slice(self.runs[-1][1].start, z_off[i + 1]))
            else:
                self.runs.append((name, slice(z_off[i], z_off[i + 1])))
        self.run_views = [(name, self.zbuf[rows], self.sp[rows], self.tmp[rows]) for name, rows in self.runs]
        self.sp_layer = [self.sp[z_off[i] : z_off[i + 1]] for i in range(L - 2)]
        # (w^{l+1})^T δ^{l+1}, with the extra row the bias column gives, for l = 2..L−1
        self.back = [np.empty((n[i + 1] + 1, m)) for i in range(L - 2)]
        self.back_rows = [b[:-1] for b in self.back]
        # ∂C/∂[w | b] of every layer in one buffer
        g_off = list(accumulate((n[i + 1] * (n[i] + 1) for i in range(L - 1)), initial=0))
        self.gbuf = np.empty(g_off[-1])
        self.g = [self.gbuf[g_off[i] : g_off[i + 1]].reshape(n[i + 1], n[i] + 1) for i in range(L - 1)]
        self.nabla_w = [g[:, :-1] for g in self.g]
        self.nabla_b = [g[:, -1] for g in self.g]
        # the output layer's work buffers
        shape = (n[-1], m)
        self.e, self.d, self.s, self.hy, self.r, self.out_sp = (np.empty(shape) for _ in range(6))
        self.z_flat = self.z[-1].reshape(-1)
        self.hy_flat = self.hy.reshape(-1)
        self.r_flat = self.r.reshape(-1)
        self.d_flat = self.d.reshape(-1)
        self.ones_flat = np.ones(n[-1] * m)
        self.inv_m = np.array(1.0 / m)
        self.cost = math.nan

    @classmethod
    def of(cls, net: Network, m: int) -> FastNetwork:
        """``net`` packed for batches of ``m``."""
        packed = [np.concatenate([w, b.reshape(-1, 1)], axis=1) for w, b in zip(net.weights, net.biases, strict=True)]
        return cls(net.sizes, packed, [act.name for act in net.activations], m)

    def gradient(self, X: Array, Y: Array, cost: str | Cost = "quadratic") -> tuple[float, list[Array], list[Array]]:
        """(C, ∂C/∂w, ∂C/∂b) of the mean cost over the m rows of X and Y, as ``backprop`` returns them.

        Overflow is not checked here, and warns as NumPy does (``backprop_fast`` silences it):
        ``finite`` says whether anything overflowed.
        """
        cost_name = cost if isinstance(cost, str) else cost.name
        names, z, a, a_ext = self.names, self.z, self.a, self.a_ext
        n_layers = len(self.packed)
        np.copyto(a[0], X.T)
        # feedforward, eq. 25; the output's σ is taken below, from z (the costs need z^L)
        for i in range(n_layers - 1):
            np.dot(self.packed[i], a_ext[i], out=z[i])
            _activate(names[i], z[i], a[i + 1])
        z_L = z[-1]
        np.dot(self.packed[-1], a_ext[-1], out=z_L)
        for name, z_run, sp_run, tmp_run in self.run_views:
            _prime(name, z_run, sp_run, tmp_run)

        # BP1 and C, with 1/m folded into δ^L
        out, yT, r, m = names[-1], Y.T, self.r, self.m
        if out == "sigmoid":
            e, d, s, hy = self.e, self.d, self.s, self.hy
            np.copysign(z_L, MINUS_ONE, e)
            np.exp(e, e)  # e^{−|z|}
            np.add(e, ONE, d)
            np.divide(e, d, s)  # σ(−|z|), exactly
            # a − y as (1 − y) − σ(−z) for z ≥ 0 and σ(z) − y for z < 0 (``engine.costs.residual``)
            np.heaviside(z_L, ONE, hy)
            np.subtract(hy, yT, hy)
            np.copysign(s, z_L, r)
            np.subtract(hy, r, r)
            if cost_name == "cross_entropy":
                # C_x = Σ_j [y softplus(−z) + (1 − y) softplus(z)] = Σ_j [(H(z) − y) z + ln(1 + e^{−|z|})]
                np.log1p(e, d)
                self.cost = (float(np.dot(self.hy_flat, self.z_flat)) + float(np.dot(self.d_flat, self.ones_flat))) / m
                delta = r
            else:
                self.cost = 0.5 * float(np.dot(self.r_flat, self.r_flat)) / m
                np.divide(s, d, d)  # σ'(z) = σ(−|z|)/(1 + e^{−|z|})
                delta = np.multiply(r, d, self.out_sp)
        else:
            a_L = self.s
            _activate(out, z_L, a_L)
            np.subtract(a_L, yT, r)
            self.cost = 0.5 * float(np.dot(self.r_flat, self.r_flat)) / m
            _prime(out, z_L, self.out_sp, self.d)
            delta = np.multiply(r, self.out_sp, self.out_sp)
        if m > 1:
            delta = np.multiply(delta, self.inv_m, self.out_sp)

        # BP2 down the layers; BP3 and BP4 at once through the row of ones
        for i in range(n_layers - 1, -1, -1):
            np.dot(delta, self.a_ext_T[i], out=self.g[i])
            if i:
                np.dot(self.packed_T[i], delta, out=self.back[i - 1])
                rows = self.back_rows[i - 1]
                delta = np.multiply(rows, self.sp_layer[i - 1], rows)
        return self.cost, self.nabla_w, self.nabla_b

    @property
    def finite(self) -> bool:
        """True when the last ``gradient`` overflowed nowhere: its cost, every z and every gradient finite.

        Like ``gradient``, it warns as NumPy does on overflow unless the caller silences it.
        """
        if math.isfinite(self.cost + float(np.add.reduce(self.zbuf, axis=None)) + float(np.add.reduce(self.gbuf))):
            return True
        # a sum can overflow where no entry did
        return math.isfinite(self.cost) and bool(np.isfinite(self.zbuf).all()) and bool(np.isfinite(self.gbuf).all())

    def load(self, packed: Sequence[Array]) -> FastNetwork:
        """This network's buffers with other parameters of the same shapes; returns self."""
        self.packed = list(packed)
        self.packed_T = [p.T for p in self.packed]
        return self


_shaped = threading.local()
SHAPES_KEPT = 32


def shaped(sizes: Sequence[int], activations: Sequence[str], m: int, packed: Sequence[Array]) -> FastNetwork:
    """A FastNetwork of these shapes loaded with ``packed``, its buffers reused from an earlier call in this thread.

    Making the buffers costs more than a small gradient; each thread keeps its own (at most ``SHAPES_KEPT``
    shapes, the oldest dropped), so two threads never share one. What an earlier result returned is overwritten.
    """
    cache: dict[tuple[tuple[int, ...], tuple[str, ...], int], FastNetwork] | None = getattr(_shaped, "cache", None)
    if cache is None:
        cache = _shaped.cache = {}
    key = (tuple(sizes), tuple(activations), m)
    fast = cache.pop(key, None)
    if fast is None:
        fast = FastNetwork(sizes, packed, activations, m)
        if len(cache) >= SHAPES_KEPT:
            del cache[next(iter(cache))]
    cache[key] = fast  # the most recently used last
    return fast.load(packed)


@np.errstate(over="ignore", invalid="ignore")
def backprop_fast(
    net: Network,
    x: Sequence[Sequence[float]] | Array,
    y: Sequence[Sequence[float]] | Array,
    cost: str | Cost = "quadratic",
) -> tuple[float, list[Array], list[Array]]:
    """(C, ∂C/∂w, ∂C/∂b) as ``engine.backprop.backprop`` gives them, by the fused path; ValueError as it raises."""
    cost_fn = get_cost(cost)
    cost_fn.check_output(net.activations[-1])
    X, Y = as_examples(net, x, y)
    return FastNetwork.of(net, X.shape[0]).gradient(X, Y, cost_fn)


def packed_rows(weights: Sequence[Sequence[Sequence[float]]], biases: Sequence[Sequence[float]]) -> list[Array]:
    """[w | b] of every layer straight from nested lists (the API's validated weights), one array call a layer."""
    return [
        np.array([[*row, b_j] for row, b_j in zip(w, b, strict=True)], dtype=np.float64)
        for w, b in zip(weights, biases, strict=True)
    ]


def packed_checked(
    sizes: Sequence[int], weights: Sequence[Sequence[Sequence[float]]], biases: Sequence[Sequence[float]]
) -> list[Array] | None:
    """[w | b] of every layer when every w^l and b^l has the shape ``sizes`` gives it; None otherwise.

    The shapes ``engine.network.check_shapes`` checks, read off the packed arrays: no Python call per row,
    and no words (a caller that gets None asks ``check_shapes`` what is wrong).
    """
    if len(weights) != len(sizes) - 1 or len(biases) != len(sizes) - 1:
        return None
    try:
        packed = packed_rows(weights, biases)  # ValueError for ragged rows or a bias of another length
    except ValueError:
        return None
    for p, n_in, n_out in zip(packed, sizes, sizes[1:], strict=False):
        if p.shape != (n_out, n_in + 1):
            return None
    return packed


def batch_rows(rows: Sequence[Sequence[float]], width: int) -> Array | None:
    """``rows`` as an m × width array when they are m ≥ 1 rows of ``width`` numbers; None otherwise."""
    try:
        a = np.array(rows, dtype=np.float64)
    except ValueError:  # ragged rows
        return None
    return a if a.ndim == 2 and a.shape[0] >= 1 and a.shape[1] == width else None


@np.errstate(over="ignore", invalid="ignore")
def gradient_lists(
    fast: FastNetwork,
    x: Sequence[Sequence[float]] | Array,
    y: Sequence[Sequence[float]] | Array,
    cost: str,
) -> tuple[float, list[list[list[float]]], list[list[float]]] | None:
    """(C, ∂C/∂w, ∂C/∂b) as nested lists for a JSON reply, or None where anything overflowed.

    ``x`` and ``y`` are the m rows the network was packed for, already checked (the API's validation).
    """
    X = np.asarray(x, dtype=np.float64)
    Y = np.asarray(y, dtype=np.float64)
    c, nabla_w, nabla_b = fast.gradient(X, Y, cost)
    if not fast.finite:
        return None
    return c, [w.tolist() for w in nabla_w], [b.tolist() for b in nabla_b]
