"""Costs: hand values, ∇_aC against central differences, finiteness at the ends."""

from __future__ import annotations

import numpy as np
import pytest

from engine.costs import COSTS, get_cost


def test_quadratic_hand_value() -> None:
    a = np.array([[0.75136507, 0.772928465]])
    y = np.array([[0.01, 0.99]])
    # Mazur: E = ½(0.01 − 0.75136507)² + ½(0.99 − 0.772928465)² = 0.298371109
    assert get_cost("quadratic").fn(a, y) == pytest.approx(0.298371109, abs=1e-9)


def test_cross_entropy_hand_value() -> None:
    a = np.array([[0.8, 0.3]])
    y = np.array([[1.0, 0.0]])
    expected = -(np.log(0.8) + np.log(0.7))
    assert get_cost("cross_entropy").fn(a, y) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("name", sorted(COSTS))
def test_nabla_a_matches_central_differences(name: str) -> None:
    rng = np.random.default_rng(1)
    a = rng.uniform(0.05, 0.95, size=(1, 4))
    y = rng.uniform(0.0, 1.0, size=(1, 4))
    cost = get_cost(name)
    h = 1e-7
    numeric = np.zeros_like(a)
    for j in range(4):
        e = np.zeros_like(a)
        e[0, j] = h
        numeric[0, j] = (cost.fn(a + e, y) - cost.fn(a - e, y)) / (2 * h)
    np.testing.assert_allclose(cost.nabla_a(a, y), numeric, rtol=1e-6)


def test_batch_cost_is_the_mean_of_example_costs() -> None:
    rng = np.random.default_rng(2)
    a = rng.uniform(0.1, 0.9, size=(6, 3))
    y = rng.uniform(size=(6, 3))
    for cost in COSTS.values():
        per = [cost.fn(a[i : i + 1], y[i : i + 1]) for i in range(6)]
        assert cost.fn(a, y) == pytest.approx(float(np.mean(per)), rel=1e-14)


def test_cross_entropy_stays_finite_where_a_reaches_0_or_1() -> None:
    a = np.array([[0.0, 1.0, 1.0, 0.0]])
    y = np.array([[0.0, 1.0, 0.0, 1.0]])
    cost = get_cost("cross_entropy")
    assert np.isfinite(cost.fn(a, y))
    assert cost.fn(a[:, :2], y[:, :2]) == pytest.approx(0.0, abs=1e-12)
    assert np.all(np.isfinite(cost.nabla_a(a, y)))


def test_unknown_cost_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="cross_entropy, quadratic"):
        get_cost("hinge")
