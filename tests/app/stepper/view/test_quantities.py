"""The quantities a step asks for, their usual mistakes, and how answers are read and checked (``quantities``).

The reference is independent: every true value and every planted mistake is worked out here in plain Python
floats (``math.exp``, loops over lists) from the network's weights and biases, x, y and η alone, by the book's
equations (eq. 25, BP1–BP4, eqs. 20–21). Nothing is read from the trace's z, a or δ arrays, and nothing of the
app is used but the module under test and ``RunView`` to build its input. The reference's own gradients are
checked against the scalar autograd of ``tests/autograd.py``, which knows nothing of δ.

For every quantity of every step: the value is the reference's (relative 1e-12); each planted mistake that a
student can tell apart (not within the tolerance of the value nor of a mistake listed before it) has its bin,
with that value, a name of that kind and a sentence that quotes the right factors' numbers, and ``check``
names it; the value itself is right; an answer 5% off the value and off every bin is wrong with no mistake
named. The extremes: saturated sigmoids (|z| = 50, and |z| = 800 where σ′ underflows to exactly 0) and dead
ReLUs (δ exactly 0, where only |answer| ≤ 1e-9 is right).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from backprop_lens.app.stepper.view.model import RunView
from backprop_lens.app.stepper.view.quantities import (
    AnswerError,
    Quantity,
    askable,
    check,
    close,
    find,
    parse_answer,
)
from backprop_lens.engine import Network, Step, Trace, trace
from tests.autograd import reference_gradients
from tests.networks import NUMBER, as_number

Vector = list[float]
Matrix = list[list[float]]

ASKED_INPUTS = 4  # BP4 and the update ask for the weights from a neuron's first 4 inputs
UPDATED_NEURONS = 2  # the update asks for each layer's first 2 neurons
ZERO = 1e-9  # the tolerance around a value of exactly 0


# --- the reference: the book's equations on plain floats ----------------------------


def sigma(name: str, z: float) -> float:
    if name == "sigmoid":
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
    if name == "tanh":
        return math.tanh(z)
    if name == "relu":
        return z if z > 0 else 0.0
    if name == "linear":
        return z
    raise ValueError(name)


def sigma_prime(name: str, z: float) -> float:
    """σ′(z), written from e^{−|z|} so that a saturated neuron keeps its tiny derivative (or underflows to 0)."""
    if name == "sigmoid":
        e = math.exp(-abs(z))
        return e / ((1.0 + e) * (1.0 + e))
    if name == "tanh":
        return 1.0 / math.cosh(z) ** 2
    if name == "relu":
        return 1.0 if z > 0 else 0.0
    if name == "linear":
        return 1.0
    raise ValueError(name)


@dataclass(frozen=True)
class Reference:
    """Every number of one step-through, by layer l = 1..L as the book numbers them."""

    sizes: list[int]
    acts: dict[int, str]
    cost: str
    eta: float
    x: Vector
    y: Vector
    w: dict[int, Matrix]
    b: dict[int, Vector]
    z: dict[int, Vector]
    a: dict[int, Vector]
    sp: dict[int, Vector]
    delta: dict[int, Vector]

    @property
    def last(self) -> int:
        """L, the output layer."""
        return len(self.sizes)

    def n(self, layer: int) -> int:
        return self.sizes[layer - 1]

    def nabla_w(self, layer: int, j: int, k: int) -> float:
        """BP4: ∂C/∂w^l_jk = a^{l−1}_k δ^l_j."""
        return self.a[layer - 1][k] * self.delta[layer][j]


def reference(net: Network, x: Vector, y: Vector, cost: str, eta: float) -> Reference:
    """Eq. 25 forward, BP1 and BP2 backward, from the network's weights and biases and x, y."""
    sizes = list(net.sizes)
    L = len(sizes)
    acts = {layer: net.activation_names[layer - 2] for layer in range(2, L + 1)}
    w = {i + 2: [[float(v) for v in row] for row in m] for i, m in enumerate(net.weights)}
    b = {i + 2: [float(v) for v in bs] for i, bs in enumerate(net.biases)}
    z: dict[int, Vector] = {}
    a: dict[int, Vector] = {1: list(x)}
    sp: dict[int, Vector] = {}
    for layer in range(2, L + 1):
        z[layer] = [
            sum(w[layer][j][k] * a[layer - 1][k] for k in range(sizes[layer - 2])) + b[layer][j]
            for j in range(sizes[layer - 1])
        ]
        a[layer] = [sigma(acts[layer], v) for v in z[layer]]
        sp[layer] = [sigma_prime(acts[layer], v) for v in z[layer]]
    residual = [aj - yj for aj, yj in zip(a[L], y, strict=True)]
    delta = {L: residual if cost == "cross_entropy" else [r * s for r, s in zip(residual, sp[L], strict=True)]}
    for layer in range(L - 1, 1, -1):
        delta[layer] = [
            sum(w[layer + 1][q][j] * delta[layer + 1][q] for q in range(sizes[layer])) * sp[layer][j]
            for j in range(sizes[layer - 1])
        ]
    return Reference(sizes, acts, cost, eta, list(x), list(y), w, b, z, a, sp, delta)


# --- the usual mistakes, planted ----------------------------------------------------

# Kinds of mistake, in the test's words; ``MARKS`` gives the words the module's name for each must contain.
TRANSPOSED_25 = "eq. 25: w not transposed"
BIAS = "eq. 25: bias left out"
ACTIVATION = "eq. 25: activation left out"
SP_LEFT_OUT_1 = "BP1: σ′ left out"
SIGMA_FOR_SP_1 = "BP1: σ(z) for σ′"
SIGN_1 = "BP1: sign of a − y flipped"
SP_MULTIPLIED = "BP1 cross-entropy: σ′ multiplied in"
SP_LEFT_OUT_2 = "BP2: σ′ left out"
SIGMA_FOR_SP_2 = "BP2: σ(z) for σ′"
TRANSPOSED_2 = "BP2: w not transposed"
PREVIOUS_2 = "BP2: δ^{l+1}_j unchanged"
PREVIOUS_3 = "BP3: δ^{l+1}_j"
Z_FOR_A = "BP4: z^{l−1} for a^{l−1}"
SWAPPED = "BP4: j and k swapped"
PREVIOUS_4 = "BP4: a_k δ^{l+1}_j"
ETA = "update: η left out"
SIGN_UPDATE = "update: + η g"
UNCHANGED = "update: v unchanged"
MARKS: dict[str, tuple[str, ...]] = {
    TRANSPOSED_25: ("not transposed",),
    BIAS: ("bias", "left out"),
    ACTIVATION: ("activation left out",),
    SP_LEFT_OUT_1: ("σ′(z", "left out"),
    SIGMA_FOR_SP_1: ("σ(z", "used for σ′"),
    SIGN_1: ("sign of a",),
    SP_MULTIPLIED: ("σ′(z", "multiplied in"),
    SP_LEFT_OUT_2: ("σ′(z", "left out"),
    SIGMA_FOR_SP_2: ("σ(z", "used for σ′"),
    TRANSPOSED_2: ("not transposed",),
    PREVIOUS_2: ("previous layer's δ", "unchanged"),
    PREVIOUS_3: ("previous layer's δ",),
    Z_FOR_A: ("used for a",),
    SWAPPED: ("j and k swapped",),
    PREVIOUS_4: ("previous layer's δ",),
    ETA: ("η left out",),
    SIGN_UPDATE: ("update's sign",),
    UNCHANGED: ("not updated", "left out"),
}


@dataclass(frozen=True)
class Planted:
    kind: str
    value: float
    quoted: tuple[float, ...]  # the numbers of the right factors its sentence quotes
    says: tuple[str, ...]  # what its sentence must name: the wrong factor, with its layer and neuron


_SUP = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def sym(letter: str, layer: int, *indices: int) -> str:
    """A symbol as a person reads it, from 0-based indices: sym("δ", 3, 0) is δ³₁."""
    return letter + str(layer).translate(_SUP) + "".join(str(i + 1).translate(_SUB) for i in indices)


@dataclass(frozen=True)
class Expected:
    key: str
    value: float
    planted: tuple[Planted, ...]  # in the order the line's mistakes are listed
    scale: float | None = None  # the 1% is of this when smaller than the value: the update's step η ∂C/∂v


def feedforward(ref: Reference, layer: int) -> list[Expected]:
    out: list[Expected] = []
    w, a_in = ref.w[layer], ref.a[layer - 1]
    n_in = ref.n(layer - 1)
    for j in range(ref.n(layer)):
        b = ref.b[layer][j]
        wa = sum(w[j][k] * a_in[k] for k in range(n_in))
        z = wa + b
        zs: list[Planted] = []
        if ref.n(layer) == n_in:
            wt = sum(w[k][j] * a_in[k] for k in range(n_in))
            zs.append(Planted(TRANSPOSED_25, wt + b, (b,), (f"row {j + 1} of {sym('w', layer)}",)))
        zs.append(Planted(BIAS, wa, (wa, b), (sym("b", layer, j), "left it out")))
        as_ = [] if ref.acts[layer] == "linear" else [Planted(ACTIVATION, z, (z,), (sym("z", layer, j), "activation"))]
        out.append(Expected(f"z-{layer}-{j + 1}", z, tuple(zs)))
        out.append(Expected(f"a-{layer}-{j + 1}", sigma(ref.acts[layer], z), tuple(as_)))
    return out


def output_error(ref: Reference) -> list[Expected]:
    out: list[Expected] = []
    L = ref.last
    for j in range(ref.n(L)):
        a, y, sp = ref.a[L][j], ref.y[j], ref.sp[L][j]
        r = a - y
        sp_sym, y_minus_a = f"σ′({sym('z', L, j)})", f"y{str(j + 1).translate(_SUB)} − {sym('a', L, j)}"
        if ref.cost == "cross_entropy":
            value = r  # chapter 3: σ′ cancels
            planted: tuple[Planted, ...] = (
                Planted(SP_MULTIPLIED, r * sp, (r, sp), (sp_sym, "cancels")),
                Planted(SIGN_1, y - a, (), (y_minus_a,)),
            )
        else:
            value = r * sp
            planted = (
                Planted(SP_LEFT_OUT_1, r, (r, sp), (sp_sym, "missing")),
                Planted(SIGMA_FOR_SP_1, r * a, (r, a, sp), (f"you used σ({sym('z', L, j)})",)),
                Planted(SIGN_1, (y - a) * sp, (sp,), (y_minus_a,)),
            )
        out.append(Expected(f"delta-{L}-{j + 1}", value, planted))
    return out


def backpropagate(ref: Reference, layer: int) -> list[Expected]:
    out: list[Expected] = []
    w_up, d_up = ref.w[layer + 1], ref.delta[layer + 1]
    n_up = ref.n(layer + 1)
    for j in range(ref.n(layer)):
        s = sum(w_up[q][j] * d_up[q] for q in range(n_up))  # ((w^{l+1})ᵀ δ^{l+1})_j
        sp, a = ref.sp[layer][j], ref.a[layer][j]
        sp_sym = f"σ′({sym('z', layer, j)})"
        planted = [
            Planted(SP_LEFT_OUT_2, s, (s, sp), (sp_sym, "missing")),
            Planted(SIGMA_FOR_SP_2, s * a, (s, a, sp), (f"you used σ({sym('z', layer, j)})",)),
        ]
        if n_up == ref.n(layer):
            t = sum(w_up[j][q] * d_up[q] for q in range(n_up))  # row j of w^{l+1} where its column j belongs
            planted.append(Planted(TRANSPOSED_2, t * sp, (sp,), (f"row {j + 1} of {sym('w', layer + 1)}",)))
        if j < n_up:
            planted.append(Planted(PREVIOUS_2, d_up[j], (), (f"not {sym('δ', layer + 1, j)}",)))
        out.append(Expected(f"delta-{layer}-{j + 1}", s * sp, tuple(planted)))
    return out


def gradients(ref: Reference, layer: int) -> list[Expected]:
    out: list[Expected] = []
    above = ref.delta.get(layer + 1)
    for j in range(ref.n(layer)):
        delta = ref.delta[layer][j]
        previous = sym("δ", layer + 1, j)
        bs = [Planted(PREVIOUS_3, above[j], (), (f"not {previous}",))] if above is not None and j < len(above) else []
        out.append(Expected(f"nabla_b-{layer}-{j + 1}", delta, tuple(bs)))
        for k in range(min(ref.n(layer - 1), ASKED_INPUTS)):
            a_k = ref.a[layer - 1][k]
            ws: list[Planted] = []
            if layer - 1 >= 2:
                z_k = ref.z[layer - 1][k]
                ws.append(Planted(Z_FOR_A, z_k * delta, (delta, z_k, a_k), (f"you used {sym('z', layer - 1, k)}",)))
            if j < ref.n(layer - 1) and k < ref.n(layer):
                swapped = ref.a[layer - 1][j] * ref.delta[layer][k]
                ws.append(Planted(SWAPPED, swapped, (), (f"you used {sym('a', layer - 1, j)}{sym('δ', layer, k)}",)))
            if above is not None and j < len(above):
                ws.append(Planted(PREVIOUS_4, a_k * above[j], (a_k, above[j]), (f"you used {previous}",)))
            out.append(Expected(f"nabla_w-{layer}-{j + 1}-{k + 1}", ref.nabla_w(layer, j, k), tuple(ws)))
    return out


def updated(key: str, old: float, grad: float, eta: float) -> Expected:
    """Eqs. 20–21: v − η ∂C/∂v."""
    return Expected(
        key,
        old - eta * grad,
        (
            Planted(ETA, old - grad, (old, grad, eta), ("η", "missing")),
            Planted(SIGN_UPDATE, old + eta * grad, (eta * grad,), ("sign", "against the gradient")),
            Planted(UNCHANGED, old, (old, -eta * grad), ("where the update starts",)),
        ),
        eta * grad,
    )


def update(ref: Reference) -> list[Expected]:
    out: list[Expected] = []
    for m in range(2, ref.last + 1):
        for j in range(min(ref.n(m), UPDATED_NEURONS)):
            for k in range(min(ref.n(m - 1), ASKED_INPUTS)):
                out.append(updated(f"w_new-{m}-{j + 1}-{k + 1}", ref.w[m][j][k], ref.nabla_w(m, j, k), ref.eta))
            out.append(updated(f"b_new-{m}-{j + 1}", ref.b[m][j], ref.delta[m][j], ref.eta))
    return out


def expected(ref: Reference, step: Step) -> list[Expected]:
    """What the step computes, in the order of its lines."""
    if step.kind == "feedforward":
        assert step.layer is not None
        return feedforward(ref, step.layer)
    if step.kind == "output_error":
        return output_error(ref)
    if step.kind == "backpropagate":
        assert step.layer is not None
        return backpropagate(ref, step.layer)
    if step.kind == "gradients":
        assert step.layer is not None
        return gradients(ref, step.layer)
    if step.kind == "update":
        return update(ref)
    return []


# --- the networks ------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    sizes: list[int]
    activation: str | list[str]
    cost: str
    x: Vector
    y: Vector
    eta: float
    seed: int = 0
    weights: list[Matrix] | None = None
    biases: list[Vector] | None = None

    def run(self) -> tuple[Trace, RunView, Reference]:
        net = Network(self.sizes, self.weights, self.biases, activation=self.activation, seed=self.seed)
        t = trace(net, [self.x], [self.y], cost=self.cost, eta=self.eta)
        return t, RunView(t), reference(net, self.x, self.y, self.cost, self.eta)


WORKED = Case(
    "2-2-2 sigmoid quadratic (Mazur's worked example)", [2, 2, 2], "sigmoid", "quadratic", [0.05, 0.1],
    [0.01, 0.99], 0.5, weights=[[[0.15, 0.2], [0.25, 0.3]], [[0.4, 0.45], [0.5, 0.55]]],
    biases=[[0.35, 0.35], [0.6, 0.6]],
)  # fmt: skip
SQUARE = Case("2-3-3-2 sigmoid quadratic", [2, 3, 3, 2], "sigmoid", "quadratic", [0.05, 0.1], [0.01, 0.99], 3.0)
SQUARE_CE = Case("2-3-3-2 sigmoid cross-entropy", [2, 3, 3, 2], "sigmoid", "cross_entropy", [0.05, 0.1], [0.01, 0.99],
                 3.0)  # fmt: skip
TANH = Case("3-4-4-2 tanh quadratic", [3, 4, 4, 2], "tanh", "quadratic", [0.3, -0.7, 0.2], [0.4, -0.6], 3.0, seed=1)
RELU = Case("5-4-4-2 relu quadratic", [5, 4, 4, 2], "relu", "quadratic", [0.5, -0.2, 0.9, 0.1, -0.4], [0.3, 0.8],
            0.5, seed=2)  # fmt: skip
RELU_CE = Case("3-4-3-2 relu, sigmoid output, cross-entropy", [3, 4, 3, 2], ["relu", "relu", "sigmoid"],
               "cross_entropy", [0.2, 0.6, -0.5], [0.2, 0.7], 3.0, seed=3)  # fmt: skip
LINEAR_OUT = Case("2-3-2 tanh, linear output", [2, 3, 2], ["tanh", "linear"], "quadratic", [0.4, -0.3], [0.5, -0.5],
                  1.0, seed=4)  # fmt: skip
SATURATED_W = [[[50.0, -50.0], [-50.0, 50.0]], [[50.0, 50.0], [-50.0, -50.0]]]
SATURATED_B = [[25.0, -25.0], [0.0, 0.0]]  # z² = (50, −50), z³ = (50, −50): σ′ about 2×10⁻²²
SATURATED = Case("2-2-2 saturated, quadratic", [2, 2, 2], "sigmoid", "quadratic", [1.0, 0.5], [0.99, 0.01], 0.5,
                 weights=SATURATED_W, biases=SATURATED_B)  # fmt: skip
SATURATED_CE = Case("2-2-2 saturated, cross-entropy", [2, 2, 2], "sigmoid", "cross_entropy", [1.0, 0.5],
                    [0.99, 0.01], 0.5, weights=SATURATED_W, biases=SATURATED_B)  # fmt: skip
UNDERFLOW = Case(
    "2-2-2 z² = ±800, cross-entropy", [2, 2, 2], "sigmoid", "cross_entropy", [8.0, 8.0], [0.99, 0.01], 0.5,
    weights=[[[50.0, 50.0], [-50.0, -50.0]], [[50.0, -50.0], [-50.0, 50.0]]], biases=[[0.0, 0.0], [0.0, 0.0]],
)  # fmt: skip  # σ′(z²) underflows to exactly 0, so δ² is exactly 0
DEAD = Case(
    "2-3-2 relu, dead neurons", [2, 3, 2], "relu", "quadratic", [0.6, 0.4], [0.5, 0.2], 0.5,
    weights=[[[0.5, -0.3], [-1.0, -0.8], [0.7, 0.2]], [[0.9, 0.4, -0.5], [-0.8, 0.3, -0.6]]],
    biases=[[0.1, -0.2, 0.05], [0.2, -0.3]],
)  # fmt: skip  # z²₂ = −1.12 and z³₂ = −0.854: δ²₂ and δ³₂ are exactly 0
CASES = [WORKED, SQUARE, SQUARE_CE, TANH, RELU, RELU_CE, LINEAR_OUT, SATURATED, SATURATED_CE, UNDERFLOW, DEAD]


# --- checking one quantity ---------------------------------------------------------


def same(got: float, want: float) -> bool:
    """Equal to rounding: relative 1e-12, and exactly where the reference is 0."""
    return math.isclose(got, want, rel_tol=1e-12, abs_tol=0.0)


def near(answer: float, value: float, scale: float | None = None) -> bool:
    """The tolerance as stated: 4 significant digits or 1%; for an updated parameter, 1% of the smaller of the
    value and the update's step, and the digits only where they tell it from the parameter before; |answer| ≤ 1e-9
    around 0."""
    if value == 0:
        return abs(answer) <= ZERO
    size = abs(value) if scale is None else min(abs(value), abs(scale))
    # 4 significant digits count for an updated parameter only where they tell it from where it started
    digits = scale is None or f"{value:.3e}" != f"{value + scale:.3e}"
    return abs(answer - value) <= 0.01 * size or (digits and f"{answer:.3e}" == f"{value:.3e}")


def quotes(sentence: str, number: float) -> bool:
    """Whether the sentence prints ``number`` to its 4 significant digits."""
    printed = [as_number(t) for t in NUMBER.findall(sentence)]
    if number == 0:
        return 0.0 in printed
    return any(abs(p - number) <= 1e-3 * abs(number) for p in printed)


def verify(q: Quantity, e: Expected, where: str) -> set[str]:
    """Every assertion on one quantity; returns the kinds of mistake it has a bin for."""
    assert same(q.value, e.value), f"{where}: {q.key} = {q.value!r}, reference {e.value!r}"
    assert all(math.isfinite(m.value) for m in q.mistakes), f"{where}: {q.key}: a bin is not finite"
    assert check(q, q.value).right and check(q, e.value).right, f"{where}: {q.key}: the value itself is not right"
    assert check(q, e.value).mistake is None
    assert check(q, e.value).text.startswith("Right")

    kept: list[Planted] = []
    for p in e.planted:
        assert math.isfinite(p.value)
        if not near(p.value, e.value, e.scale) and not any(near(p.value, o.value, e.scale) for o in kept):
            kept.append(p)
    names = [m.name for m in q.mistakes]
    assert len(q.mistakes) == len(kept), f"{where}: {q.key}: bins {names}, expected {[p.kind for p in kept]}"
    for m, p in zip(q.mistakes, kept, strict=True):
        label = f"{where}: {q.key}, {p.kind}"
        assert all(word in m.name for word in MARKS[p.kind]), f"{label}: the bin is named {m.name!r}"
        assert same(m.value, p.value), f"{label}: bin {m.value!r}, planted {p.value!r}"
        for number in p.quoted:
            assert quotes(m.sentence, number), f"{label}: {m.sentence!r} does not quote {number!r}"
        for words in p.says:
            assert words in m.sentence, f"{label}: {m.sentence!r} does not name {words!r}"
        verdict = check(q, p.value)
        assert not verdict.right, label
        assert verdict.mistake == m, f"{label}: check named {verdict.mistake}"
        assert m.sentence in verdict.text

    offs = [e.value * f for f in (1.05, 0.95, 1.1, 0.9, 1.2)] if e.value != 0 else [1e-6, -1e-6, 1e-3, -1e-3]
    offs += [1.0, -1.0, 7.0]  # a value of 1e-24 next to a mistake of 0 (a bias of 0 hardly moved) has no 5% off
    off = next(
        v for v in offs if not near(v, e.value, e.scale) and not any(near(v, p.value, e.scale) for p in e.planted)
    )
    wrong = check(q, off)
    assert not wrong.right and wrong.mistake is None, f"{where}: {q.key}: {off!r} gave {wrong}"
    assert wrong.text.startswith("Not right")
    return {p.kind for p in kept}


def verify_run(case: Case) -> set[str]:
    t, r, ref = case.run()
    kinds: set[str] = set()
    for step in t.steps:
        qs = askable(r, step)
        es = expected(ref, step)
        where = f"{case.name}, step {step.index} ({step.kind})"
        assert [q.key for q in qs] == [e.key for e in es], where
        for q, e in zip(qs, es, strict=True):
            kinds |= verify(q, e, where)
    return kinds


# --- the tests ---------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_values_and_mistake_bins_match_the_independent_reference(case: Case) -> None:
    """Every askable quantity of every step: the value, each distinguishable planted mistake's bin (value, kind,
    the numbers its sentence quotes, ``check`` naming it), the value right, an answer 5% off wrong and unnamed."""
    verify_run(case)


def test_every_kind_of_mistake_is_binned_somewhere() -> None:
    """Across the networks, each kind of planted mistake is distinguishable at least once, so none goes unchecked."""
    kinds: set[str] = set()
    for case in CASES:
        kinds |= verify_run(case)
    assert kinds == set(MARKS)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_step_but_the_input_asks_something(case: Case) -> None:
    """Feedforward, BP1, BP2, BP3–4 and the update each ask for a quantity; the input computes nothing; ``find``
    gives a step's quantity by key and None for a key the step does not compute."""
    t, r, _ = case.run()
    asked = {s.kind for s in t.steps if askable(r, s)}
    assert asked == {"feedforward", "output_error", "backpropagate", "gradients", "update"}
    assert askable(r, t.steps[0]) == []
    for s in t.steps[1:]:
        first = askable(r, s)[0]
        assert find(r, s, first.key) == first
        assert find(r, s, "delta-99-1") is None


# The autograd takes ln a and ln(1 − a), which fail once a sigmoid output has rounded to 0 or 1.
AUTOGRAD_CASES = [c for c in CASES if c not in (SATURATED_CE, UNDERFLOW)]


@pytest.mark.parametrize("case", AUTOGRAD_CASES, ids=[c.name for c in AUTOGRAD_CASES])
def test_the_reference_agrees_with_the_scalar_autograd(case: Case) -> None:
    """The reference's ∂C/∂b (δ, BP1–BP3) and ∂C/∂w (BP4) are the autograd's derivatives of the cost as written,
    to 1e-9 of their scale (the autograd takes σ′ as σ(1 − σ), which rounds where σ′ is tiny)."""
    _, _, ref = case.run()
    acts = [ref.acts[layer] for layer in range(2, ref.last + 1)]
    weights = [ref.w[layer] for layer in range(2, ref.last + 1)]
    biases = [ref.b[layer] for layer in range(2, ref.last + 1)]
    _, nabla_w, nabla_b = reference_gradients(weights, biases, acts, case.cost, [ref.x], [ref.y])
    for layer in range(2, ref.last + 1):
        scale = max(1.0, *(abs(v) for v in ref.delta[layer]))
        for j in range(ref.n(layer)):
            assert abs(nabla_b[layer - 2][j] - ref.delta[layer][j]) <= 1e-9 * scale
            for k in range(ref.n(layer - 1)):
                assert abs(nabla_w[layer - 2][j][k] - ref.nabla_w(layer, j, k)) <= 1e-9 * scale


def _by_key(case: Case) -> dict[str, Quantity]:
    t, r, _ = case.run()
    return {q.key: q for s in t.steps for q in askable(r, s)}


def test_saturated_sigmoids_drop_the_bins_that_coincide() -> None:
    """With |z| = 50, σ(z) is 1 or σ′(z) itself: "σ(z) for σ′" gives the number "σ′ left out" gives (a³₁ = 1) or
    the value itself (a³₂ ≈ σ′(z³₂)), so it is no bin; nothing is non-finite, and the tiny δ keeps its digits."""
    qs = _by_key(SATURATED)
    for key in ("delta-3-1", "delta-3-2"):
        names = [m.name for m in qs[key].mistakes]
        assert not any("used for σ′" in n for n in names), names
        assert any("left out" in n for n in names), names
        assert 0 < abs(qs[key].value) < 1e-20
    assert all(math.isfinite(q.value) and all(math.isfinite(m.value) for m in q.mistakes) for q in qs.values())


def test_underflowed_sigma_prime_gives_an_exact_zero_delta() -> None:
    """σ′(±800) underflows to 0, so δ² is exactly 0: an answer within 1e-9 of 0 is right, "σ′ left out" (the
    finite (w³)ᵀδ³) stays a bin, and the bins that come out 0 with it (σ(z) for σ′ where a = 0) are gone."""
    qs = _by_key(UNDERFLOW)
    for key in ("delta-2-1", "delta-2-2"):
        q = qs[key]
        assert q.value == 0
        assert check(q, 1e-9).right and check(q, -1e-9).right
        assert not check(q, 2e-9).right
        assert any("σ′" in m.name and "left out" in m.name for m in q.mistakes)
        assert all(abs(m.value) > ZERO for m in q.mistakes)
    assert all(math.isfinite(q.value) and all(math.isfinite(m.value) for m in q.mistakes) for q in qs.values())


def test_dead_relu_is_right_only_within_1e_9_of_zero() -> None:
    """A dead ReLU (z < 0): its δ, ∂C/∂b and ∂C/∂w row are exactly 0; only |answer| ≤ 1e-9 is right (no relative
    rule can apply), and no bin is 0 (σ(z)σ… with a = 0, the dead output's δ³₂ carried back)."""
    qs = _by_key(DEAD)
    zeros = ["delta-3-2", "delta-2-2", "nabla_b-2-2", "nabla_w-2-2-1", "nabla_w-2-2-2", "nabla_b-3-2"]
    for key in zeros:
        q = qs[key]
        assert q.value == 0, key
        for answer, right in ((0.0, True), (-0.0, True), (1e-9, True), (-1e-9, True), (1.01e-9, False),
                              (-2e-9, False), (1e-4, False)):  # fmt: skip
            assert check(q, answer).right is right, (key, answer)
        assert all(abs(m.value) > ZERO for m in q.mistakes), key
    assert [m.value for m in qs["delta-2-2"].mistakes] != []  # "σ′ left out": (w³)ᵀδ³ at neuron 2 is not 0


@pytest.mark.parametrize("scale", [2.0**-40, 1.0, 2.0**40])
def test_close_at_its_boundaries(scale: float) -> None:
    """Exactly 1% off is right, 1.02% off is wrong (4 significant digits do not agree there), on either side and
    sign, at any scale (powers of two keep the arithmetic exact)."""
    for sign in (1.0, -1.0):
        value = sign * 100.0 * scale
        assert close(value, value)
        assert close(sign * 101.0 * scale, value)
        assert close(sign * 99.0 * scale, value)
        assert not close(sign * 101.02 * scale, value)
        assert not close(sign * 98.98 * scale, value)
        assert not close(-value, value)


def test_close_with_four_significant_digits() -> None:
    """Agreeing to 4 significant digits is right (within 1% as well, as it must be at 4 digits)."""
    assert close(1.2344, 1.2336)  # both 1.234
    assert close(-9.9996e-7, -1.0004e-6)  # both −1.000×10⁻⁶
    assert not close(1.3, 1.2)


def test_close_around_zero_and_non_finite() -> None:
    """Around a value of exactly 0 only |answer| ≤ 1e-9 is right; infinities and NaN are never close to a number."""
    assert close(0.0, 0.0) and close(1e-9, 0.0) and close(-1e-9, 0.0) and close(-0.0, 0.0)
    assert not close(1.0000001e-9, 0.0) and not close(-1e-8, 0.0) and not close(1e-3, 0.0)
    assert not close(math.inf, 1e308) and not close(math.nan, 1.0) and not close(1.0, math.nan)
    assert not close(math.nan, math.nan)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("−0,5", -0.5),
        ("-0.5", -0.5),
        ("1e-3", 0.001),
        ("2.5×10⁻³", 0.0025),
        ("2.5 × 10^-3", 0.0025),
        ("2.5x10^-3", 0.0025),
        ("−1,25E2", -125.0),
        ("+3", 3.0),
        (".5", 0.5),
        ("  0.25 ", 0.25),
        ("7.", 7.0),
        ("−1.23×10⁻²", -0.0123),
        ("1" * 40, float("1" * 40)),
    ],
)
def test_parse_answer_reads_what_people_type(text: str, value: float) -> None:
    """U+2212 and -, a decimal comma, e-notation, ×10⁻³ and x10^-3, a leading + or point; up to 40 characters."""
    assert parse_answer(text) == value


@pytest.mark.parametrize(
    "text",
    ["", "   ", "abc", "1,2.3", "1..2", "--1", "1e", "×10⁻³", "1" * 41, "1,2,3", "0x10", "1e999", "nan", "inf",
     "١٫٥", "１２", "1e١"],  # other scripts' digits: the page's parser (common.js) reads 0–9 only
)  # fmt: skip
def test_parse_answer_refuses_with_a_sentence(text: str) -> None:
    """Anything else raises AnswerError with one sentence a person reads: it ends with a full stop, and names
    what was typed or what is wrong with it."""
    with pytest.raises(AnswerError) as raised:
        parse_answer(text)
    message = str(raised.value)
    assert message.endswith("."), message
    assert message[0].isupper() or message[0] == "“", message
    if not text.strip():
        assert "number" in message
    elif len(text) > 40:
        assert "41" in message and "40" in message
    else:
        assert f"“{text}”" in message


def test_an_updated_weight_left_unchanged_is_never_right() -> None:
    """The update's step may be far below the weight's 4th significant digit: then those digits cannot tell the new
    weight from the old, and only 1% of the step is right."""
    assert not close(0.5, 0.49999, 1e-5) and not close(-0.5, -0.49999, -1e-5)
    assert close(0.49999, 0.49999, 1e-5) and close(0.4999900999, 0.49999, 1e-5)
    assert not close(0.4999902, 0.49999, 1e-5)
    assert close(0.1498, 0.149781, 0.000219) and not close(0.15, 0.149781, 0.000219)  # the digits tell them apart
    assert close(-0.0456, -0.045621, 1.048)  # a step larger than the value: 1% of the value, or its digits
