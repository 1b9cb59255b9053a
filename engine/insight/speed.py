"""Why backpropagation is fast: its gradient beside eq. 46's finite differences.

Backpropagation gets every ∂C/∂w and ∂C/∂b from one forward and one backward
pass, and the backward pass costs about as much as a forward one: about two
forward passes in all. Central finite differences (eq. 46, central form) need
two forward passes per parameter, 2P + 1 with the unperturbed cost. Both are
timed here with the same clock, so the person sees the gap grow with P.

Times are the best of a few runs (as ``timeit`` advises: the minimum is the run least
disturbed by other work on the machine), repeated only while they stay short.

Left out: statistics of the timings beyond their minimum.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from backprop_lens.engine.backprop import Gradients, backprop
from backprop_lens.engine.costs import Cost
from backprop_lens.engine.gradcheck import NumericalGradient, numerical_gradient, relative_error
from backprop_lens.engine.network import Network

Array = NDArray[np.float64]

T = TypeVar("T")

BACKPROP_PASSES = 2
"""One forward pass and one backward pass, the backward one costing about a forward one."""

RELATIVE_ERROR_FLOOR = 1e-8
"""Below this |∂C/∂w| the relative error measures rounding, not the gradient: a central
difference carries a rounding error of about 1e-16 · |C| / ε, some 1e-10 for ε = 1e-6, so a
derivative of 1e-11 (a saturated corner of the network) cannot be resolved by it at all."""


@dataclass(frozen=True)
class SpeedComparison:
    """Backpropagation against central finite differences on one network and batch."""

    parameters: int
    backprop: Gradients
    numerical: NumericalGradient
    relative_error_w: list[Array]
    relative_error_b: list[Array]
    backprop_passes: int
    numerical_passes: int
    backprop_seconds: float
    numerical_seconds: float

    @property
    def max_relative_error(self) -> float:
        errors = [*self.relative_error_w, *self.relative_error_b]
        return max(float(e.max()) for e in errors)

    @property
    def max_absolute_error(self) -> float:
        """max |g_bp − g_fd| over every weight and bias."""
        pairs = zip(
            [*self.backprop.nabla_w, *self.backprop.nabla_b],
            [*self.numerical.nabla_w, *self.numerical.nabla_b],
            strict=True,
        )
        return max(float(np.abs(bp - fd).max()) for bp, fd in pairs)


def _best_time(run: Callable[[], T], budget: float = 0.05, repeats: int = 5) -> tuple[T, float]:
    """The first result and the shortest of up to ``repeats`` runs, repeating while under ``budget`` seconds."""
    start = time.perf_counter()
    result = run()
    best = spent = time.perf_counter() - start
    for _ in range(repeats - 1):
        if spent + best > budget:
            break
        start = time.perf_counter()
        run()
        elapsed = time.perf_counter() - start
        best, spent = min(best, elapsed), spent + elapsed
    return result, best


def compare_speed(
    net: Network,
    x: Sequence[Sequence[float]] | Array,
    y: Sequence[Sequence[float]] | Array,
    cost: str | Cost = "quadratic",
    epsilon: float = 1e-6,
    floor: float = RELATIVE_ERROR_FLOOR,
) -> SpeedComparison:
    """BP1–BP4 against eq. 46 (central differences) for every weight and bias, both timed.

    The relative error per parameter is |g_bp − g_fd| / max(|g_bp|, |g_fd|, floor).
    """
    g, backprop_seconds = _best_time(lambda: backprop(net, x, y, cost))
    n, numerical_seconds = _best_time(lambda: numerical_gradient(net, x, y, cost, epsilon))
    return SpeedComparison(
        parameters=net.num_parameters,
        backprop=g,
        numerical=n,
        relative_error_w=[relative_error(a, b, floor) for a, b in zip(g.nabla_w, n.nabla_w, strict=True)],
        relative_error_b=[relative_error(a, b, floor) for a, b in zip(g.nabla_b, n.nabla_b, strict=True)],
        backprop_passes=BACKPROP_PASSES,
        numerical_passes=n.forward_passes,
        backprop_seconds=backprop_seconds,
        numerical_seconds=numerical_seconds,
    )


def widen(net: Network, width: int, seed: int = 0) -> Network:
    """The same inputs, outputs and activations with every hidden layer ``width`` neurons wide.

    A network without hidden layers gets one. Weights are drawn afresh from ``seed``:
    this is for growing P and watching the cost of finite differences grow with it.
    """
    if width < 1:
        raise ValueError(f"width: expected at least 1 neuron, got {width}")
    names = net.activation_names
    hidden = max(1, net.num_layers - 2)
    activation = ([names[0]] * hidden) + [names[-1]]
    sizes = [net.sizes[0], *([width] * hidden), net.sizes[-1]]
    return Network(sizes, activation=activation, seed=seed)
