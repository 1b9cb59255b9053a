"""Costs: hand values, δ^L against central differences, and every method against 800-digit arithmetic up to |z| = 800.

The exact values come from mpmath, which shares no code with the engine: C_x, δ^L = ∂C_x/∂z^L and
∇_aC = ∂C_x/∂a^L written as the textbook formulas, evaluated with 800 digits so that neither rounding
nor saturation touches them.
"""

from __future__ import annotations

import itertools

import mpmath
import numpy as np
import pytest
from numpy.typing import NDArray

from backprop_lens.engine.activations import get_activation, sigmoid
from backprop_lens.engine.costs import COSTS, get_cost

Array = NDArray[np.float64]
SIGMOID = get_activation("sigmoid")


def _logit(a: list[float]) -> Array:
    p = np.array([a])
    return np.asarray(np.log(p / (1.0 - p)))


def test_quadratic_hand_value() -> None:
    # Mazur's net inputs of the output layer: z = 1.105905967, 1.224921404; a = σ(z) = 0.75136507, 0.772928465
    z = np.array([[1.105905967, 1.224921404]])
    y = np.array([[0.01, 0.99]])
    # E = ½(0.01 − 0.75136507)² + ½(0.99 − 0.772928465)² = 0.298371109
    assert get_cost("quadratic").fn(z, sigmoid(z), y, SIGMOID) == pytest.approx(0.298371109, abs=1e-9)


def test_cross_entropy_hand_value() -> None:
    z = _logit([0.8, 0.3])
    y = np.array([[1.0, 0.0]])
    expected = -(np.log(0.8) + np.log(0.7))
    assert get_cost("cross_entropy").fn(z, sigmoid(z), y, SIGMOID) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("name", sorted(COSTS))
def test_delta_matches_central_differences_in_z(name: str) -> None:
    """δ^L = ∂C_x/∂z^L by its definition, the cost nudged through z."""
    rng = np.random.default_rng(1)
    z = rng.normal(scale=2.0, size=(1, 4))
    y = rng.uniform(0.0, 1.0, size=(1, 4))
    cost = get_cost(name)
    h = 1e-6
    numeric = np.zeros_like(z)
    for j in range(4):
        e = np.zeros_like(z)
        e[0, j] = h
        up, down = z + e, z - e
        numeric[0, j] = (cost.fn(up, sigmoid(up), y, SIGMOID) - cost.fn(down, sigmoid(down), y, SIGMOID)) / (2 * h)
    np.testing.assert_allclose(cost.delta(z, sigmoid(z), y, SIGMOID), numeric, rtol=1e-7, atol=1e-10)


def test_batch_cost_is_the_mean_of_example_costs() -> None:
    rng = np.random.default_rng(2)
    z = rng.normal(scale=3.0, size=(6, 3))
    a = sigmoid(z)
    y = rng.uniform(size=(6, 3))
    for cost in COSTS.values():
        per = [cost.fn(z[i : i + 1], a[i : i + 1], y[i : i + 1], SIGMOID) for i in range(6)]
        assert cost.fn(z, a, y, SIGMOID) == pytest.approx(float(np.mean(per)), rel=1e-14)


# --- the extremes, against 60 digits ----------------------------------------------------------------

Z = [-800.0, -300.0, -40.0, -37.5, -20.0, -1.0, 0.0, 1.0, 20.0, 37.5, 40.0, 300.0, 800.0]
Y = [0.0, 0.3, 1.0]


def _exact(name: str, z: float, y: float) -> tuple[float, float, float]:
    """(C_x, δ^L, ∇_aC) of one sigmoid output neuron, rounded to float64.

    In 800-digit arithmetic: at z = 800, 1 − a is e^{−800} ≈ 10^{−348}, and the textbook formulas need
    every one of those digits to keep it."""
    with mpmath.workdps(800):
        zz, yy = mpmath.mpf(z), mpmath.mpf(y)
        a = 1 / (1 + mpmath.exp(-zz))
        sp = a * (1 - a)
        if name == "quadratic":
            c, nabla = (a - yy) ** 2 / 2, a - yy
        else:
            c = -(yy * mpmath.log(a) + (1 - yy) * mpmath.log(1 - a))
            nabla = (a - yy) / (a * (1 - a))
        big = mpmath.mpf("1e308")
        n = float(nabla) if abs(nabla) < big else (float("inf") if nabla > 0 else float("-inf"))
        return float(c), float(nabla * sp), n


@pytest.mark.parametrize("name", sorted(COSTS))
def test_cost_delta_and_nabla_a_are_exact_up_to_z_800(name: str) -> None:
    pairs = list(itertools.product(Z, Y))
    z = np.array([[p[0] for p in pairs]])
    y = np.array([[p[1] for p in pairs]])
    a = sigmoid(z)
    cost = get_cost(name)
    with np.errstate(all="raise", under="ignore"):  # no overflow, 0/0 or ln 0 on the way
        per = np.array([cost.fn(z[:, [k]], a[:, [k]], y[:, [k]], SIGMOID) for k in range(len(pairs))])
        delta = cost.delta(z, a, y, SIGMOID)[0]
    nabla_a = cost.nabla_a(z, a, y, SIGMOID)[0]
    exact = np.array([_exact(name, zk, yk) for zk, yk in pairs])
    np.testing.assert_allclose(per, exact[:, 0], rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(delta, exact[:, 1], rtol=1e-13, atol=1e-300)
    finite = np.isfinite(exact[:, 2])
    np.testing.assert_allclose(nabla_a[finite], exact[finite, 2], rtol=1e-12, atol=1e-300)
    assert np.array_equal(nabla_a[~finite], exact[~finite, 2])  # beyond 10^308 it is ±∞, never NaN


def test_the_case_cross_entropy_exists_for() -> None:
    """z = 40, y = 0: the output is saturated and wrong; C = ln(1 + e^40) and δ^L = a − y = 1, not 0."""
    z, y = np.array([[40.0]]), np.array([[0.0]])
    cost = get_cost("cross_entropy")
    assert cost.fn(z, sigmoid(z), y, SIGMOID) == pytest.approx(40.0 + np.log1p(np.exp(-40.0)), rel=1e-15)
    assert cost.delta(z, sigmoid(z), y, SIGMOID)[0, 0] == 1.0


@pytest.mark.parametrize("output", ["tanh", "relu", "linear"])
def test_cross_entropy_names_the_output_it_needs(output: str) -> None:
    z = np.array([[0.5]])
    act = get_activation(output)
    with pytest.raises(ValueError, match="cross_entropy needs a sigmoid output layer"):
        get_cost("cross_entropy").delta(z, act.fn(z), np.array([[1.0]]), act)


def test_unknown_cost_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="cross_entropy, quadratic"):
        get_cost("hinge")
