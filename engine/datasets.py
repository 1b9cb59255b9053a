"""Data sets to train on: generated two-dimensional ones, the 8×8 digits, and a person's own CSV.

Every data set is a ``Dataset``: inputs and targets as rows, already split into a
training part and a held-out test part by a seeded permutation, so the same
arguments give the same arrays bit for bit.

* ``xor``, ``moons``, ``circles``, ``spirals``: two inputs and one target in
  {0, 1} (one sigmoid output neuron), with Gaussian noise of a chosen σ.
* ``digits``: the UCI 8×8 handwritten digits (1797 images, shipped in
  ``engine/data`` with its attribution), pixels scaled from 0..16 to [0, 1],
  targets one-hot over the ten digits.
* ``from_csv``: numeric feature columns followed by a label column; features are
  min-max scaled to [0, 1] per column, labels become one output in {0, 1} for two
  classes and one-hot targets for more.

Left out: downloading anything, data augmentation, and regression targets.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
Labels = NDArray[np.int64]

DIGITS_FILE = Path(__file__).resolve().parent / "data" / "digits.csv.gz"
DIGIT_PIXEL_MAX = 16.0


@dataclass(frozen=True)
class Dataset:
    """Training and test examples (rows), the class names, and how to draw an input."""

    name: str
    x_train: Array
    y_train: Array
    x_test: Array
    y_test: Array
    classes: tuple[str, ...]
    image_shape: tuple[int, int] | None = None
    """(rows, columns) when each input is an image, as for the digits."""

    @property
    def n_inputs(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_outputs(self) -> int:
        return int(self.y_train.shape[1])

    @property
    def is_2d(self) -> bool:
        return self.n_inputs == 2

    def bounds(self, pad: float = 0.1) -> tuple[float, float, float, float]:
        """(x_min, x_max, y_min, y_max) of all inputs of a 2-D set, widened by ``pad`` of the range."""
        x = np.vstack([self.x_train, self.x_test])
        lo, hi = x.min(axis=0), x.max(axis=0)
        margin = pad * np.maximum(hi - lo, 1e-9)
        lo, hi = lo - margin, hi + margin
        return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def one_hot(labels: Labels, k: int) -> Array:
    """Row i is the unit vector e_{labels[i]} of length k (the book's ``vectorized_result``)."""
    out = np.zeros((labels.shape[0], k))
    out[np.arange(labels.shape[0]), labels] = 1.0
    return out


def targets_of(labels: Labels, k: int) -> Array:
    """One output in {0, 1} for two classes, one-hot rows for more."""
    return labels.reshape(-1, 1).astype(np.float64) if k == 2 else one_hot(labels, k)


def split(
    name: str,
    x: Array,
    labels: Labels,
    classes: tuple[str, ...],
    test_fraction: float,
    seed: int,
    image_shape: tuple[int, int] | None = None,
) -> Dataset:
    """Shuffle with a generator seeded by ``seed`` and hold out ``test_fraction`` of the rows."""
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction: expected a number in [0, 1), got {test_fraction}")
    n = x.shape[0]
    order = np.random.default_rng(seed).permutation(n)
    n_test = round(test_fraction * n)
    if n - n_test < 1:
        raise ValueError(f"test_fraction: {test_fraction} of {n} examples leaves none to train on")
    test, train = order[:n_test], order[n_test:]
    y = targets_of(labels, len(classes))
    return Dataset(name, x[train], y[train], x[test], y[test], classes, image_shape)


# --- generated two-dimensional sets ----------------------------------------------


def xor_points(n: int, noise: float, rng: np.random.Generator) -> tuple[Array, Labels]:
    """The four corners of the unit square in turn, each blurred by N(0, noise²); label x₁ XOR x₂.

    With noise 0 and n = 4 this is exactly the truth table.
    """
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    k = np.arange(n) % 4
    x = corners[k] + noise * rng.standard_normal((n, 2))
    return x, ((k == 1) | (k == 2)).astype(np.int64)


def moons_points(n: int, noise: float, rng: np.random.Generator) -> tuple[Array, Labels]:
    """Two interleaved half circles: (cos t, sin t) and (1 − cos t, ½ − sin t), t ~ U[0, π]."""
    label = np.arange(n) % 2
    t = rng.uniform(0.0, np.pi, n)
    x = np.where(
        (label == 0)[:, None],
        np.column_stack([np.cos(t), np.sin(t)]),
        np.column_stack([1.0 - np.cos(t), 0.5 - np.sin(t)]),
    )
    return x + noise * rng.standard_normal((n, 2)), label


def circles_points(n: int, noise: float, rng: np.random.Generator) -> tuple[Array, Labels]:
    """Two concentric circles, radius 1 (label 0) and ½ (label 1), angle ~ U[0, 2π)."""
    label = np.arange(n) % 2
    t = rng.uniform(0.0, 2.0 * np.pi, n)
    r = np.where(label == 0, 1.0, 0.5)
    x = np.column_stack([r * np.cos(t), r * np.sin(t)])
    return x + noise * rng.standard_normal((n, 2)), label


def spirals_points(n: int, noise: float, rng: np.random.Generator) -> tuple[Array, Labels]:
    """Two arms r = s, θ = 3π s (s ~ U[0.05, 1]), the second turned by π; one and a half turns each."""
    label = np.arange(n) % 2
    s = rng.uniform(0.05, 1.0, n)
    theta = 3.0 * np.pi * s + np.pi * label
    x = np.column_stack([s * np.cos(theta), s * np.sin(theta)])
    return x + noise * rng.standard_normal((n, 2)), label


GENERATED: dict[str, Callable[[int, float, np.random.Generator], tuple[Array, Labels]]] = {
    "xor": xor_points,
    "moons": moons_points,
    "circles": circles_points,
    "spirals": spirals_points,
}


def generated(name: str, n: int = 200, noise: float = 0.1, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """``n`` seeded points of a generated two-dimensional set, split into training and test parts."""
    if name not in GENERATED:
        raise ValueError(f"dataset: unknown generated set {name!r}; expected one of: {', '.join(GENERATED)}")
    if n < 1:
        raise ValueError(f"n: expected at least 1 point, got {n}")
    if not (math.isfinite(noise) and noise >= 0.0):
        raise ValueError(f"noise: expected a finite σ ≥ 0, got {noise}")
    rng = np.random.default_rng(seed)
    x, label = GENERATED[name](n, noise, rng)
    return split(name, x, np.asarray(label, dtype=np.int64), ("0", "1"), test_fraction, seed)


# --- the 8×8 digits ------------------------------------------------------------------


def load_digits_file(path: Path = DIGITS_FILE) -> tuple[Array, Labels]:
    """The 1797 rows of the shipped file: 64 pixel values 0..16, then the label."""
    with gzip.open(path, "rt", encoding="ascii") as f:
        raw = np.loadtxt(f, delimiter=",", dtype=np.int64)
    return raw[:, :64].astype(np.float64), raw[:, 64]


def digits(test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """The 8×8 digits, pixels scaled to [0, 1], targets one-hot; ``test_fraction`` held out."""
    pixels, label = load_digits_file()
    return split(
        "digits", pixels / DIGIT_PIXEL_MAX, label, tuple(str(d) for d in range(10)), test_fraction, seed, (8, 8)
    )


# --- a person's own CSV -------------------------------------------------------------


def _number(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def from_csv(
    text: str,
    test_fraction: float = 0.2,
    seed: int = 0,
    max_rows: int = 2000,
    max_cols: int = 64,
    max_classes: int = 20,
) -> Dataset:
    """Features then a label in each row; an optional header row; blank lines skipped.

    Errors are ValueErrors whose message starts with ``csv line N:``. Features are
    min-max scaled per column to [0, 1] (a constant column becomes 0); labels are
    class names, ordered numerically when they are all numbers.
    """
    rows = [(i + 1, r) for i, r in enumerate(csv.reader(io.StringIO(text))) if any(c.strip() for c in r)]
    if not rows:
        raise ValueError("csv: the file is empty")
    header = rows[0][1]
    if any(_number(c) is None for c in header[:-1]):
        rows = rows[1:]  # a header: its feature names are not numbers
    if len(rows) < 2:
        raise ValueError("csv: expected at least two data rows")
    if len(rows) > max_rows:
        raise ValueError(f"csv: {len(rows)} data rows; the limit is {max_rows}")
    width = len(rows[0][1])
    if width < 2:
        raise ValueError(f"csv line {rows[0][0]}: expected at least one feature column and a label, got 1 column")
    if width - 1 > max_cols:
        raise ValueError(f"csv line {rows[0][0]}: {width - 1} feature columns; the limit is {max_cols}")
    features: list[list[float]] = []
    names: list[str] = []
    for line, row in rows:
        if len(row) != width:
            raise ValueError(f"csv line {line}: expected {width} columns like the first row, got {len(row)}")
        values = [_number(c) for c in row[:-1]]
        for col, v in enumerate(values):
            if v is None:
                raise ValueError(f"csv line {line}, column {col + 1}: {row[col].strip()[:20]!r} is not a finite number")
        label = row[-1].strip()
        if not label:
            raise ValueError(f"csv line {line}, column {width}: the label is empty")
        features.append([float(v) for v in values if v is not None])
        names.append(label)
    distinct = set(names)
    numeric = all(_number(c) is not None for c in distinct)
    classes = tuple(sorted(distinct, key=lambda c: (float(c), c) if numeric else (0.0, c)))
    if len(classes) < 2:
        raise ValueError(f"csv column {width}: the labels name only one class ({classes[0]!r}); need two or more")
    if len(classes) > max_classes:
        raise ValueError(f"csv column {width}: {len(classes)} distinct labels; the limit is {max_classes}")
    index = {c: k for k, c in enumerate(classes)}
    x = np.array(features)
    lo, span = x.min(axis=0), x.max(axis=0) - x.min(axis=0)
    scaled = np.where(span > 0, (x - lo) / np.where(span > 0, span, 1.0), 0.0)
    labels = np.array([index[c] for c in names], dtype=np.int64)
    return split("csv", scaled, labels, classes, test_fraction, seed)


def load(name: str, n: int = 200, noise: float = 0.1, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """A data set by name: one of the generated sets or ``digits`` (CSV text goes to ``from_csv``)."""
    if name == "digits":
        return digits(test_fraction, seed)
    return generated(name, n, noise, test_fraction, seed)
