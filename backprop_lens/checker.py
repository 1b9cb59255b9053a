"""Check my backprop: run a student's own backpropagation and say where it first parts from BP1–BP4.

    from backprop_lens import check
    check(Network.backprop)                  # the book's network.py method, taken from the class
    check(my_backprop, cost="both")          # quadratic, then cross-entropy
    check(plain_backprop)                    # plain_backprop(weights, biases, x, y)

The function is run on three sigmoid networks, one example each: Matt Mazur's worked 2-2-2 example
(w² = [[.15, .20], [.25, .30]], b² = [.35, .35], w³ = [[.40, .45], [.50, .55]], b³ = [.60, .60],
x = [.05, .10], y = [.01, .99]), a deep 2-4-4-4-2 and a wide 3-16-4, both seeded. Their layers are
square and non-square, so a missing transpose shows either as wrong numbers or as a shape error.
The expected gradients come from the engine (``engine.backprop.backprop``).

What the student's function is given. Two forms, told apart by the number of required positional
parameters:

* ``fn(net, x, y) -> (nabla_b, nabla_w)``, the book's ``backprop`` for ONE example. ``net`` is a
  ``BookNetwork``: ``sizes``, ``num_layers``, ``weights`` (w^l, n_l × n_{l−1}), ``biases`` (b^l,
  n_l × 1 columns), ``cost`` (network2.py's form: ``cost.fn(a, y)`` and ``cost.delta(z, a, y)``,
  plus ``cost.name``) and ``cost_derivative(a, y)`` = ∂C_x/∂a^L for that cost (network.py's
  method, which knew only the quadratic cost). So a method written for the book's class can be
  passed from the class, ``Network.backprop``, and receives the ``BookNetwork`` as ``self``;
  ``net.backprop``, bound to the student's own network, cannot be checked.
* ``fn(weights, biases, x, y)``, plain lists of arrays in the same shapes, checked with the
  quadratic cost only; ``fn(weights, biases, x, y, cost)`` also receives the ``cost`` object and
  can be checked with cross-entropy.

x and y are columns (n_1 × 1, n_L × 1); nabla_b and nabla_w are lists with the shapes of the
biases and weights. Every call gets fresh copies, so a function that writes into them harms nothing.
``cost`` is ``"quadratic"`` (network.py, the default), ``"cross-entropy"`` (network2.py: δ^L = a^L − y)
or ``"both"``.

The report is PASS, or the first place the gradient differs, in backward order: at each layer
from L down to 2, ∂C/∂b^l (which is δ^l by BP3, so BP1 at L and BP2 below) and then ∂C/∂w^l
(BP4). When ∂C/∂w^l agrees and ∂C/∂b^l does not, δ^l was right and the mistake is BP3's. A
mistaken value is matched against the usual mistakes, each computed here from the engine's
forward pass: σ′ left out, σ(z) where σ′(z) belongs, w not transposed, the sign of a − y
flipped, z^{l−1} where a^{l−1} belongs, and a few more. Exceptions, wrong shapes (rows for
columns, flat vectors, the pair's order) and NaN are reported in words.

Left out: activations other than the sigmoid, mini-batches (the book's ``backprop`` takes one
example), regularisation, the update step, speed, and functions that never return.
"""

from __future__ import annotations

import html
import inspect
import os
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from backprop_lens.app.core.format import SIG_DETAIL, fmt, sub, sup
from backprop_lens.engine.activations import get_activation
from backprop_lens.engine.backprop import Gradients, backprop
from backprop_lens.engine.costs import Cost, get_cost
from backprop_lens.engine.network import Network

Array = NDArray[np.float64]
CostChoice = Literal["quadratic", "cross-entropy", "cross_entropy", "both"]
Equation = Literal["BP1", "BP2", "BP3", "BP4"]
Status = Literal["passed", "failed", "not run"]
Kind = Literal["differs", "raised", "returned"]

_SIGMOID = get_activation("sigmoid")
_ENGINE_COST = {"quadratic": "quadratic", "cross-entropy": "cross_entropy"}


# --- what the student's function receives ----------------------------------------------------------


@dataclass(frozen=True)
class BookCost:
    """A cost in network2.py's form, on the book's columns: ``fn(a, y)``, ``delta(z, a, y)`` and ``name``."""

    name: str  # "quadratic" or "cross-entropy"
    _cost: Cost = field(repr=False)

    def fn(self, a: Array, y: Array) -> float:
        """C_x for the output a = a^L and the target y."""
        return self._cost.fn(_logit(a).T, a.T, y.T, _SIGMOID)

    def delta(self, z: Array, a: Array, y: Array) -> Array:
        """BP1: δ^L from z^L, a^L and y (for cross-entropy a^L − y, the σ′ cancelling)."""
        return self._cost.delta(z.T, a.T, y.T, _SIGMOID).T

    def derivative(self, a: Array, y: Array) -> Array:
        """∇_aC_x = ∂C_x/∂a^L: a^L − y for the quadratic cost, (a − y)/(a(1 − a)) for cross-entropy."""
        return self._cost.nabla_a(_logit(a).T, a.T, y.T, _SIGMOID).T


def _logit(a: Array) -> Array:
    """z with σ(z) = a: the network2-style methods receive a alone, the engine's costs want z too."""
    with np.errstate(divide="ignore"):
        z: Array = np.log(a) - np.log1p(-a)
    return z


@dataclass
class BookNetwork:
    """What the student's ``fn(net, x, y)`` receives: the attributes of the book's Network, on the book's columns.

    ``weights[i]`` is w^{i+2} (n_{i+2} × n_{i+1}); ``biases[i]`` is b^{i+2} (n_{i+2} × 1).
    """

    sizes: list[int]
    weights: list[Array]
    biases: list[Array]
    cost: BookCost
    num_layers: int = field(init=False)

    def __post_init__(self) -> None:
        self.num_layers = len(self.sizes)

    def __repr__(self) -> str:
        return f"BookNetwork(sizes={self.sizes}, cost={self.cost.name})"

    def cost_derivative(self, output_activations: Array, y: Array) -> Array:
        """∂C_x/∂a^L for this network's cost (network.py's method; there, a^L − y)."""
        return self.cost.derivative(output_activations, y)


# --- the networks it runs on -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Case:
    name: str
    weights: tuple[Array, ...]
    biases: tuple[Array, ...]  # columns
    x: Array
    y: Array

    @property
    def sizes(self) -> list[int]:
        return [self.weights[0].shape[1], *(w.shape[0] for w in self.weights)]

    def shapes_text(self) -> str:
        """The shapes a student compares with, in words."""
        ws = ", ".join(f"w{sup(i + 2)} {_shape(w.shape)}" for i, w in enumerate(self.weights))
        return (
            f"In this network ({self.name}): x is {_shape(self.x.shape)}, y is {_shape(self.y.shape)}; {ws}; "
            "b^l, δ^l, z^l and a^l are n_l × 1 columns."
        )


def _mazur() -> _Case:
    return _Case(
        name="Matt Mazur's 2-2-2",
        weights=(np.array([[0.15, 0.20], [0.25, 0.30]]), np.array([[0.40, 0.45], [0.50, 0.55]])),
        biases=(np.array([[0.35], [0.35]]), np.array([[0.60], [0.60]])),
        x=np.array([[0.05], [0.10]]),
        y=np.array([[0.01], [0.99]]),
    )


def _seeded(kind: str, sizes: list[int], seed: int) -> _Case:
    net = Network(sizes, seed=seed)
    rng = np.random.default_rng(seed + 1)
    return _Case(
        name=f"{kind} {'-'.join(map(str, sizes))}",
        weights=tuple(net.weights),
        biases=tuple(b.reshape(-1, 1) for b in net.biases),
        x=rng.uniform(-1.0, 1.0, (sizes[0], 1)),
        y=rng.uniform(0.05, 0.95, (sizes[-1], 1)),  # inside (0, 1), as cross-entropy needs
    )


CASES: tuple[_Case, ...] = (_mazur(), _seeded("deep", [2, 4, 4, 4, 2], 2), _seeded("wide", [3, 16, 4], 3))


# --- the report --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One network and cost the function was run on, in the order they ran."""

    network: str
    cost: str
    status: Status


@dataclass(frozen=True)
class Difference:
    """The first entry, in backward order, where the received gradient is not the expected one."""

    layer: int  # l, the book's numbering (layer 1 is the input)
    equation: Equation
    symbol: str  # the entry in the book's notation, e.g. ∂C/∂w³₁₂
    where: str  # the same entry in the returned lists, e.g. nabla_w[1][0, 1]
    index: tuple[int, ...]  # its index in that array
    expected: float
    received: float
    mistake: str | None  # the usual mistake that gives exactly the received numbers, if one does


@dataclass(frozen=True)
class Failure:
    run: Run
    kind: Kind  # differs: wrong numbers; raised: an exception; returned: the wrong kind or shape of thing
    summary: str
    details: tuple[str, ...] = ()
    difference: Difference | None = None


_EQUATIONS: dict[Equation, str] = {
    "BP1": "δ{L} = ∇ₐC ⊙ σ′(z{L})",
    "BP2": "δ{l} = ((w{n})ᵀ δ{n}) ⊙ σ′(z{l})",
    "BP3": "∂C/∂b{l}ⱼ = δ{l}ⱼ",
    "BP4": "∂C/∂w{l}ⱼₖ = a{p}ₖ δ{l}ⱼ",
}


def equation_text(equation: Equation, layer: int) -> str:
    """The equation written for ``layer``, e.g. BP2 at layer 2: δ² = ((w³)ᵀ δ³) ⊙ σ′(z²)."""
    return _EQUATIONS[equation].format(L=sup(layer), l=sup(layer), n=sup(layer + 1), p=sup(layer - 1))


def _num(v: float) -> str:
    return fmt(v, SIG_DETAIL)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of ``check``: ``passed``, the runs in order and, on failure, the first one's ``failure``."""

    function: str
    cost: str
    runs: tuple[Run, ...]
    failure: Failure | None
    rtol: float
    atol: float

    @property
    def passed(self) -> bool:
        return self.failure is None

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        if self.failure is None:
            return f"<CheckResult {self.function}: PASS on {len(self.runs)} runs>"
        f, d = self.failure, self.failure.difference
        at = f"layer {d.layer}, {d.equation}" if d else f.kind
        return f"<CheckResult {self.function}: FAIL ({at}) on {f.run.network}, {f.run.cost} cost>"

    def _headline(self) -> str:
        if self.failure is None:
            nets = ", ".join(dict.fromkeys(r.network for r in self.runs))
            costs = list(dict.fromkeys(r.cost for r in self.runs))
            return (
                f"PASS: {self.function} agrees with BP1–BP4 on {nets}, with the {' and '.join(costs)} "
                f"cost{'s' if len(costs) > 1 else ''} "
                f"(every entry within rtol {self.rtol:g}, atol {self.atol:g})."
            )
        run = self.failure.run
        return f"FAIL: {self.function} on {run.network}, {run.cost} cost."

    def _lines(self) -> list[tuple[str, str]]:
        """The report after the headline as (label, text) pairs, shared by the text and the HTML."""
        f = self.failure
        if f is None:
            return []
        lines: list[tuple[str, str]] = []
        d = f.difference
        if d is not None:
            where = {"BP1": " (the output layer)", "BP2": " (a hidden layer)"}.get(d.equation, "")
            lines.append(("", f"Layer {d.layer}{where}, {d.equation}: {equation_text(d.equation, d.layer)}"))
            lines.append(("", f.summary))
            lines.append(("expected", _num(d.expected)))
            lines.append(("received", _num(d.received)))
            if d.mistake:
                lines.append(("likely mistake", d.mistake))
        else:
            lines.append(("", f.summary))
        lines.extend(("", text) for text in f.details)
        return lines

    def _runs_text(self) -> str:
        return "; ".join(f"{r.network}, {r.cost}: {r.status}" for r in self.runs)

    def __str__(self) -> str:
        out = [self._headline()]
        for label, text in self._lines():
            out.append(f"  {label + ':':<16}{text}" if label else f"  {text}")
        out.append(f"  runs: {self._runs_text()}")
        return "\n".join(out)

    def _repr_html_(self) -> str:
        e = html.escape
        ok = self.failure is None
        colour = "#1a7f37" if ok else "#cf222e"
        parts = [
            f'<div class="backprop-lens-check" style="border-left:4px solid {colour};padding-left:0.6em">',
            f"<p><strong>{'✓' if ok else '✗'}</strong> {e(self._headline())}</p>",
        ]
        lines = self._lines()
        if lines:
            parts.append("<table>")
            for label, text in lines:
                head = f'<th scope="row" style="text-align:left">{e(label)}</th>' if label else "<th></th>"
                parts.append(f'<tr>{head}<td style="text-align:left">{e(text)}</td></tr>')
            parts.append("</table>")
        parts.append(f"<p><small>runs: {e(self._runs_text())}</small></p></div>")
        return "\n".join(parts)


# --- calling the student's function ------------------------------------------------------------------

_Call = Callable[[_Case, BookCost], object]


def _arity(fn: Callable[..., object]) -> tuple[int, int] | None:
    """(required, total) positional parameters, or None when the signature cannot be read or takes *args."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return None
    positional = [p for p in params if p.kind in kinds]
    required = [p for p in positional if p.default is inspect.Parameter.empty]
    return len(required), len(positional)


def _caller(fn: Callable[..., object], costs: Sequence[BookCost]) -> _Call:
    """How to call ``fn``: the book's (net, x, y), or plain (weights, biases, x, y[, cost])."""
    arity = _arity(fn)
    required, total = arity if arity is not None else (3, 3)

    def book(case: _Case, cost: BookCost) -> object:
        net = BookNetwork(case.sizes, [w.copy() for w in case.weights], [b.copy() for b in case.biases], cost)
        return fn(net, case.x.copy(), case.y.copy())

    def plain(case: _Case, cost: BookCost) -> object:
        args: list[object] = [[w.copy() for w in case.weights], [b.copy() for b in case.biases]]
        args += [case.x.copy(), case.y.copy()]
        return fn(*args, cost) if total >= 5 else fn(*args)

    if required <= 3 <= total:
        return book
    if required in (4, 5):
        if total == 4 and any(c.name != "quadratic" for c in costs):
            raise ValueError(
                "check: a plain fn(weights, biases, x, y) cannot be told the cost, so it is checked with the "
                "quadratic cost only; give it a fifth parameter, fn(weights, biases, x, y, cost), to be checked "
                "with cross-entropy (cost.delta(z, a, y) is network2.py's)"
            )
        return plain
    if total == 2:
        raise TypeError(
            "check: fn takes two arguments, like a method bound to your own network (net.backprop); pass the "
            "class's function instead, check(Network.backprop), and it receives a network to work on as self"
        )
    raise TypeError(
        f"check: fn takes {total} positional arguments; expected fn(net, x, y) as in the book, "
        "or fn(weights, biases, x, y[, cost])"
    )


def _costs(cost: CostChoice) -> list[BookCost]:
    names = {"quadratic": ["quadratic"], "cross-entropy": ["cross-entropy"], "cross_entropy": ["cross-entropy"]}
    chosen = names.get(cost, ["quadratic", "cross-entropy"] if cost == "both" else [])
    if not chosen:
        raise ValueError(f"check: unknown cost {cost!r}; expected 'quadratic', 'cross-entropy' or 'both'")
    return [BookCost(name, get_cost(_ENGINE_COST[name])) for name in chosen]


def _name(fn: Callable[..., object]) -> str:
    """``Network.backprop`` or ``my_backprop``, without the ``<locals>`` of a function defined in a function."""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
    return str(name).rsplit("<locals>.", 1)[-1]


def check(
    fn: Callable[..., object], cost: CostChoice = "quadratic", *, rtol: float = 1e-6, atol: float = 1e-9
) -> CheckResult:
    """Run the student's backprop ``fn`` on each network for each cost; PASS, or the first difference.

    Runs stop at the first failure; later runs are listed as not run. ``rtol`` and ``atol`` are those
    of ``numpy.isclose``, received against expected. ValueError for an unknown cost or a plain
    four-parameter function asked to use cross-entropy; TypeError for a signature it cannot call.
    """
    costs = _costs(cost)
    call = _caller(fn, costs)
    runs: list[Run] = []
    failure: Failure | None = None
    for book_cost in costs:
        for case in CASES:
            if failure is not None:
                runs.append(Run(case.name, book_cost.name, "not run"))
                continue
            run = Run(case.name, book_cost.name, "failed")
            failure = _run_one(call, case, book_cost, run, rtol, atol)
            runs.append(run if failure else Run(case.name, book_cost.name, "passed"))
    return CheckResult(_name(fn), " and ".join(c.name for c in costs), tuple(runs), failure, rtol, atol)


def _run_one(call: _Call, case: _Case, cost: BookCost, run: Run, rtol: float, atol: float) -> Failure | None:
    net = Network(case.sizes, weights=list(case.weights), biases=[b.ravel() for b in case.biases])
    g = backprop(net, case.x.T, case.y.T, _ENGINE_COST[cost.name])
    try:
        # The student's own numerics may overflow or divide by zero; a NaN it leads to is reported as such.
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = call(case, cost)
    except Exception as exc:
        return _raised(run, case, exc)
    received = _unpack(out, case)
    if isinstance(received, str):
        return Failure(run, "returned", received, (case.shapes_text(),))
    return _compare(run, case, cost, g, *received, rtol=rtol, atol=atol)


# --- what came back ----------------------------------------------------------------------------------


def _shape(shape: tuple[int, ...]) -> str:
    return " × ".join(map(str, shape)) if shape else "a single number"


def _describe(obj: object) -> str:
    if isinstance(obj, tuple | list):
        return f"a {type(obj).__name__} of {len(obj)} items"
    if isinstance(obj, np.ndarray):
        return f"an array of shape {_shape(obj.shape)}"
    return f"a {type(obj).__name__}"


def _fits(seq: object, shapes: list[tuple[int, ...]]) -> bool:
    try:
        return isinstance(seq, Sequence | np.ndarray) and [np.shape(a) for a in seq] == shapes
    except (TypeError, ValueError):
        return False


def _unpack(out: object, case: _Case) -> tuple[list[Array], list[Array]] | str:
    """(nabla_b, nabla_w) as float arrays, or what is wrong with them in words."""
    n_layers = len(case.weights)
    pair = "expected a pair (nabla_b, nabla_w), as the book's backprop returns"
    if not isinstance(out, tuple | list) or len(out) != 2:
        return f"Your function returned {_describe(out)}; {pair}."
    w_shapes = [w.shape for w in case.weights]
    b_shapes = [b.shape for b in case.biases]
    if _fits(out[0], w_shapes) and _fits(out[1], b_shapes):
        return "Your function returned (nabla_w, nabla_b); the book's order is (nabla_b, nabla_w)."
    arrays: list[list[Array]] = []
    for name, seq in zip(("nabla_b", "nabla_w"), out, strict=True):
        if not isinstance(seq, Sequence | np.ndarray) or isinstance(seq, str):
            return f"{name} is {_describe(seq)}; expected a list of {n_layers} arrays, one per layer 2..{n_layers + 1}."
        if len(seq) != n_layers:
            entries = "entry" if len(seq) == 1 else "entries"
            return (
                f"{name} has {len(seq)} {entries}; expected {n_layers}, one per layer 2..{n_layers + 1} "
                "(layer 1, the input, has no weights or biases)."
            )
        converted: list[Array] = []
        for i, item in enumerate(seq):
            try:
                converted.append(np.asarray(item, dtype=np.float64))
            except (TypeError, ValueError) as exc:
                return f"{name}[{i}] is not an array of numbers ({type(exc).__name__}: {exc})."
        arrays.append(converted)
    return arrays[0], arrays[1]


def _shape_problem(name: str, layer: int, got: tuple[int, ...], want: tuple[int, int]) -> str | None:
    """What is wrong with the shape of nabla_b^l or nabla_w^l, in words; None when it is right."""
    if got == want:
        return None
    n, m = want
    what = f"{name}[{layer - 2}] (∂C/∂{'b' if name == 'nabla_b' else 'w'}{sup(layer)})"
    if name == "nabla_b":
        if got == (1, n):
            return (
                f"{what} is a row, 1 × {n}; the book's vectors are columns: {n} × 1, "
                f"the shape of b{sup(layer)} (rows are the engine's layout, not the book's)."
            )
        if got == (n,):
            return (
                f"{what} is a flat vector of {n} numbers; expected a column, {n} × 1, the shape of b{sup(layer)} "
                "(the book's update b − (η/m) nb would broadcast a flat one into a matrix)."
            )
    elif got == (m, n):
        return (
            f"{what} is {m} × {n}, the transpose of w{sup(layer)}'s {n} × {m}: ∂C/∂w{sup(layer)} = "
            f"δ{sup(layer)} (a{sup(layer - 1)})ᵀ, one row per neuron of layer {layer}."
        )
    return f"{what} has shape {_shape(got)}; expected {_shape(want)}, the shape of {name[-1]}{sup(layer)}."


def _compare(
    run: Run,
    case: _Case,
    cost: BookCost,
    g: Gradients,
    nabla_b: list[Array],
    nabla_w: list[Array],
    *,
    rtol: float,
    atol: float,
) -> Failure | None:
    """The first difference in backward order: at each layer L..2, the shapes, then ∂C/∂b^l, then ∂C/∂w^l."""
    top = len(case.weights) - 1
    for i in range(top, -1, -1):
        layer = i + 2
        want_b = g.nabla_b[i].reshape(-1, 1)
        want_w = g.nabla_w[i]
        for name, got, want in (("nabla_b", nabla_b[i], want_b), ("nabla_w", nabla_w[i], want_w)):
            problem = _shape_problem(name, layer, got.shape, (want.shape[0], want.shape[1]))
            if problem:
                return Failure(run, "returned", problem, (case.shapes_text(),))
        close_b = np.isclose(nabla_b[i], want_b, rtol=rtol, atol=atol)
        close_w = np.isclose(nabla_w[i], want_w, rtol=rtol, atol=atol)
        if close_b.all() and close_w.all():
            continue
        equation: Equation
        if not close_b.all():
            equation = "BP3" if close_w.all() else ("BP1" if i == top else "BP2")
            got, want, close = nabla_b[i], want_b, close_b
        else:
            equation, got, want, close = "BP4", nabla_w[i], want_w, close_w
        index = tuple(int(k) for k in np.argwhere(~close)[0])
        variants = _mistakes(equation, i, case, cost, g)
        mistake = next((text for text, v in variants if np.allclose(got, v, rtol=rtol, atol=atol)), None)
        if mistake is None and not np.isfinite(got).all():
            mistake = (
                "a NaN or infinity: somewhere a 0/0, ∞ − ∞ or an overflow, such as dividing by a(1 − a) "
                "where a has rounded to 1."
            )
        if mistake is None and equation == "BP3":
            mistake = f"∂C/∂w{sup(layer)} is right, so δ{sup(layer)} was: ∂C/∂b{sup(layer)} is δ{sup(layer)} itself."
        j = index[0] + 1
        symbol = f"∂C/∂b{sup(layer)}{sub(j)}" if equation != "BP4" else f"∂C/∂w{sup(layer)}{sub(j, index[1] + 1)}"
        where = f"{'nabla_w' if equation == 'BP4' else 'nabla_b'}[{i}][{', '.join(map(str, index))}]"
        first = "The first entry that differs" if (~close).sum() > 1 else "The entry that differs"
        bp3 = f", which is δ{sup(layer)}{sub(j)} by BP3" if equation != "BP4" else ""
        summary = f"{first}: {symbol} ({where}){bp3}."
        diff = Difference(layer, equation, symbol, where, index, float(want[index]), float(got[index]), mistake)
        return Failure(run, "differs", summary, (), diff)
    return None


def _mistakes(equation: Equation, i: int, case: _Case, cost: BookCost, g: Gradients) -> list[tuple[str, Array]]:
    """The usual mistakes at layer i + 2, each as the numbers it would give; computed in the book's columns.

    Built from the engine's correct forward pass and the correct δ of the layer above, since every
    quantity checked before this one agreed.
    """
    l_, up, down = sup(i + 2), sup(i + 3), sup(i + 1)
    fwd = g.forward
    a = fwd.activations[i + 1].T
    a_prev = fwd.activations[i].T
    sp = g.sigma_primes[i].T
    delta = g.deltas[i].T
    y = case.y
    out: list[tuple[str, Array]] = []
    if equation == "BP1":
        r = a - y
        if cost.name == "quadratic":
            out += [
                (
                    f"σ′(z{l_}) left out of BP1: δ{l_} = (a{l_} − y) ⊙ σ′(z{l_}); "
                    f"a{l_} − y alone is cross-entropy's δ.",
                    r,
                ),
                (f"σ(z{l_}) used where σ′(z{l_}) belongs: σ′(z) = σ(z)(1 − σ(z)).", r * a),
                (f"the sign of a{l_} − y flipped: ∇ₐC = a − y for C = ½‖y − a‖² (eq. 6).", -delta),
                ("the ½ of C = ½‖y − a‖² (eq. 6) dropped: ∇ₐC is a − y, not 2(a − y).", 2.0 * delta),
            ]
        else:
            out += [
                (
                    f"σ′(z{l_}) multiplied in: with cross-entropy it cancels and δ{l_} = a{l_} − y (eq. 66); "
                    "does your function use net.cost.delta(z, a, y)?",
                    r * sp,
                ),
                (f"the sign of a{l_} − y flipped: for cross-entropy δ{l_} = a{l_} − y (eq. 66).", -r),
            ]
    elif equation == "BP2":
        w_next = case.weights[i + 1]
        delta_next = g.deltas[i + 1].T
        back = w_next.T @ delta_next
        out += [
            (f"σ′(z{l_}) left out of BP2: δ{l_} = ((w{up})ᵀ δ{up}) ⊙ σ′(z{l_}).", back),
            (f"σ(z{l_}) used where σ′(z{l_}) belongs: σ′(z) = σ(z)(1 − σ(z)).", back * a),
        ]
        if w_next.shape[0] == w_next.shape[1]:
            out.append(
                (
                    f"w{up} not transposed in BP2: the error goes back through (w{up})ᵀ. This layer is square, "
                    "so the shapes fit and only the numbers show it.",
                    (w_next @ delta_next) * sp,
                )
            )
        sp_next = g.sigma_primes[i + 1].T
        if sp_next.shape == sp.shape:
            out.append((f"σ′ of the wrong layer: BP2 at layer {i + 2} takes σ′(z{l_}), not σ′(z{up}).", back * sp_next))
        out.append((f"the sign of δ{l_} flipped.", -delta))
    elif equation == "BP4":
        grad = delta @ a_prev.T
        if i >= 1:
            out.append(
                (f"z{down} used where a{down} belongs in BP4: ∂C/∂w{l_}ⱼₖ = a{down}ₖ δ{l_}ⱼ.", delta @ fwd.zs[i - 1])
            )
        if grad.shape[0] == grad.shape[1]:
            out.append((f"∂C/∂w{l_} transposed: it is δ{l_} (a{down})ᵀ, one row per neuron of layer {i + 2}.", grad.T))
        if a.shape == a_prev.shape:
            out.append((f"a{l_} used where a{down} belongs in BP4: ∂C/∂w{l_}ⱼₖ = a{down}ₖ δ{l_}ⱼ.", delta @ a.T))
    return out


def _raised(run: Run, case: _Case, exc: Exception) -> Failure:
    """An exception from the student's code: its type and message, the line it came from, the shapes to compare."""
    message = str(exc)
    if len(message) > 400:
        message = message[:400] + " …"
    summary = f"Your function raised {type(exc).__name__}" + (f": {message}" if message else ".")
    details: list[str] = []
    line = _student_line(exc)
    if line:
        details.append(line)
    details.append(case.shapes_text())
    if any(word in message for word in ("shape", "align", "broadcast", "mismatch", "dimension")):
        details.append(
            "A shape error in BP2 is often a missing transpose: (w^{l+1})ᵀ δ^{l+1} is an n_l × n_{l+1} matrix "
            "times an n_{l+1} × 1 column; w^{l+1} itself is n_{l+1} × n_l."
        )
    return Failure(run, "raised", summary, tuple(details))


def _student_line(exc: Exception) -> str | None:
    """Where in the student's code the exception came from: the deepest frame outside NumPy and this module."""
    skip = (os.path.dirname(np.__file__), os.path.abspath(__file__))
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not os.path.abspath(f.filename).startswith(skip)]
    if not frames:
        return None
    f = frames[-1]
    code = f": {f.line.strip()}" if f.line else ""
    return f"At line {f.lineno} of {os.path.basename(f.filename)}, in {f.name}{code}"
