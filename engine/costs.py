"""Cost functions: each has its value C_x and its gradient ∇_aC.

Arrays hold one example per row. ``fn`` returns the cost of a batch, the mean
C = (1/m) Σ_x C_x (eq. 26's average over training inputs); ``nabla_a`` returns
∂C_x/∂a^L for every row, the per-example gradient that BP1 needs. The 1/m of
the mean is applied once, where the per-example gradients are averaged.

Left out: regularisation terms (chapter 3) and softmax with log-likelihood.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

# Cross-entropy takes ln a and ln(1 − a); a sigmoid output of exactly 0 or 1
# (z beyond ±37) would give −inf. Clipping a this far from the ends changes no
# cost that could be told apart in float64 from the exact one.
_EPS = 1e-300


class Cost(Protocol):
    name: str

    def fn(self, a: Array, y: Array) -> float:
        """C = (1/m) Σ_x C_x over the rows of a and y."""
        ...

    def per_example(self, a: Array, y: Array) -> Array:
        """C_x for every row."""
        ...

    def nabla_a(self, a: Array, y: Array) -> Array:
        """∇_aC_x = ∂C_x/∂a^L for every row (used in BP1)."""
        ...


class QuadraticCost:
    """C_x = ½‖y − a^L‖² (eq. 6), with ∇_aC_x = a^L − y."""

    name = "quadratic"

    def per_example(self, a: Array, y: Array) -> Array:
        d = a - y
        return np.asarray(0.5 * np.einsum("ij,ij->i", d, d))

    def fn(self, a: Array, y: Array) -> float:
        return float(np.mean(self.per_example(a, y)))

    def nabla_a(self, a: Array, y: Array) -> Array:
        return a - y


class CrossEntropyCost:
    """C_x = −Σ_j [y_j ln a_j + (1 − y_j) ln(1 − a_j)] (chapter 3, eq. 63).

    ∇_aC_x = (a − y) / (a(1 − a)); for a sigmoid output layer BP1 then gives
    δ^L = a^L − y, the σ'(z^L) factor cancelling.
    """

    name = "cross_entropy"

    def per_example(self, a: Array, y: Array) -> Array:
        a_c = np.clip(a, _EPS, 1.0 - 1e-16)
        one_minus = np.clip(1.0 - a, _EPS, None)
        return np.asarray(-np.sum(y * np.log(a_c) + (1.0 - y) * np.log(one_minus), axis=1))

    def fn(self, a: Array, y: Array) -> float:
        return float(np.mean(self.per_example(a, y)))

    def nabla_a(self, a: Array, y: Array) -> Array:
        denom = np.clip(a * (1.0 - a), _EPS, None)
        return (a - y) / denom


COSTS: dict[str, Cost] = {c.name: c for c in (QuadraticCost(), CrossEntropyCost())}


def get_cost(name: str | Cost) -> Cost:
    """The registered cost called ``name`` (a cost given as such is returned as it is); ValueError names the choices."""
    if not isinstance(name, str):
        return name
    try:
        return COSTS[name]
    except KeyError:
        choices = ", ".join(sorted(COSTS))
        raise ValueError(f"unknown cost {name!r}; expected one of: {choices}") from None
