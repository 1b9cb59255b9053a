"""The step-by-step record of one forward pass, one backward pass and one update.

The steps follow the book's statement of the algorithm (chapter 2, "The
backpropagation algorithm"), each naming its equation and carrying every
number it produced:

1. input: a^1 = x
2. feedforward, l = 2..L (eq. 25): z^l, a^l
3. output error (BP1): ∇_aC, σ'(z^L), δ^L
4. backpropagate, l = L−1..2 (BP2): (w^{l+1})^T δ^{l+1}, σ'(z^l), δ^l
5. gradients, l = L..2 (BP3, BP4): ∂C/∂b^l = δ^l, ∂C/∂w^l = δ^l (a^{l−1})^T
6. update (eqs. 20–21): w^l − η ∂C/∂w^l, b^l − η ∂C/∂b^l; C before and after

Per-example quantities (z, a, δ, …) have one row per example of the batch;
gradients are means over the batch. Every step is an immutable value that
serialises alone, so step k can be rendered or sent without the others.

Left out: rendering. The app turns steps into HTML and JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from backprop_lens.engine import display
from backprop_lens.engine.backprop import Gradients, as_examples, backprop, cost_of
from backprop_lens.engine.costs import Cost, get_cost
from backprop_lens.engine.network import Network
from backprop_lens.engine.sgd import gradient_descent

try:  # an optional accelerator for Step.to_json; json does the same job without it
    import orjson
except ModuleNotFoundError:  # pragma: no cover - depends on the environment
    orjson = None  # type: ignore[assignment]

Array = NDArray[np.float64]
StepKind = Literal["input", "feedforward", "output_error", "backpropagate", "gradients", "update"]
Value = Array | tuple[Array, ...]


def _frozen(arr: Array) -> Array:
    """A read-only copy, for an array someone else may still change."""
    out = np.array(arr, dtype=np.float64, copy=True)
    out.setflags(write=False)
    return out


def _sup(n: int) -> str:
    """A layer index as superscript digits, as titles write it to people: δ³ like a¹."""
    return str(n).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))


def _owned(arr: Array) -> Array:
    """An array made by this trace alone, made read-only without a copy."""
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class Step:
    """One step of the algorithm and what it produced."""

    index: int
    kind: StepKind
    equation: str
    layer: int | None
    title: str
    values: Mapping[str, Value]
    scalars: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def __repr__(self) -> str:
        layer = "" if self.layer is None else f", layer {self.layer}"
        return f"Step({self.index}, {self.equation}: {self.title!r}{layer})"

    def _repr_html_(self) -> str | None:
        """In a notebook: the diagram and the equation with the numbers (``backprop_lens.display``)."""
        return display.render("step", "text/html", self)

    def _repr_svg_(self) -> str | None:
        """The diagram alone, as a standalone SVG (``backprop_lens.display``)."""
        return display.render("step", "image/svg+xml", self)

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready form: arrays become nested lists."""
        values: dict[str, object] = {}
        for key, v in self.values.items():
            values[key] = [m.tolist() for m in v] if isinstance(v, tuple) else v.tolist()
        return {
            "index": self.index,
            "kind": self.kind,
            "equation": self.equation,
            "layer": self.layer,
            "title": self.title,
            "values": values,
            "scalars": dict(self.scalars),
        }

    def to_json(self) -> str:
        """The JSON text of ``to_dict()``, for one event of the stream.

        With orjson installed (the ``bench`` extra) the arrays are written
        straight from memory, about 20 times faster than ``tolist`` and
        ``json.dumps``; without it, ``json.dumps(self.to_dict())``. Both parse
        to the same numbers (only the spelling of exponents differs: 1e-5 and 1e-05).
        """
        if orjson is None:
            return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)
        return orjson.dumps(
            {
                "index": self.index,
                "kind": self.kind,
                "equation": self.equation,
                "layer": self.layer,
                "title": self.title,
                "values": dict(self.values),
                "scalars": dict(self.scalars),
            },
            option=orjson.OPT_SERIALIZE_NUMPY,
            default=_json_default,
        ).decode()


def _json_default(obj: object) -> object:
    """What orjson cannot write itself: arrays that are not C-contiguous."""
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot serialise {type(obj).__name__}")


@dataclass(frozen=True)
class Trace:
    """All steps of one iteration, with the networks before and after it."""

    steps: tuple[Step, ...]
    network: Network
    updated: Network
    cost: str
    eta: float
    gradients: Gradients
    cost_before: float
    cost_after: float

    def __post_init__(self) -> None:
        display.adopt(self, self.steps)  # so that a step alone can be drawn with its network

    def __repr__(self) -> str:
        sizes = "-".join(map(str, self.network.sizes))
        return (
            f"Trace({len(self.steps)} steps, {sizes}, cost={self.cost}, η={self.eta:g}, "
            f"C {self.cost_before:.6g} → {self.cost_after:.6g})"
        )

    def _repr_html_(self) -> str | None:
        """In a notebook: every step's title, and the costs (``backprop_lens.display``)."""
        return display.render("trace", "text/html", self)

    def to_dict(self) -> dict[str, object]:
        return {
            "cost": self.cost,
            "eta": self.eta,
            "cost_before": self.cost_before,
            "cost_after": self.cost_after,
            "steps": [s.to_dict() for s in self.steps],
        }


@np.errstate(over="ignore", invalid="ignore")
def trace(
    net: Network,
    x: Sequence[Sequence[float]] | Array,
    y: Sequence[Sequence[float]] | Array,
    cost: str | Cost = "quadratic",
    eta: float = 0.5,
) -> Trace:
    """Run one iteration of backpropagation and gradient descent, recording every step."""
    cost_fn = get_cost(cost)
    # The caller's arrays stay theirs: copy x and y once. Every other array
    # recorded below is fresh from this call, so it is frozen where it lies
    # instead of copied (on [784, 30, 10] the copies cost as much as the pass).
    X, Y = as_examples(net, x, y)
    X, Y = _frozen(X), _frozen(Y)
    g = backprop(net, X, Y, cost_fn)
    for arr in (*g.forward.zs, *g.forward.activations, g.nabla_a, *g.sigma_primes, *g.deltas, *g.nabla_w, *g.nabla_b):
        arr.setflags(write=False)
    L = net.num_layers
    steps: list[Step] = []

    def add(
        kind: StepKind,
        equation: str,
        layer: int | None,
        title: str,
        values: dict[str, Value],
        scalars: dict[str, float] | None = None,
    ) -> None:
        steps.append(
            Step(
                index=len(steps),
                kind=kind,
                equation=equation,
                layer=layer,
                title=title,
                values=MappingProxyType(values),
                scalars=MappingProxyType(scalars or {}),
            )
        )

    add("input", "input", 1, "Input: set a¹ = x", {"a": X})
    for i, (z, a) in enumerate(zip(g.forward.zs, g.forward.activations[1:], strict=True)):
        add("feedforward", "eq. 25", i + 2, f"Feedforward: layer {i + 2}", {"z": z, "a": a})
    add(
        "output_error",
        "BP1",
        L,
        f"Output error: δ{_sup(L)}",
        {
            "nabla_a": g.nabla_a,
            "sigma_prime": g.sigma_primes[-1],
            "delta": g.deltas[-1],
            "y": Y,
        },
        {"cost": g.cost},
    )
    for i in range(len(net.weights) - 2, -1, -1):
        add(
            "backpropagate",
            "BP2",
            i + 2,
            f"Backpropagate the error: δ{_sup(i + 2)}",
            {
                "w_next_T_delta_next": _owned(np.dot(g.deltas[i + 1], net.weights[i + 1])),
                "sigma_prime": g.sigma_primes[i],
                "delta": g.deltas[i],
            },
        )
    for i in range(len(net.weights) - 1, -1, -1):
        add(
            "gradients",
            "BP3, BP4",
            i + 2,
            f"Gradient: ∂C/∂b{_sup(i + 2)} and ∂C/∂w{_sup(i + 2)}",
            {"nabla_b": g.nabla_b[i], "nabla_w": g.nabla_w[i]},
        )
    # The step keeps these new arrays; the updated Network copies them for itself.
    weights = tuple(_owned(gradient_descent(w, nw, eta)) for w, nw in zip(net.weights, g.nabla_w, strict=True))
    biases = tuple(_owned(gradient_descent(b, nb, eta)) for b, nb in zip(net.biases, g.nabla_b, strict=True))
    updated = net.with_parameters(weights, biases)
    cost_after = cost_of(updated, X, Y, cost_fn)
    add(
        "update",
        "eqs. 20–21",
        None,
        "Update: gradient descent with η",
        {"weights": weights, "biases": biases},
        {"eta": float(eta), "cost_before": g.cost, "cost_after": cost_after},
    )
    return Trace(
        steps=tuple(steps),
        network=net,
        updated=updated,
        cost=cost_fn.name,
        eta=float(eta),
        gradients=g,
        cost_before=g.cost,
        cost_after=cost_after,
    )
