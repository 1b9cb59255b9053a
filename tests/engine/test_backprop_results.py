"""What ``engine.backprop`` returns: rows, the caller's own arrays, and every intermediate value it keeps.

The reference for the intermediates is tests/autograd.py's scalar autograd, which shares no code with the
engine: per example, z^l and a^l are its forward values, δ^l = ∂C_x/∂z^l and ∇_aC = ∂C_x/∂a^L its
gradients, σ'(z) the gradient of one activation node.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from backprop_lens.engine import Network, backprop
from tests.autograd import Value, _activate

Array = NDArray[np.float64]
ACTS = ["sigmoid", "tanh", "relu", "linear"]


def _case(seed: int, hidden: str, output: str) -> tuple[Network, Array, Array]:
    rng = np.random.default_rng(seed)
    n_layers = int(rng.integers(1, 4))
    sizes = [int(n) for n in rng.integers(1, 6, size=n_layers + 1)]
    net = Network(sizes, activation=[hidden] * (n_layers - 1) + [output], seed=seed, init="scaled")
    m = int(rng.integers(1, 4))
    return net, rng.normal(size=(m, sizes[0])), rng.uniform(0.05, 0.95, size=(m, sizes[-1]))


def _reference(net: Network, x: Array, y: Array, cost: str) -> dict[str, list[list[list[float]]]]:
    """Per layer, one row per example: z, a, σ'(z), δ; and ∇_aC of the output."""
    out: dict[str, list[list[list[float]]]] = {k: [[] for _ in net.weights] for k in ("z", "a", "sp", "delta")}
    out["nabla_a"] = [[]]
    for xi, yi in zip(x.tolist(), y.tolist(), strict=True):
        a: list[Value] = [Value(v) for v in xi]
        zs: list[list[Value]] = []
        acts: list[list[Value]] = []
        for w, b, name in zip(net.weights, net.biases, net.activation_names, strict=True):
            z = [
                Value(sum(wk * ak.data for wk, ak in zip(row, a, strict=True)) + bj)
                for row, bj in zip(w, b, strict=True)
            ]
            a = [_activate(zj, name) for zj in z]
            zs.append(z)
            acts.append(a)
        # C_x as a function of every z^l: each layer's a is rebuilt from its own z nodes, so z.grad is δ
        chained: list[Value] = []
        for i, (w, b, name) in enumerate(zip(net.weights, net.biases, net.activation_names, strict=True)):
            if i:
                zs[i] = [
                    sum((wk * ak for wk, ak in zip(row, chained, strict=True)), Value(bj))
                    for row, bj in zip(w, b, strict=True)
                ]
            chained = [_activate(zj, name) for zj in zs[i]]
        total = Value(0.0)
        for aj, yj in zip(chained, yi, strict=True):
            total = total + (
                0.5 * (aj - yj) * (aj - yj) if cost == "quadratic" else -(yj * aj.log() + (1.0 - yj) * (1.0 - aj).log())
            )
        total.backward()
        for i, name in enumerate(net.activation_names):
            out["z"][i].append([zj.data for zj in zs[i]])
            out["a"][i].append([aj.data for aj in acts[i]])
            out["delta"][i].append([zj.grad for zj in zs[i]])
            sps = []
            for zj in zs[i]:
                probe = Value(zj.data)
                _activate(probe, name).backward()
                sps.append(probe.grad)
            out["sp"][i].append(sps)
        out["nabla_a"][0].append([aj.grad for aj in chained])
    return out


@pytest.mark.parametrize("cost", ["quadratic", "cross_entropy"])
@pytest.mark.parametrize("hidden", ACTS)
def test_intermediates_equal_scalar_autograd(cost: str, hidden: str) -> None:
    for seed in range(6):
        output = "sigmoid" if cost == "cross_entropy" else ACTS[seed % 4]
        net, x, y = _case(seed, hidden, output)
        g = backprop(net, x, y, cost)
        ref = _reference(net, x, y, cost)
        for i in range(len(net.weights)):
            for mine, key in ((g.forward.zs[i], "z"), (g.forward.activations[i + 1], "a")):
                np.testing.assert_allclose(mine, ref[key][i], rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(g.sigma_primes[i], ref["sp"][i], rtol=1e-10, atol=1e-14)
            np.testing.assert_allclose(g.deltas[i], ref["delta"][i], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(g.nabla_a, ref["nabla_a"][0], rtol=1e-9, atol=1e-12)


def test_results_are_rows_and_the_callers_own() -> None:
    """A second call (same shapes) leaves the first call's arrays as they were, and none is a view of the network."""
    net = Network([3, 4, 4, 2], activation=["tanh", "sigmoid", "sigmoid"], seed=1)
    rng = np.random.default_rng(0)
    x1, y1 = rng.normal(size=(5, 3)), rng.uniform(size=(5, 2))
    g1 = backprop(net, x1, y1)
    arrays = [*g1.nabla_w, *g1.nabla_b, *g1.forward.zs, *g1.forward.activations[1:], *g1.sigma_primes, *g1.deltas]
    kept = [a.copy() for a in arrays]
    g2 = backprop(net, rng.normal(size=(5, 3)), rng.uniform(size=(5, 2)))
    assert g2.cost != g1.cost
    for a, k in zip(arrays, kept, strict=True):
        assert np.array_equal(a, k)
        assert not any(np.shares_memory(a, p) for p in net.packed)
        assert not any(np.shares_memory(a, b) for b in [*g2.nabla_w, *g2.forward.zs, *g2.deltas])
    assert [z.shape for z in g1.forward.zs] == [(5, 4), (5, 4), (5, 2)]  # one row per example
    assert g1.forward.activations[0] is x1 or np.array_equal(g1.forward.activations[0], x1)
