"""Every activation's derivative against central differences, and sigmoid's stability."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from engine.activations import ACTIVATIONS, get_activation, sigmoid, sigmoid_prime


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


def test_sigmoid_matches_textbook_form_in_the_safe_range() -> None:
    z = np.linspace(-30, 30, 601)
    np.testing.assert_allclose(sigmoid(z), 1 / (1 + np.exp(-z)), rtol=1e-14)
    np.testing.assert_allclose(sigmoid_prime(z), sigmoid(z) * (1 - sigmoid(z)), rtol=1e-14)


def test_unknown_activation_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="linear, relu, sigmoid, tanh"):
        get_activation("softplus")
