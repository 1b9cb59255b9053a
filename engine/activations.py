"""Activation functions σ and their derivatives σ', behind one interface.

Every activation has its value ``fn(z)`` and its derivative ``prime(z, a)``.
The derivative receives both z and a = fn(z). Sigmoid and tanh take it from z
rather than as a(1 − a) and 1 − a²: where a has rounded to 0, 1 or ±1 those
forms give 0 while σ'(z) is still a tiny, exact number. Adding an activation is one small class and one
line in ``ACTIVATIONS``.

Left out: parametrised activations (leaky ReLU slopes, softmax across a layer).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


def sigmoid(z: Array) -> Array:
    """σ(z) = 1 / (1 + e^{−z}), eq. 3 of chapter 1, computed without overflow.

    As e^{min(z, 0)} / (1 + e^{−|z|}): for z ≥ 0 that is the textbook form, for
    z < 0 it is e^{z} / (1 + e^{z}), the same number without evaluating
    e^{+large}. Six NumPy calls, the exponential taken in place: on the small
    layers of the step-through the calls, not the arithmetic, are the cost.
    """
    z = np.asarray(z, dtype=np.float64)
    e = np.copysign(z, -1.0)  # −|z|
    np.exp(e, out=e)
    numerator = np.where(z >= 0, 1.0, e)
    e += 1.0
    numerator /= e
    return numerator


def sigmoid_prime(z: Array) -> Array:
    """σ'(z) = σ(z)(1 − σ(z)) = σ(z)σ(−z), the derivative used in BP1 and BP2.

    Taken as s(1 − s) with s = σ(−|z|), the small one of the two: once |z| > 37
    σ(|z|) rounds to 1 and a(1 − a) would give 0 where σ'(z) is e^{−|z|}.
    """
    s = sigmoid(np.negative(np.abs(z)))
    return s * (1.0 - s)


class Activation(Protocol):
    """σ and σ' of one layer."""

    name: str

    def fn(self, z: Array) -> Array:
        """a = σ(z), eq. 25 applied elementwise."""
        ...

    def prime(self, z: Array, a: Array) -> Array:
        """σ'(z), given z and the already computed a = σ(z)."""
        ...


class Sigmoid:
    name = "sigmoid"

    def fn(self, z: Array) -> Array:
        return sigmoid(z)

    def prime(self, z: Array, a: Array) -> Array:
        return sigmoid_prime(z)


class Tanh:
    name = "tanh"

    def fn(self, z: Array) -> Array:
        return np.tanh(z)

    def prime(self, z: Array, a: Array) -> Array:
        """tanh'(z) = 1 − tanh²(z) = 4e^{−2|z|}/(1 + e^{−2|z|})², which keeps its digits
        where tanh(z) has rounded to ±1 (|z| > 19) and 1 − a² would be 0."""
        e = np.exp(-2.0 * np.abs(z))
        d = 1.0 + e
        return np.asarray(4.0 * e / (d * d))


class ReLU:
    """max(0, z); σ'(0) is taken as 0, the usual subgradient choice."""

    name = "relu"

    def fn(self, z: Array) -> Array:
        return np.maximum(z, 0.0)

    def prime(self, z: Array, a: Array) -> Array:
        return (z > 0).astype(np.float64)


class Linear:
    """σ(z) = z, the chapter's exercise on networks of linear neurons."""

    name = "linear"

    def fn(self, z: Array) -> Array:
        return np.array(z, dtype=np.float64, copy=True)

    def prime(self, z: Array, a: Array) -> Array:
        return np.ones_like(z, dtype=np.float64)


ACTIVATIONS: dict[str, Activation] = {act.name: act for act in (Sigmoid(), Tanh(), ReLU(), Linear())}


def get_activation(name: str) -> Activation:
    """The registered activation called ``name``; ValueError names the choices."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        choices = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(f"unknown activation {name!r}; expected one of: {choices}") from None
