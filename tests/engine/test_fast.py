"""The fused path (``engine.fast``) against the teaching path (``engine.backprop.backprop``).

The teaching path is the reference here: the two share only the input checks (``as_examples``,
``get_cost``), not one line of arithmetic, and the teaching path is itself checked against scalar
autograd, finite differences and 800-digit differences (test_backprop.py, test_extremes.py, where the
fast path is checked against the 800-digit reference too).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from numpy.typing import NDArray

from backprop_lens.engine import Network
from backprop_lens.engine.backprop import backprop
from backprop_lens.engine.fast import FastNetwork, backprop_fast, shaped, supports

Array = NDArray[np.float64]
ACTS = ["sigmoid", "tanh", "relu", "linear"]


def _flat(arrays: list[Array]) -> Array:
    return np.concatenate([a.ravel() for a in arrays])


def _close(mine: list[Array], ref: list[Array]) -> bool:
    """‖mine − ref‖ ≤ 1e-12 ‖ref‖ over every weight and bias gradient at once (a dead ReLU layer's is 0)."""
    m, r = _flat(mine), _flat(ref)
    return float(np.linalg.norm(m - r)) <= 1e-12 * float(np.linalg.norm(r))


def _case(seed: int, hidden: str, output: str) -> tuple[Network, Array, Array]:
    """1 to 4 weight layers of widths 1 to 8: hidden layers ``hidden`` (one of them random), output ``output``."""
    rng = np.random.default_rng(seed)
    n_layers = int(rng.integers(1, 5))
    sizes = [int(n) for n in rng.integers(1, 9, size=n_layers + 1)]
    acts = [hidden] * (n_layers - 1) + [output]
    if n_layers > 2:
        acts[int(rng.integers(0, n_layers - 1))] = ACTS[int(rng.integers(0, 4))]
    net = Network(sizes, activation=acts, seed=seed, init="standard")
    m = int(rng.integers(1, 7))
    return net, rng.normal(scale=2.0, size=(m, sizes[0])), rng.uniform(size=(m, sizes[-1]))


CASES = [
    (cost, hidden, output)
    for cost in ("quadratic", "cross_entropy")
    for hidden in ACTS
    for output in (["sigmoid"] if cost == "cross_entropy" else ACTS)
]


@pytest.mark.parametrize(("cost", "hidden", "output"), CASES)
def test_fast_path_equals_teaching_path(cost: str, hidden: str, output: str) -> None:
    for seed in range(25):
        net, X, Y = _case(seed, hidden, output)
        g = backprop(net, X, Y, cost)
        c, nabla_w, nabla_b = backprop_fast(net, X, Y, cost)
        assert c == pytest.approx(g.cost, rel=1e-12, abs=1e-300)
        assert _close(nabla_w + nabla_b, g.nabla_w + g.nabla_b)
        assert [w.shape for w in nabla_w] == [w.shape for w in g.nabla_w]
        assert [b.shape for b in nabla_b] == [b.shape for b in g.nabla_b]


def test_buffers_are_reused_and_every_call_is_its_own() -> None:
    """One FastNetwork, several batches: each answer is the teaching path's for that batch."""
    net = Network([3, 5, 4, 2], activation=["tanh", "sigmoid", "sigmoid"], seed=3)
    fast = FastNetwork.of(net, 4)
    rng = np.random.default_rng(0)
    for _ in range(3):
        X, Y = rng.normal(size=(4, 3)), rng.uniform(size=(4, 2))
        for cost in ("quadratic", "cross_entropy"):
            c, nabla_w, nabla_b = fast.gradient(X, Y, cost)
            g = backprop(net, X, Y, cost)
            assert c == pytest.approx(g.cost, rel=1e-12)
            assert _close(nabla_w + nabla_b, g.nabla_w + g.nabla_b)
            assert fast.finite


def test_saturated_cross_entropy_output_is_exact() -> None:
    """z = 40 and 800, y = 0: δ = a − y = 1 and C = ln(1 + e^z), as the teaching path gives them."""
    for z in (40.0, 800.0):
        net = Network([1, 1], weights=[[[z]]], biases=[[0.0]])
        c, nabla_w, nabla_b = backprop_fast(net, [[1.0]], [[0.0]], "cross_entropy")
        assert c == pytest.approx(z + np.log1p(np.exp(-z)), rel=1e-15)
        assert nabla_b[0][0] == 1.0
        assert nabla_w[0][0, 0] == 1.0
    # y = 1 at z = 40: a − y = −σ(−40) ≈ −4.2e−18, which a − y with a rounded to 1 would make 0
    net = Network([1, 1], weights=[[[40.0]]], biases=[[0.0]])
    c, _, nabla_b = backprop_fast(net, [[1.0]], [[1.0]], "cross_entropy")
    assert nabla_b[0][0] == pytest.approx(-1.0 / (1.0 + np.exp(40.0)), rel=1e-15)
    assert c == pytest.approx(np.log1p(np.exp(-40.0)), rel=1e-15)


def test_overflow_is_reported_not_raised() -> None:
    """Weights of 1e300 through linear layers overflow z to ±inf: ``finite`` is False, as ``Gradients.finite``."""
    net = Network([1, 1, 1], weights=[[[1e300]], [[1e300]]], biases=[[0.0], [0.0]], activation="linear")
    fast = FastNetwork.of(net, 1)
    with np.errstate(over="ignore", invalid="ignore"):
        fast.gradient(np.array([[10.0]]), np.array([[0.0]]))
        teaching = backprop(net, [[10.0]], [[0.0]]).finite
    assert not fast.finite
    assert not teaching


def test_inputs_are_checked_as_the_teaching_path_checks_them() -> None:
    net = Network([2, 2], activation="tanh")
    with pytest.raises(ValueError, match="cross_entropy needs a sigmoid output"):
        backprop_fast(net, [[0.0, 1.0]], [[0.0, 1.0]], "cross_entropy")
    with pytest.raises(ValueError, match="targets: expected 1 rows"):
        backprop_fast(net, [[0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]])
    assert supports(net)
    with pytest.raises(ValueError, match="fast path implements"):
        FastNetwork([2, 2], [np.zeros((2, 3))], ["softsign"], 1)


def test_shaped_reuses_buffers_per_thread_and_loads_the_parameters_given() -> None:
    """Two networks of one shape through ``shaped``: each gets its own gradient; another thread, other buffers."""
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(2, 2)), rng.uniform(size=(2, 1))
    nets = [Network([2, 3, 1], seed=s) for s in (1, 2)]
    seen = []
    for net in nets:
        fast = shaped(net.sizes, net.activation_names, 2, FastNetwork.of(net, 2).packed)
        seen.append(fast)
        c, nabla_w, nabla_b = fast.gradient(X, Y)
        g = backprop(net, X, Y)
        assert c == pytest.approx(g.cost, rel=1e-12)
        assert _close(nabla_w + nabla_b, g.nabla_w + g.nabla_b)
    assert seen[0] is seen[1]
    other: list[FastNetwork] = []
    thread = threading.Thread(target=lambda: other.append(shaped([2, 3, 1], ["sigmoid", "sigmoid"], 2, seen[0].packed)))
    thread.start()
    thread.join()
    assert other[0] is not seen[0]
