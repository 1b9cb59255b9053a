"""The same gradient by PyTorch autograd and by JAX, for the engine's network and batch.

Both compute what ``engine.backprop`` computes for a sigmoid network and the
quadratic cost: C = (1/m) Σ_x ½‖a^L − y‖² and its gradient with respect to
every weight and bias, in float64 on the CPU, from the engine's own weights.
Each returns None when its library cannot be imported (``bench.optional``; the
worker's row then names the extra to install). The thread count is set by the
caller's environment (``bench.worker``) before anything is imported.

Left out: other activations and costs; compiling anything for PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from backprop_lens.bench.optional import optional
from backprop_lens.engine import Network

Array = NDArray[np.float64]
GradientFn = Callable[[], object]


@dataclass(frozen=True)
class Comparator:
    """A ready-to-time gradient function, the library's version and thread count."""

    label: str
    version: str
    threads: int | None
    gradient: GradientFn
    check: Callable[[], tuple[float, list[Array]]]
    """Cost and gradients (w², b², w³, b³, …) as NumPy arrays, to check against the engine."""


def torch_autograd(net: Network, x: Array, y: Array, one_thread: bool) -> Comparator | None:
    """PyTorch CPU autograd: a forward pass recorded on the tape, then ``torch.autograd.grad``."""
    torch = optional("torch")
    if torch is None:
        return None
    if one_thread:
        torch.set_num_threads(1)
    params = []
    for w, b in zip(net.weights, net.biases, strict=True):
        params += [torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)]
    X = torch.tensor(x)
    Y = torch.tensor(y)
    m = x.shape[0]

    def cost_and_grads() -> tuple[Any, tuple[Any, ...]]:
        a = X
        for i in range(0, len(params), 2):
            a = torch.sigmoid(torch.addmm(params[i + 1], a, params[i].T))
        cost = 0.5 * torch.sum((a - Y) ** 2) / m
        return cost, torch.autograd.grad(cost, params)

    def check() -> tuple[float, list[Array]]:
        cost, grads = cost_and_grads()
        return float(cost.detach()), [g.numpy() for g in grads]

    return Comparator("PyTorch autograd", torch.__version__, torch.get_num_threads(), cost_and_grads, check)


def jax_jit(net: Network, x: Array, y: Array, one_thread: bool) -> Comparator | None:
    """JAX ``jit(value_and_grad(C))`` in float64: the cost and the gradient, as the engine returns.

    XLA's threads come from ``XLA_FLAGS``, set by the worker before JAX loads; ``one_thread`` only labels them.
    """
    jax = optional("jax")
    if jax is None:
        return None
    jnp = optional("jax.numpy")
    if jnp is None:
        return None
    jax.config.update("jax_enable_x64", True)

    def cost(params: list[tuple[Any, Any]], X: Any, Y: Any) -> Any:
        a = X
        for w, b in params:
            a = jax.nn.sigmoid(a @ w.T + b)
        return 0.5 * jnp.sum((a - Y) ** 2) / X.shape[0]

    fn = jax.jit(jax.value_and_grad(cost))
    params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in zip(net.weights, net.biases, strict=True)]
    X = jnp.asarray(x)
    Y = jnp.asarray(y)

    def gradient() -> object:
        return jax.block_until_ready(fn(params, X, Y))

    def check() -> tuple[float, list[Array]]:
        c, grads = fn(params, X, Y)
        return float(c), [np.asarray(g) for pair in grads for g in pair]

    gradient()  # compile outside the timing
    return Comparator("JAX jit(value_and_grad)", jax.__version__, 1 if one_thread else None, gradient, check)
