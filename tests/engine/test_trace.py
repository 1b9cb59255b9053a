"""The step trace: the book's order, consistency with the gradients, the update, serialisation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backprop_lens.engine import Network, trace
from tests.autograd import reference_gradients


def test_steps_follow_the_books_order() -> None:
    net = Network([3, 4, 5, 2], seed=0)
    t = trace(net, [[0.1, 0.2, 0.3]], [[0.0, 1.0]], eta=0.5)
    got = [(s.kind, s.equation, s.layer) for s in t.steps]
    assert got == [
        ("input", "input", 1),
        ("feedforward", "eq. 25", 2),
        ("feedforward", "eq. 25", 3),
        ("feedforward", "eq. 25", 4),
        ("output_error", "BP1", 4),
        ("backpropagate", "BP2", 3),
        ("backpropagate", "BP2", 2),
        ("gradients", "BP3, BP4", 4),
        ("gradients", "BP3, BP4", 3),
        ("gradients", "BP3, BP4", 2),
        ("update", "eqs. 20–21", None),
    ]
    assert [s.index for s in t.steps] == list(range(len(t.steps)))


def test_delta_of_each_example_is_its_nabla_b() -> None:
    """δ^l of example x is ∂C_x/∂b^l (BP3), here from the scalar autograd, which shares no code with the trace."""
    rng = np.random.default_rng(5)
    acts = ["tanh", "sigmoid"]
    net = Network([2, 3, 2], activation=acts, seed=2)
    x = rng.normal(size=(3, 2))
    y = rng.uniform(size=(3, 2))
    t = trace(net, x, y, cost="cross_entropy", eta=1.0)
    deltas = {s.layer: s.values["delta"] for s in t.steps if s.kind in ("output_error", "backpropagate")}
    weights = [w.tolist() for w in net.weights]
    biases = [b.tolist() for b in net.biases]
    for i in range(3):
        _, _, nabla_b = reference_gradients(weights, biases, acts, "cross_entropy", [x[i].tolist()], [y[i].tolist()])
        for layer in (2, 3):
            delta = deltas[layer]
            assert isinstance(delta, np.ndarray)
            np.testing.assert_allclose(delta[i], nabla_b[layer - 2], rtol=1e-12, atol=1e-15)


def test_bp1_and_bp2_steps_are_products_of_their_parts() -> None:
    net = Network([2, 3, 2], seed=4)
    t = trace(net, [[0.3, -0.2]], [[0.2, 0.7]])
    bp1 = next(s for s in t.steps if s.kind == "output_error")
    bp2 = next(s for s in t.steps if s.kind == "backpropagate")
    np.testing.assert_allclose(bp1.values["delta"], np.multiply(bp1.values["nabla_a"], bp1.values["sigma_prime"]))
    np.testing.assert_allclose(bp1.values["nabla_a"], np.subtract(t.gradients.forward.activations[-1], [[0.2, 0.7]]))
    expected = (net.weights[1].T @ np.asarray(bp1.values["delta"])[0]) * np.asarray(bp2.values["sigma_prime"])[0]
    np.testing.assert_allclose(np.asarray(bp2.values["delta"])[0], expected, atol=1e-16)


def test_gradient_steps_equal_backprop_and_update_is_gradient_descent() -> None:
    net = Network(
        [2, 2, 2], weights=[[[0.15, 0.2], [0.25, 0.3]], [[0.4, 0.45], [0.5, 0.55]]], biases=[[0.35, 0.35], [0.6, 0.6]]
    )
    x, y, eta = [[0.05, 0.1]], [[0.01, 0.99]], 0.5
    t = trace(net, x, y, eta=eta)
    # the independent reference: the scalar autograd, and Mazur's hand-worked figures
    _, ref_w, ref_b = reference_gradients(
        [w.tolist() for w in net.weights], [b.tolist() for b in net.biases], ["sigmoid", "sigmoid"], "quadratic", x, y
    )
    for s in t.steps:
        if s.kind == "gradients":
            assert s.layer is not None
            np.testing.assert_allclose(s.values["nabla_w"], ref_w[s.layer - 2], rtol=1e-12)
            np.testing.assert_allclose(s.values["nabla_b"], ref_b[s.layer - 2], rtol=1e-12)
    update = t.steps[-1]
    for i in range(2):
        np.testing.assert_allclose(update.values["weights"][i], net.weights[i] - eta * np.array(ref_w[i]), rtol=1e-12)
        np.testing.assert_allclose(update.values["biases"][i], net.biases[i] - eta * np.array(ref_b[i]), rtol=1e-12)
    # Mazur: w5⁺ = 0.35891648 (our w³₁₁), w1⁺ = 0.149780716 (our w²₁₁)
    assert update.values["weights"][1][0][0] == pytest.approx(0.35891648, abs=5e-9)
    assert update.values["weights"][0][0][0] == pytest.approx(0.149780716, abs=5e-10)
    assert update.scalars["cost_before"] == pytest.approx(0.298371109, abs=5e-10)
    w2 = np.asarray(update.values["weights"][0])
    b2 = np.asarray(update.values["biases"][0])
    w3 = np.asarray(update.values["weights"][1])
    b3 = np.asarray(update.values["biases"][1])
    hidden = 1 / (1 + np.exp(-(w2 @ np.array(x[0]) + b2)))  # a plain forward pass of the updated network
    out = 1 / (1 + np.exp(-(w3 @ hidden + b3)))
    assert update.scalars["cost_after"] == pytest.approx(0.5 * float(np.sum((out - np.array(y[0])) ** 2)), rel=1e-14)
    assert update.scalars["cost_after"] < update.scalars["cost_before"]
    # the network the trace started from is untouched
    assert net.weights[1][0, 0] == 0.4


def test_steps_are_immutable_and_serialise_alone() -> None:
    t = trace(Network([2, 3, 1], seed=0), [[1.0, 2.0]], [[0.5]])
    step = t.steps[2]
    z = step.values["z"]
    assert isinstance(z, np.ndarray)
    with pytest.raises(ValueError):
        z[0, 0] = 1.0
    with pytest.raises(TypeError):
        step.values["z"] = z  # type: ignore[index]
    data = json.loads(json.dumps(step.to_dict()))
    assert data["kind"] == "feedforward" and data["layer"] == 3
    assert data["values"]["a"] == np.asarray(step.values["a"]).tolist()
    whole = json.loads(json.dumps(t.to_dict()))
    assert len(whole["steps"]) == len(t.steps)
