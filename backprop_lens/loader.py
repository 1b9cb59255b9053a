"""The shipped 8×8 digits in the form of the book's ``mnist_loader``: ``load_data`` and ``load_data_wrapper``.

    from backprop_lens import loader, network
    training_data, validation_data, test_data = loader.load_data_wrapper()
    net = network.Network([64, 30, 10])

The images are the UCI 8×8 handwritten digits shipped with the engine (``engine/data``, 1797 images,
attribution there), not MNIST: 64 inputs instead of 784, ten outputs as in the book. Pixels are scaled
from 0..16 to [0, 1], as MNIST's are in the book's pickle.

The split is fixed and follows the file's order, with no shuffling, like MNIST's fixed sets:

    rows    0–1296   training data     1297 images (128 to 132 of each digit)
    rows 1297–1546   validation data    250 images (24 to 26 of each digit)
    rows 1547–1796   test data          250 images (22 to 26 of each digit)

The file's digits are well mixed, so every part is close to balanced without shuffling (counts above).

Left out: MNIST itself (nothing is downloaded), the book's pickle file, and any other split.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

import numpy as np
from numpy.typing import NDArray

from backprop_lens.engine.datasets import DIGIT_PIXEL_MAX, load_digits_file, one_hot

__all__ = ["load_data", "load_data_wrapper", "vectorized_result"]

Array = NDArray[np.float64]
Labels = NDArray[np.int64]
Part = tuple[Array, Labels]

N_TRAINING = 1297
N_VALIDATION = 250
N_TEST = 250
N_INPUTS = 64
N_DIGITS = 10


@functools.cache
def _digits() -> tuple[Array, Labels]:
    """The file read once: pixels scaled to [0, 1] and labels, both read-only (callers get copies)."""
    pixels, labels = load_digits_file()
    x = pixels / DIGIT_PIXEL_MAX
    x.flags.writeable = False
    labels.flags.writeable = False
    return x, labels


def load_data() -> tuple[Part, Part, Part]:
    """(training_data, validation_data, test_data), each a pair (images, labels).

    ``images`` is an ndarray with one row of 64 pixel values in [0, 1] per image, ``labels`` the digits
    0..9 as an int ndarray: 1297 training images, then 250 for validation and 250 for testing (see
    the module's docstring for the split). ``load_data_wrapper`` turns this into the form the network
    code wants.
    """
    x, labels = _digits()
    bounds = (0, N_TRAINING, N_TRAINING + N_VALIDATION, N_TRAINING + N_VALIDATION + N_TEST)
    training, validation, test = ((x[lo:hi].copy(), labels[lo:hi].copy()) for lo, hi in itertools.pairwise(bounds))
    return training, validation, test


def load_data_wrapper() -> tuple[list[tuple[Array, Array]], list[tuple[Array, int]], list[tuple[Array, int]]]:
    """(training_data, validation_data, test_data) in the form the book's networks take.

    ``training_data`` is a list of 1297 pairs (x, y): x a column (64, 1) of pixels, y the one-hot column
    (10, 1) of its digit (``vectorized_result``). ``validation_data`` and ``test_data`` are lists of
    250 pairs (x, digit) with the digit an int. As in the book, the two forms differ because training
    needs the desired output vector and counting right answers needs only the label.
    """
    tr_d, va_d, te_d = load_data()
    training_inputs = [np.reshape(x, (N_INPUTS, 1)) for x in tr_d[0]]
    training_results = [vectorized_result(int(y)) for y in tr_d[1]]
    training_data = list(zip(training_inputs, training_results, strict=True))
    validation_data = [(np.reshape(x, (N_INPUTS, 1)), int(y)) for x, y in zip(*va_d, strict=True)]
    test_data = [(np.reshape(x, (N_INPUTS, 1)), int(y)) for x, y in zip(*te_d, strict=True)]
    return training_data, validation_data, test_data


def vectorized_result(j: int | np.integer[Any]) -> Array:
    """The unit column e_j of shape (10, 1): the desired output of the ten output neurons for the digit j."""
    if isinstance(j, bool) or not isinstance(j, int | np.integer) or not 0 <= j < N_DIGITS:
        raise ValueError(f"vectorized_result: expected a digit 0 to 9, got {j!r}")
    return one_hot(np.array([j], dtype=np.int64), N_DIGITS).reshape(N_DIGITS, 1)
