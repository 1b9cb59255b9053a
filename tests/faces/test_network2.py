"""``backprop_lens.network2`` against the book's ``network2.py``, written out below in plain NumPy.

The reference (``BookNetwork2`` and its two cost classes) is the book's code with type hints and
Python 3's print; it shares no code with the face or the engine. Agreement is to 1e-12. The save/load
checks read and write the JSON with the ``json`` module directly, not through the face.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backprop_lens import loader, network2

Array = np.ndarray[Any, np.dtype[np.float64]]


def close(got: Any, want: Any) -> None:
    """Equal to 1e-12, relative or absolute (absolute where a saturated σ'(z) is 0 in one and e^{-300} in the other)."""
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


Data = list[tuple[Array, Array]]
Labelled = list[tuple[Array, int]]


# --- the book's network2.py, written out ---------------------------------------------------------------


def book_sigmoid(z: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-z))


def book_sigmoid_prime(z: Array) -> Array:
    return book_sigmoid(z) * (1 - book_sigmoid(z))


def book_vectorized_result(j: int) -> Array:
    e = np.zeros((10, 1))
    e[j] = 1.0
    return e


class BookQuadraticCost:
    @staticmethod
    def fn(a: Array, y: Array) -> float:
        return float(0.5 * np.linalg.norm(a - y) ** 2)

    @staticmethod
    def delta(z: Array, a: Array, y: Array) -> Array:
        return (a - y) * book_sigmoid_prime(z)


class BookCrossEntropyCost:
    @staticmethod
    def fn(a: Array, y: Array) -> float:
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a))))

    @staticmethod
    def delta(z: Array, a: Array, y: Array) -> Array:
        return a - y


class BookNetwork2:
    def __init__(self, sizes: list[int], cost: type[network2.BookCost]) -> None:
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.biases: list[Array] = []
        self.weights: list[Array] = []
        self.cost = cost

    def feedforward(self, a: Array) -> Array:
        for b, w in zip(self.biases, self.weights, strict=True):
            a = book_sigmoid(np.dot(w, a) + b)
        return a

    def SGD(  # noqa: N802
        self,
        training_data: Data,
        epochs: int,
        mini_batch_size: int,
        eta: float,
        lmbda: float,
        evaluation_data: Labelled,
    ) -> tuple[list[float], list[int], list[float], list[int]]:
        """Every monitor on, as the book prints them."""
        n_data = len(evaluation_data)
        n = len(training_data)
        evaluation_cost, evaluation_accuracy = [], []
        training_cost, training_accuracy = [], []
        for j in range(epochs):
            random.shuffle(training_data)
            mini_batches = [training_data[k : k + mini_batch_size] for k in range(0, n, mini_batch_size)]
            for mini_batch in mini_batches:
                self.update_mini_batch(mini_batch, eta, lmbda, len(training_data))
            print(f"Epoch {j} training complete")
            cost = self.total_cost(training_data, lmbda)
            training_cost.append(cost)
            print(f"Cost on training data: {cost}")
            accuracy = self.accuracy(training_data, convert=True)
            training_accuracy.append(accuracy)
            print(f"Accuracy on training data: {accuracy} / {n}")
            cost = self.total_cost(evaluation_data, lmbda, convert=True)
            evaluation_cost.append(cost)
            print(f"Cost on evaluation data: {cost}")
            accuracy = self.accuracy(evaluation_data)
            evaluation_accuracy.append(accuracy)
            print(f"Accuracy on evaluation data: {accuracy} / {n_data}")
            print()
        return evaluation_cost, evaluation_accuracy, training_cost, training_accuracy

    def update_mini_batch(self, mini_batch: Data, eta: float, lmbda: float, n: int) -> None:
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b, strict=True)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w, strict=True)]
        self.weights = [
            (1 - eta * (lmbda / n)) * w - (eta / len(mini_batch)) * nw
            for w, nw in zip(self.weights, nabla_w, strict=True)
        ]
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
        delta = (self.cost).delta(zs[-1], activations[-1], y)
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):  # noqa: E741 - the book's name
            z = zs[-l]
            sp = book_sigmoid_prime(z)
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return (nabla_b, nabla_w)

    def accuracy(self, data: Any, convert: bool = False) -> int:
        if convert:
            results = [(np.argmax(self.feedforward(x)), np.argmax(y)) for (x, y) in data]
        else:
            results = [(np.argmax(self.feedforward(x)), y) for (x, y) in data]
        return sum(int(x == y) for (x, y) in results)

    def total_cost(self, data: Any, lmbda: float, convert: bool = False) -> float:
        cost = 0.0
        for x, y in data:
            a = self.feedforward(x)
            if convert:
                y = book_vectorized_result(y)
            cost += self.cost.fn(a, y) / len(data)
        cost += 0.5 * (lmbda / len(data)) * sum(float(np.linalg.norm(w)) ** 2 for w in self.weights)
        return cost


# --- helpers -----------------------------------------------------------------------------------------

FACE_AND_BOOK_COSTS = [
    (network2.QuadraticCost, BookQuadraticCost),
    (network2.CrossEntropyCost, BookCrossEntropyCost),
]


def twins(
    sizes: list[int], face_cost: type[network2.BookCost], book_cost: type[network2.BookCost], seed: int
) -> tuple[network2.Network, BookNetwork2]:
    """The face's network and the book's with the book's default initialisation from the same seed."""
    np.random.seed(seed)
    face = network2.Network(sizes, cost=face_cost)
    book = BookNetwork2(sizes, book_cost)
    np.random.seed(seed)
    book.biases = [np.random.randn(y, 1) for y in sizes[1:]]
    book.weights = [np.random.randn(y, x) / np.sqrt(x) for x, y in zip(sizes[:-1], sizes[1:], strict=True)]  # noqa: RUF007 - the book's form
    return face, book


def assert_same_parameters(face: network2.Network, book: BookNetwork2) -> None:
    for got, want in [*zip(face.biases, book.biases, strict=True), *zip(face.weights, book.weights, strict=True)]:
        assert got.shape == want.shape
        close(got, want)


def digits_slices(n_train: int, n_eval: int) -> tuple[Data, Labelled]:
    training_data, validation_data, _ = loader.load_data_wrapper()
    return training_data[:n_train], validation_data[:n_eval]


# --- the numbers ---------------------------------------------------------------------------------------


def test_both_initializers_draw_as_the_books() -> None:
    np.random.seed(12)
    net = network2.Network([5, 4, 3])
    np.random.seed(12)
    biases = [np.random.randn(y, 1) for y in [4, 3]]
    weights = [np.random.randn(4, 5) / np.sqrt(5), np.random.randn(3, 4) / np.sqrt(4)]
    assert all(np.array_equal(g, w) for g, w in zip(net.biases + net.weights, biases + weights, strict=True))
    assert net.cost is network2.CrossEntropyCost
    np.random.seed(13)
    net.large_weight_initializer()
    np.random.seed(13)
    biases = [np.random.randn(y, 1) for y in [4, 3]]
    weights = [np.random.randn(4, 5), np.random.randn(3, 4)]
    assert all(np.array_equal(g, w) for g, w in zip(net.biases + net.weights, biases + weights, strict=True))


@pytest.mark.parametrize(("face_cost", "book_cost"), FACE_AND_BOOK_COSTS)
def test_cost_classes_give_the_books_fn_and_delta(
    face_cost: type[network2.BookCost], book_cost: type[network2.BookCost]
) -> None:
    rng = np.random.default_rng(4)
    z = rng.uniform(-6, 6, (5, 1))
    a = book_sigmoid(z)
    y = rng.uniform(0, 1, (5, 1))
    assert face_cost.fn(a, y) == pytest.approx(book_cost.fn(a, y), rel=1e-12)
    close(face_cost.delta(z, a, y), book_cost.delta(z, a, y))
    # saturated: a has rounded to exactly 1 where y is 1, and ln 0 is counted as 0
    one = np.array([[1.0], [0.0]])
    assert face_cost.fn(one, one) == book_cost.fn(one, one) == 0.0


@pytest.mark.parametrize(("face_cost", "book_cost"), FACE_AND_BOOK_COSTS)
@pytest.mark.parametrize("sizes", [[4, 3, 2], [3, 5, 4, 2], [1, 1, 1]])
def test_backprop_gives_the_books_numbers(
    sizes: list[int], face_cost: type[network2.BookCost], book_cost: type[network2.BookCost]
) -> None:
    face, book = twins(sizes, face_cost, book_cost, seed=8)
    rng = np.random.default_rng(5)
    for _ in range(4):
        x, y = rng.uniform(-1, 1, (sizes[0], 1)), rng.uniform(0, 1, (sizes[-1], 1))
        close(face.feedforward(x), book.feedforward(x))
        nabla_b, nabla_w = face.backprop(x, y)
        book_b, book_w = book.backprop(x, y)
        for got, want in [*zip(nabla_b, book_b, strict=True), *zip(nabla_w, book_w, strict=True)]:
            assert got.shape == want.shape
            close(got, want)


@pytest.mark.parametrize(("face_cost", "book_cost"), FACE_AND_BOOK_COSTS)
def test_sgd_with_l2_and_every_monitor_matches_the_book(
    face_cost: type[network2.BookCost], book_cost: type[network2.BookCost], capsys: pytest.CaptureFixture[str]
) -> None:
    face, book = twins([64, 12, 10], face_cost, book_cost, seed=3)
    training_data, evaluation_data = digits_slices(110, 40)
    face_data, book_data = list(training_data), list(training_data)
    random.seed(21)
    got = face.SGD(
        face_data, 3, 10, 0.5, lmbda=5.0, evaluation_data=evaluation_data,
        monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
        monitor_training_cost=True, monitor_training_accuracy=True,
    )  # fmt: skip
    face_out = capsys.readouterr().out
    random.seed(21)
    want = book.SGD(book_data, 3, 10, 0.5, 5.0, evaluation_data)
    book_out = capsys.readouterr().out
    assert_same_parameters(face, book)
    assert [id(x) for x, _ in face_data] == [id(x) for x, _ in book_data]
    for got_costs, want_costs in [(got[0], want[0]), (got[2], want[2])]:
        np.testing.assert_allclose(got_costs, want_costs, rtol=1e-12)
    assert (got[1], got[3]) == (want[1], want[3])
    # the printed costs agree to rounding; every other character is the book's
    assert len(face_out.splitlines()) == len(book_out.splitlines()) == 18
    for face_line, book_line in zip(face_out.splitlines(), book_out.splitlines(), strict=True):
        if face_line.startswith("Cost on"):
            head, _, value = face_line.rpartition(" ")
            book_head, _, book_value = book_line.rpartition(" ")
            assert head == book_head
            assert float(value) == pytest.approx(float(book_value), rel=1e-12)
        else:
            assert face_line == book_line
    assert face_out.startswith("Epoch 0 training complete\nCost on training data: ")
    assert "Accuracy on evaluation data: " in face_out and face_out.endswith(" / 40\n\n")


def test_sgd_without_monitors_returns_four_empty_lists(capsys: pytest.CaptureFixture[str]) -> None:
    np.random.seed(0)
    net = network2.Network([64, 10])
    training_data, _ = digits_slices(20, 1)
    assert net.SGD(training_data, 2, 5, 0.1) == ([], [], [], [])
    assert capsys.readouterr().out == "Epoch 0 training complete\n\nEpoch 1 training complete\n\n"


def test_total_cost_and_accuracy_with_both_conversions_match_the_book() -> None:
    face, book = twins([64, 10, 10], network2.CrossEntropyCost, BookCrossEntropyCost, seed=2)
    training_data, evaluation_data = digits_slices(30, 30)
    assert face.total_cost(training_data, 3.0) == pytest.approx(book.total_cost(training_data, 3.0), rel=1e-12)
    assert face.total_cost(evaluation_data, 3.0, convert=True) == pytest.approx(
        book.total_cost(evaluation_data, 3.0, convert=True), rel=1e-12
    )
    assert face.accuracy(training_data, convert=True) == book.accuracy(training_data, convert=True)
    assert face.accuracy(evaluation_data) == book.accuracy(evaluation_data)


class HalfQuadratic:
    """A cost of one's own, as the book's interface allows: C_x = ¼‖a − y‖²."""

    @staticmethod
    def fn(a: Array, y: Array) -> float:
        return float(0.25 * np.sum((a - y) ** 2))

    @staticmethod
    def delta(z: Array, a: Array, y: Array) -> Array:
        return 0.5 * (a - y) * book_sigmoid_prime(z)


def test_a_cost_class_of_ones_own_trains_as_in_the_book(capsys: pytest.CaptureFixture[str]) -> None:
    face, book = twins([64, 8, 10], HalfQuadratic, HalfQuadratic, seed=6)
    training_data, evaluation_data = digits_slices(50, 20)
    random.seed(2)
    face.SGD(list(training_data), 2, 8, 1.0, lmbda=1.0)
    random.seed(2)
    book.SGD(list(training_data), 2, 8, 1.0, 1.0, evaluation_data)
    capsys.readouterr()
    assert_same_parameters(face, book)
    assert face.total_cost(training_data, 1.0) == pytest.approx(book.total_cost(training_data, 1.0), rel=1e-12)


# --- save and load -------------------------------------------------------------------------------------


def test_save_writes_the_books_json_and_load_reads_it_back(tmp_path: Path) -> None:
    np.random.seed(1)
    net = network2.Network([3, 4, 2], cost=network2.QuadraticCost)
    path = tmp_path / "net.json"
    net.save(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data == {
        "sizes": [3, 4, 2],
        "weights": [w.tolist() for w in net.weights],
        "biases": [b.tolist() for b in net.biases],
        "cost": "QuadraticCost",
    }
    again = network2.load(str(path))
    assert again.cost is network2.QuadraticCost
    assert again.sizes == [3, 4, 2] and again.num_layers == 3
    for got, want in [*zip(again.weights, net.weights, strict=True), *zip(again.biases, net.biases, strict=True)]:
        assert got.shape == want.shape
        assert np.array_equal(got, want)  # JSON keeps every digit of a float


def test_load_reads_a_file_written_by_the_books_save(tmp_path: Path) -> None:
    path = tmp_path / "book.json"
    weights = [[[0.1, -0.2]]]
    biases = [[[0.3]]]
    path.write_text(json.dumps({"sizes": [2, 1], "weights": weights, "biases": biases, "cost": "CrossEntropyCost"}))
    net = network2.load(path)
    assert net.cost is network2.CrossEntropyCost
    x = np.array([[1.0], [2.0]])
    close(net.feedforward(x), book_sigmoid(np.array([[0.1 - 0.4 + 0.3]])))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not a saved network: the file is not JSON"),
        ('{"sizes": [2, 1]}', "expected the keys biases, cost, sizes, weights"),
        (
            '{"sizes": [2, 1], "weights": [[[0.1, 0.2]]], "biases": [[[0.0]]], "cost": "os"}',
            "unknown cost 'os'; load knows QuadraticCost, CrossEntropyCost",
        ),
        (
            '{"sizes": [2, 1], "weights": [[[0.1], [0.2]]], "biases": [[[0.0]]], "cost": "QuadraticCost"}',
            "weights\\[0\\] has shape \\(2, 1\\); for sizes \\[2, 1\\] it must be \\(1, 2\\)",
        ),
        (
            '{"sizes": [2, 1], "weights": [[[0.1, 0.2]]], "biases": [[0.0]], "cost": "QuadraticCost"}',
            "biases\\[0\\] is a flat vector of shape \\(1,\\)",
        ),
        (
            '{"sizes": [2, 1], "weights": [[[0.1, 0.2], [0.3]]], "biases": [[[0.0]]], "cost": "QuadraticCost"}',
            "weights\\[0\\] is not an array of numbers",
        ),
    ],
)
def test_load_of_a_bad_file_gets_a_sentence(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=f"{path.name}: .*{message}"):
        network2.load(path)


# --- bad input gets a sentence ---------------------------------------------------------------------------


def bad(value: object) -> Any:
    """A value of the wrong type, let past the type checker on purpose."""
    return value


X = np.ones((4, 1))
Y = np.zeros((2, 1))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda net: net.accuracy([(X, Y)]),
            "data\\[0\\]: y is an array of shape \\(2, 1\\), not an int label; "
            "for training data \\(one-hot targets\\) call accuracy\\(data, convert=True\\)",
        ),
        (lambda net: net.accuracy([(X, 1)], convert=True), "data\\[0\\]: y is the int 1, .*vectorized_result\\(1\\)"),
        (lambda net: net.total_cost([(X, Y)], 0.0, convert=True), "convert=True is for \\(x, int label\\) pairs"),
        (lambda net: net.total_cost([(X, 1)], 0.0), "data\\[0\\]: y is the int 1"),
        (lambda net: net.total_cost([], 0.0), "data is empty"),
        (
            lambda net: net.SGD([(X, Y)], 1, 1, 0.1, monitor_evaluation_accuracy=True),
            "monitor_evaluation_cost and monitor_evaluation_accuracy need evaluation_data",
        ),
        (
            lambda net: net.SGD([(X, Y)], 1, 1, 0.1, evaluation_data=[(X, Y)], monitor_evaluation_cost=True),
            "evaluation_data\\[0\\]: y is an array .* not an int label",
        ),
        (lambda net: net.SGD([(X, Y)], 1, 1, 0.1, lmbda=bad("big")), "lmbda: expected a number"),
        (lambda net: net.update_mini_batch([(X, Y)], 0.1, 0.0, 0), "n: expected the number of training examples"),
        (lambda net: net.feedforward(np.ones((1, 4))), "looks like a row; the book's vectors are columns"),
        (lambda net: net.backprop(X, np.ones(2)), "y is a flat vector of shape \\(2,\\)"),
        (
            lambda net: net.cost.fn(np.ones((2, 1)), np.ones((3, 1))),
            "a has shape \\(2, 1\\) and y has shape \\(3, 1\\)",
        ),
    ],
)
def test_bad_input_gets_a_sentence(call: Any, message: str) -> None:
    np.random.seed(0)
    net = network2.Network([4, 3, 2])
    with pytest.raises((ValueError, TypeError), match=message):
        call(net)


@pytest.mark.parametrize(
    ("cost", "message"),
    [
        (network2.CrossEntropyCost(), "pass the class itself, as the book does"),
        (int, "int needs static methods fn\\(a, y\\) and delta\\(z, a, y\\)"),
    ],
)
def test_a_bad_cost_gets_a_sentence(cost: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        network2.Network([2, 1], cost=cost)


def test_vectorized_result_is_the_books() -> None:
    for j in range(10):
        assert np.array_equal(network2.vectorized_result(j), book_vectorized_result(j))
    with pytest.raises(ValueError, match="vectorized_result: expected a digit 0 to 9, got 10"):
        network2.vectorized_result(10)
