"""Saturation and slow learning, read off BP1, BP2 and BP4 for one example.

A weight learns at the rate ∂C/∂w^l_jk = a^{l−1}_k δ^l_j (BP4). It is small when
either factor is:

* the input activation a^{l−1}_k ≈ 0 (a "low-activation" neuron feeding it), or
* δ^l_j ≈ 0 because neuron j is saturated, σ'(z^l_j) ≈ 0: in the output layer
  δ^L_j = ∂C/∂a^L_j σ'(z^L_j) (BP1), in a hidden layer
  δ^l_j = ((w^{l+1})^T δ^{l+1})_j σ'(z^l_j) (BP2).

One exception is spelled out: with the cross-entropy cost and a sigmoid output
layer ∂C/∂a^L_j = (a − y)/(a(1 − a)) cancels σ'(z^L_j), δ^L_j = a^L_j − y_j, and a
saturated output neuron still learns.

Left out: averages over a batch (saturation is judged on one example's z).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from backprop_lens.engine.backprop import backprop
from backprop_lens.engine.costs import Cost, get_cost
from backprop_lens.engine.insight.forward import single_example
from backprop_lens.engine.network import Network

Array = NDArray[np.float64]

REASON_OUTPUT = (
    "BP1: δ^L_j = ∂C/∂a^L_j · σ'(z^L_j); with σ'(z^L_j) ≈ 0 the error is small even when the "
    "output is wrong, so by BP3 and BP4 its bias and every weight into it learn slowly."
)
REASON_OUTPUT_CANCELLED = (
    "σ'(z^L_j) ≈ 0, but with the cross-entropy cost ∂C/∂a^L_j = (a − y)/(a(1 − a)) cancels it: "
    "δ^L_j = a^L_j − y_j, so this saturated output neuron still learns."
)
REASON_HIDDEN = (
    "BP2: δ^l_j = ((w^{l+1})^T δ^{l+1})_j · σ'(z^l_j); with σ'(z^l_j) ≈ 0 the error reaching "
    "this neuron is small, so by BP3 and BP4 its bias and every weight into it learn slowly."
)
REASON_QUIET = (
    "BP4: ∂C/∂w^{l+1}_{jk} = a^l_k δ^{l+1}_j; with a^l_k ≈ 0 every weight out of this neuron "
    "learns slowly, whatever the error downstream."
)
REASON_WEIGHT_INPUT = "BP4: its input activation a^{l−1}_k ≈ 0 (low-activation neuron)"
REASON_WEIGHT_OUTPUT = "BP1/BP2 then BP4: the neuron it feeds is saturated, so δ^l_j ≈ 0"


@dataclass(frozen=True)
class SaturatedNeuron:
    """Neuron j (0-based) of layer l with σ'(z^l_j) below the threshold."""

    layer: int
    j: int
    z: float
    a: float
    sigma_prime: float
    delta: float
    slows_learning: bool
    reason: str


@dataclass(frozen=True)
class QuietNeuron:
    """Neuron k (0-based) of layer l (1..L−1) with |a^l_k| below the threshold."""

    layer: int
    k: int
    a: float
    reason: str


@dataclass(frozen=True)
class SlowWeight:
    """w^l_jk (j, k 0-based) that learns slowly, with the reasons."""

    layer: int
    j: int
    k: int
    a_in: float
    sigma_prime: float
    nabla_w: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Saturation:
    example: int
    sigma_prime_threshold: float
    activation_threshold: float
    saturated: tuple[SaturatedNeuron, ...]
    quiet: tuple[QuietNeuron, ...]
    slow_weights: tuple[SlowWeight, ...]
    slow_weight_count: int
    weight_count: int


def cost_cancels_sigma_prime(cost: Cost, output_activation: str) -> bool:
    """True when ∂C/∂a^L · σ'(z^L) = a^L − y exactly: cross-entropy with sigmoid outputs."""
    return cost.name == "cross_entropy" and output_activation == "sigmoid"


def saturation(
    net: Network,
    x: Sequence[Sequence[float]] | Array,
    y: Sequence[Sequence[float]] | Array,
    cost: str | Cost = "quadratic",
    example: int = 0,
    sigma_prime_threshold: float = 0.01,
    activation_threshold: float = 0.01,
    max_listed: int = 100,
) -> Saturation:
    """Saturated neurons (σ'(z) < threshold), low-activation neurons (|a| < threshold), slow weights.

    Slow weights are listed smallest |∂C/∂w| first, at most ``max_listed`` of them;
    ``slow_weight_count`` counts them all.
    """
    cost_fn = get_cost(cost)
    X, Y = single_example(net, x, y, example)
    g = backprop(net, X, Y, cost_fn)
    L = net.num_layers
    cancels = cost_cancels_sigma_prime(cost_fn, net.activation_names[-1])

    saturated: list[SaturatedNeuron] = []
    slows = [np.zeros(n, dtype=bool) for n in net.sizes[1:]]
    for i, (z, a, sp, d) in enumerate(
        zip(g.forward.zs, g.forward.activations[1:], g.sigma_primes, g.deltas, strict=True)
    ):
        layer = i + 2
        for j in np.flatnonzero(sp[0] < sigma_prime_threshold):
            output = layer == L
            slow = not (output and cancels)
            slows[i][j] = slow
            reason = (REASON_OUTPUT if slow else REASON_OUTPUT_CANCELLED) if output else REASON_HIDDEN
            saturated.append(
                SaturatedNeuron(
                    layer, int(j), float(z[0, j]), float(a[0, j]), float(sp[0, j]), float(d[0, j]), slow, reason
                )
            )

    quiet = [
        QuietNeuron(i + 1, int(k), float(a[0, k]), REASON_QUIET)
        for i, a in enumerate(g.forward.activations[:-1])
        for k in np.flatnonzero(np.abs(a[0]) < activation_threshold)
    ]

    slow_weights: list[SlowWeight] = []
    for i, (nw, a_prev, sp) in enumerate(zip(g.nabla_w, g.forward.activations[:-1], g.sigma_primes, strict=True)):
        low_input = np.abs(a_prev[0]) < activation_threshold
        js, ks = np.nonzero(slows[i][:, None] | low_input[None, :])
        for j, k in zip(js, ks, strict=True):
            reasons = tuple(
                text
                for flag, text in ((low_input[k], REASON_WEIGHT_INPUT), (slows[i][j], REASON_WEIGHT_OUTPUT))
                if flag
            )
            slow_weights.append(
                SlowWeight(i + 2, int(j), int(k), float(a_prev[0, k]), float(sp[0, j]), float(nw[j, k]), reasons)
            )
    slow_weights.sort(key=lambda s: abs(s.nabla_w))
    return Saturation(
        example=example,
        sigma_prime_threshold=sigma_prime_threshold,
        activation_threshold=activation_threshold,
        saturated=tuple(saturated),
        quiet=tuple(quiet),
        slow_weights=tuple(slow_weights[:max_listed]),
        slow_weight_count=len(slow_weights),
        weight_count=sum(w.size for w in net.weights),
    )
