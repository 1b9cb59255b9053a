"""``backprop_lens.network`` against the book's ``network.py``, written out below in plain NumPy.

The reference (``BookNetwork``, ``book_sigmoid``) is the book's code with type hints and Python 3's
print; it shares no code with the face or the engine, so it is an independent check of the face's
shapes, the engine's gradients, the 1/m and the shuffling. Agreement is to 1e-12 (rounding: the engine
averages a batch where the book sums and divides, and computes σ'(z) in another form).
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from backprop_lens import loader, network

Array = np.ndarray[Any, np.dtype[np.float64]]


def close(got: Any, want: Any) -> None:
    """Equal to 1e-12, relative or absolute (absolute where a saturated σ'(z) is 0 in one and e^{-300} in the other)."""
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


# --- the book's network.py, written out ------------------------------------------------------------


def book_sigmoid(z: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-z))


def book_sigmoid_prime(z: Array) -> Array:
    return book_sigmoid(z) * (1 - book_sigmoid(z))


class BookNetwork:
    def __init__(self, sizes: list[int]) -> None:
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.biases: list[Array] = [np.random.randn(y, 1) for y in sizes[1:]]
        self.weights: list[Array] = [np.random.randn(y, x) for x, y in zip(sizes[:-1], sizes[1:], strict=True)]  # noqa: RUF007 - the book's form

    def feedforward(self, a: Array) -> Array:
        for b, w in zip(self.biases, self.weights, strict=True):
            a = book_sigmoid(np.dot(w, a) + b)
        return a

    def SGD(  # noqa: N802
        self,
        training_data: list[tuple[Array, Array]],
        epochs: int,
        mini_batch_size: int,
        eta: float,
        test_data: list[tuple[Array, int]] | None = None,
    ) -> None:
        if test_data:
            n_test = len(test_data)
        n = len(training_data)
        for j in range(epochs):
            random.shuffle(training_data)
            mini_batches = [training_data[k : k + mini_batch_size] for k in range(0, n, mini_batch_size)]
            for mini_batch in mini_batches:
                self.update_mini_batch(mini_batch, eta)
            if test_data:
                print(f"Epoch {j}: {self.evaluate(test_data)} / {n_test}")
            else:
                print(f"Epoch {j} complete")

    def update_mini_batch(self, mini_batch: list[tuple[Array, Array]], eta: float) -> None:
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b, strict=True)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w, strict=True)]
        self.weights = [w - (eta / len(mini_batch)) * nw for w, nw in zip(self.weights, nabla_w, strict=True)]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b, strict=True)]

    def backprop(self, x: Array, y: Array) -> tuple[list[Array], list[Array]]:
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights, strict=True):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = book_sigmoid(z)
            activations.append(activation)
        delta = self.cost_derivative(activations[-1], y) * book_sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):  # noqa: E741 - the book's name
            z = zs[-l]
            sp = book_sigmoid_prime(z)
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return (nabla_b, nabla_w)

    def evaluate(self, test_data: list[tuple[Array, int]]) -> int:
        test_results = [(np.argmax(self.feedforward(x)), y) for (x, y) in test_data]
        return sum(int(x == y) for (x, y) in test_results)

    def cost_derivative(self, output_activations: Array, y: Array) -> Array:
        return output_activations - y


# --- helpers -----------------------------------------------------------------------------------------


def twins(sizes: list[int], seed: int) -> tuple[network.Network, BookNetwork]:
    """The face's network and the book's, both drawn from the same ``np.random.seed``."""
    np.random.seed(seed)
    face = network.Network(sizes)
    np.random.seed(seed)
    book = BookNetwork(sizes)
    return face, book


def assert_same_parameters(face: network.Network, book: BookNetwork) -> None:
    for fb, bb in zip(face.biases, book.biases, strict=True):
        assert fb.shape == bb.shape
        close(fb, bb)
    for fw, bw in zip(face.weights, book.weights, strict=True):
        assert fw.shape == bw.shape
        close(fw, bw)


def random_pairs(sizes: list[int], m: int, seed: int) -> list[tuple[Array, Array]]:
    rng = np.random.default_rng(seed)
    return [(rng.uniform(-1, 1, (sizes[0], 1)), rng.uniform(0, 1, (sizes[-1], 1))) for _ in range(m)]


def digits_slice(n_train: int, n_test: int) -> tuple[list[tuple[Array, Array]], list[tuple[Array, int]]]:
    training_data, _, test_data = loader.load_data_wrapper()
    return training_data[:n_train], test_data[:n_test]


# --- the numbers ---------------------------------------------------------------------------------------


def test_the_network_is_drawn_as_the_books() -> None:
    face, book = twins([4, 3, 2], seed=3)
    assert face.num_layers == 3
    assert face.sizes == [4, 3, 2]
    for fb, bb in zip(face.biases, book.biases, strict=True):
        assert np.array_equal(fb, bb)
    for fw, bw in zip(face.weights, book.weights, strict=True):
        assert np.array_equal(fw, bw)
    assert [b.shape for b in face.biases] == [(3, 1), (2, 1)]
    assert [w.shape for w in face.weights] == [(3, 4), (2, 3)]


@pytest.mark.parametrize("sizes", [[4, 3, 2], [3, 5, 4, 2], [1, 1, 1], [2, 1]])
def test_feedforward_and_backprop_give_the_books_numbers(sizes: list[int]) -> None:
    face, book = twins(sizes, seed=7)
    for x, y in random_pairs(sizes, 5, seed=1):
        close(face.feedforward(x), book.feedforward(x))
        nabla_b, nabla_w = face.backprop(x, y)
        book_b, book_w = book.backprop(x, y)
        for got, want in [*zip(nabla_b, book_b, strict=True), *zip(nabla_w, book_w, strict=True)]:
            assert got.shape == want.shape
            close(got, want)


def test_a_saturated_layer_gives_the_books_vanishing_gradient() -> None:
    face, book = twins([1, 1, 1], seed=0)
    for net in (face, book):
        net.weights = [np.array([[300.0]]), np.array([[-200.0]])]
        net.biases = [np.array([[0.0]]), np.array([[0.0]])]
    x, y = np.array([[1.0]]), np.array([[1.0]])
    nabla_b, nabla_w = face.backprop(x, y)
    book_b, book_w = book.backprop(x, y)
    for got, want in [*zip(nabla_b, book_b, strict=True), *zip(nabla_w, book_w, strict=True)]:
        close(got, want)
    assert abs(float(nabla_w[0][0, 0])) < 1e-100  # σ'(300) ≈ e^{-300}: learning has stopped in layer 2


def test_update_mini_batch_makes_new_arrays_with_the_books_numbers() -> None:
    face, book = twins([3, 4, 2], seed=5)
    held = face.weights[0]
    before = held.copy()
    batch = random_pairs([3, 4, 2], 7, seed=2)
    face.update_mini_batch(batch, 0.8)
    book.update_mini_batch(batch, 0.8)
    assert_same_parameters(face, book)
    assert face.weights[0] is not held
    assert np.array_equal(held, before)  # as with the book's list comprehensions


def test_reassigned_parameters_are_the_ones_used() -> None:
    face, book = twins([2, 3, 2], seed=1)
    weights = [2.0 * w for w in face.weights]
    biases = [b - 1.0 for b in face.biases]
    face.weights, face.biases = weights, biases
    book.weights, book.biases = [w.copy() for w in weights], [b.copy() for b in biases]
    x = np.array([[0.3], [-0.7]])
    close(face.feedforward(x), book.feedforward(x))
    face.weights = [w.tolist() for w in weights]  # lists of rows are numbers too, as np.dot takes them
    close(face.feedforward(x), book.feedforward(x))


def test_sgd_on_the_digits_ends_with_the_books_weights_and_prints_its_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    face, book = twins([64, 12, 10], seed=4)
    training_data, test_data = digits_slice(120, 60)
    face_data, book_data = list(training_data), list(training_data)
    random.seed(9)
    face.SGD(face_data, 3, 10, 3.0, test_data=test_data)
    face_out = capsys.readouterr().out
    random.seed(9)
    book.SGD(book_data, 3, 10, 3.0, test_data=test_data)
    book_out = capsys.readouterr().out
    assert_same_parameters(face, book)
    assert [id(x) for x, _ in face_data] == [id(x) for x, _ in book_data]  # shuffled in place, the same way
    assert face_out == book_out
    lines = face_out.splitlines()
    assert len(lines) == 3
    for j, line in enumerate(lines):
        assert line.startswith(f"Epoch {j}: ") and line.endswith(" / 60")


def test_sgd_without_test_data_prints_epoch_complete(capsys: pytest.CaptureFixture[str]) -> None:
    face, book = twins([3, 2, 2], seed=2)
    data = random_pairs([3, 2, 2], 9, seed=3)
    random.seed(1)
    face.SGD(list(data), 2, 4, 1.0)
    assert capsys.readouterr().out == "Epoch 0 complete\nEpoch 1 complete\n"
    random.seed(1)
    book.SGD(list(data), 2, 4, 1.0)
    capsys.readouterr()
    assert_same_parameters(face, book)  # the last mini-batch of each epoch is shorter (9 = 4 + 4 + 1)


def test_evaluate_counts_as_the_book_does() -> None:
    face, book = twins([64, 10], seed=6)
    _, test_data = digits_slice(1, 80)
    assert face.evaluate(test_data) == book.evaluate(test_data)
    labelled_by_numpy = [(x, np.int64(y)) for x, y in test_data]
    assert face.evaluate(labelled_by_numpy) == book.evaluate(test_data)


def test_sigmoid_cost_derivative_and_sigmoid_prime_are_the_books() -> None:
    z = np.linspace(-30, 30, 13).reshape(-1, 1)
    close(network.sigmoid(z), book_sigmoid(z))
    close(network.sigmoid_prime(z), book_sigmoid_prime(z))
    face, _ = twins([2, 3], seed=0)
    a, y = np.array([[0.2], [0.9], [0.5]]), np.array([[0.0], [1.0], [0.5]])
    close(face.cost_derivative(a, y), a - y)


# --- bad input gets a sentence ---------------------------------------------------------------------------

ROW = "looks like a row; the book's vectors are columns of shape \\(4, 1\\)"


def bad(value: object) -> Any:
    """A value of the wrong type, let past the type checker on purpose."""
    return value


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda net: net.feedforward(np.ones((1, 4))), f"a has shape \\(1, 4\\), which {ROW} \\(use .T\\)"),
        (
            lambda net: net.feedforward(np.ones(4)),
            "a is a flat vector of shape \\(4,\\); .* \\(use .reshape\\(4, 1\\)\\)",
        ),
        (lambda net: net.feedforward(np.ones((5, 1))), "a has shape \\(5, 1\\), but the input layer has 4 neurons"),
        (lambda net: net.feedforward(np.ones((4, 2))), "a has shape \\(4, 2\\); the book's vectors are columns"),
        (lambda net: net.backprop(np.ones((4, 1)), bad(3)), "y is the int 3, .* use vectorized_result\\(3\\)"),
        (lambda net: net.backprop(np.ones((4, 1)), np.ones((1, 2))), "y has shape \\(1, 2\\), which looks like a row"),
        (lambda net: net.backprop(np.ones((4, 1)), np.ones((3, 1))), "but the output layer has 2 neurons"),
        (
            lambda net: net.update_mini_batch([(np.ones((4, 1)), bad(1))], 1.0),
            "mini_batch\\[0\\]: y is the int 1, but the book's training targets are one-hot",
        ),
        (
            lambda net: net.update_mini_batch([(np.ones((1, 4)), np.ones((2, 1)))], 1.0),
            f"mini_batch\\[0\\]: x has shape \\(1, 4\\), which {ROW}",
        ),
        (lambda net: net.update_mini_batch([], 1.0), "mini_batch is empty"),
        (lambda net: net.update_mini_batch([bad(np.ones((4, 1)))], 1.0), "mini_batch\\[0\\] is a ndarray, not a pair"),
        (lambda net: net.feedforward(bad("abc")), "a is not an array of numbers"),
        (
            lambda net: net.evaluate([(np.ones((4, 1)), np.ones((2, 1)))]),
            "test_data\\[0\\]: y is an array of shape \\(2, 1\\), not an int label; evaluate wants",
        ),
        (lambda net: net.evaluate([(np.ones((4, 1)), 7)]), "label 7 names no neuron of the output layer"),
        (lambda net: net.evaluate(bad(zip([np.ones((4, 1))], [0], strict=True))), "pass list\\(test_data\\)"),
        (
            lambda net: net.SGD(bad(tuple([(np.ones((4, 1)), np.ones((2, 1)))])), 1, 1, 1.0),
            "SGD shuffles it in place, .* so it must be a list; got a tuple",
        ),
        (lambda net: net.SGD([(np.ones((4, 1)), np.ones((2, 1)))], 1, 0, 1.0), "mini_batch_size: expected"),
        (lambda net: net.SGD([(np.ones((4, 1)), np.ones((2, 1)))], 1, 1, bad("fast")), "eta: expected a number"),
        (
            lambda net: net.SGD([(np.ones((4, 1)), np.ones((2, 1))), (np.ones((4, 1)), bad(0))], 1, 1, 1.0),
            "training_data\\[1\\]: y is the int 0",
        ),
    ],
)
def test_bad_input_gets_a_sentence(call: Any, message: str) -> None:
    np.random.seed(0)
    net = network.Network([4, 3, 2])
    with pytest.raises((ValueError, TypeError), match=message):
        call(net)


def test_sgd_checks_everything_before_training(capsys: pytest.CaptureFixture[str]) -> None:
    np.random.seed(0)
    net = network.Network([4, 3, 2])
    before = [w.copy() for w in net.weights]
    data = [(np.ones((4, 1)), np.ones((2, 1)))] * 5 + [(np.ones((4, 1)), bad(1))]
    with pytest.raises(ValueError, match="training_data\\[5\\]: y is the int 1"):
        net.SGD(data, 2, 2, 1.0)
    assert all(np.array_equal(w, b) for w, b in zip(net.weights, before, strict=True))
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("weights", "biases", "message"),
    [
        ([np.ones((4, 3)), np.ones((2, 3))], None, "weights\\[0\\] has shape \\(4, 3\\); .* it must be \\(3, 4\\)"),
        (None, [np.ones(3), np.ones((2, 1))], "biases\\[0\\] is a flat vector of shape \\(3,\\)"),
        (None, [np.ones((3, 1))], "biases: expected a list of 2 arrays for sizes \\[4, 3, 2\\], got 1"),
    ],
)
def test_reassigned_parameters_of_the_wrong_shape_get_a_sentence(
    weights: list[Array] | None, biases: list[Array] | None, message: str
) -> None:
    np.random.seed(0)
    net = network.Network([4, 3, 2])
    if weights is not None:
        net.weights = weights
    if biases is not None:
        net.biases = biases
    with pytest.raises(ValueError, match=message):
        net.feedforward(np.ones((4, 1)))


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ([3], "at least an input and an output layer"),
        ([3, 0, 2], "every layer needs at least one neuron"),
        ([3, 2.5], "whole numbers of neurons per layer"),
        ("3, 2", "expected a list of neurons per layer"),
    ],
)
def test_bad_sizes_get_a_sentence(sizes: Any, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        network.Network(sizes)
