"""δ^l as a product of matrices (chapter 2, problem "Alternate presentation", eqs. 33–35).

With Σ'(z) the square matrix with σ'(z_j) on its diagonal and zeros elsewhere,

    δ^L = Σ'(z^L) ∇_aC                                              (eq. 33)
    δ^l = Σ'(z^l) (w^{l+1})^T δ^{l+1}                                (eq. 34)
    δ^l = Σ'(z^l) (w^{l+1})^T Σ'(z^{l+1}) … (w^L)^T Σ'(z^L) ∇_aC      (eq. 35)

This module builds the actual matrices for one example and multiplies them out
(right to left, as eq. 35 is read), so the product can be set beside the δ^l that
BP1 and BP2 give layer by layer.

Left out: the batch form (one column per example); one example at a time here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from backprop_lens.engine.backprop import backprop
from backprop_lens.engine.costs import Cost, get_cost
from backprop_lens.engine.insight.forward import single_example
from backprop_lens.engine.network import Network

Array = NDArray[np.float64]
FactorKind = Literal["sigma_prime", "weights_T"]


@dataclass(frozen=True)
class MatrixFactor:
    """One matrix of eq. 35: Σ'(z^layer) or (w^layer)^T."""

    kind: FactorKind
    layer: int
    matrix: Array


@dataclass(frozen=True)
class MatrixForm:
    layer: int
    example: int
    factors: tuple[MatrixFactor, ...]
    nabla_a: Array
    delta: Array
    delta_layerwise: Array


def sigma_prime_matrix(sigma_prime: Array) -> Array:
    """Σ'(z^l): σ'(z^l_j) on the diagonal, zeros elsewhere (eqs. 33–35)."""
    return np.diag(np.asarray(sigma_prime, dtype=np.float64).reshape(-1))


def matrix_form(
    net: Network,
    x: Sequence[Sequence[float]] | Array,
    y: Sequence[Sequence[float]] | Array,
    cost: str | Cost,
    layer: int,
    example: int = 0,
) -> MatrixForm:
    """Eq. 35 for layer l (2..L): the matrices, ∇_aC, their product, and BP1/BP2's δ^l."""
    cost_fn = get_cost(cost)
    if not 2 <= layer <= net.num_layers:
        raise ValueError(f"layer: expected l from 2 to {net.num_layers}, got {layer}")
    X, Y = single_example(net, x, y, example)
    g = backprop(net, X, Y, cost_fn)
    factors: list[MatrixFactor] = []
    for m in range(layer, net.num_layers + 1):
        if m > layer:
            factors.append(MatrixFactor("weights_T", m, np.array(net.weights[m - 2].T)))
        factors.append(MatrixFactor("sigma_prime", m, sigma_prime_matrix(g.sigma_primes[m - 2][0])))
    nabla_a = np.array(g.nabla_a[0])
    delta = nabla_a
    for factor in reversed(factors):
        delta = factor.matrix @ delta
    return MatrixForm(
        layer=layer,
        example=example,
        factors=tuple(factors),
        nabla_a=nabla_a,
        delta=delta,
        delta_layerwise=np.array(g.deltas[layer - 2][0]),
    )
