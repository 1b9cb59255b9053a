"""A scalar reverse-mode autograd, independent of the engine, used as the reference in tests.

In the manner of karpathy/micrograd: every operation builds its output and,
right beside it, its local chain rule. It knows nothing of layers, δ or BP1–BP4:
it differentiates the cost expression as written, so agreement with the
engine's backpropagation is an independent check.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence


class Value:
    __slots__ = ("_backward", "_prev", "data", "grad")

    def __init__(self, data: float, prev: tuple[Value, ...] = ()) -> None:
        self.data = float(data)
        self.grad = 0.0
        self._prev = prev
        self._backward: Callable[[], None] = lambda: None

    def __add__(self, other: Value | float) -> Value:
        o = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + o.data, (self, o))

        def backward() -> None:
            self.grad += out.grad
            o.grad += out.grad

        out._backward = backward
        return out

    __radd__ = __add__

    def __mul__(self, other: Value | float) -> Value:
        o = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * o.data, (self, o))

        def backward() -> None:
            self.grad += o.data * out.grad
            o.grad += self.data * out.grad

        out._backward = backward
        return out

    __rmul__ = __mul__

    def __neg__(self) -> Value:
        return self * -1.0

    def __sub__(self, other: Value | float) -> Value:
        return self + (-other if isinstance(other, Value) else -float(other))

    def __rsub__(self, other: float) -> Value:
        return Value(other) - self

    def sigmoid(self) -> Value:
        s = 1.0 / (1.0 + math.exp(-self.data))
        out = Value(s, (self,))

        def backward() -> None:
            self.grad += s * (1.0 - s) * out.grad

        out._backward = backward
        return out

    def tanh(self) -> Value:
        t = math.tanh(self.data)
        out = Value(t, (self,))

        def backward() -> None:
            self.grad += (1.0 - t * t) * out.grad

        out._backward = backward
        return out

    def relu(self) -> Value:
        out = Value(self.data if self.data > 0 else 0.0, (self,))

        def backward() -> None:
            self.grad += (1.0 if self.data > 0 else 0.0) * out.grad

        out._backward = backward
        return out

    def log(self) -> Value:
        out = Value(math.log(self.data), (self,))

        def backward() -> None:
            self.grad += out.grad / self.data

        out._backward = backward
        return out

    def backward(self) -> None:
        # topological order all of the children, then apply the chain rule from the output back
        order: list[Value] = []
        seen: set[int] = set()

        def visit(v: Value) -> None:
            if id(v) not in seen:
                seen.add(id(v))
                for child in v._prev:
                    visit(child)
                order.append(v)

        visit(self)
        self.grad = 1.0
        for v in reversed(order):
            v._backward()


def _activate(v: Value, name: str) -> Value:
    if name == "sigmoid":
        return v.sigmoid()
    if name == "tanh":
        return v.tanh()
    if name == "relu":
        return v.relu()
    if name == "linear":
        return v
    raise ValueError(name)


def reference_gradients(
    weights: Sequence[Sequence[Sequence[float]]],
    biases: Sequence[Sequence[float]],
    activations: Sequence[str],
    cost: str,
    inputs: Sequence[Sequence[float]],
    targets: Sequence[Sequence[float]],
) -> tuple[float, list[list[list[float]]], list[list[float]]]:
    """C = (1/m) Σ_x C_x and its gradient with respect to every weight and bias."""
    W = [[[Value(x) for x in row] for row in w] for w in weights]
    B = [[Value(x) for x in b] for b in biases]
    total = Value(0.0)
    for x, y in zip(inputs, targets, strict=True):
        a: list[Value] = [Value(v) for v in x]
        for w, b, name in zip(W, B, activations, strict=True):
            a = [
                _activate(sum((wk * ak for wk, ak in zip(row, a, strict=True)), bj), name)
                for row, bj in zip(w, b, strict=True)
            ]
        for aj, yj in zip(a, y, strict=True):
            if cost == "quadratic":
                d = aj - yj
                total = total + 0.5 * d * d
            else:
                total = total - (yj * aj.log() + (1.0 - yj) * (1.0 - aj).log())
    mean = total * (1.0 / len(inputs))
    mean.backward()
    return (
        mean.data,
        [[[v.grad for v in row] for row in w] for w in W],
        [[v.grad for v in b] for b in B],
    )
