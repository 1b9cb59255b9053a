"""Gradient descent: the update rule, one mini-batch, and stochastic gradient descent.

The update is eqs. 20–21 of chapter 1 with the gradient from backpropagation:
w^l → w^l − η ∂C/∂w^l and b^l → b^l − η ∂C/∂b^l, where C is the mean cost of
the mini-batch (so η is not divided by m again).

With L2 regularisation (chapter 3, eq. 93, as in the book's ``network2.py``) every
weight first shrinks: w → (1 − ηλ/n) w − η ∂C₀/∂w, with n the size of the whole
training set; biases are not regularised. λ = 0 is plain SGD, bit for bit.

``update_mini_batch`` returns a new network and leaves its argument alone, which
the step-through wants. Training takes thousands of steps, so ``sgd_step``
updates the weights and biases in place instead (same numbers, no new Network
per step), and ``mini_batches`` drives it epoch by epoch for ``SGD`` and for a
training session that reports as it goes.

``EpochGradients`` sums what a mini-batch's gradient says about learning (each layer's
mean |∂C/∂b^l|, chapter 5's speed of learning, and ∂C/∂w) over an epoch, for the training page.

Left out: momentum, L1 regularisation, dropout and learning-rate schedules (chapter 3).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from backprop_lens.engine.backprop import Gradients, as_examples, backprop
from backprop_lens.engine.costs import Cost, get_cost
from backprop_lens.engine.network import Network, check_finite

Array = NDArray[np.float64]


def gradient_descent(param: Array, nabla: Array, eta: float) -> Array:
    """Eqs. 20–21: v → v' = v − η ∇C, returned as a new array."""
    return param - eta * nabla


def gradient_descent_in_place(param: Array, nabla: Array, eta: float) -> None:
    """Eqs. 20–21: v → v − η ∇C, overwriting v (the same numbers as ``gradient_descent``)."""
    nabla *= eta
    param -= nabla


def weight_decay_in_place(w: Array, eta: float, lmbda: float, n: int) -> None:
    """Eq. 93's rescaling, the L2 term's whole effect: w → (1 − ηλ/n) w, overwriting w."""
    w *= 1.0 - eta * lmbda / n


def l2_gradient_descent_in_place(w: Array, nabla_w: Array, eta: float, lmbda: float, n: int) -> None:
    """Eq. 93 (network2.py's update): w → (1 − ηλ/n) w − η ∂C₀/∂w, overwriting w (and ``nabla_w``).

    C₀ is the unregularised cost of the mini-batch, n the number of training examples; λ = 0 is
    exactly ``gradient_descent_in_place``.
    """
    if lmbda:
        weight_decay_in_place(w, eta, lmbda, n)
    gradient_descent_in_place(w, nabla_w, eta)


@dataclass
class EpochGradients:
    """Sums over one epoch's mini-batches of what each mini-batch's gradient was, layer by layer.

    ``speeds()``: the mean over the mini-batches of (1/n_l) Σ_j |∂C/∂b^l_j|, each layer's speed of
    learning (chapter 5; ∂C/∂b^l = δ^l averaged over the mini-batch, BP3). ``mean_nabla_w()``: the
    mean over the mini-batches of ∂C₀/∂w^l (BP4, without the L2 term).
    """

    speed_sums: list[float] = field(default_factory=list)
    nabla_w_sums: list[Array] = field(default_factory=list)
    batches: int = 0

    def reset(self) -> None:
        self.speed_sums, self.nabla_w_sums, self.batches = [], [], 0

    def add(self, layer: int, nabla_w: Array, nabla_b: Array) -> None:
        """Add layer ``layer``'s gradient (0: the first weight layer); call in layer order, before the update."""
        speed = float(np.mean(np.abs(nabla_b)))
        if layer == len(self.speed_sums):
            self.speed_sums.append(speed)
            self.nabla_w_sums.append(nabla_w.copy())
        else:
            self.speed_sums[layer] += speed
            self.nabla_w_sums[layer] += nabla_w
        if layer == 0:
            self.batches += 1

    def speeds(self) -> list[float]:
        return [s / self.batches for s in self.speed_sums]

    def mean_nabla_w(self) -> list[Array]:
        return [s / self.batches for s in self.nabla_w_sums]


def sgd_step(
    net: Network,
    x: Array,
    y: Array,
    eta: float,
    cost_fn: Cost,
    lmbda: float = 0.0,
    n: int = 1,
    sums: EpochGradients | None = None,
) -> float:
    """One gradient-descent step on the mini-batch (x, y), changing ``net`` in place; returns C before the step.

    The gradient is ``backprop``'s (eq. 25, BP1–BP4), then every layer takes the step of eqs. 20–21
    (eq. 93 for the weights when λ > 0, with n the size of the training set). ``sums``, when given,
    adds this mini-batch's gradients to the epoch's. The gradient is the caller's own, so it is
    scaled by η where it lies.
    """
    g = backprop(net, x, y, cost_fn)
    for i, (nabla_w, nabla_b) in enumerate(zip(g.nabla_w, g.nabla_b, strict=True)):
        if sums is not None:
            sums.add(i, nabla_w, nabla_b)
        l2_gradient_descent_in_place(net.weights[i], nabla_w, eta, lmbda, n)
        gradient_descent_in_place(net.biases[i], nabla_b, eta)
    return g.cost


def stepped(net: Network, g: Gradients, eta: float) -> Network:
    """A new network after eqs. 20–21 with the gradient ``g`` (``net`` is left unchanged; ``g`` is scaled by η).

    The same numbers as ``gradient_descent`` layer by layer; ValueError when a parameter overflowed.
    """
    updated = net.copy()
    for w, b, nabla_w, nabla_b in zip(updated.weights, updated.biases, g.nabla_w, g.nabla_b, strict=True):
        gradient_descent_in_place(w, nabla_w, eta)
        gradient_descent_in_place(b, nabla_b, eta)
    check_finite(updated.weights, updated.biases)
    return updated


def update_mini_batch(
    net: Network,
    x: Sequence[Sequence[float]] | Array,
    y: Sequence[Sequence[float]] | Array,
    eta: float,
    cost: str | Cost = "quadratic",
) -> Network:
    """One gradient-descent step on the mean cost of the batch; ``net`` is left unchanged."""
    return stepped(net, backprop(net, x, y, cost), eta)


def iterate(
    net: Network,
    x: Sequence[Sequence[float]] | Array,
    y: Sequence[Sequence[float]] | Array,
    eta: float,
    cost: str | Cost,
    iterations: int,
) -> Network:
    """The network after ``iterations`` gradient-descent steps on the same batch (``net`` is left unchanged).

    What "Run the next iteration" repeats, and a permalink's ``iteration=n`` replays. A diverging η
    overflows on the way: the first non-finite network raises ValueError (the Network refuses it).
    """
    with np.errstate(all="ignore"):
        for _ in range(iterations):
            net = update_mini_batch(net, x, y, eta, cost)
    return net


@dataclass(frozen=True)
class Progress:
    """Where training is after a mini-batch, and that mini-batch's C as its gradient measured it (before the step)."""

    epoch: int
    batch: int
    batches_per_epoch: int
    cost: float


def mini_batches(
    net: Network,
    X: Array,
    Y: Array,
    epochs: int,
    mini_batch_size: int,
    eta: float | Callable[[], float],
    cost_fn: Cost,
    seed: int | None = 0,
    lmbda: float = 0.0,
    sums: EpochGradients | None = None,
    rng: np.random.Generator | None = None,
    first_epoch: int = 1,
) -> Iterator[Progress]:
    """Train ``net`` in place; after each mini-batch yield its ``Progress``.

    Each epoch shuffles the examples with a generator seeded once from ``seed``,
    as the book's ``network.py`` does with ``random.shuffle``. The caller may stop
    at any yield; the network then holds the weights after that mini-batch.
    ``eta`` may be a function, asked before every mini-batch (the page changes η
    during a run). ``lmbda`` is L2's λ (eq. 93); ``sums``, when given, is reset at
    the start of each epoch and holds that epoch's gradients (``EpochGradients``).

    Resuming (a checkpoint taken after epoch e): pass the network then, ``first_epoch`` e + 1
    and ``rng``, a generator in the state it had after drawing epoch e's order (the caller may
    read its state at any epoch's end, since each epoch draws its order at its start).
    """
    if mini_batch_size < 1:
        raise ValueError(f"mini_batch_size: expected at least 1, got {mini_batch_size}")
    n = X.shape[0]
    if rng is None:
        rng = np.random.default_rng(seed)
    batches = (n + mini_batch_size - 1) // mini_batch_size
    rate: Callable[[], float] = eta if callable(eta) else (lambda: eta)
    for epoch in range(first_epoch, epochs + 1):
        if sums is not None:
            sums.reset()
        order: NDArray[np.intp] = rng.permutation(n)
        X_epoch, Y_epoch = X[order], Y[order]  # one shuffled copy per epoch; mini-batches are views of it
        for k in range(batches):
            part = slice(k * mini_batch_size, (k + 1) * mini_batch_size)
            cost = sgd_step(net, X_epoch[part], Y_epoch[part], rate(), cost_fn, lmbda, n, sums)
            yield Progress(epoch, k + 1, batches, cost)


def SGD(  # noqa: N802 - the book's name
    net: Network,
    x: Sequence[Sequence[float]] | Array,
    y: Sequence[Sequence[float]] | Array,
    epochs: int,
    mini_batch_size: int,
    eta: float,
    cost: str | Cost = "quadratic",
    seed: int | None = 0,
    callback: Callable[[Network, Progress], bool | None] | None = None,
    lmbda: float = 0.0,
    every: Literal["mini_batch", "epoch"] = "mini_batch",
) -> Network:
    """Stochastic gradient descent, as in the book's ``network.py``.

    Each epoch shuffles the examples with a generator seeded once from
    ``seed`` and steps through mini-batches of ``mini_batch_size``. The
    callback is called after every mini-batch, or with ``every="epoch"`` after
    each epoch's last one, with a snapshot of the network then (its own copy,
    taken only when the callback is called) and the ``Progress``, whose cost is
    that mini-batch's; returning True stops training early. ``lmbda`` > 0 is
    ``network2.py``'s L2 regularisation (eq. 93).

    Unlike the book's method, which trains ``self`` in place, this returns a
    trained copy and leaves ``net`` as it was: ``net = SGD(net, ...)``. The
    in-place form is ``mini_batches``, which the training page uses.
    """
    cost_fn = get_cost(cost)
    X, Y = as_examples(net, x, y)
    trained = net.copy()
    for progress in mini_batches(trained, X, Y, epochs, mini_batch_size, eta, cost_fn, seed, lmbda):
        if callback is None or (every == "epoch" and progress.batch != progress.batches_per_epoch):
            continue
        if callback(trained.copy(), progress):
            break
    return trained
