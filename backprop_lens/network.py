"""The book's ``network.py`` (chapters 1 and 2), computed by the engine.

    import random
    import numpy as np
    from backprop_lens import loader, network

    training_data, validation_data, test_data = loader.load_data_wrapper()
    random.seed(0); np.random.seed(0)
    net = network.Network([64, 30, 10])
    net.SGD(training_data, 30, 10, 3.0, test_data=test_data)   # Epoch 0: 155 / 250, Epoch 1: 178 / 250, ...

Everything a reader of the book touches is the book's: the names, the shapes and the printed lines.
``biases[i]`` is the column b^{i+2} of shape (n_{i+2}, 1) and ``weights[i]`` is w^{i+2} of shape
(n_{i+2}, n_{i+1}); inputs and targets are columns; training data is a list of (x, y) pairs with one-hot
y, test data a list of (x, int label). The parameters are drawn with ``np.random.randn`` in the book's
order, so ``np.random.seed(k)`` gives the book's network, and ``SGD`` shuffles with ``random.shuffle``,
so ``random.seed(k)`` gives the book's mini-batches. ``weights`` and ``biases`` are plain lists the
book's way of working may reassign; they stay the truth.

What differs is who computes. Every gradient is the engine's BP1–BP4 (``engine.backprop.backprop``)
over a whole mini-batch at once, with examples as rows: the book's columns, transposed. Handing them
over copies no parameter: w^l has the same layout in both, and a bias column (n, 1) is viewed as the
engine's vector (n,). The update builds new arrays, as the book's list comprehensions do. The numbers
agree with the book's per-example loop to rounding (tests/faces checks 1e-12).

Bad input gets a sentence (ValueError or TypeError), never a broadcasting traceback. A flat vector of
shape (n,) is refused, not reshaped: the book's code would silently broadcast it against the (n, 1)
biases into an n × n matrix, and the habit of columns is what the book's code needs.

Left out: the book's loop itself (``backprop(x, y)`` is the engine's batch computation on a batch of
one), any activation but the sigmoid, and overriding ``cost_derivative`` to change the cost (backprop
uses the engine's quadratic cost; ``network2`` takes a cost class).

The helpers below the class (``as_column``, ``examples``, ``engine_network``, ``descend``, …) are shared
with ``network2``; they are not the book's.
"""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Sequence
from typing import Any, TypeGuard

import numpy as np
from numpy.typing import NDArray

from backprop_lens.engine.activations import sigmoid, sigmoid_prime
from backprop_lens.engine.backprop import backprop as engine_backprop
from backprop_lens.engine.backprop import feedforward as engine_feedforward
from backprop_lens.engine.costs import Cost, get_cost
from backprop_lens.engine.network import Network as EngineNetwork
from backprop_lens.engine.network import pack
from backprop_lens.engine.sgd import gradient_descent_in_place, l2_gradient_descent_in_place

__all__ = ["Network", "sigmoid", "sigmoid_prime"]

Array = NDArray[np.float64]
Label = int | np.integer[Any]
TrainingData = list[tuple[Array, Array]]
"""The book's training data: (x, y) pairs, x a column (n_1, 1), y a one-hot column (n_L, 1)."""
TestData = Sequence[tuple[Array, Label]]
"""The book's validation and test data: (x, label) pairs, x a column (n_1, 1), label an int."""

QUADRATIC = get_cost("quadratic")


class Network:
    """A network of sigmoid neurons, trained by mini-batch stochastic gradient descent (the book's)."""

    num_layers: int
    sizes: list[int]
    biases: list[Array]
    weights: list[Array]

    def __init__(self, sizes: Sequence[int]) -> None:
        """``sizes`` = [n_1, …, n_L], neurons per layer, layer 1 the input; w and b drawn from N(0, 1).

        Biases first, then weights, both with ``np.random.randn`` as the book draws them, so the same
        ``np.random.seed`` gives the same network as the book's code.
        """
        self.sizes = check_sizes(sizes)
        self.num_layers = len(self.sizes)
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
        test_data: TestData | None = None,
    ) -> None:
        """Train by mini-batch stochastic gradient descent, printing a line per epoch as the book does.

        ``training_data`` is shuffled in place with ``random.shuffle`` every epoch (the book's side
        effect, and its sequence of random numbers). With ``test_data`` each epoch prints
        "Epoch j: correct / total"; without, "Epoch j complete". Every pair is checked before the first
        step, so a bad one is named by its index and nothing has been trained yet.
        """
        check_schedule(training_data, epochs, mini_batch_size, eta)
        examples(training_data, self.sizes, "training_data")
        if test_data is not None:
            labelled_examples(test_data, self.sizes, "test_data", EVALUATE_HINT)
            n_test = len(test_data)
        for j in range(epochs):
            for mini_batch in shuffled_mini_batches(training_data, mini_batch_size):
                self.update_mini_batch(mini_batch, eta)
            if test_data is not None:
                print(f"Epoch {j}: {self.evaluate(test_data)} / {n_test}")
            else:
                print(f"Epoch {j} complete")

    def update_mini_batch(self, mini_batch: TrainingData, eta: float) -> None:
        """One step of eqs. 20–21 on the mean cost of ``mini_batch``: w → w − (η/m) Σ_x ∂C_x/∂w, and b likewise.

        ``weights`` and ``biases`` become new lists of new arrays, as in the book: arrays held from
        before keep their values.
        """
        X, Y = examples(mini_batch, self.sizes, "mini_batch")
        self.weights, self.biases = descend(self.sizes, self.weights, self.biases, X, Y, eta, QUADRATIC)

    def backprop(self, x: Array, y: Array) -> tuple[list[Array], list[Array]]:
        """(nabla_b, nabla_w): ∂C_x/∂b and ∂C_x/∂w of one example, layer by layer (BP1–BP4).

        Shaped like ``biases`` and ``weights``. The mean over a batch of one is the example's own
        gradient, so this is the book's per-example result, summed over a mini-batch by the caller.
        """
        x = as_column(x, self.sizes[0], "x", "the input layer")
        y = as_target(y, self.sizes[-1], "y")
        g = engine_backprop(engine_network(self.sizes, self.weights, self.biases), x.T, y.T, QUADRATIC)
        return [nb.reshape(-1, 1) for nb in g.nabla_b], g.nabla_w

    def evaluate(self, test_data: TestData) -> int:
        """How many of the (x, label) pairs the network gets right: the output neuron of highest activation."""
        X, labels = labelled_examples(test_data, self.sizes, "test_data", EVALUATE_HINT)
        return correct(self.sizes, self.weights, self.biases, X, labels)

    def cost_derivative(self, output_activations: Array, y: Array) -> Array:
        """∂C_x/∂a^L = a^L − y for the quadratic cost C_x = ½‖y − a^L‖² (eq. 6), as a column.

        Kept for the book's readers; ``backprop`` takes the same a − y from the engine's cost.
        """
        a = as_column(output_activations, self.sizes[-1], "output_activations", "the output layer")
        return a - as_target(y, self.sizes[-1], "y")


EVALUATE_HINT = (
    "evaluate wants (x, int label) pairs, as the loader's validation and test data hold; "
    "one-hot targets are for training"
)


# --- shared with network2: the book's shapes checked and handed to the engine ------------------------


def book_parameters(sizes: Sequence[int]) -> tuple[list[Array], list[Array]]:
    """Biases then weights drawn N(0, 1) with ``np.random.randn``, in the book's order (``np.random.seed`` repeats
    the book's network): network.py's only initialiser, network2.py's ``large_weight_initializer``."""
    biases = [np.random.randn(y, 1) for y in sizes[1:]]
    weights = [np.random.randn(y, x) for x, y in itertools.pairwise(sizes)]
    return biases, weights


def column_output(sizes: Sequence[int], weights: Sequence[object], biases: Sequence[object], a: object) -> Array:
    """a^L as a column (n_L, 1) for the input column ``a`` (n_1, 1): both faces' ``feedforward``."""
    x = as_column(a, sizes[0], "a", "the input layer")
    return outputs(sizes, weights, biases, x.T).T


def check_sizes(sizes: Sequence[int]) -> list[int]:
    """``sizes`` as a list of ints, or a sentence saying what is wrong with it."""
    if isinstance(sizes, str) or not isinstance(sizes, Sequence | np.ndarray):
        raise TypeError(f"sizes: expected a list of neurons per layer, like [64, 30, 10]; got {sizes!r}")
    values = list(sizes)
    if any(isinstance(n, bool) or not isinstance(n, int | np.integer) for n in values):
        raise TypeError(f"sizes: expected whole numbers of neurons per layer, like [64, 30, 10]; got {values!r}")
    result = [int(n) for n in values]
    _template(tuple(result))  # the engine's own words for too few layers or an empty one
    return result


def check_schedule(training_data: object, epochs: int, mini_batch_size: int, eta: float) -> None:
    """A sentence for SGD arguments the book's loop would trip over (or loop on forever)."""
    if not isinstance(training_data, list):
        raise TypeError(
            "training_data: SGD shuffles it in place, as the book's does, so it must be a list; "
            f"got a {type(training_data).__name__} (pass list(training_data))"
        )
    if isinstance(epochs, bool) or not isinstance(epochs, int | np.integer) or epochs < 0:
        raise ValueError(f"epochs: expected a whole number ≥ 0, got {epochs!r}")
    if isinstance(mini_batch_size, bool) or not isinstance(mini_batch_size, int | np.integer) or mini_batch_size < 1:
        raise ValueError(f"mini_batch_size: expected a whole number ≥ 1, got {mini_batch_size!r}")
    check_number(eta, "eta")


def check_number(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name}: expected a number, got {value!r}")


def shuffled_mini_batches(training_data: TrainingData, mini_batch_size: int) -> list[TrainingData]:
    """Shuffle ``training_data`` in place with ``random.shuffle`` and cut it into mini-batches (the book's epoch)."""
    random.shuffle(training_data)
    n = len(training_data)
    return [training_data[k : k + mini_batch_size] for k in range(0, n, mini_batch_size)]


def _floats(v: object, what: str) -> Array:
    try:
        return np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{what} is not an array of numbers (got a {type(v).__name__})") from None


def as_column(v: object, n: int, what: str, layer: str) -> Array:
    """``v`` as a float column of shape (n, 1), or ValueError in words naming ``what`` and whose n it is (``layer``)."""
    if isinstance(v, np.ndarray) and v.shape == (n, 1) and v.dtype == np.float64:
        return v
    arr = _floats(v, what)
    if arr.shape == (n, 1):
        return arr
    columns = f"the book's vectors are columns of shape ({n}, 1)"
    if arr.ndim == 0:
        raise ValueError(f"{what} is the single number {arr.item()!r}; {columns}")
    if arr.ndim == 1:
        fix = f" (use .reshape({n}, 1))" if arr.shape[0] == n else f", one number per neuron of {layer}"
        raise ValueError(f"{what} is a flat vector of shape ({arr.shape[0]},); {columns}{fix}")
    if arr.ndim == 2 and arr.shape[0] == 1 and arr.shape[1] > 1:
        fix = " (use .T)" if arr.shape[1] == n else f", one number per neuron of {layer}"
        raise ValueError(f"{what} has shape (1, {arr.shape[1]}), which looks like a row; {columns}{fix}")
    if arr.ndim == 2 and arr.shape[1] == 1:
        raise ValueError(
            f"{what} has shape ({arr.shape[0]}, 1), but {layer} has {n} neurons: expected a column of shape ({n}, 1)"
        )
    raise ValueError(f"{what} has shape {arr.shape}; {columns}")


def is_label(y: object) -> TypeGuard[Label]:
    """True for an int label (a Python int or a NumPy integer, as the book's data sets hold)."""
    return isinstance(y, int | np.integer)


def as_target(y: object, n: int, what: str) -> Array:
    """A desired output as a column (n, 1); an int label gets the sentence that sends it to ``vectorized_result``."""
    if is_label(y):
        raise ValueError(
            f"{what} is the int {y!r}, but the book's training targets are one-hot columns of shape ({n}, 1): "
            f"use vectorized_result({y!r})"
        )
    return as_column(y, n, what, "the output layer")


def _pairs(data: object, name: str) -> Sequence[object]:
    if isinstance(data, np.ndarray) or not isinstance(data, Sequence):
        raise TypeError(f"{name}: expected a list of (x, y) pairs, got a {type(data).__name__} (pass list({name}))")
    if len(data) == 0:
        raise ValueError(f"{name} is empty")
    return data


def _pair(item: object, what: str) -> tuple[object, object]:
    if not isinstance(item, tuple | list) or len(item) != 2:
        raise TypeError(f"{what} is a {type(item).__name__}, not a pair (x, y) as in the book's data sets")
    return item[0], item[1]


def _stack(columns: list[Array]) -> Array:
    """Columns side by side, transposed: one example per row, as the engine takes them (a view, no copy of rows)."""
    return np.concatenate(columns, axis=1).T


def examples(data: object, sizes: Sequence[int], name: str) -> tuple[Array, Array]:
    """Training pairs (x column, one-hot y column) as the engine's rows X (m, n_1) and Y (m, n_L)."""
    xs: list[Array] = []
    ys: list[Array] = []
    for i, item in enumerate(_pairs(data, name)):
        x, y = _pair(item, f"{name}[{i}]")
        xs.append(as_column(x, sizes[0], f"{name}[{i}]: x", "the input layer"))
        ys.append(as_target(y, sizes[-1], f"{name}[{i}]: y"))
    return _stack(xs), _stack(ys)


def labelled_examples(data: object, sizes: Sequence[int], name: str, hint: str) -> tuple[Array, NDArray[np.intp]]:
    """Pairs (x column, int label) as rows X (m, n_1) and a vector of labels; ``hint`` answers a one-hot y."""
    xs: list[Array] = []
    labels: list[int] = []
    for i, item in enumerate(_pairs(data, name)):
        x, y = _pair(item, f"{name}[{i}]")
        xs.append(as_column(x, sizes[0], f"{name}[{i}]: x", "the input layer"))
        if not is_label(y):
            got = f"an array of shape {y.shape}" if isinstance(y, np.ndarray) else f"a {type(y).__name__}"
            raise ValueError(f"{name}[{i}]: y is {got}, not an int label; {hint}")
        label = int(y)
        if not 0 <= label < sizes[-1]:
            raise ValueError(
                f"{name}[{i}]: label {label} names no neuron of the output layer, "
                f"whose {sizes[-1]} neurons are 0 to {sizes[-1] - 1}"
            )
        labels.append(label)
    return _stack(xs), np.array(labels, dtype=np.intp)


@functools.lru_cache(maxsize=16)
def _template(sizes: tuple[int, ...]) -> EngineNetwork:
    """An engine network of these sizes, sigmoid throughout; only copies of it are used, their parameters replaced."""
    return EngineNetwork(sizes, activation="sigmoid", seed=0)


def engine_network(sizes: Sequence[int], weights: Sequence[object], biases: Sequence[object]) -> EngineNetwork:
    """The engine's network holding the book's parameters, packed as the engine keeps them ([w | b] per layer).

    Checks the shapes against ``sizes`` with the book's words (the lists may have been reassigned).
    The parameters are copied into the engine's layout; the book's arrays are left as they are.
    """
    n_layers = len(sizes) - 1
    for name, got in (("weights", weights), ("biases", biases)):
        if not isinstance(got, Sequence) or len(got) != n_layers:
            count = f"{len(got)}" if isinstance(got, Sequence) else f"a {type(got).__name__}"
            raise ValueError(f"{name}: expected a list of {n_layers} arrays for sizes {list(sizes)}, got {count}")
    ws: list[Array] = []
    for i, w in enumerate(weights):
        arr = w if isinstance(w, np.ndarray) and w.dtype == np.float64 else _floats(w, f"weights[{i}]")
        if arr.shape != (sizes[i + 1], sizes[i]):
            raise ValueError(
                f"weights[{i}] has shape {arr.shape}; for sizes {list(sizes)} it must be ({sizes[i + 1]}, {sizes[i]}): "
                f"a row per neuron of layer {i + 2}, a column per neuron of layer {i + 1}"
            )
        ws.append(arr)
    bs = [as_column(b, sizes[i + 1], f"biases[{i}]", f"layer {i + 2}").reshape(-1) for i, b in enumerate(biases)]
    return EngineNetwork.of_packed(sizes, pack(ws, bs), _template(tuple(sizes)).activations)


def outputs(sizes: Sequence[int], weights: Sequence[object], biases: Sequence[object], X: Array) -> Array:
    """a^L for every row of X, by the engine's feedforward (eq. 25)."""
    return engine_feedforward(engine_network(sizes, weights, biases), X).activations[-1]


def correct(
    sizes: Sequence[int], weights: Sequence[object], biases: Sequence[object], X: Array, labels: NDArray[np.intp]
) -> int:
    """How many rows of X the network labels right, the answer being the most active output neuron."""
    return int(np.count_nonzero(np.argmax(outputs(sizes, weights, biases, X), axis=1) == labels))


def descend(
    sizes: Sequence[int],
    weights: Sequence[object],
    biases: Sequence[object],
    X: Array,
    Y: Array,
    eta: float,
    cost: Cost,
    lmbda: float = 0.0,
    n: int = 1,
) -> tuple[list[Array], list[Array]]:
    """New weights and biases after one step on the mean cost of the rows (X, Y), by the engine.

    Eqs. 20–21, and eq. 93 for the weights when λ > 0 (n: the size of the training set): the engine's
    in-place updates, applied to copies, so arrays the caller holds are left as they were.
    """
    net = engine_network(sizes, weights, biases)
    g = engine_backprop(net, X, Y, cost)
    new_weights = [w.copy() for w in net.weights]
    new_biases = [b.reshape(-1, 1).copy() for b in net.biases]
    for w, nw, b, nb in zip(new_weights, g.nabla_w, new_biases, g.nabla_b, strict=True):
        l2_gradient_descent_in_place(w, nw, eta, lmbda, n)
        gradient_descent_in_place(b, nb.reshape(-1, 1), eta)
    return new_weights, new_biases
