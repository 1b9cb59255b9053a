"""Network construction: shapes, seeded initialisation, explicit parameters, errors."""

from __future__ import annotations

import numpy as np
import pytest

from backprop_lens.engine import Network, backprop
from backprop_lens.engine.network import parameter_count


def test_shapes_follow_the_book() -> None:
    net = Network([3, 5, 2], seed=0)
    assert [w.shape for w in net.weights] == [(5, 3), (2, 5)]
    assert [b.shape for b in net.biases] == [(5,), (2,)]
    assert net.num_layers == 3
    assert net.num_parameters == parameter_count([3, 5, 2]) == 5 * 4 + 2 * 6


def test_same_seed_same_network_bit_for_bit() -> None:
    a, b = Network([4, 6, 3], seed=42), Network([4, 6, 3], seed=42)
    for x, y in zip(a.weights + a.biases, b.weights + b.biases, strict=True):
        assert x.tobytes() == y.tobytes()
    c = Network([4, 6, 3], seed=43)
    assert a.weights[0].tobytes() != c.weights[0].tobytes()


def test_scaled_init_has_variance_one_over_n_in() -> None:
    net = Network([400, 300], seed=1, init="scaled")
    assert np.var(net.weights[0]) == pytest.approx(1 / 400, rel=0.03)
    std = Network([400, 300], seed=1)
    assert np.var(std.weights[0]) == pytest.approx(1.0, rel=0.03)


def test_explicit_parameters_are_copied() -> None:
    w = [np.ones((2, 2))]
    net = Network([2, 2], weights=w, biases=[[0.0, 0.0]])
    w[0][0, 0] = 5.0
    assert net.weights[0][0, 0] == 1.0
    copy = net.copy()
    copy.weights[0][0, 0] = 7.0
    assert net.weights[0][0, 0] == 1.0


def test_to_dict_round_trips() -> None:
    net = Network([2, 3, 1], activation=["tanh", "sigmoid"], seed=3)
    d = net.to_dict()
    again = Network(d["sizes"], weights=d["weights"], biases=d["biases"], activation=d["activation"])  # type: ignore[arg-type]
    for x, y in zip(net.weights, again.weights, strict=True):
        assert np.array_equal(x, y)
    assert again.activation_names == ["tanh", "sigmoid"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sizes": [3]}, "at least an input and an output"),
        ({"sizes": [3, 0]}, "at least one neuron"),
        ({"sizes": [2, 2], "activation": ["tanh", "tanh"]}, "activation: expected one name or 1"),
        ({"sizes": [2, 2], "weights": [[[1.0, 1.0], [1.0, 1.0]]]}, "give both or neither"),
        ({"sizes": [2, 2], "weights": [[[1.0], [1.0]]], "biases": [[0.0, 0.0]]}, r"weights\[0\]: w\^2 must be 2×2"),
        ({"sizes": [2, 2], "weights": [[[1.0, 1.0], [1.0, 1.0]]], "biases": [[0.0]]}, r"biases\[0\]"),
        ({"sizes": [2, 2], "weights": [[[np.nan, 1.0], [1.0, 1.0]]], "biases": [[0.0, 0.0]]}, "finite"),
        ({"sizes": [2, 2], "activation": "softmax"}, "unknown activation"),
    ],
)
def test_bad_networks_name_the_field(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Network(**kwargs)  # type: ignore[arg-type]


def test_a_network_in_a_notebook() -> None:
    """repr says what it is; net(x) is a^L for one example (a vector) or a batch (rows)."""
    net = Network([2, 3, 1], activation=["tanh", "sigmoid"], seed=1)
    assert repr(net) == "Network(2-3-1, activation=tanh, sigmoid, 13 parameters)"
    assert repr(Network([4, 2])) == "Network(4-2, activation=sigmoid, 10 parameters)"
    x = np.array([0.5, -1.0])
    hidden = np.tanh(net.weights[0] @ x + net.biases[0])  # eq. 25 written out, independently of feedforward
    expected = 1.0 / (1.0 + np.exp(-(net.weights[1] @ hidden + net.biases[1])))
    np.testing.assert_allclose(net(x), expected, rtol=1e-15)
    assert net(x).shape == (1,)
    np.testing.assert_allclose(net(np.stack([x, x])), np.stack([expected, expected]), rtol=1e-15)


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (np.ones((2, 5)), "got shape 2×5; it looks transposed"),
        ([1.0, 2.0, 3.0], "got a vector of 3 numbers"),
        (np.ones((1, 1, 2)), "got shape 1×1×2; expected a 2-D array"),
    ],
)
def test_a_batch_of_the_wrong_shape_is_named(x: object, match: str) -> None:
    net = Network([2, 3, 1])
    with pytest.raises(ValueError, match=match):
        net(x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=match):
        backprop(net, x, np.ones((5, 1)))  # type: ignore[arg-type]
