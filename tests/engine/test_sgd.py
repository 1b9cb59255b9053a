"""SGD against the book's per-example algorithm, and the update rule against eqs. 20–21 by hand."""

from __future__ import annotations

import numpy as np
import pytest

from backprop_lens.bench.baseline import backprop_per_example
from backprop_lens.engine import Network
from backprop_lens.engine.costs import get_cost
from backprop_lens.engine.sgd import (
    SGD,
    EpochGradients,
    Progress,
    gradient_descent,
    gradient_descent_in_place,
    l2_gradient_descent_in_place,
    mini_batches,
    sgd_step,
    update_mini_batch,
    weight_decay_in_place,
)


def reference_sgd(
    net: Network, X: np.ndarray, Y: np.ndarray, epochs: int, m: int, eta: float, cost: str, seed: int, lmbda: float = 0
) -> Network:
    """The book's loop: shuffle, cut into mini-batches, sum per-example gradients, update (network2.py's
    w → (1 − ηλ/n) w − (η/m) Σ ∂C_x/∂w with λ > 0; biases unregularised)."""
    rng = np.random.default_rng(seed)
    weights = [w.copy() for w in net.weights]
    biases = [b.copy() for b in net.biases]
    n = X.shape[0]
    for _ in range(epochs):
        order = rng.permutation(n)
        for k in range(0, n, m):
            idx = order[k : k + m]
            current = net.with_parameters(weights, biases)
            _, nabla_w, nabla_b = backprop_per_example(current, X[idx], Y[idx], cost)
            weights = [(1 - eta * lmbda / n) * w - eta * nw for w, nw in zip(weights, nabla_w, strict=True)]
            biases = [b - eta * nb for b, nb in zip(biases, nabla_b, strict=True)]
    return net.with_parameters(weights, biases)


@pytest.mark.parametrize(
    ("sizes", "acts", "cost", "m"),
    [
        ([3, 5, 2], "sigmoid", "quadratic", 4),
        ([4, 6, 5, 3], ["tanh", "relu", "sigmoid"], "cross_entropy", 5),
        ([2, 4, 1], "sigmoid", "cross_entropy", 7),  # the last mini-batch is shorter
        ([3, 2], "linear", "quadratic", 1),
    ],
)
def test_sgd_matches_the_per_example_algorithm(sizes: list[int], acts: str | list[str], cost: str, m: int) -> None:
    rng = np.random.default_rng(11)
    X = rng.uniform(-1, 1, size=(23, sizes[0]))
    Y = rng.uniform(0.05, 0.95, size=(23, sizes[-1]))
    net = Network(sizes, activation=acts, seed=3, init="scaled")
    fast = SGD(net, X, Y, epochs=3, mini_batch_size=m, eta=0.3, cost=cost, seed=5)
    slow = reference_sgd(net, X, Y, 3, m, 0.3, cost, 5)
    for a, b in zip(fast.weights + fast.biases, slow.weights + slow.biases, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert not np.allclose(fast.weights[0], net.weights[0]), "training changed nothing"


def test_sgd_leaves_its_network_alone_and_is_reproducible() -> None:
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(12, 3)), rng.uniform(size=(12, 2))
    net = Network([3, 4, 2], seed=1)
    before = [w.copy() for w in net.weights]
    a = SGD(net, X, Y, 2, 3, 0.5, seed=9)
    b = SGD(net, X, Y, 2, 3, 0.5, seed=9)
    c = SGD(net, X, Y, 2, 3, 0.5, seed=10)
    for w, w0 in zip(net.weights, before, strict=True):
        assert np.array_equal(w, w0)
    assert all(np.array_equal(p, q) for p, q in zip(a.weights, b.weights, strict=True))
    assert not np.array_equal(a.weights[0], c.weights[0])


def test_sgd_step_equals_update_mini_batch() -> None:
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(6, 4)), rng.uniform(size=(6, 3))
    net = Network([4, 5, 3], activation=["tanh", "sigmoid"], seed=2)
    expected = update_mini_batch(net, X, Y, 0.7, "cross_entropy")
    inplace = net.copy()
    sgd_step(inplace, X, Y, 0.7, get_cost("cross_entropy"))
    for a, b in zip(inplace.weights + inplace.biases, expected.weights + expected.biases, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-14)


def test_gradient_descent_by_hand() -> None:
    w = np.array([[0.40, 0.45]])
    nabla = np.array([[0.0821670406, -0.02]])
    expected = np.array([[0.40 - 0.5 * 0.0821670406, 0.45 + 0.5 * 0.02]])
    assert np.array_equal(gradient_descent(w, nabla, 0.5), expected)
    gradient_descent_in_place(w, nabla.copy(), 0.5)
    assert np.array_equal(w, expected)


def test_callback_sees_every_mini_batch_and_can_stop() -> None:
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(10, 2)), rng.uniform(size=(10, 1))
    seen: list[Progress] = []
    nets: list[Network] = []

    def watch(net: Network, p: Progress) -> bool:
        seen.append(p)
        nets.append(net)
        return p.epoch == 2 and p.batch == 1

    out = SGD(Network([2, 3, 1], seed=0), X, Y, 5, 4, 0.5, seed=0, callback=watch)
    assert [(p.epoch, p.batch, p.batches_per_epoch) for p in seen] == [(1, 1, 3), (1, 2, 3), (1, 3, 3), (2, 1, 3)]
    assert np.array_equal(out.weights[0], nets[-1].weights[0])
    assert not np.array_equal(nets[0].weights[0], nets[1].weights[0]), "each callback has its own copy"


def test_mini_batches_rejects_a_zero_batch() -> None:
    net = Network([1, 1])
    with pytest.raises(ValueError, match="mini_batch_size"):
        next(mini_batches(net, np.ones((2, 1)), np.ones((2, 1)), 1, 0, 0.1, get_cost("quadratic")))


@pytest.mark.parametrize("lmbda", [0.0, 0.5, 5.0])
def test_l2_sgd_matches_network2s_loop(lmbda: float) -> None:
    rng = np.random.default_rng(12)
    X = rng.uniform(-1, 1, size=(17, 3))
    Y = rng.uniform(0.05, 0.95, size=(17, 2))
    net = Network([3, 4, 2], seed=4)
    fast = SGD(net, X, Y, epochs=3, mini_batch_size=5, eta=0.4, cost="cross_entropy", seed=2, lmbda=lmbda)
    slow = reference_sgd(net, X, Y, 3, 5, 0.4, "cross_entropy", 2, lmbda)
    for a, b in zip(fast.weights + fast.biases, slow.weights + slow.biases, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    if lmbda == 0.0:  # λ = 0 is plain SGD, bit for bit
        plain = SGD(net, X, Y, epochs=3, mini_batch_size=5, eta=0.4, cost="cross_entropy", seed=2)
        assert all(np.array_equal(p, q) for p, q in zip(fast.weights, plain.weights, strict=True))


def test_l2_update_by_hand() -> None:
    """Eq. 93 with the numbers in: (1 − 0.5·2/4)·0.40 − 0.5·0.08 = 0.26, and likewise for the others."""
    w = np.array([[0.40, -0.45], [1e300, 0.0]])
    nabla = np.array([[0.08, -0.02], [0.0, 3.0]])
    expected = np.array([[0.75 * 0.40 - 0.04, 0.75 * -0.45 + 0.01], [0.75 * 1e300, -1.5]])
    l2_gradient_descent_in_place(w, nabla, 0.5, 2.0, 4)
    np.testing.assert_allclose(w, expected, rtol=1e-15)
    v = np.array([2.0])
    weight_decay_in_place(v, 0.1, 30.0, 3)  # 1 − ηλ/n = 0: the weight is gone
    assert v.tolist() == [0.0]


def test_epoch_gradients_average_the_mini_batches() -> None:
    """Two mini-batches on a [1, 2, 1] network: the sums by hand."""
    sums = EpochGradients()
    sums.add(0, np.array([[1.0], [-3.0]]), np.array([0.5, -1.5]))
    sums.add(1, np.array([[2.0, 2.0]]), np.array([-4.0]))
    sums.add(0, np.array([[3.0], [1.0]]), np.array([0.5, 0.5]))
    sums.add(1, np.array([[0.0, -2.0]]), np.array([2.0]))
    assert sums.speeds() == [(1.0 + 0.5) / 2, (4.0 + 2.0) / 2]
    np.testing.assert_array_equal(sums.mean_nabla_w()[0], [[2.0], [-1.0]])
    np.testing.assert_array_equal(sums.mean_nabla_w()[1], [[1.0, 0.0]])
    sums.reset()
    assert sums.batches == 0 and sums.speed_sums == []


def test_eta_may_be_a_function_asked_before_every_mini_batch() -> None:
    """Halving η after the first mini-batch equals two runs of update_mini_batch with those η."""
    X = np.array([[0.1, 0.2], [0.3, -0.4], [0.9, 0.5], [-0.6, 0.7]])
    Y = np.array([[0.0], [1.0], [1.0], [0.0]])
    net = Network([2, 3, 1], seed=1)
    etas = iter([1.0, 0.5])
    trained = net.copy()
    steps = list(mini_batches(trained, X, Y, 1, 2, lambda: next(etas), get_cost("quadratic"), seed=0))
    order = np.random.default_rng(0).permutation(4)
    expected = update_mini_batch(net, X[order[:2]], Y[order[:2]], 1.0)
    expected = update_mini_batch(expected, X[order[2:]], Y[order[2:]], 0.5)
    assert len(steps) == 2
    for a, b in zip(trained.weights, expected.weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-15)


def test_per_epoch_callback_sees_each_epochs_end_once() -> None:
    """every="epoch": one call per epoch, after its last mini-batch, with a snapshot later training leaves alone."""
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(10, 2)), rng.uniform(size=(10, 1))
    seen: list[tuple[Progress, Network]] = []
    out = SGD(
        Network([2, 3, 1], seed=0), X, Y, 3, 4, 0.5, seed=0, callback=lambda n, p: seen.append((p, n)), every="epoch"
    )
    assert [(p.epoch, p.batch) for p, _ in seen] == [(1, 3), (2, 3), (3, 3)]
    assert np.array_equal(seen[-1][1].weights[0], out.weights[0])
    assert not np.array_equal(seen[0][1].weights[0], out.weights[0])
    # the cost each call sees is its mini-batch's before the step: the per-example loop's on the same rows
    first = SGD(Network([2, 3, 1], seed=0), X, Y, 1, 4, 0.5, seed=0)
    assert first is not out
