"""Cost functions, each with its value C_x, its gradient ∇_aC and its output error δ^L.

As in the book's network2.py, every cost has the same methods, so costs are
swappable: ``fn`` and ``per_example`` give the cost, ``delta(z, a, y, output)``
gives BP1's δ^L = ∂C_x/∂z^L, and ``nabla_a`` gives ∇_aC_x = ∂C_x/∂a^L for
showing BP1 written out. Each takes z^L as well as a^L = σ(z^L): near
saturation a has rounded to 0 or 1, and only z still says how far.

Arrays hold one example per row. ``fn`` returns the mean C = (1/m) Σ_x C_x
(eq. 26's average over training inputs); the per-example arrays are what BP1
needs; the 1/m of the mean is applied once, where gradients are averaged.

Why cross-entropy is computed from z: with a sigmoid output, C_x and δ^L have
forms that never divide by a(1 − a) nor take ln of a number rounded to 0 or 1:
C_x = Σ_j [y_j softplus(−z_j) + (1 − y_j) softplus(z_j)] and δ^L = a − y (the
σ'(z) of BP1 cancels, chapter 3). Both stay exact for |z| in the hundreds,
where ln a and (a − y)/(a(1 − a)) would give −∞ and 0 × ∞.

Left out: regularisation terms (chapter 3) and softmax with log-likelihood.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from backprop_lens.engine.activations import Activation, sigmoid

Array = NDArray[np.float64]


class Cost(Protocol):
    name: str

    def per_example(self, z: Array, a: Array, y: Array, output: Activation) -> Array:
        """C_x for every row."""
        ...

    def fn(self, z: Array, a: Array, y: Array, output: Activation) -> float:
        """C = (1/m) Σ_x C_x over the rows."""
        ...

    def nabla_a(self, z: Array, a: Array, y: Array, output: Activation) -> Array:
        """∇_aC_x = ∂C_x/∂a^L for every row (BP1 written out)."""
        ...

    def delta(self, z: Array, a: Array, y: Array, output: Activation) -> Array:
        """BP1: δ^L = ∂C_x/∂z^L for every row."""
        ...

    def check_output(self, output: Activation) -> None:
        """ValueError if the cost is not defined for this output activation."""
        ...


def softplus(z: Array) -> Array:
    """ln(1 + e^z), without overflow for large z nor loss of digits for very negative z."""
    z = np.asarray(z, dtype=np.float64)
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def residual(z: Array, a: Array, y: Array, output: Activation) -> Array:
    """a^L − y, exact where a sigmoid output has rounded to 1.

    For a sigmoid and z ≥ 0 it is taken as (1 − y) − σ(−z): where σ(z) has
    rounded to 1.0, a − y would lose the small difference from y = 1 (at
    z = 40, −4.2×10⁻¹⁸ becomes 0). Other activations: a − y as it stands.
    """
    if output.name != "sigmoid":
        return a - y
    small = sigmoid(-np.abs(z))  # σ(−|z|): a itself for z < 0, 1 − a for z ≥ 0
    return np.where(z >= 0, (1.0 - y) - small, small - y)


def _mean(per_example: Array) -> float:
    """The mean of the per-example costs, summed and divided as ndarray.mean does, without its overhead."""
    return float(np.add.reduce(per_example) / per_example.shape[0])


class QuadraticCost:
    """C_x = ½‖y − a^L‖² (eq. 6), with ∇_aC_x = a^L − y and δ^L = (a^L − y) ⊙ σ'(z^L) (BP1)."""

    name = "quadratic"

    def per_example(self, z: Array, a: Array, y: Array, output: Activation) -> Array:
        d = residual(z, a, y, output)
        return np.asarray(0.5 * np.einsum("ij,ij->i", d, d))

    def fn(self, z: Array, a: Array, y: Array, output: Activation) -> float:
        return _mean(self.per_example(z, a, y, output))

    def nabla_a(self, z: Array, a: Array, y: Array, output: Activation) -> Array:
        return residual(z, a, y, output)

    def delta(self, z: Array, a: Array, y: Array, output: Activation) -> Array:
        """BP1: δ^L = ∇_aC ⊙ σ'(z^L) = (a^L − y) ⊙ σ'(z^L)."""
        return residual(z, a, y, output) * output.prime(z, a)

    def check_output(self, output: Activation) -> None:
        return None


class CrossEntropyCost:
    """C_x = −Σ_j [y_j ln a_j + (1 − y_j) ln(1 − a_j)] (chapter 3, eq. 63), for sigmoid outputs.

    With a = σ(z): ln a = −softplus(−z) and ln(1 − a) = −softplus(z), so
    C_x = Σ_j [y_j softplus(−z_j) + (1 − y_j) softplus(z_j)], and BP1's
    δ^L = ∇_aC ⊙ σ'(z^L) = (a − y)/(a(1 − a)) · a(1 − a) = a − y.
    """

    name = "cross_entropy"

    def check_output(self, output: Activation) -> None:
        if output.name != "sigmoid":
            raise ValueError(
                f"cost: cross_entropy needs a sigmoid output layer, whose a^L lies in (0, 1); got {output.name}"
            )

    def per_example(self, z: Array, a: Array, y: Array, output: Activation) -> Array:
        self.check_output(output)
        return np.asarray(np.sum(y * softplus(-z) + (1.0 - y) * softplus(z), axis=1))

    def fn(self, z: Array, a: Array, y: Array, output: Activation) -> float:
        return _mean(self.per_example(z, a, y, output))

    def delta(self, z: Array, a: Array, y: Array, output: Activation) -> Array:
        """BP1 for sigmoid outputs: δ^L = a^L − y, the σ'(z^L) cancelling (chapter 3, eq. 66).

        Taken from z (see ``residual``), so that an a^L that has rounded to 1
        still gives the exact small difference from y = 1.
        """
        self.check_output(output)
        return residual(z, a, y, output)

    def nabla_a(self, z: Array, a: Array, y: Array, output: Activation) -> Array:
        """∇_aC_x = (a − y)/(a(1 − a)) = −y/a + (1 − y)/(1 − a), from z.

        Near a ≈ y as δ/σ'(z) (no cancellation); in saturation as
        −y(1 + e^{−z}) + (1 − y)(1 + e^{z}), which has no 0/0 where σ'(z)
        underflows: with y = 1 it is −1/a, finite at any z. Where the true
        value passes 10^308 (|z| beyond about 709) it is ±∞; δ^L does not need it.
        """
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            near = self.delta(z, a, y, output) / output.prime(z, a)
            low = np.where(y != 0.0, -y * (1.0 + np.exp(-z)), 0.0)
            high = np.where(y != 1.0, (1.0 - y) * (1.0 + np.exp(z)), 0.0)
            return np.where(np.abs(z) < 30.0, near, low + high)


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
