"""check(my_backprop) against a student's backprop written here: the book's loop in plain NumPy.

The reference ``book_backprop`` is independent of the engine (its own σ, σ′ and δ^L, no import from
``backprop_lens``); each usual mistake is planted in a copy of it, and the expected and received
numbers the report shows are recomputed here from the correct and the mistaken copy. Matt Mazur's
published gradients of his worked 2-2-2 example are a second, hand-worked reference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import pytest
from numpy.typing import NDArray

from backprop_lens.checker import CASES, BookCost, BookNetwork, CheckResult, Difference, Failure, check

Array = NDArray[np.float64]
Grads = tuple[list[Array], list[Array]]
Mistake = Literal[
    "bp1_sigma_prime_left_out",
    "bp1_sigma_for_sigma_prime",
    "bp1_sign",
    "bp1_half_dropped",
    "bp2_sigma_prime_left_out",
    "bp2_sigma_for_sigma_prime",
    "bp2_no_transpose",
    "bp3_doubled",
    "bp4_z_for_a",
    "bp4_transposed",
    "ce_sigma_prime",
    "one_hidden_layer_only",
]

# Matt Mazur, "A Step by Step Backpropagation Example" (2015).
MAZUR_W = [np.array([[0.15, 0.20], [0.25, 0.30]]), np.array([[0.40, 0.45], [0.50, 0.55]])]
MAZUR_B = [np.array([[0.35], [0.35]]), np.array([[0.60], [0.60]])]
MAZUR_X = np.array([[0.05], [0.10]])
MAZUR_Y = np.array([[0.01], [0.99]])
# His ∂E/∂w1..∂E/∂w8, laid out as the book's w² and w³ (row j: the weights into neuron j).
MAZUR_NABLA_W = [
    np.array([[0.000438568, 0.000877135], [0.000497713, 0.000995425]]),
    np.array([[0.082167041, 0.082667628], [-0.02260254, -0.02274024]]),
]


def sigmoid(z: Array) -> Array:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def sigmoid_prime(z: Array) -> Array:
    return sigmoid(z) * (1.0 - sigmoid(z))


def book_backprop(
    weights: list[Array],
    biases: list[Array],
    x: Array,
    y: Array,
    cross_entropy: bool = False,
    mistake: Mistake | None = None,
) -> Grads:
    """network.py's backprop (network2.py's δ^L for cross-entropy), with one mistake planted if asked."""
    nabla_b = [np.zeros(b.shape) for b in biases]
    nabla_w = [np.zeros(w.shape) for w in weights]
    activation = x
    activations = [x]
    zs = []
    for b, w in zip(biases, weights, strict=True):
        z = np.dot(w, activation) + b
        zs.append(z)
        activation = sigmoid(z)
        activations.append(activation)
    a, z = activations[-1], zs[-1]
    if cross_entropy:
        delta = (a - y) * sigmoid_prime(z) if mistake == "ce_sigma_prime" else a - y
    elif mistake == "bp1_sigma_prime_left_out":
        delta = a - y
    elif mistake == "bp1_sigma_for_sigma_prime":
        delta = (a - y) * sigmoid(z)
    elif mistake == "bp1_sign":
        delta = (y - a) * sigmoid_prime(z)
    elif mistake == "bp1_half_dropped":
        delta = 2.0 * (a - y) * sigmoid_prime(z)
    else:
        delta = (a - y) * sigmoid_prime(z)
    nabla_b[-1] = 2.0 * delta if mistake == "bp3_doubled" else delta
    nabla_w[-1] = np.dot(delta, (zs[-2] if mistake == "bp4_z_for_a" else activations[-2]).T)
    if mistake == "bp4_transposed":
        nabla_w[-1] = nabla_w[-1].T
    top = 3 if mistake == "one_hidden_layer_only" else len(weights) + 1
    for layer in range(2, top):
        z = zs[-layer]
        w_next = weights[-layer + 1]
        back = np.dot(w_next if mistake == "bp2_no_transpose" else w_next.T, delta)
        if mistake == "bp2_sigma_prime_left_out":
            delta = back
        elif mistake == "bp2_sigma_for_sigma_prime":
            delta = back * sigmoid(z)
        else:
            delta = back * sigmoid_prime(z)
        nabla_b[-layer] = delta
        nabla_w[-layer] = np.dot(delta, activations[-layer - 1].T)
    return nabla_b, nabla_w


def student(mistake: Mistake | None = None) -> Callable[[BookNetwork, Array, Array], Grads]:
    """The book's form, fn(net, x, y), reading the cost from net.cost.name."""

    def backprop(net: BookNetwork, x: Array, y: Array) -> Grads:
        return book_backprop(net.weights, net.biases, x, y, net.cost.name == "cross-entropy", mistake)

    return backprop


def mazur(mistake: Mistake | None = None, cross_entropy: bool = False) -> Grads:
    return book_backprop(MAZUR_W, MAZUR_B, MAZUR_X, MAZUR_Y, cross_entropy, mistake)


def failure_of(result: CheckResult) -> Failure:
    assert not result.passed
    assert result.failure is not None
    return result.failure


def difference_of(result: CheckResult) -> Difference:
    failure = failure_of(result)
    assert failure.kind == "differs"
    assert failure.difference is not None
    return failure.difference


# --- a correct backprop passes --------------------------------------------------------------------


def test_the_networks_are_mazurs_a_deep_and_a_wide_one_with_non_square_layers() -> None:
    assert [case.sizes for case in CASES] == [[2, 2, 2], [2, 4, 4, 4, 2], [3, 16, 4]]
    for got, want in zip(CASES[0].weights, MAZUR_W, strict=True):
        np.testing.assert_array_equal(got, want)
    assert any(w.shape[0] != w.shape[1] for case in CASES for w in case.weights)


def test_the_reference_here_gives_mazurs_published_gradients() -> None:
    _, nabla_w = mazur()
    for got, want in zip(nabla_w, MAZUR_NABLA_W, strict=True):
        np.testing.assert_allclose(got, want, rtol=2e-6)


@pytest.mark.parametrize("cost", ["quadratic", "cross-entropy", "both"])
def test_a_correct_backprop_passes_on_every_network(cost: Literal["quadratic", "cross-entropy", "both"]) -> None:
    result = check(student(), cost)
    assert result.passed and bool(result)
    assert result.failure is None
    n_costs = 2 if cost == "both" else 1
    assert [r.status for r in result.runs] == ["passed"] * 3 * n_costs
    assert {r.network for r in result.runs} == {"Matt Mazur's 2-2-2", "deep 2-4-4-4-2", "wide 3-16-4"}
    text = str(result)
    assert text.startswith("PASS: backprop agrees with BP1–BP4")
    assert "\n" not in repr(result) and "PASS" in repr(result)
    assert "✓" in result._repr_html_()


def test_the_default_cost_is_the_quadratic_of_network_py() -> None:
    result = check(student())
    assert {r.cost for r in result.runs} == {"quadratic"}


def test_a_network_py_method_taken_from_its_class_passes_with_cost_derivative() -> None:
    class Network:
        """The book's network.py class, cut down to its backprop."""

        num_layers: int
        weights: list[Array]
        biases: list[Array]

        def cost_derivative(self, output_activations: Array, y: Array) -> Array:
            return output_activations - y

        def backprop(self, x: Array, y: Array) -> Grads:
            nabla_b = [np.zeros(b.shape) for b in self.biases]
            nabla_w = [np.zeros(w.shape) for w in self.weights]
            activation, activations, zs = x, [x], []
            for b, w in zip(self.biases, self.weights, strict=True):
                z = np.dot(w, activation) + b
                zs.append(z)
                activation = sigmoid(z)
                activations.append(activation)
            delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])
            nabla_b[-1] = delta
            nabla_w[-1] = np.dot(delta, activations[-2].transpose())
            for layer in range(2, self.num_layers):
                delta = np.dot(self.weights[-layer + 1].transpose(), delta) * sigmoid_prime(zs[-layer])
                nabla_b[-layer] = delta
                nabla_w[-layer] = np.dot(delta, activations[-layer - 1].transpose())
            return nabla_b, nabla_w

    # BookNetwork.cost_derivative is ∂C/∂a for the cost in use, so the same method passes with cross-entropy.
    assert check(Network.backprop, "both").passed
    own = Network()
    with pytest.raises(TypeError, match=r"check\(Network\.backprop\)"):
        check(own.backprop)


def mazur_output() -> tuple[Array, Array]:
    """z^L and a^L of Mazur's network."""
    z = np.dot(MAZUR_W[1], sigmoid(np.dot(MAZUR_W[0], MAZUR_X) + MAZUR_B[0])) + MAZUR_B[1]
    return z, sigmoid(z)


def test_the_network_offers_network2s_cost_interface() -> None:
    seen: list[tuple[str, float, Array, Array]] = []

    def backprop(net: BookNetwork, x: Array, y: Array) -> Grads:
        z = np.dot(net.weights[-1], sigmoid(np.dot(net.weights[0], x) + net.biases[0])) + net.biases[-1]
        a = sigmoid(z)
        seen.append((net.cost.name, net.cost.fn(a, y), net.cost.delta(z, a, y), net.cost_derivative(a, y)))
        return book_backprop(net.weights, net.biases, x, y, net.cost.name == "cross-entropy")

    assert check(backprop, "both").passed
    (q_name, q_cost, q_delta, q_nabla_a), (c_name, c_cost, c_delta, c_nabla_a) = seen[0], seen[3]  # Mazur's, each cost
    z, a = mazur_output()
    y = MAZUR_Y
    assert (q_name, c_name) == ("quadratic", "cross-entropy")
    assert q_cost == pytest.approx(0.298371109, rel=1e-8)  # Mazur's E_total
    assert c_cost == pytest.approx(float(np.sum(-y * np.log(a) - (1 - y) * np.log(1 - a))), rel=1e-12)
    np.testing.assert_allclose(q_delta, (a - y) * sigmoid_prime(z), rtol=1e-12)
    np.testing.assert_allclose(c_delta, a - y, rtol=1e-12)
    np.testing.assert_allclose(q_nabla_a, a - y, rtol=1e-12)
    np.testing.assert_allclose(c_nabla_a, (a - y) / (a * (1 - a)), rtol=1e-10)


# --- the plain-function form ------------------------------------------------------------------------


def test_a_plain_function_of_weights_and_biases_passes_with_the_quadratic_cost() -> None:
    def plain(weights: list[Array], biases: list[Array], x: Array, y: Array) -> Grads:
        return book_backprop(weights, biases, x, y)

    assert check(plain).passed
    with pytest.raises(ValueError, match="fifth parameter"):
        check(plain, "cross-entropy")


def test_a_plain_function_with_a_cost_parameter_is_given_the_cost() -> None:
    costs: list[str] = []

    def plain(weights: list[Array], biases: list[Array], x: Array, y: Array, cost: BookCost) -> Grads:
        costs.append(cost.name)
        return book_backprop(weights, biases, x, y, cost.name == "cross-entropy")

    assert check(plain, "both").passed
    assert costs == ["quadratic"] * 3 + ["cross-entropy"] * 3


def test_a_function_it_cannot_call_is_a_type_error() -> None:
    def one(x: Array) -> Grads:
        raise AssertionError("never called")

    with pytest.raises(TypeError, match="fn takes 1 positional"):
        check(one)
    with pytest.raises(ValueError, match="unknown cost"):
        check(student(), "log-likelihood")  # type: ignore[arg-type]


# --- the usual mistakes -----------------------------------------------------------------------------

PLANTED: list[tuple[Mistake, int, str, str, str]] = [
    # mistake, layer, equation, words of the diagnosis, the array it shows
    ("bp1_sigma_prime_left_out", 3, "BP1", "σ′(z³) left out of BP1", "b"),
    ("bp1_sigma_for_sigma_prime", 3, "BP1", "σ(z³) used where σ′(z³) belongs", "b"),
    ("bp1_sign", 3, "BP1", "the sign of a³ − y flipped", "b"),
    ("bp1_half_dropped", 3, "BP1", "the ½ of C", "b"),
    ("bp2_sigma_prime_left_out", 2, "BP2", "σ′(z²) left out of BP2", "b"),
    ("bp2_sigma_for_sigma_prime", 2, "BP2", "σ(z²) used where σ′(z²) belongs", "b"),
    ("bp2_no_transpose", 2, "BP2", "w³ not transposed", "b"),
    ("bp3_doubled", 3, "BP3", "∂C/∂b³ is δ³ itself", "b"),
    ("bp4_z_for_a", 3, "BP4", "z² used where a² belongs in BP4", "w"),
    ("bp4_transposed", 3, "BP4", "∂C/∂w³ transposed", "w"),
]


@pytest.mark.parametrize(("mistake", "layer", "equation", "words", "array"), PLANTED)
def test_a_planted_mistake_is_named_with_its_layer_equation_and_numbers(
    mistake: Mistake, layer: int, equation: str, words: str, array: str
) -> None:
    result = check(student(mistake))
    d = difference_of(result)
    assert failure_of(result).run.network == "Matt Mazur's 2-2-2"  # the first network shows every one
    assert (d.layer, d.equation) == (layer, equation)
    assert d.mistake is not None and words in d.mistake

    # The entry shown: the first one, in row-major order, where the mistaken copy leaves the correct one.
    pick = 0 if array == "b" else 1
    right, wrong = mazur()[pick][layer - 2], mazur(mistake)[pick][layer - 2]
    index = tuple(int(k) for k in np.argwhere(~np.isclose(wrong, right))[0])
    assert d.index == index
    assert d.where == f"nabla_{array}[{layer - 2}][{index[0]}, {index[1]}]"
    assert d.expected == pytest.approx(float(right[index]), rel=1e-12)
    assert d.received == pytest.approx(float(wrong[index]), rel=1e-12)
    text = str(result)
    assert f"{equation}:" in text and words in text and f"Layer {layer}" in text
    assert [r.status for r in result.runs] == ["failed", "not run", "not run"]


def test_the_numbers_shown_are_mazurs_and_in_the_books_notation() -> None:
    d = difference_of(check(student("bp4_z_for_a")))
    assert d.symbol == "∂C/∂w³₁₁"
    assert d.expected == pytest.approx(MAZUR_NABLA_W[1][0, 0], rel=1e-8)

    result = check(student("bp1_sign"))
    d = difference_of(result)
    assert d.symbol == "∂C/∂b³₁"
    # Mazur's δ for o1: ∂E/∂out · ∂out/∂net = 0.74136507 × 0.186815602.
    assert d.expected == pytest.approx(0.74136507 * 0.186815602, rel=1e-7)
    assert d.received == pytest.approx(-d.expected, rel=1e-12)
    page = result._repr_html_()
    assert "−0.138499" in page and "0.138499" in str(result)
    assert "✗" in page and "BP1" in page


def test_a_mistake_off_the_first_index_shows_its_own_index() -> None:
    d = difference_of(check(student("bp4_transposed")))
    # ∂C/∂w³ transposed keeps its diagonal: the first entry that differs is row 1, column 2.
    assert (d.symbol, d.index) == ("∂C/∂w³₁₂", (0, 1))


def test_cross_entropy_with_sigma_prime_multiplied_in_passes_quadratic_and_fails_cross_entropy() -> None:
    fn = student("ce_sigma_prime")
    assert check(fn, "quadratic").passed
    result = check(fn, "both")
    failure = failure_of(result)
    d = difference_of(result)
    assert (failure.run.cost, d.layer, d.equation) == ("cross-entropy", 3, "BP1")
    assert d.mistake is not None and "σ′(z³) multiplied in" in d.mistake
    assert d.expected == pytest.approx(float(mazur(cross_entropy=True)[0][1][0, 0]), rel=1e-12)
    assert d.received == pytest.approx(float(mazur("ce_sigma_prime", cross_entropy=True)[0][1][0, 0]), rel=1e-12)
    assert [r.status for r in result.runs] == ["passed"] * 3 + ["failed", "not run", "not run"]


def test_a_backprop_that_stops_after_one_hidden_layer_fails_on_the_deep_network() -> None:
    result = check(student("one_hidden_layer_only"))
    d = difference_of(result)
    assert failure_of(result).run.network == "deep 2-4-4-4-2"
    assert (d.layer, d.equation) == (3, "BP2")
    deep = CASES[1]
    right = book_backprop(list(deep.weights), list(deep.biases), deep.x, deep.y)[0][1]
    assert (d.index, d.received) == ((0, 0), 0.0)
    assert d.expected == pytest.approx(float(right[0, 0]), rel=1e-12)


def test_nan_is_reported_as_such() -> None:
    def backprop(net: BookNetwork, x: Array, y: Array) -> Grads:
        nabla_b, nabla_w = book_backprop(net.weights, net.biases, x, y)
        nabla_b[-1][1, 0] = np.nan
        nabla_w[-1][1, :] = np.nan
        return nabla_b, nabla_w

    result = check(backprop)
    d = difference_of(result)
    assert (d.layer, d.equation, d.index) == (3, "BP1", (1, 0))
    assert np.isnan(d.received)
    assert d.mistake is not None and "NaN" in d.mistake
    assert "received:       NaN" in str(result)


# --- exceptions and shapes --------------------------------------------------------------------------


def test_an_exception_is_reported_with_its_type_message_and_line() -> None:
    def backprop(net: BookNetwork, x: Array, y: Array) -> Grads:
        return np.dot(net.weights[0], y.T), []

    failure = failure_of(check(backprop))
    assert failure.kind == "raised"
    assert failure.summary.startswith("Your function raised ValueError: shapes (2,2) and (1,2) not aligned")
    assert any("in backprop: return np.dot(net.weights[0], y.T)" in line for line in failure.details)
    assert any("w² 2 × 2, w³ 2 × 2" in line for line in failure.details)
    assert any("missing transpose" in line for line in failure.details)
    assert "Traceback" not in str(check(backprop))


def test_a_malicious_exception_message_is_escaped_in_html() -> None:
    def backprop(net: BookNetwork, x: Array, y: Array) -> Grads:
        raise RuntimeError('<script>alert("x")</script> & <img src=x onerror=alert(1)>')

    result = check(backprop)
    page = result._repr_html_()
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img" in page
    assert "RuntimeError: <script>" in str(result)


def correct_then(change: Callable[[Grads], object]) -> Callable[[BookNetwork, Array, Array], object]:
    def backprop(net: BookNetwork, x: Array, y: Array) -> object:
        return change(book_backprop(net.weights, net.biases, x, y))

    return backprop


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda g: ([b.T for b in g[0]], g[1]), "nabla_b[1] (∂C/∂b³) is a row, 1 × 2; the book's vectors are columns"),
        (lambda g: ([b.ravel() for b in g[0]], g[1]), "nabla_b[1] (∂C/∂b³) is a flat vector of 2 numbers"),
        (lambda g: (g[0][1:], g[1]), "nabla_b has 1 entry; expected 2, one per layer 2..3"),
        (lambda g: (g[0], [*g[1], g[1][0]]), "nabla_w has 3 entries; expected 2"),
        (lambda g: (g[1], g[0]), "returned (nabla_w, nabla_b); the book's order is (nabla_b, nabla_w)"),
        (lambda g: None, "returned a NoneType; expected a pair (nabla_b, nabla_w)"),
        (lambda g: (*g, 0), "returned a tuple of 3 items"),
        (lambda g: (g[0], [g[1][0], g[1][1][:, :1]]), "nabla_w[1] (∂C/∂w³) has shape 2 × 1; expected 2 × 2"),
        (lambda g: (g[0], [g[1][0], [["a", "b"]]]), "nabla_w[1] is not an array of numbers"),
    ],
)
def test_wrong_shapes_are_reported_in_words(change: Callable[[Grads], object], words: str) -> None:
    result = check(correct_then(change))
    failure = failure_of(result)
    assert failure.kind == "returned"
    assert words in failure.summary
    assert words in str(result)


def test_a_transposed_gradient_of_a_non_square_layer_is_named() -> None:
    def change(g: Grads) -> Grads:
        return g[0], [g[1][0].T, *g[1][1:]] if g[1][0].shape[0] != g[1][0].shape[1] else g[1]

    failure = failure_of(check(correct_then(change)))
    assert failure.run.network == "deep 2-4-4-4-2"
    assert "nabla_w[0] (∂C/∂w²) is 2 × 4, the transpose of w²'s 4 × 2" in failure.summary


def test_the_students_function_cannot_change_the_networks_it_is_given() -> None:
    def vandal(net: BookNetwork, x: Array, y: Array) -> Grads:
        grads = book_backprop(net.weights, net.biases, x, y)
        for w in net.weights:
            w *= 0.0
        x *= 0.0
        return grads

    assert check(vandal).passed
    assert check(vandal).passed  # and the second time round the networks are as they were
