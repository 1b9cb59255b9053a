"""The training session: its history against a plain SGD run, pause and stop, divergence, the grid."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
from numpy.typing import NDArray

from backprop_lens.engine import Network
from backprop_lens.engine.backprop import feedforward
from backprop_lens.engine.datasets import generated
from backprop_lens.engine.sgd import SGD, update_mini_batch
from backprop_lens.engine.training import (
    Checkpoint,
    EpochRecord,
    TrainingSession,
    accuracy,
    classify,
    decision_grid,
    neuron_grids,
)

Array = NDArray[np.float64]
XOR = generated("xor", n=4, noise=0.0, test_fraction=0.0, seed=0)


def _book_sgd(net: Network, X: Array, Y: Array, epochs: int, size: int, eta: float, seed: int) -> list[Array]:
    """The book's network.py (network2.py's loop below with λ = 0): the weights after ``epochs`` epochs.

    Shuffled as the engine documents: one generator seeded once, a permutation per epoch.
    """
    return _book_epochs(net, X, Y, epochs, size, eta, 0.0, seed)[-1][0]


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


def _book_epochs(
    net: Network, X: Array, Y: Array, epochs: int, size: int, eta: float, lmbda: float, seed: int
) -> list[tuple[list[Array], list[Array], list[float], list[Array]]]:
    """network2.py's loop written out here (column vectors, sigmoid, quadratic cost, L2's eq. 93), per epoch:
    the weights and biases after it, each layer's mean over its mini-batches of mean_j |∂C/∂b^l_j|
    (∂C/∂b^l = the mini-batch's mean δ^l) and the mean over its mini-batches of ∂C₀/∂w^l."""
    W = [w.copy() for w in net.weights]
    B = [b.reshape(-1, 1).copy() for b in net.biases]
    n = len(X)

    def sigma(z: Array) -> Array:
        return np.asarray(1.0 / (1.0 + np.exp(-z)))

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(epochs):
        order = rng.permutation(n)
        speeds: list[list[float]] = [[] for _ in W]
        grads = [np.zeros_like(w) for w in W]
        batches = 0
        for k in range(0, n, size):
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
            m = len(batch)
            for layer in range(len(W)):
                speeds[layer].append(float(np.mean(np.abs(nabla_b[layer] / m))))
                grads[layer] += nabla_w[layer] / m
            batches += 1
            W = [(1 - eta * lmbda / n) * w - eta / m * nw for w, nw in zip(W, nabla_w, strict=True)]
            B = [b - eta / m * nb for b, nb in zip(B, nabla_b, strict=True)]
        out.append(([w.copy() for w in W], [b.ravel() for b in B], [sum(s) / batches for s in speeds],
                    [g / batches for g in grads]))  # fmt: skip
    return out


def test_layer_speeds_test_cost_and_mean_gradients_equal_the_books_loop_with_l2() -> None:
    data = generated("circles", n=50, noise=0.1, test_fraction=0.2, seed=1)
    net = Network([2, 5, 3, 1], seed=2)
    session = TrainingSession(net, data, epochs=3, mini_batch_size=7, eta=0.8, cost="quadratic", seed=4, lmbda=2.5)
    report = session.run()
    book = _book_epochs(net, data.x_train, data.y_train, 3, 7, 0.8, 2.5, seed=4)
    history = session.history_since(0)
    for record, (W, B, speeds, _) in zip(history, book, strict=True):
        assert len(record.speeds) == 3
        np.testing.assert_allclose(record.speeds, speeds, rtol=1e-10)
        assert record.eta == 0.8
        # the test cost: C₀ = (1/2m) Σ ||y − a||² on the held-out examples with that epoch's weights
        a = data.x_test
        for w, b in zip(W, B, strict=True):
            a = 1.0 / (1.0 + np.exp(-(a @ w.T + b)))
        assert record.test_cost == pytest.approx(
            0.5 * float(np.mean(np.sum((a - data.y_test) ** 2, axis=1))), rel=1e-10
        )
    for a, b in zip(report.network.weights, book[-1][0], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-14)
    assert report.mean_nabla_w is not None
    for a, b in zip(report.mean_nabla_w, book[-1][3], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-15)
    assert history[0].speeds[0] < history[0].speeds[2], "sigmoid layers: the first learns slower than the last"


def test_no_test_set_has_no_test_cost() -> None:
    session = TrainingSession(Network([2, 3, 1], seed=0), XOR, 2, 4, 1.0, seed=0)
    session.run()
    assert [h.test_cost for h in session.history_since(0)] == [None, None]


def _wait_for(session: TrainingSession, ok: Callable[[], bool]) -> None:
    for _ in range(2000):
        if ok():
            return
        threading.Event().wait(0.005)
    raise AssertionError(f"never happened; report: {session.report()}")


def test_one_mini_batch_while_paused_and_eta_changed_mid_run() -> None:
    data = generated("moons", n=40, noise=0.1, test_fraction=0.0, seed=0)  # 40 examples, m = 10: 4 per epoch
    net = Network([2, 3, 1], seed=0)
    session = TrainingSession(net, data, 50, 10, 1.0, "quadratic", seed=5)
    assert not session.step(), "not paused: nothing to step"
    session.pause()
    session.start()
    _wait_for(session, lambda: session.report().state == "paused")
    at = session.report()
    assert (at.epoch, at.batch) == (1, 1)  # paused after its first mini-batch
    for where in [(1, 2), (1, 3), (1, 4), (2, 1)]:
        version = session.report().version

        def stepped(v: int = version) -> bool:
            return session.report().version > v and session.report().state == "paused"

        assert session.step()
        _wait_for(session, stepped)
        now = session.report()
        assert (now.epoch, now.batch) == where
    assert [h.epoch for h in session.history_since(0)] == [1]
    session.set_eta(0.25)  # from mini-batch 2 of epoch 2 on
    with pytest.raises(ValueError, match="eta"):
        session.set_eta(float("nan"))
    session.stop("stopped by a test")
    session.join(5)
    # the same weights as one plain run of 5 mini-batches with η = 1, then …
    history = session.history_since(0)
    assert history[0].eta == 1.0
    final = session.report()
    assert final.state == "stopped" and (final.epoch, final.batch) == (2, 2)
    rng = np.random.default_rng(5)  # the shuffles, as engine.sgd.mini_batches documents them
    order1, order2 = rng.permutation(40), rng.permutation(40)
    expected = net
    for idx, eta in [(order1[0:10], 1.0), (order1[10:20], 1.0), (order1[20:30], 1.0), (order1[30:40], 1.0),
                     (order2[0:10], 1.0), (order2[10:20], 0.25)]:  # fmt: skip
        expected = update_mini_batch(expected, data.x_train[idx], data.y_train[idx], eta)
    for a, b in zip(final.network.weights, expected.weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)


def test_neuron_grids_are_a_forward_pass_at_the_grid_points() -> None:
    net = Network([2, 3, 2, 1], activation=["tanh", "relu", "sigmoid"], seed=3)
    bounds = (-2.0, 1.0, -0.5, 3.5)
    grids = neuron_grids(net, bounds, 5)
    assert [g.shape for g in grids] == [(3, 5, 5), (2, 5, 5)]
    w2, b2, w3, b3 = net.weights[0], net.biases[0], net.weights[1], net.biases[1]
    for row in range(5):
        for col in range(5):
            x = np.array([-2.0 + (col + 0.5) * 3.0 / 5, 3.5 - (row + 0.5) * 4.0 / 5])
            h1 = np.tanh(w2 @ x + b2)
            h2 = np.maximum(w3 @ h1 + b3, 0.0)
            np.testing.assert_allclose(grids[0][:, row, col], h1, rtol=1e-13, atol=1e-15)
            np.testing.assert_allclose(grids[1][:, row, col], h2, rtol=1e-13, atol=1e-15)
    assert neuron_grids(Network([2, 1], seed=0), bounds, 4) == []


def test_speeds_at_the_extremes_deep_saturated_and_one_neuron_wide() -> None:
    """Chapter 5's picture: in a deep sigmoid network the early layers learn orders of magnitude slower; a layer one
    neuron wide and a saturated one (|z| in the hundreds, δ underflowing to 0) give finite speeds, 0 for the dead."""
    data = generated("circles", n=40, noise=0.1, test_fraction=0.25, seed=0)
    deep = TrainingSession(Network([2, 8, 8, 8, 8, 1], seed=0, init="standard"), data, 1, 10, 0.1, "quadratic", seed=0)
    deep.run()
    speeds = deep.history_since(0)[0].speeds
    assert len(speeds) == 5 and all(np.isfinite(speeds))
    assert speeds[0] < speeds[-1] / 10, speeds
    narrow = Network([2, 1, 1], weights=[[[0.0, 0.0]], [[1.0]]], biases=[[300.0], [0.0]])  # z² = 300 everywhere
    session = TrainingSession(narrow, data, 1, 10, 0.5, "quadratic", seed=0)
    session.run()
    first, second = session.history_since(0)[0].speeds
    assert np.isfinite(second) and second > 0 and 0 <= first < 1e-100  # σ'(z) with |z| ~ 300 is e^-300 or 0


def test_a_session_restored_from_a_checkpoint_ends_where_an_uninterrupted_one_does() -> None:
    """Stopped at the end of epoch 3, its checkpoint through JSON, a new session on the same configuration restored
    from it: the final weights are the book's loop's (written out in ``_book_epochs``, an independent reference)
    to 1e-12, and the uninterrupted session's bit for bit, with the same history apart from the times."""
    data = generated("moons", n=50, noise=0.1, test_fraction=0.2, seed=4)
    net = Network([2, 4, 3, 1], seed=5)

    def session() -> TrainingSession:
        return TrainingSession(net, data, epochs=7, mini_batch_size=6, eta=0.8, cost="quadratic", seed=9, lmbda=2.0)

    whole = session()
    assert whole.checkpoint() is None
    whole.run()
    first = session()
    first.run(on_epoch=lambda record: first.stop() if record.epoch == 3 else None)
    checkpoint = first.checkpoint()
    assert checkpoint is not None and checkpoint.epoch == 3 and len(checkpoint.history) == 3
    saved = json.loads(json.dumps(checkpoint.to_dict()))
    second = session()
    second.restore(Checkpoint.from_dict(saved, net))
    assert second.report().epoch == 3 and second.report().fraction == pytest.approx(3 / 7)
    report = second.run()
    assert report.state == "finished" and report.epoch == 7
    book_w, book_b, _, _ = _book_epochs(net, data.x_train, data.y_train, 7, 6, 0.8, 2.0, seed=9)[-1]
    for got, want in zip([*report.network.weights, *report.network.biases], [*book_w, *book_b], strict=True):
        np.testing.assert_allclose(got, want.reshape(got.shape), rtol=1e-12, atol=1e-14)
    for got, want in zip(report.network.packed, whole.report().network.packed, strict=True):
        assert np.array_equal(got, want)
    untimed = [replace(h, seconds=0.0) for h in second.history_since(0)]
    assert untimed == [replace(h, seconds=0.0) for h in whole.history_since(0)]
    assert [h.epoch for h in untimed] == list(range(1, 8)) and report.seconds >= checkpoint.seconds
    with pytest.raises(RuntimeError, match="started already"):
        second.restore(checkpoint)


def test_a_checkpoint_keeps_the_eta_in_force() -> None:
    """η changed after epoch 1: a session restored after epoch 2 trains on with the new η, as the uninterrupted one."""
    net = Network([2, 3, 1], seed=2)

    def session() -> TrainingSession:
        return TrainingSession(net, XOR, epochs=5, mini_batch_size=2, eta=3.0, seed=1)

    def change(s: TrainingSession, stop_after: int | None) -> Callable[[EpochRecord], None]:
        def on_epoch(record: EpochRecord) -> None:
            if record.epoch == 1:
                s.set_eta(0.5)
            if record.epoch == stop_after:
                s.stop()

        return on_epoch

    whole, first = session(), session()
    whole.run(change(whole, None))
    first.run(change(first, 2))
    checkpoint = first.checkpoint()
    assert checkpoint is not None and checkpoint.eta == 0.5
    second = session()
    second.restore(checkpoint)
    assert second.eta == 0.5
    final = second.run()
    assert [h.eta for h in second.history_since(0)] == [3.0, 0.5, 0.5, 0.5, 0.5]
    at_three = SGD(net, XOR.x_train, XOR.y_train, 5, 2, 3.0, seed=1)  # had η been lost, the weights would be these
    assert not np.array_equal(final.network.weights[0], at_three.weights[0])
    assert all(np.array_equal(a, b) for a, b in zip(final.network.packed, whole.report().network.packed, strict=True))
