"""Every activation's derivative against central differences, and sigmoid's stability."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import mpmath
import numpy as np
import pytest
from numpy.typing import NDArray

from backprop_lens.engine.activations import ACTIVATIONS, get_activation, sigmoid, sigmoid_prime


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_prime_matches_central_differences(name: str) -> None:
    act = get_activation(name)
    z = np.random.default_rng(0).normal(scale=3.0, size=200)
    z = z[np.abs(z) > 1e-3]  # ReLU has no derivative at 0
    h = 1e-6
    numeric = (act.fn(z + h) - act.fn(z - h)) / (2 * h)
    np.testing.assert_allclose(act.prime(z, act.fn(z)), numeric, rtol=1e-6, atol=1e-9)


def test_sigmoid_is_stable_at_extremes() -> None:
    z = np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = sigmoid(z)
        sp = sigmoid_prime(z)
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(sp))
    assert s[0] == 0.0 and s[-1] == 1.0 and s[2] == 0.5
    assert s[1] == pytest.approx(np.exp(-40.0), rel=1e-12)  # small values keep their precision
    assert sp[2] == 0.25


# z from −800 to 800, dense near 0 and through the range where σ(z) rounds to 1 (|z| > 37)
# and tanh(z) to ±1 (|z| > 19): where a(1 − a) and 1 − a² would print 0. Below 1e-300 (atol) floats are subnormal.
EXTREME_Z = np.concatenate([np.linspace(-60, 60, 481), np.linspace(-800, 800, 161)])


def _exact(f: Callable[[mpmath.mpf], mpmath.mpf]) -> NDArray[np.float64]:
    """f at every EXTREME_Z in 60-digit arithmetic (mpmath shares no code with the engine), rounded to float64."""
    with mpmath.workdps(60):
        return np.array([float(f(mpmath.mpf(float(z)))) for z in EXTREME_Z])


def test_sigmoid_and_its_derivative_equal_60_digit_values_up_to_z_800() -> None:
    exact_s = _exact(lambda z: 1 / (1 + mpmath.exp(-z)))
    exact_sp = _exact(lambda z: mpmath.exp(-z) / (1 + mpmath.exp(-z)) ** 2)
    np.testing.assert_allclose(sigmoid(EXTREME_Z), exact_s, rtol=4e-16, atol=0)
    np.testing.assert_allclose(sigmoid_prime(EXTREME_Z), exact_sp, rtol=4e-15, atol=1e-300)
    act = get_activation("sigmoid")
    np.testing.assert_allclose(act.prime(EXTREME_Z, act.fn(EXTREME_Z)), exact_sp, rtol=4e-15, atol=1e-300)
    assert sigmoid_prime(np.array([40.0]))[0] > 0  # e^{−40}, not the 0 that a(1 − a) gives


def test_tanh_derivative_equals_60_digit_values_up_to_z_800() -> None:
    exact = _exact(lambda z: mpmath.sech(z) ** 2)
    act = get_activation("tanh")
    np.testing.assert_allclose(act.prime(EXTREME_Z, act.fn(EXTREME_Z)), exact, rtol=4e-15, atol=1e-300)
    np.testing.assert_allclose(act.fn(EXTREME_Z), _exact(mpmath.tanh), rtol=4e-16, atol=0)


def test_unknown_activation_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="linear, relu, sigmoid, tanh"):
        get_activation("softplus")
