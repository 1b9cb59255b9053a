"""The book's ``network2.py`` (chapter 3), computed by the engine.

    import random
    import numpy as np
    from backprop_lens import loader, network2

    training_data, validation_data, test_data = loader.load_data_wrapper()
    random.seed(0); np.random.seed(0)
    net = network2.Network([64, 30, 10], cost=network2.CrossEntropyCost)
    evaluation_cost, evaluation_accuracy, training_cost, training_accuracy = net.SGD(
        training_data, 30, 10, 0.5, lmbda=5.0, evaluation_data=validation_data,
        monitor_evaluation_accuracy=True)

The improvements of chapter 3 over ``network.py``, with the book's names, shapes, JSON file and printed
lines: swappable cost classes with static ``fn(a, y)`` and ``delta(z, a, y)``, L2 regularisation
(``lmbda``, eq. 93), weights drawn from N(0, 1/n_in) (``default_weight_initializer``; the old N(0, 1)
is ``large_weight_initializer``), monitoring, ``save`` and ``load``. As in ``network``, the parameters
are drawn with ``np.random.randn`` and shuffled with ``random.shuffle``, so seeds give the book's
numbers; gradients, updates and costs are the engine's (BP1–BP4 over a whole mini-batch, eq. 93's
update, the costs computed from z^L), and agree with the book's loop to rounding.

The two cost classes are the engine's costs: their ``delta`` is the engine's BP1, and training uses the
engine's cost, which stays exact where a sigmoid output has saturated. Their ``fn(a, y)`` keeps the
book's formula from a alone, for code that calls it. A cost class of your own (static ``fn`` and
``delta`` on columns) works too: its methods are called on the mini-batch's columns side by side.

Left out: the book's loop itself, activations other than the sigmoid, the book's reading of any cost
name from a saved file (``load`` knows the two cost classes here and refuses others), and early
stopping and learning-rate schedules (the book leaves them as problems).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from backprop_lens.engine.activations import Activation, get_activation, sigmoid, sigmoid_prime
from backprop_lens.engine.backprop import backprop as engine_backprop
from backprop_lens.engine.backprop import cost_of
from backprop_lens.engine.costs import Cost, get_cost
from backprop_lens.engine.datasets import one_hot
from backprop_lens.loader import vectorized_result
from backprop_lens.network import (
    TestData,
    TrainingData,
    as_column,
    as_target,
    book_parameters,
    check_number,
    check_schedule,
    check_sizes,
    column_output,
    correct,
    descend,
    engine_network,
    examples,
    labelled_examples,
    shuffled_mini_batches,
)

__all__ = [
    "CrossEntropyCost",
    "Network",
    "QuadraticCost",
    "load",
    "sigmoid",
    "sigmoid_prime",
    "vectorized_result",
]

Array = NDArray[np.float64]
SIGMOID = get_activation("sigmoid")


class BookCost(Protocol):
    """What a cost class gives network2: its value C_x and BP1's δ^L, on the book's columns."""

    @staticmethod
    def fn(a: Array, y: Array) -> float: ...

    @staticmethod
    def delta(z: Array, a: Array, y: Array) -> Array: ...


def _same_shape(a: Array, y: Array) -> tuple[Array, Array]:
    a_, y_ = np.asarray(a, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if a_.shape != y_.shape:
        raise ValueError(
            f"a has shape {a_.shape} and y has shape {y_.shape}; the cost compares them entry by entry, "
            "so they must match (columns (n, 1), as in the book)"
        )
    return a_, y_


def _engine_delta(cost: Cost, z: Array, a: Array, y: Array) -> Array:
    """The engine's BP1 on the book's columns (transposed to its rows and back)."""
    a_, y_ = _same_shape(a, y)
    z_, _ = _same_shape(z, a_)
    return cost.delta(z_.T, a_.T, y_.T, SIGMOID).T


class QuadraticCost:
    """C_x = ½‖a − y‖² (eq. 6), with δ^L = (a − y) ⊙ σ'(z^L) (BP1)."""

    @staticmethod
    def fn(a: Array, y: Array) -> float:
        """½‖a − y‖², the book's formula."""
        a_, y_ = _same_shape(a, y)
        return 0.5 * float(np.linalg.norm(a_ - y_)) ** 2

    @staticmethod
    def delta(z: Array, a: Array, y: Array) -> Array:
        """BP1: δ^L = (a − y) ⊙ σ'(z), by the engine."""
        return _engine_delta(get_cost("quadratic"), z, a, y)


class CrossEntropyCost:
    """C_x = −Σ_j [y_j ln a_j + (1 − y_j) ln(1 − a_j)] (eq. 63), with δ^L = a − y (eq. 66: σ'(z) cancels)."""

    @staticmethod
    def fn(a: Array, y: Array) -> float:
        """The book's formula: where a_j and y_j are both 1 (or both 0), 0 × ln 0 counts as 0 (``np.nan_to_num``)."""
        a_, y_ = _same_shape(a, y)
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.sum(np.nan_to_num(-y_ * np.log(a_) - (1 - y_) * np.log(1 - a_))))

    @staticmethod
    def delta(z: Array, a: Array, y: Array) -> Array:
        """BP1 for sigmoid outputs: δ^L = a − y, by the engine (from z, so a saturated a keeps its digits)."""
        return _engine_delta(get_cost("cross_entropy"), z, a, y)


COSTS: dict[str, type[BookCost]] = {"QuadraticCost": QuadraticCost, "CrossEntropyCost": CrossEntropyCost}
"""The cost classes ``load`` knows by the name ``save`` writes."""

_ENGINE_COSTS: dict[type[BookCost], Cost] = {
    QuadraticCost: get_cost("quadratic"),
    CrossEntropyCost: get_cost("cross_entropy"),
}


class BookCostForEngine:
    """A cost class of the book's form behind the engine's ``Cost`` interface, for a cost the engine does not know.

    The engine hands it rows; the class's methods get columns (the batch's examples side by side) and
    ``fn`` one example at a time, as the book calls them.
    """

    def __init__(self, cost: type[BookCost]) -> None:
        self.cost = cost
        self.name = cost.__name__

    def per_example(self, z: Array, a: Array, y: Array, output: Activation) -> Array:
        return np.array([self.cost.fn(a_x.reshape(-1, 1), y_x.reshape(-1, 1)) for a_x, y_x in zip(a, y, strict=True)])

    def fn(self, z: Array, a: Array, y: Array, output: Activation) -> float:
        per_example = self.per_example(z, a, y, output)
        return float(np.sum(per_example) / per_example.shape[0])

    def nabla_a(self, z: Array, a: Array, y: Array, output: Activation) -> Array:
        """δ^L / σ'(z), which is ∇_aC_x by BP1 (±∞ where σ'(z) has underflowed)."""
        with np.errstate(all="ignore"):
            return self.delta(z, a, y, output) / output.prime(z, a)

    def delta(self, z: Array, a: Array, y: Array, output: Activation) -> Array:
        return np.asarray(self.cost.delta(z.T, a.T, y.T), dtype=np.float64).T

    def check_output(self, output: Activation) -> None:
        return None


def engine_cost(cost: type[BookCost]) -> Cost:
    """The engine's cost for a cost class: its own for the two here, an adapter for any other."""
    known = _ENGINE_COSTS.get(cost)
    return known if known is not None else BookCostForEngine(cost)


def _check_cost(cost: object) -> None:
    if not isinstance(cost, type):
        raise TypeError(f"cost: pass the class itself, as the book does (cost=CrossEntropyCost), not {cost!r}")
    if not (callable(getattr(cost, "fn", None)) and callable(getattr(cost, "delta", None))):
        raise TypeError(
            f"cost: {cost.__name__} needs static methods fn(a, y) and delta(z, a, y), like CrossEntropyCost"
        )


ACCURACY_HINT = "for training data (one-hot targets) call accuracy(data, convert=True)"
TOTAL_COST_HINT = "convert=True is for (x, int label) pairs; for training data call total_cost(data, lmbda)"
EVALUATION_HINT = "evaluation_data holds (x, int label) pairs, like the loader's validation and test data"


class Network:
    """A network of sigmoid neurons with a choice of cost, L2 regularisation and monitoring (the book's network2)."""

    num_layers: int
    sizes: list[int]
    biases: list[Array]
    weights: list[Array]
    cost: type[BookCost]

    def __init__(self, sizes: Sequence[int], cost: type[BookCost] = CrossEntropyCost) -> None:
        """``sizes`` = [n_1, …, n_L], layer 1 the input; parameters from ``default_weight_initializer``."""
        _check_cost(cost)
        self.sizes = check_sizes(sizes)
        self.num_layers = len(self.sizes)
        self.default_weight_initializer()
        self.cost = cost

    def default_weight_initializer(self) -> None:
        """w ~ N(0, 1/n_in), so that z does not start saturated; b ~ N(0, 1). Drawn with ``np.random.randn``."""
        self.biases = [np.random.randn(y, 1) for y in self.sizes[1:]]
        self.weights = [
            np.random.randn(y, x) / np.sqrt(x) for x, y in zip(self.sizes[:-1], self.sizes[1:], strict=True)
        ]

    def large_weight_initializer(self) -> None:
        """w, b ~ N(0, 1), chapter 1's choice, kept for comparison. Drawn with ``np.random.randn``."""
        self.biases, self.weights = book_parameters(self.sizes)

    def feedforward(self, a: Array) -> Array:
        """a^L, a column (n_L, 1), for the input column ``a`` of shape (n_1, 1) (eq. 25 layer by layer)."""
        return column_output(self.sizes, self.weights, self.biases, a)

    def SGD(  # noqa: N802 - the book's name
        self,
        training_data: TrainingData,
        epochs: int,
        mini_batch_size: int,
        eta: float,
        lmbda: float = 0.0,
        evaluation_data: TestData | None = None,
        monitor_evaluation_cost: bool = False,
        monitor_evaluation_accuracy: bool = False,
        monitor_training_cost: bool = False,
        monitor_training_accuracy: bool = False,
    ) -> tuple[list[float], list[int], list[float], list[int]]:
        """Train by mini-batch SGD with L2 regularisation ``lmbda``; return the four monitored lists.

        (evaluation costs, evaluation accuracies, training costs, training accuracies), one entry per
        epoch for each flag that is set, empty otherwise, and printed as the book prints them.
        ``training_data`` is shuffled in place with ``random.shuffle``; ``evaluation_data`` holds
        (x, int label) pairs. Everything is checked before the first step.
        """
        check_schedule(training_data, epochs, mini_batch_size, eta)
        check_number(lmbda, "lmbda")
        examples(training_data, self.sizes, "training_data")
        if monitor_evaluation_cost or monitor_evaluation_accuracy:
            if evaluation_data is None:
                raise ValueError("monitor_evaluation_cost and monitor_evaluation_accuracy need evaluation_data")
            labelled_examples(evaluation_data, self.sizes, "evaluation_data", EVALUATION_HINT)
        n = len(training_data)
        evaluation_cost: list[float] = []
        evaluation_accuracy: list[int] = []
        training_cost: list[float] = []
        training_accuracy: list[int] = []
        for j in range(epochs):
            for mini_batch in shuffled_mini_batches(training_data, mini_batch_size):
                self.update_mini_batch(mini_batch, eta, lmbda, n)
            print(f"Epoch {j} training complete")
            if monitor_training_cost:
                cost = self.total_cost(training_data, lmbda)
                training_cost.append(cost)
                print(f"Cost on training data: {cost}")
            if monitor_training_accuracy:
                accuracy = self.accuracy(training_data, convert=True)
                training_accuracy.append(accuracy)
                print(f"Accuracy on training data: {accuracy} / {n}")
            if evaluation_data is not None and monitor_evaluation_cost:
                cost = self.total_cost(evaluation_data, lmbda, convert=True)
                evaluation_cost.append(cost)
                print(f"Cost on evaluation data: {cost}")
            if evaluation_data is not None and monitor_evaluation_accuracy:
                accuracy = self.accuracy(evaluation_data)
                evaluation_accuracy.append(accuracy)
                print(f"Accuracy on evaluation data: {accuracy} / {len(evaluation_data)}")
            print()
        return evaluation_cost, evaluation_accuracy, training_cost, training_accuracy

    def update_mini_batch(self, mini_batch: TrainingData, eta: float, lmbda: float, n: int) -> None:
        """One step on ``mini_batch``: w → (1 − ηλ/n) w − (η/m) Σ_x ∂C_x/∂w (eq. 93), b → b − (η/m) Σ_x ∂C_x/∂b.

        ``n`` is the size of the whole training set. New arrays, as in the book.
        """
        check_number(lmbda, "lmbda")
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n: expected the number of training examples, a whole number ≥ 1, got {n!r}")
        X, Y = examples(mini_batch, self.sizes, "mini_batch")
        self.weights, self.biases = descend(
            self.sizes, self.weights, self.biases, X, Y, eta, engine_cost(self.cost), lmbda, n
        )

    def backprop(self, x: Array, y: Array) -> tuple[list[Array], list[Array]]:
        """(nabla_b, nabla_w): ∂C_x/∂b and ∂C_x/∂w of one example for ``self.cost``, shaped like biases and weights."""
        x = as_column(x, self.sizes[0], "x", "the input layer")
        y = as_target(y, self.sizes[-1], "y")
        net = engine_network(self.sizes, self.weights, self.biases)
        g = engine_backprop(net, x.T, y.T, engine_cost(self.cost))
        return [nb.reshape(-1, 1) for nb in g.nabla_b], g.nabla_w

    def accuracy(self, data: TrainingData | TestData, convert: bool = False) -> int:
        """How many examples of ``data`` the network gets right (the most active output neuron).

        ``convert=False`` for (x, int label) pairs (validation and test data), ``convert=True`` for
        training data, whose one-hot y is turned into its label.
        """
        if convert:
            X, Y = examples(data, self.sizes, "data")
            labels = np.argmax(Y, axis=1)
        else:
            X, labels = labelled_examples(data, self.sizes, "data", ACCURACY_HINT)
        return correct(self.sizes, self.weights, self.biases, X, labels)

    def total_cost(self, data: TrainingData | TestData, lmbda: float, convert: bool = False) -> float:
        """C = (1/n) Σ_x C_x + (λ/2n) Σ_w w² over ``data`` (eq. 87; n = len(data)).

        ``convert=False`` for training data (one-hot y), ``convert=True`` for (x, int label) pairs,
        whose labels become one-hot targets. C_x is the engine's cost, from z^L.
        """
        check_number(lmbda, "lmbda")
        if convert:
            X, labels = labelled_examples(data, self.sizes, "data", TOTAL_COST_HINT)
            Y = one_hot(labels.astype(np.int64), self.sizes[-1])
        else:
            X, Y = examples(data, self.sizes, "data")
        net = engine_network(self.sizes, self.weights, self.biases)
        return cost_of(net, X, Y, engine_cost(self.cost)) + l2_term(net.weights, lmbda, X.shape[0])

    def save(self, filename: str | os.PathLike[str]) -> None:
        """Write the network to ``filename`` as the book's JSON: sizes, weights, biases and the cost's class name."""
        engine_network(self.sizes, self.weights, self.biases)  # a sentence now rather than a file load cannot read
        data = {
            "sizes": self.sizes,
            "weights": [np.asarray(w, dtype=np.float64).tolist() for w in self.weights],
            "biases": [np.asarray(b, dtype=np.float64).tolist() for b in self.biases],
            "cost": str(self.cost.__name__),
        }
        with open(filename, "w", encoding="utf-8") as f:
            json.dump(data, f)


def l2_term(weights: Sequence[Array], lmbda: float, n: int) -> float:
    """Eq. 87's regularisation term (λ/2n) Σ_w w², the book's way: ½ (λ/n) Σ_l ‖w^l‖²."""
    return 0.5 * (lmbda / n) * sum(float(np.linalg.norm(w)) ** 2 for w in weights)


def load(filename: str | os.PathLike[str]) -> Network:
    """The network ``save`` wrote to ``filename`` (the book's JSON format), with its cost class.

    As in the book, a new Network is made (drawing from ``np.random``) and its parameters replaced.
    """
    name = os.fspath(filename)
    try:
        with open(filename, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{name}: not a saved network: the file is not JSON ({e.msg}, line {e.lineno})") from None
    keys = {"sizes", "weights", "biases", "cost"}
    if not isinstance(data, dict) or not keys <= data.keys():
        raise ValueError(f"{name}: not a saved network: expected the keys {', '.join(sorted(keys))} that save writes")
    cost = COSTS.get(data["cost"]) if isinstance(data["cost"], str) else None
    if cost is None:
        raise ValueError(f"{name}: unknown cost {data['cost']!r}; load knows {', '.join(COSTS)}")
    try:
        net = Network(data["sizes"], cost=cost)
        checked = engine_network(net.sizes, data["weights"], data["biases"])
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name}: {e}") from None
    net.weights = list(checked.weights)
    net.biases = [b.reshape(-1, 1) for b in checked.biases]
    return net
