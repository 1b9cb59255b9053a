"""Three exercises of chapter 2, computed.

* **Backpropagation with a single modified neuron**: neuron j of layer l uses its
  own activation f, a^l_j = f(z^l_j). Backpropagation is unchanged except that
  f'(z^l_j) takes the place of σ'(z^l_j) in BP1 or BP2 at that neuron.
* **Backpropagation with linear neurons**: with σ(z) = z every σ'(z) is 1, each
  Σ'(z) in eq. 35 is the identity, and δ^l = (w^{l+1})^T … (w^L)^T ∇_aC: δ is a
  fixed linear map of ∇_aC.
* **Cross-entropy against quadratic cost** (chapter 3, eqs. 63–66, the cure for
  a saturated output layer): BP1 gives δ^L = (a^L − y) ⊙ σ'(z^L) for the
  quadratic cost but δ^L = a^L − y for cross-entropy with sigmoid outputs, the
  σ'(z^L) factor cancelling.

Left out: softmax output layers and log-likelihood cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from backprop_lens.engine.activations import get_activation
from backprop_lens.engine.backprop import (
    ForwardPass,
    as_examples,
    backprop,
    backpropagate,
    nabla_b_of,
    nabla_w_of,
    output_error,
)
from backprop_lens.engine.costs import Cost, get_cost, residual
from backprop_lens.engine.insight.forward import feedforward_tweaked, single_example
from backprop_lens.engine.network import Network

Array = NDArray[np.float64]


# --- a single modified neuron ---------------------------------------------------


@dataclass(frozen=True)
class ModifiedNeuron:
    """Gradients of the mean cost when neuron j (0-based) of layer l uses activation f."""

    layer: int
    j: int
    f: str
    cost: float
    forward: ForwardPass
    f_prime: Array
    sigma_prime: Array
    deltas: list[Array]
    nabla_w: list[Array]
    nabla_b: list[Array]


def modified_neuron(
    net: Network,
    x: Sequence[Sequence[float]] | Array,
    y: Sequence[Sequence[float]] | Array,
    cost: str | Cost,
    layer: int,
    j: int,
    f: str,
) -> ModifiedNeuron:
    """BP1–BP4 with f'(z^l_j) in place of σ'(z^l_j) at the modified neuron, for the whole batch."""
    cost_fn = get_cost(cost)
    f_act = get_activation(f)
    output = net.activations[-1]
    cost_fn.check_output(output)
    if layer == net.num_layers and f_act.name != output.name and cost_fn.name == "cross_entropy":
        raise ValueError(
            "f: cross-entropy needs every output neuron to be a sigmoid; modify a hidden neuron, "
            "or use the quadratic cost"
        )
    X, Y = as_examples(net, x, y)
    fwd = feedforward_tweaked(net, X, layer, j, f=f_act)
    sigma_primes = [act.prime(z, a) for act, z, a in zip(net.activations, fwd.zs, fwd.activations[1:], strict=True)]
    i = layer - 2
    z_j = fwd.zs[i][:, j]
    sigma_prime = net.activations[i].prime(z_j, net.activations[i].fn(z_j))  # σ' had the neuron not changed
    f_prime = f_act.prime(fwd.zs[i][:, j], fwd.activations[i + 1][:, j])
    sigma_primes[i][:, j] = f_prime
    z_L, a_L = fwd.zs[-1], fwd.activations[-1]
    # With a modified output neuron a^L is no longer σ(z^L) in every column, so the cost may not
    # recompute a from z: it is told the output is linear, which takes a^L as it stands.
    output_as_is = get_activation("linear") if layer == net.num_layers and f_act.name != output.name else output
    delta_L = (
        output_error(cost_fn, z_L, a_L, Y, output_as_is)
        if output_as_is is output
        else (
            cost_fn.nabla_a(z_L, a_L, Y, output_as_is) * sigma_primes[-1]  # BP1 with f'(z) at the modified neuron
        )
    )
    deltas = backpropagate(net.weights, sigma_primes, delta_L)
    return ModifiedNeuron(
        layer=layer,
        j=j,
        f=f_act.name,
        cost=cost_fn.fn(z_L, a_L, Y, output_as_is),
        forward=fwd,
        f_prime=f_prime,
        sigma_prime=sigma_prime,
        deltas=deltas,
        nabla_w=[nabla_w_of(d, a) for d, a in zip(deltas, fwd.activations[:-1], strict=True)],
        nabla_b=[nabla_b_of(d) for d in deltas],
    )


# --- linear neurons ---------------------------------------------------------------


@dataclass(frozen=True)
class LinearNetwork:
    """``maps[i]`` is (w^{l+1})^T … (w^L)^T for l = i + 2 (the identity for l = L)."""

    example: int
    network: Network
    nabla_a: Array
    maps: list[Array]
    deltas: list[Array]
    deltas_backprop: list[Array]


def as_linear(net: Network) -> Network:
    """The same weights and biases with σ(z) = z in every layer."""
    return Network(net.sizes, weights=net.weights, biases=net.biases, activation="linear")


def linear_network(
    net: Network,
    x: Sequence[Sequence[float]] | Array,
    y: Sequence[Sequence[float]] | Array,
    cost: str | Cost,
    example: int = 0,
) -> LinearNetwork:
    """Eq. 35 with every Σ' = I: δ^l = (w^{l+1})^T … (w^L)^T ∇_aC, beside BP1/BP2's δ^l."""
    cost_fn = get_cost(cost)
    if cost_fn.name == "cross_entropy":
        raise ValueError("cost: cross-entropy needs outputs in (0, 1); linear neurons do not keep them there")
    linear = as_linear(net)
    X, Y = single_example(linear, x, y, example)
    g = backprop(linear, X, Y, cost_fn)
    maps = [np.eye(net.sizes[-1])]
    for w in reversed(linear.weights[1:]):
        maps.insert(0, w.T @ maps[0])
    nabla_a = np.array(g.nabla_a[0])
    return LinearNetwork(
        example=example,
        network=linear,
        nabla_a=nabla_a,
        maps=maps,
        deltas=[mp @ nabla_a for mp in maps],
        deltas_backprop=[np.array(d[0]) for d in g.deltas],
    )


# --- cross-entropy against quadratic ------------------------------------------------


@dataclass(frozen=True)
class OutputError:
    """BP1's pieces for one cost: ∇_aC, σ'(z^L) and δ^L = ∇_aC ⊙ σ'(z^L)."""

    cost_name: str
    cost: float
    nabla_a: Array
    sigma_prime: Array
    delta: Array


@dataclass(frozen=True)
class CostComparison:
    example: int
    z: Array
    a: Array
    y: Array
    a_minus_y: Array
    quadratic: OutputError
    cross_entropy: OutputError


def compare_costs(
    net: Network,
    x: Sequence[Sequence[float]] | Array,
    y: Sequence[Sequence[float]] | Array,
    example: int = 0,
) -> CostComparison:
    """BP1 for the quadratic and the cross-entropy cost on the same example (sigmoid outputs)."""
    if net.activation_names[-1] != "sigmoid":
        raise ValueError("network.activation: the comparison needs a sigmoid output layer (0 < a^L < 1)")
    X, Y = single_example(net, x, y, example)
    if np.any((Y < 0.0) | (Y > 1.0)):
        raise ValueError(f"targets[{example}]: cross_entropy needs targets between 0 and 1")
    sides = []
    for name in ("quadratic", "cross_entropy"):
        g = backprop(net, X, Y, name)
        sides.append(OutputError(name, g.cost, g.nabla_a[0], g.sigma_primes[-1][0], g.deltas[-1][0]))
        fwd = g.forward
    return CostComparison(
        example=example,
        z=fwd.zs[-1][0],
        a=fwd.activations[-1][0],
        y=Y[0],
        a_minus_y=residual(fwd.zs[-1], fwd.activations[-1], Y, net.activations[-1])[0],
        quadratic=sides[0],
        cross_entropy=sides[1],
    )
