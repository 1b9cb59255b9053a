"""Shared by the instruments: picking one example, and a forward pass with one neuron changed.

The demon adds Δz to z^l_j and lets the rest of the forward pass continue from there;
the modified-neuron exercise gives neuron (l, j) its own activation f. Both are the
forward pass of eq. 25 with one neuron's z or a replaced, so they share one function.

Left out: changing more than one neuron at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from backprop_lens.engine.activations import Activation
from backprop_lens.engine.backprop import ForwardPass, as_examples, weighted_input
from backprop_lens.engine.network import Network

Array = NDArray[np.float64]


def single_example(
    net: Network,
    x: Sequence[Sequence[float]] | Array,
    y: Sequence[Sequence[float]] | Array,
    example: int,
) -> tuple[Array, Array]:
    """Row ``example`` of the batch as a batch of one: (1, n_1) inputs and (1, n_L) targets."""
    X, Y = as_examples(net, x, y)
    if not 0 <= example < X.shape[0]:
        raise ValueError(f"example: expected a row index from 0 to {X.shape[0] - 1}, got {example}")
    return X[example : example + 1], Y[example : example + 1]


def all_finite(*values: float | Array | Sequence[Array]) -> bool:
    """True when no number among ``values`` overflowed to ±inf or became NaN."""
    for v in values:
        parts = v if isinstance(v, list | tuple) else [v]
        if not all(bool(np.isfinite(p).all()) for p in parts):
            return False
    return True


def check_neuron(net: Network, layer: int, j: int) -> None:
    """ValueError unless layer l is 2..L and j is a neuron of it (0-based)."""
    if not 2 <= layer <= net.num_layers:
        raise ValueError(f"layer: expected l from 2 to {net.num_layers}, got {layer}")
    width = net.sizes[layer - 1]
    if not 0 <= j < width:
        raise ValueError(f"neuron: layer {layer} has {width} neurons, got index {j}")


def feedforward_tweaked(
    net: Network,
    x: Array,
    layer: int,
    j: int,
    dz: float = 0.0,
    f: Activation | None = None,
) -> ForwardPass:
    """Eq. 25 layer by layer, with neuron j (0-based) of layer l changed.

    z^l_j becomes z^l_j + Δz before its activation is applied (the demon), and
    a^l_j = f(z^l_j) instead of σ(z^l_j) when ``f`` is given (a modified neuron).
    Every later layer is computed from the changed a^l, so the change propagates
    to the cost exactly as the chapter describes.
    """
    check_neuron(net, layer, j)
    a = x
    zs: list[Array] = []
    activations: list[Array] = [x]
    for i, (w, b, act) in enumerate(zip(net.weights, net.biases, net.activations, strict=True)):
        z = weighted_input(w, a, b)
        if i + 2 == layer:
            z[:, j] += dz
        a = act.fn(z)
        if i + 2 == layer and f is not None:
            a[:, j] = f.fn(z[:, j])
        zs.append(z)
        activations.append(a)
    return ForwardPass(zs=zs, activations=activations)
