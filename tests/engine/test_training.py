"""The training session: its history against a plain SGD run, pause and stop, divergence, the grid."""

from __future__ import annotations

import threading

import numpy as np
from numpy.typing import NDArray

from engine import Network
from engine.backprop import feedforward
from engine.datasets import generated
from engine.sgd import SGD
from engine.training import TrainingSession, accuracy, classify, decision_grid

Array = NDArray[np.float64]
XOR = generated("xor", n=4, noise=0.0, test_fraction=0.0, seed=0)


def _book_sgd(net: Network, X: Array, Y: Array, epochs: int, size: int, eta: float, seed: int) -> list[Array]:
    """The book's network.py, written out here on its own (column vectors, its own σ), sharing no engine code.

    Shuffled as the engine documents: one generator seeded once, a permutation per epoch.
    """
    W = [w.copy() for w in net.weights]
    B = [b.reshape(-1, 1).copy() for b in net.biases]

    def sigma(z: Array) -> Array:
        return np.asarray(1.0 / (1.0 + np.exp(-z)))

    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for k in range(0, len(X), size):
            batch = order[k : k + size]
            nabla_w = [np.zeros_like(w) for w in W]
            nabla_b = [np.zeros_like(b) for b in B]
            for i in batch:
                a = X[i].reshape(-1, 1)
                activations = [a]
                for w, b in zip(W, B, strict=True):
                    a = sigma(w @ a + b)
                    activations.append(a)
                delta = (a - Y[i].reshape(-1, 1)) * a * (1 - a)
                for layer in range(len(W) - 1, -1, -1):
                    nabla_b[layer] += delta
                    nabla_w[layer] += delta @ activations[layer].T
                    if layer:
                        h = activations[layer]
                        delta = (W[layer].T @ delta) * h * (1 - h)
            W = [w - eta / len(batch) * nw for w, nw in zip(W, nabla_w, strict=True)]
            B = [b - eta / len(batch) * nb for b, nb in zip(B, nabla_b, strict=True)]
    return W


def test_session_trains_like_the_books_sgd_and_records_every_epoch() -> None:
    data = generated("moons", n=60, noise=0.1, test_fraction=0.25, seed=2)
    net = Network([2, 5, 1], seed=1)
    session = TrainingSession(net, data, epochs=4, mini_batch_size=8, eta=0.5, cost="quadratic", seed=7)
    report = session.run()
    assert report.state == "finished" and report.fraction == 1.0
    book = _book_sgd(net, data.x_train, data.y_train, 4, 8, 0.5, seed=7)
    for a, b in zip(report.network.weights, book, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    expected = SGD(net, data.x_train, data.y_train, 4, 8, 0.5, "quadratic", seed=7)  # the same engine, a copy
    history = session.history_since(0)
    assert [h.epoch for h in history] == [1, 2, 3, 4]
    a = feedforward(expected, data.x_train).activations[-1]
    assert history[-1].cost == 0.5 * float(np.mean(np.sum((a - data.y_train) ** 2, axis=1)))
    test_out = feedforward(expected, data.x_test).activations[-1][:, 0]
    right = sum((o >= 0.5) == (t == 1.0) for o, t in zip(test_out, data.y_test[:, 0], strict=True))
    assert history[-1].test_accuracy == right / 15
    assert np.array_equal(net.weights[0], session.initial.weights[0]), "the starting network is untouched"


def test_xor_reaches_a_small_cost() -> None:
    session = TrainingSession(Network([2, 4, 1], seed=0), XOR, 600, 4, 4.0, "quadratic", seed=0)
    session.run()
    last = session.history_since(0)[-1]
    assert last.cost < 0.01 and last.train_accuracy == 1.0


def test_divergence_stops_and_keeps_the_last_finite_weights() -> None:
    net = Network([2, 4, 1], activation="linear", seed=0)
    session = TrainingSession(net, XOR, 50, 1, 50.0, "quadratic", seed=0)
    report = session.run()
    assert report.state == "diverged"
    assert report.message is not None and "epoch" in report.message and "η = 50" in report.message
    done = session.history_since(0)
    assert report.epoch == len(done) and report.message.startswith(f"Training diverged in epoch {len(done) + 1}")
    expected = SGD(net, XOR.x_train, XOR.y_train, len(done), 1, 50.0, seed=0) if done else net
    for a, b in zip(report.network.weights, expected.weights, strict=True):
        assert np.array_equal(a, b) and np.isfinite(a).all()


def test_pause_resume_and_stop_from_another_thread() -> None:
    session = TrainingSession(Network([2, 4, 1], seed=0), XOR, 10_000, 4, 1.0, seed=0, epoch_delay=0.001)
    session.pause()
    session.start()
    done = threading.Event()
    for _ in range(500):
        if session.report().state == "paused":
            done.set()
            break
        threading.Event().wait(0.01)
    assert done.is_set(), "the session did not pause"
    epoch = session.report().epoch
    threading.Event().wait(0.05)
    assert session.report().epoch == epoch
    session.resume()
    session.stop("stopped by a test")
    session.join(5)
    final = session.report()
    assert final.state == "stopped" and final.final
    assert final.message is not None and "stopped by a test" in final.message
    assert final.epoch < 10_000


def test_classify_accuracy_and_grid() -> None:
    assert classify(np.array([[0.2], [0.5]])).tolist() == [0, 1]
    assert classify(np.array([[0.1, 0.7, 0.2]])).tolist() == [1]
    net = Network([2, 1], weights=[[[1.0, 0.0]]], biases=[[0.0]])
    # a = σ(x₁): the boundary is x₁ = 0, so the grid is < ½ on the left half and > ½ on the right
    grid = decision_grid(net, (-1.0, 1.0, -2.0, 2.0), 4)
    assert grid.shape == (4, 4)
    np.testing.assert_allclose(grid[0], 1 / (1 + np.exp(-np.array([-0.75, -0.25, 0.25, 0.75]))), rtol=1e-15)
    assert np.array_equal(grid[0], grid[3])
    x = np.array([[-1.0, 0.0], [1.0, 0.0], [2.0, 5.0]])
    y = np.array([[0.0], [0.0], [1.0]])
    assert accuracy(net, x, y) == 2 / 3
    assert accuracy(net, x[:0], y[:0]) is None
