"""Backpropagation against independent references: scalar autograd, finite differences,
the per-example loop and Matt Mazur's hand-worked 2-2-2 example."""

from __future__ import annotations

import numpy as np
import pytest

from backprop_lens.bench.baseline import backprop_per_example
from backprop_lens.engine import Network, backprop, numerical_gradient
from backprop_lens.engine.backprop import (
    backpropagate_error,
    feedforward,
    nabla_b_of,
    nabla_w_of,
    output_error,
    weighted_input,
)
from backprop_lens.engine.costs import get_cost
from tests.autograd import reference_gradients

ACTS = ["sigmoid", "tanh", "relu", "linear"]


def random_case(seed: int, cost: str) -> tuple[Network, np.ndarray, np.ndarray]:
    """A seeded network of 1 to 4 weight layers, widths 1 to 10, mixed activations."""
    rng = np.random.default_rng(seed)
    n_layers = int(rng.integers(1, 5))
    sizes = [int(n) for n in rng.integers(1, 11, size=n_layers + 1)]
    acts = [ACTS[int(i)] for i in rng.integers(0, 4, size=n_layers)]
    if cost == "cross_entropy":
        acts[-1] = "sigmoid"  # cross-entropy is defined for outputs in (0, 1)
    net = Network(sizes, activation=acts, seed=seed, init="scaled")
    m = int(rng.integers(1, 6))
    x = rng.normal(size=(m, sizes[0]))
    y = rng.uniform(0.05, 0.95, size=(m, sizes[-1]))
    return net, x, y


def assert_close(actual: list[np.ndarray], expected: list[np.ndarray], rtol: float) -> None:
    scale = max(float(np.max(np.abs(e))) for e in expected) or 1.0
    for a, e in zip(actual, expected, strict=True):
        assert a.shape == e.shape
        np.testing.assert_allclose(a, e, rtol=rtol, atol=rtol * scale * 1e-3)


@pytest.mark.parametrize("cost", ["quadratic", "cross_entropy"])
@pytest.mark.parametrize("seed", range(12))
def test_matches_independent_autograd(seed: int, cost: str) -> None:
    net, x, y = random_case(seed, cost)
    g = backprop(net, x, y, cost)
    c, ref_w, ref_b = reference_gradients(
        [w.tolist() for w in net.weights],
        [b.tolist() for b in net.biases],
        net.activation_names,
        cost,
        x.tolist(),
        y.tolist(),
    )
    assert g.cost == pytest.approx(c, rel=1e-12)
    assert_close(g.nabla_w, [np.array(w) for w in ref_w], rtol=1e-9)
    assert_close(g.nabla_b, [np.array(b) for b in ref_b], rtol=1e-9)


@pytest.mark.parametrize("cost", ["quadratic", "cross_entropy"])
@pytest.mark.parametrize("act", ["sigmoid", "tanh", "linear"])
def test_matches_central_finite_differences(act: str, cost: str) -> None:
    rng = np.random.default_rng(7)
    acts = [act, act, "sigmoid" if cost == "cross_entropy" else act]
    net = Network([4, 6, 5, 3], activation=acts, seed=11, init="scaled")
    x = rng.normal(size=(3, 4))
    y = rng.uniform(0.1, 0.9, size=(3, 3))
    g = backprop(net, x, y, cost)
    fd = numerical_gradient(net, x, y, cost, epsilon=1e-6)
    assert_close(g.nabla_w, fd.nabla_w, rtol=1e-6)
    assert_close(g.nabla_b, fd.nabla_b, rtol=1e-6)
    assert fd.forward_passes == 2 * net.num_parameters + 1


def test_relu_matches_finite_differences_away_from_the_kink() -> None:
    rng = np.random.default_rng(3)
    net = Network([3, 5, 2], activation=["relu", "linear"], seed=5)
    x = rng.normal(size=(4, 3))
    y = rng.normal(size=(4, 2))
    z = feedforward(net, x).zs[0]
    assert np.min(np.abs(z)) > 1e-3  # no pre-activation within ε of the kink
    g = backprop(net, x, y)
    fd = numerical_gradient(net, x, y)
    assert_close(g.nabla_w, fd.nabla_w, rtol=1e-6)


@pytest.mark.parametrize("cost", ["quadratic", "cross_entropy"])
@pytest.mark.parametrize("seed", range(8))
def test_matrix_form_equals_per_example_loop(seed: int, cost: str) -> None:
    net, x, y = random_case(100 + seed, cost)
    g = backprop(net, x, y, cost)
    c, nw, nb = backprop_per_example(net, x, y, cost)
    assert g.cost == pytest.approx(c, rel=1e-12, abs=1e-15)
    for a, e in zip(g.nabla_w + g.nabla_b, nw + nb, strict=True):
        np.testing.assert_allclose(a, e, rtol=0, atol=1e-12)


def test_mean_over_batch_is_mean_of_single_example_gradients() -> None:
    rng = np.random.default_rng(2)
    net = Network([3, 4, 2], seed=1)
    x = rng.normal(size=(5, 3))
    y = rng.uniform(size=(5, 2))
    g = backprop(net, x, y)
    singles = [backprop(net, x[i : i + 1], y[i : i + 1]) for i in range(5)]
    for layer in range(2):
        np.testing.assert_allclose(g.nabla_w[layer], np.mean([s.nabla_w[layer] for s in singles], axis=0), atol=1e-15)
    assert g.cost == pytest.approx(np.mean([s.cost for s in singles]), rel=1e-14)


MAZUR = Network(
    [2, 2, 2],
    weights=[[[0.15, 0.20], [0.25, 0.30]], [[0.40, 0.45], [0.50, 0.55]]],
    biases=[[0.35, 0.35], [0.60, 0.60]],
)


def test_reproduces_mazurs_hand_worked_example() -> None:
    """Matt Mazur, "A Step by Step Backpropagation Example" (2015), to its printed digits."""
    g = backprop(MAZUR, [[0.05, 0.10]], [[0.01, 0.99]])
    a2 = g.forward.activations[1][0]
    a3 = g.forward.activations[2][0]
    assert g.forward.zs[0][0][0] == pytest.approx(0.3775, abs=5e-5)  # net_h1
    assert a2[0] == pytest.approx(0.593269992, abs=5e-10)  # out_h1
    assert a2[1] == pytest.approx(0.596884378, abs=5e-10)  # out_h2
    assert a3[0] == pytest.approx(0.75136507, abs=5e-9)  # out_o1
    assert a3[1] == pytest.approx(0.772928465, abs=5e-10)  # out_o2
    assert g.cost == pytest.approx(0.298371109, abs=5e-10)  # E_total
    assert g.nabla_w[1][0][0] == pytest.approx(0.082167041, abs=5e-10)  # ∂E/∂w5
    assert g.nabla_w[0][0][0] == pytest.approx(0.000438568, abs=5e-10)  # ∂E/∂w1
    eta = 0.5
    new_w3 = MAZUR.weights[1] - eta * g.nabla_w[1]
    new_w2 = MAZUR.weights[0] - eta * g.nabla_w[0]
    assert new_w3.ravel().tolist() == pytest.approx([0.35891648, 0.408666186, 0.511301270, 0.561370121], abs=5e-9)
    assert new_w2.ravel().tolist() == pytest.approx([0.149780716, 0.19956143, 0.24975114, 0.29950229], abs=5e-9)


def test_equation_functions_compose_to_backprop() -> None:
    """The one-equation functions, called by hand in the book's order, give backprop's result."""
    rng = np.random.default_rng(4)
    net = Network([3, 4, 4, 2], seed=9)
    x = rng.normal(size=(2, 3))
    y = rng.uniform(size=(2, 2))
    a1 = x
    z2 = weighted_input(net.weights[0], a1, net.biases[0])
    a2 = 1 / (1 + np.exp(-z2))
    z3 = weighted_input(net.weights[1], a2, net.biases[1])
    a3 = 1 / (1 + np.exp(-z3))
    z4 = weighted_input(net.weights[2], a3, net.biases[2])
    a4 = 1 / (1 + np.exp(-z4))
    d4 = output_error(get_cost("quadratic"), z4, a4, y, net.activations[-1])
    np.testing.assert_allclose(d4, (a4 - y) * a4 * (1 - a4), rtol=1e-13)  # BP1 as the book writes it
    d3 = backpropagate_error(net.weights[2], d4, a3 * (1 - a3))
    d2 = backpropagate_error(net.weights[1], d3, a2 * (1 - a2))
    g = backprop(net, x, y)
    for mine, theirs in zip([d2, d3, d4], g.deltas, strict=True):
        np.testing.assert_allclose(mine, theirs, atol=1e-15)
    np.testing.assert_allclose(nabla_b_of(d2), g.nabla_b[0], atol=1e-15)
    np.testing.assert_allclose(nabla_w_of(d3, a2), g.nabla_w[1], atol=1e-15)
    # BP4 element by element: ∂C/∂w^3_jk = mean over x of a^2_k δ^3_j
    j, k = 2, 1
    assert g.nabla_w[1][j, k] == pytest.approx(np.mean(a2[:, k] * d3[:, j]), rel=1e-13)


def test_single_example_may_be_one_dimensional() -> None:
    g1 = backprop(MAZUR, [0.05, 0.10], [0.01, 0.99])  # type: ignore[list-item]
    g2 = backprop(MAZUR, [[0.05, 0.10]], [[0.01, 0.99]])
    assert g1.cost == g2.cost


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        ([[1.0, 2.0, 3.0]], [[0.0, 1.0]], "inputs"),
        ([[1.0, 2.0]], [[0.0]], "targets"),
        ([[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0]], "targets: expected 2 rows"),
    ],
)
def test_bad_shapes_name_the_argument(x: list[list[float]], y: list[list[float]], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        backprop(MAZUR, x, y)


def test_overflow_is_reported_not_hidden() -> None:
    net = Network(
        [1, 1, 1, 1], weights=[[[1e200]], [[1e200]], [[1.0]]], biases=[[0.0], [0.0], [0.0]], activation="linear"
    )
    g = backprop(net, [[1e10]], [[0.0]])  # no RuntimeWarning: warnings are errors here
    assert not g.finite
    assert backprop(MAZUR, [[0.05, 0.10]], [[0.01, 0.99]]).finite


def test_huge_but_finite_values_are_finite() -> None:
    """Entries near the float64 limit overflow a sum of them, but none is infinite: still finite."""
    net = Network([1, 2], weights=[[[1e308], [1e308]]], biases=[[0.0, 0.0]], activation="linear")
    g = backprop(net, [[1.0]], [[1e308, 1e308]])
    assert g.cost == 0.0
    assert g.finite
    g = backprop(net, [[1.0]], [[0.0, 0.0]])  # now the cost ½‖a − y‖² itself overflows
    assert not g.finite
