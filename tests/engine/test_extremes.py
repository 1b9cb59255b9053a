"""Gradients of saturated networks (weights N(0, 60²), |z| up to 800) against 800-digit finite differences.

The reference shares no code with the engine: a forward pass written with mpmath at 800 digits (enough
to hold 1 − σ(800) ≈ 10^{−348}), the cost as the textbook writes it, and central differences with
h = 10^{−200}, whose error (about h²) is far below float64's. The engine must give a finite cost and
gradient equal to it to 1e-8 normwise, for both costs and every activation of the hidden layers; so must
and the per-example loop (``bench.baseline``).
"""

from __future__ import annotations

from collections.abc import Callable

import mpmath
import numpy as np
import pytest
from numpy.typing import NDArray

from backprop_lens.bench.baseline import backprop_per_example
from backprop_lens.engine.backprop import backprop
from backprop_lens.engine.costs import get_cost
from backprop_lens.engine.insight.demon import Nudge, demon
from backprop_lens.engine.insight.minibatch import cosines, inside_minibatch
from backprop_lens.engine.network import Network
from backprop_lens.engine.sgd import sgd_step

Array = NDArray[np.float64]
Mp = mpmath.mpf
H = Mp("1e-200")
SIGMA: dict[str, Callable[[mpmath.mpf], mpmath.mpf]] = {
    "sigmoid": lambda z: 1 / (1 + mpmath.exp(-z)),
    "tanh": mpmath.tanh,
    "relu": lambda z: z if z > 0 else Mp(0),
    "linear": lambda z: z,
}


def _cost(params: list[list[list[mpmath.mpf]]], acts: list[str], cost: str, X: Array, Y: Array) -> mpmath.mpf:
    """C = (1/m) Σ_x C_x; ``params[i]`` is layer i + 2's rows [w_j1 … w_jn, b_j]."""
    total = Mp(0)
    for x, y in zip(X, Y, strict=True):
        a = [Mp(float(v)) for v in x]
        for rows, name in zip(params, acts, strict=True):
            a = [SIGMA[name](mpmath.fsum(w * ak for w, ak in zip(row[:-1], a, strict=True)) + row[-1]) for row in rows]
        for aj, yv in zip(a, y, strict=True):
            yj = Mp(float(yv))
            if cost == "quadratic":
                total += (aj - yj) ** 2 / 2
            else:
                total -= yj * mpmath.log(aj) + (1 - yj) * mpmath.log(1 - aj)
    return total / len(X)


def _reference(net: Network, acts: list[str], cost: str, X: Array, Y: Array) -> tuple[float, list[Array], list[Array]]:
    """(C, ∂C/∂w, ∂C/∂b) by central differences in 800-digit arithmetic."""
    with mpmath.workdps(800):
        params = [
            [[Mp(float(v)) for v in (*w[j], b[j])] for j in range(w.shape[0])]
            for w, b in zip(net.weights, net.biases, strict=True)
        ]
        c0 = _cost(params, acts, cost, X, Y)
        grads: list[Array] = []
        for layer in params:
            g = np.zeros((len(layer), len(layer[0])))
            for j, row in enumerate(layer):
                for k, v in enumerate(row):
                    row[k] = v + H
                    up = _cost(params, acts, cost, X, Y)
                    row[k] = v - H
                    down = _cost(params, acts, cost, X, Y)
                    row[k] = v
                    g[j, k] = float((up - down) / (2 * H))
            grads.append(g)
        return float(c0), [g[:, :-1] for g in grads], [g[:, -1] for g in grads]


def _flat(arrays: list[Array]) -> Array:
    return np.concatenate([a.ravel() for a in arrays])


def _close(mine: list[Array], ref: list[Array]) -> bool:
    """‖mine − ref‖ ≤ 1e-8 ‖ref‖ (plus 1e-300, as anything smaller is a subnormal float)."""
    m, r = _flat(mine), _flat(ref)
    return bool(np.all(np.isfinite(m))) and float(np.linalg.norm(m - r)) <= 1e-8 * float(np.linalg.norm(r)) + 1e-300


def _saturated_case(seed: int, hidden: str, output: str) -> tuple[Network, Array, Array]:
    """A 3-4-3-2 network with weights N(0, 60²) whose output z reach the hundreds.

    Linear and ReLU hidden layers multiply z by about 60 a layer; w^L and b^L are then scaled down so
    that the largest |z^L| is 750, within the ±800 the issue asks for.
    """
    rng = np.random.default_rng(seed)
    acts = [hidden, hidden, output]
    for _ in range(100):
        weights = [rng.normal(scale=60.0, size=(n, k)) for k, n in ((3, 4), (4, 3), (3, 2))]
        biases = [rng.normal(scale=60.0, size=n) for n in (4, 3, 2)]
        X = rng.normal(size=(2, 3))
        Y = rng.uniform(size=(2, 2))
        Y[0] = [0.0, 1.0]  # the hard targets of a classifier, beside soft ones
        net = Network([3, 4, 3, 2], weights=weights, biases=biases, activation=acts)
        top = float(np.abs(backprop(net, X, Y).forward.zs[-1]).max())
        if top > 800.0:
            weights[-1] *= 750.0 / top
            biases[-1] *= 750.0 / top
            net = Network([3, 4, 3, 2], weights=weights, biases=biases, activation=acts)
            top = float(np.abs(backprop(net, X, Y).forward.zs[-1]).max())
        if 100.0 < top <= 800.0:
            return net, X, Y
    raise AssertionError("no network with |z^L| in (100, 800] in 100 draws")


CASES = [
    (cost, hidden, output)
    for cost in ("quadratic", "cross_entropy")
    for hidden in ("sigmoid", "tanh", "relu", "linear")
    for output in (["sigmoid"] if cost == "cross_entropy" else ["sigmoid", "tanh"])
]


@pytest.mark.parametrize(("seed", "cost", "hidden", "output"), [(i, *case) for i, case in enumerate(CASES)])
def test_saturated_networks_match_800_digit_differences(seed: int, cost: str, hidden: str, output: str) -> None:
    net, X, Y = _saturated_case(seed, hidden, output)
    c_ref, w_ref, b_ref = _reference(net, [hidden, hidden, output], cost, X, Y)
    g = backprop(net, X, Y, cost)
    assert g.finite
    assert g.cost == pytest.approx(c_ref, rel=1e-8, abs=1e-300)
    assert _close(g.nabla_w + g.nabla_b, w_ref + b_ref)
    c_loop, w_loop, b_loop = backprop_per_example(net, X, Y, cost)
    assert c_loop == pytest.approx(c_ref, rel=1e-8, abs=1e-300)
    assert _close(w_loop + b_loop, w_ref + b_ref)


def test_the_issue_example_at_z_40_and_800() -> None:
    """One sigmoid neuron, y = 0, cross-entropy: C = ln(1 + e^z) and ∂C/∂b = δ = a − y = 1, not 690.78 and 0."""
    for z in (40.0, 800.0):
        net = Network([1, 1], weights=[[[z]]], biases=[[0.0]])
        g = backprop(net, [[1.0]], [[0.0]], "cross_entropy")
        assert g.cost == pytest.approx(z + np.log1p(np.exp(-z)), rel=1e-15)
        assert g.nabla_b[0][0] == 1.0
        assert g.nabla_w[0][0, 0] == 1.0


def test_sgd_step_in_place_moves_a_saturated_neuron() -> None:
    """The training path uses the same δ^L: one step of η = 0.5 takes b from 0 to −0.5."""
    net = Network([1, 1], weights=[[[40.0]]], biases=[[0.0]])
    sgd_step(net, np.array([[1.0]]), np.array([[0.0]]), 0.5, get_cost("cross_entropy"))
    assert net.biases[0][0] == -0.5
    assert net.weights[0][0, 0] == 39.5


# --- other divisions that could meet a zero -----------------------------------------------------------


@pytest.mark.parametrize("scale", [1e-200, 1e-150, 1.0, 1e150, 1e200])
def test_inside_minibatch_cosines_hold_at_any_scale(scale: float) -> None:
    """cos θ of per-example gradients whose entries are 10^±200: ‖v‖ alone would overflow or underflow."""
    rows = np.array([[1.0, 2.0, -2.0], [3.0, 0.0, 4.0], [0.0, 0.0, 0.0]]) * scale
    v = np.array([2.0, 1.0, 2.0]) * scale
    with mpmath.workdps(50):

        def cos(r: Array) -> float:
            dot = mpmath.fsum(Mp(float(a)) * Mp(float(b)) for a, b in zip(r, v, strict=True))
            n = mpmath.sqrt(mpmath.fsum(Mp(float(a)) ** 2 for a in r)) * mpmath.sqrt(
                mpmath.fsum(Mp(float(b)) ** 2 for b in v)
            )
            return float(dot / n) if n else 0.0

        expected = [cos(r) for r in rows]
    np.testing.assert_allclose(cosines(rows, v), expected, rtol=1e-14, atol=1e-15)


def test_inside_minibatch_instrument_on_a_saturated_batch() -> None:
    net, X, Y = _saturated_case(0, "tanh", "sigmoid")
    b = inside_minibatch(net, X, Y, "cross_entropy")
    assert np.all(np.isfinite(b.cosine)) and np.all(np.abs(b.cosine) <= 1.0)
    np.testing.assert_allclose(b.costs.mean(), backprop(net, X, Y, "cross_entropy").cost, rtol=1e-14)


def test_demon_ratio_is_absent_rather_than_infinite() -> None:
    assert Nudge(dz=1e-300, predicted=5e-324, actual=1e-10).ratio is None
    assert Nudge(dz=1.0, predicted=0.0, actual=1e-10).ratio is None
    assert Nudge(dz=1.0, predicted=2.0, actual=1.0).ratio == 0.5


def test_demon_on_a_saturated_output_uses_the_exact_cost() -> None:
    """Nudging a saturated output neuron (z = 40, y = 0) with cross-entropy: ΔC ≈ δ Δz = 1 · Δz."""
    net = Network([1, 1], weights=[[[40.0]]], biases=[[0.0]])
    d = demon(net, [[1.0]], [[0.0]], "cross_entropy", layer=2, j=0, dzs=[-0.01, 0.01])
    assert d.delta == 1.0
    for n in d.nudges:
        assert n.actual == pytest.approx(n.dz, rel=1e-2)  # ln(1 + e^{40+Δz}) − ln(1 + e^{40}) ≈ Δz
