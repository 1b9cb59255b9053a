"""The network: layer sizes, weights w^l, biases b^l and an activation per layer.

Notation is the book's. Layer 1 is the input; layers 2..L have a weight
matrix w^l of shape (n_l, n_{l−1}), whose row j holds the weights into neuron
j, and a bias vector b^l of shape (n_l,). Python lists are 0-based, so
``weights[0]`` is w^2 and ``weights[-1]`` is w^L.

The parameters are kept in the layout ``engine.backprop`` computes with: each layer's weights and
biases side by side in one matrix ``packed[i]`` = [w | b] of shape (n_l, n_{l−1} + 1), column-major, so that
z = [a, 1] [w | b]^T is one product and [∂C/∂w | ∂C/∂b] another. ``weights[i]`` and ``biases[i]``
are views of it: writing into them (as the in-place update does) writes into ``packed``.

A network is built from explicit weights and biases, or from sizes and a seed.
Initialisation draws from NumPy's PCG64 generator, so the same seed gives the
same network bit for bit on every machine.

Left out: dropout, batch norm and any layer that is not fully connected.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence, Sized
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from backprop_lens.engine import display
from backprop_lens.engine.activations import Activation, get_activation

Array = NDArray[np.float64]
Init = Literal["standard", "scaled"]
"""``standard``: w, b ~ N(0, 1) as in chapter 1. ``scaled``: w ~ N(0, 1/n_in), b ~ N(0, 1) (chapter 3)."""


class Network:
    """Sizes, parameters and per-layer activations of a feedforward network."""

    sizes: list[int]
    packed: list[Array]
    weights: list[Array]
    biases: list[Array]
    activations: list[Activation]

    def __init__(
        self,
        sizes: Sequence[int],
        weights: Sequence[Sequence[Sequence[float]] | Array] | None = None,
        biases: Sequence[Sequence[float] | Array] | None = None,
        activation: str | Sequence[str] = "sigmoid",
        seed: int | None = 0,
        init: Init = "standard",
    ) -> None:
        """A network of ``sizes`` = [n_1, …, n_L] neurons per layer, layer 1 the input.

        ``weights[i]`` is w^{i+2}, an n_{i+2} × n_{i+1} matrix (row j: the weights
        into neuron j); ``biases[i]`` is b^{i+2}, a vector of n_{i+2} entries. Give
        both or neither: without them they are drawn from ``seed`` by ``init``
        (``standard`` N(0, 1); ``scaled`` w ~ N(0, 1/n_in)). ``activation`` is
        one name for every layer or one per layer 2..L.

        Examples are rows, not the book's columns: a batch of m inputs is an
        m × n_1 array, so a whole mini-batch goes through one matrix product
        (z = a w^T + b) and the arrays print as the tables students read.
        """
        sizes = [int(n) for n in sizes]
        if len(sizes) < 2:
            raise ValueError("sizes: a network needs at least an input and an output layer")
        if any(n < 1 for n in sizes):
            raise ValueError("sizes: every layer needs at least one neuron")
        self.sizes = sizes
        n_layers = len(sizes) - 1

        names = [activation] * n_layers if isinstance(activation, str) else list(activation)
        if len(names) != n_layers:
            raise ValueError(
                f"activation: expected one name or {n_layers} names (one per layer 2..L), got {len(names)}"
            )
        self.activations = [get_activation(name) for name in names]

        if (weights is None) != (biases is None):
            raise ValueError("weights and biases: give both or neither")
        if weights is None or biases is None:
            self._adopt(pack(*_initial_parameters(sizes, seed, init)))
        else:
            check_shapes(sizes, weights, biases)
            self._adopt(pack(weights, biases))
            check_finite(self.weights, self.biases)

    def _adopt(self, packed: list[Array]) -> None:
        """Take ``packed`` as the parameters; ``weights`` and ``biases`` become views of it."""
        self.packed = packed
        self.weights = [p[:, :-1] for p in packed]
        self.biases = [p[:, -1] for p in packed]

    @classmethod
    def of_packed(cls, sizes: Sequence[int], packed: list[Array], activations: Sequence[Activation]) -> Network:
        """A network that takes ``packed`` ([w | b] per layer, float64, shapes already right) as it is: no checks,
        no copy. For the engine's own copies and updates; anything from outside goes through ``Network(...)``."""
        net = cls.__new__(cls)
        net.sizes = list(sizes)
        net.activations = list(activations)
        net._adopt(packed)
        return net

    def __repr__(self) -> str:
        names = self.activation_names
        act = names[0] if len(set(names)) == 1 else ", ".join(names)
        sizes = "-".join(map(str, self.sizes))
        return f"Network({sizes}, activation={act}, {self.num_parameters} parameters)"

    def _repr_html_(self) -> str | None:
        """In a notebook: the diagram with its weights, once ``backprop_lens.display`` is installed."""
        return display.render("network", "text/html", self)

    def __call__(self, x: Sequence[float] | Sequence[Sequence[float]] | Array) -> Array:
        """a^L for the input x (eq. 25 layer by layer): one example as a vector, or a batch of rows."""
        a = np.asarray(x, dtype=np.float64)
        single = a.ndim == 1 and a.shape[0] == self.sizes[0]
        a = check_batch(a.reshape(1, -1) if single else a, self.sizes[0], "x")
        for w, b, act in zip(self.weights, self.biases, self.activations, strict=True):
            a = act.fn(a @ w.T + b)
        return a[0] if single else a

    @property
    def activation_names(self) -> list[str]:
        return [act.name for act in self.activations]

    @property
    def num_layers(self) -> int:
        """L, counting the input layer."""
        return len(self.sizes)

    @property
    def num_parameters(self) -> int:
        return parameter_count(self.sizes)

    def copy(self) -> Network:
        """A deep copy: the update step must not change the network it started from."""
        return Network.of_packed(self.sizes, [p.copy(order="K") for p in self.packed], self.activations)

    def read_only(self) -> Network:
        """This network's parameters, seen read-only and without a copy: it changes when this network does."""
        views = [p.view() for p in self.packed]
        for v in views:
            v.setflags(write=False)
        return Network.of_packed(self.sizes, views, self.activations)

    def with_parameters(self, weights: Sequence[Array], biases: Sequence[Array]) -> Network:
        """The same architecture and activations with other weights and biases."""
        return Network(self.sizes, weights=list(weights), biases=list(biases), activation=self.activation_names)

    def to_dict(self) -> dict[str, object]:
        """The JSON form the API accepts back: sizes, activation, weights, biases."""
        return {
            "sizes": list(self.sizes),
            "activation": self.activation_names,
            "weights": [w.tolist() for w in self.weights],
            "biases": [b.tolist() for b in self.biases],
        }


def check_batch(arr: Array, width: int, name: str) -> Array:
    """``arr`` if it is m ≥ 1 rows of ``width`` numbers; otherwise ValueError in words a student can act on.

    A batch passed as the book's columns (width × m) is named as such when it
    can be told apart; a square batch cannot, and is read as rows.
    """
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] != width:
        shape = f"a vector of {arr.shape[0]} numbers" if arr.ndim == 1 else "×".join(map(str, arr.shape)) or "a scalar"
        shape = shape if arr.ndim == 1 else f"shape {shape}"
        hint = ""
        if arr.ndim == 2 and arr.shape[0] == width and arr.shape[1] >= 1:
            hint = "; it looks transposed (the book's columns): examples are rows here, pass its .T"
        elif arr.ndim > 2:
            hint = "; expected a 2-D array of examples as rows"
        raise ValueError(f"{name}: expected m ≥ 1 rows of {width} numbers, got {shape}{hint}")
    return arr


def packed_checked(
    sizes: Sequence[int], weights: Sequence[Sequence[Sequence[float]]], biases: Sequence[Sequence[float]]
) -> list[Array] | None:
    """``pack(weights, biases)`` when every w^l and b^l has the shape ``sizes`` gives it; None otherwise.

    The shapes ``check_shapes`` checks, read off the packed arrays: no Python call per row, and no
    words (a caller that gets None asks ``check_shapes`` what is wrong).
    """
    if len(weights) != len(sizes) - 1 or len(biases) != len(sizes) - 1:
        return None
    try:
        packed = pack(weights, biases)  # ValueError for ragged rows or a bias of another length
    except ValueError:
        return None
    for p, n_in, n_out in zip(packed, sizes, sizes[1:], strict=False):
        if p.shape != (n_out, n_in + 1):
            return None
    return packed


def batch_rows(rows: Sequence[Sequence[float]], width: int) -> Array | None:
    """``rows`` as an m × width array when they are m ≥ 1 rows of ``width`` numbers; None otherwise."""
    try:
        a = np.array(rows, dtype=np.float64)
    except ValueError:  # ragged rows
        return None
    return a if a.ndim == 2 and a.shape[0] >= 1 and a.shape[1] == width else None


def parameter_count(sizes: Sequence[int]) -> int:
    """P = Σ_l n_l (n_{l−1} + 1): weights plus biases."""
    return sum(n_out * (n_in + 1) for n_in, n_out in itertools.pairwise(sizes))


def pack(
    weights: Sequence[Sequence[Sequence[float]] | Array], biases: Sequence[Sequence[float] | Array]
) -> list[Array]:
    """[w | b] of every layer as a new float64 matrix (n_l, n_{l−1} + 1); ValueError where w and b do not fit
    together (their fit to the sizes is ``check_shapes``'s)."""
    packed: list[Array] = []
    for w, b in zip(weights, biases, strict=True):
        w_arr = np.asarray(w, dtype=np.float64)
        b_arr = np.asarray(b, dtype=np.float64)
        if w_arr.ndim != 2 or b_arr.shape != w_arr.shape[:1]:
            raise ValueError(f"pack: w of shape {w_arr.shape} and b of shape {b_arr.shape} are not one layer's")
        # Column-major: [w | b]^T, what the forward pass multiplies by, is then row-major, which BLAS reads
        # fastest (13% off the public backprop at 784-30-10, batch 10); w and b stay the same views of it.
        p = np.empty((w_arr.shape[0], w_arr.shape[1] + 1), order="F")
        p[:, :-1] = w_arr
        p[:, -1] = b_arr
        packed.append(p)
    return packed


def _initial_parameters(sizes: list[int], seed: int | None, init: Init) -> tuple[list[Array], list[Array]]:
    rng = np.random.default_rng(seed)
    weights: list[Array] = []
    biases: list[Array] = []
    for n_in, n_out in itertools.pairwise(sizes):
        scale = 1.0 if init == "standard" else 1.0 / np.sqrt(n_in)
        weights.append(rng.standard_normal((n_out, n_in)) * scale)
        biases.append(rng.standard_normal(n_out))
    return weights, biases


def _shape_text(m: Sequence[Sequence[float]] | Array) -> str:
    """A matrix's shape in words: "2×3", or "3 rows of widths [1, 2]" for rows of different lengths."""
    widths = sorted({len(row) if isinstance(row, Sized) else 0 for row in m})
    if len(widths) == 1:
        return f"{len(m)}×{widths[0]}"
    return f"{len(m)} rows of widths {widths}" if widths else "0 rows"


def check_shapes(
    sizes: Sequence[int],
    weights: Sequence[Sequence[Sequence[float]] | Array],
    biases: Sequence[Sequence[float] | Array],
) -> None:
    """ValueError naming the first weight matrix or bias vector whose shape does not fit ``sizes``.

    Lists of rows and NumPy arrays alike, so the API checks pasted weights with the same words
    the engine uses: ``weights[0]: w^2 must be 2×2 (n_2 rows of n_1 numbers), got 1×2``.
    """
    n_layers = len(sizes) - 1
    if len(weights) != n_layers:
        raise ValueError(f"weights: expected {n_layers} matrices for sizes {list(sizes)}, got {len(weights)}")
    if len(biases) != n_layers:
        raise ValueError(f"biases: expected {n_layers} vectors for sizes {list(sizes)}, got {len(biases)}")
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        rows, cols = sizes[i + 1], sizes[i]
        ragged = any(not isinstance(row, Sized) or len(row) != cols for row in w)
        if len(w) != rows or ragged:
            raise ValueError(
                f"weights[{i}]: w^{i + 2} must be {rows}×{cols} (n_{i + 2} rows of n_{i + 1} numbers), "
                f"got {_shape_text(w)}"
            )
        if np.ndim(b) != 1 or len(b) != rows:
            got = len(b) if np.ndim(b) == 1 else f"shape {'×'.join(map(str, np.shape(b)))}"
            raise ValueError(f"biases[{i}]: b^{i + 2} must have {rows} numbers, got {got}")


def check_finite(weights: list[Array], biases: list[Array]) -> None:
    """ValueError naming the first layer with a parameter that is not a finite number."""
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
            raise ValueError(f"weights[{i}] / biases[{i}]: every entry must be a finite number")
